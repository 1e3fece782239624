//! `cargo xtask publish` end to end: generated monorepos built by the real `uv` and `poetry`,
//! uploaded to a real local pypiserver, with a fault-injecting proxy and `kill -9` in between.
//! `XTASK_TEST_PACKAGES` scales the big test (30 by default).

mod support;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use support::{
    proxy::{Fault, FaultProxy, Faults},
    pypiserver::PypiServer,
    xtask_bin, Run, Sample, TempDir,
};

/// A sample monorepo whose .gitignore has `/target`, as the README asks: otherwise the
/// umbrella's sdist (hatchling, at the root) would include the builds.
fn sample(packages: usize, prs: usize) -> Sample {
    let s = Sample::new(packages, prs);
    let ignore = s.read(".gitignore");
    s.write(".gitignore", &format!("{ignore}/target/\n"));
    support::commit_all(&s.root(), "Ignore target/");
    s
}

const TOKEN: &str = "pypi-xtask-test-token-5f3a9c";

/// Runs `publish ARGS` against `index` (JSON API and uploads), with the test token.
fn publish(s: &Sample, index: &str, args: &[&str]) -> Run {
    publish_env(s, index, args, &[])
}

fn publish_env(s: &Sample, index: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let upload = format!("{index}/");
    let mut all = vec!["publish", "--index-url", index, "--publish-url", &upload, "--wait", "20s"];
    all.extend_from_slice(args);
    let mut env = env.to_vec();
    env.push(("UV_PUBLISH_TOKEN", TOKEN));
    s.xtask_env(&all, &env)
}

/// The distributions on the server.
fn served(server: &PypiServer) -> BTreeSet<String> {
    std::fs::read_dir(server.package_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The distributions every package of `s` builds to (an sdist and a wheel each).
fn expected(s: &Sample) -> BTreeSet<String> {
    let info = s.xtask(&["pkg", "info", "--all", "--json"]).ok();
    let list: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    let mut files = BTreeSet::new();
    for p in list.as_array().unwrap() {
        let stem =
            format!("{}-{}", p["name"].as_str().unwrap().replace(['-', '.'], "_"), p["version"].as_str().unwrap());
        files.insert(format!("{stem}.tar.gz"));
        files.insert(format!("{stem}-py3-none-any.whl"));
    }
    files
}

fn line_of(stderr: &str, prefix: &str) -> usize {
    stderr
        .lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stderr}"))
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let s = sample(20, 5);
    let server = PypiServer::start();
    let before = s.fingerprint();
    let run = publish(
        &s,
        &server.index_url(),
        &[
            "--dry-run",
            "llama-index-core",
            "llama-index-packs/llama-index-packs-weaviate",
            "llama-index-integrations/vector_stores/llama-index-vector-stores-openai",
        ],
    )
    .ok();
    let text = run.stdout.replace(&server.url(), "[SERVER]");
    expect_test::expect![[r#"
        Would publish 3 packages to [SERVER]/ with uv (credentials: token from UV_PUBLISH_TOKEN):
        wave 1 (1 package):
          llama-index-core 0.14.12 (llama-index-core): not on the index: build and upload
        wave 2 (1 package):
          llama-index-vector-stores-openai 0.5.3 (llama-index-integrations/vector_stores/llama-index-vector-stores-openai): blocked: needs `llama-index-embeddings-openai>=0.6.1`, which is neither on the index nor selected; publish `llama-index-embeddings-openai` too (add `llama-index-integrations/embeddings/llama-index-embeddings-openai`)
        wave 3 (1 package):
          llama-index-packs-weaviate 0.5.1 (llama-index-packs/llama-index-packs-weaviate): not on the index: build and upload
            after llama-index-core 0.14.12, llama-index-vector-stores-openai 0.5.3 are visible on the index
    "#]]
    .assert_eq(&text);
    assert!(run.stderr.contains("dry run: nothing was built and nothing was uploaded"), "{}", run.stderr);
    let json = publish(&s, &server.index_url(), &["--dry-run", "--json", "--all"]).ok();
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["packages"].as_array().unwrap().len(), 21);
    assert!(report["packages"].as_array().unwrap().iter().all(|p| p["result"] == "planned"));
    assert_eq!(s.fingerprint(), before, "a dry run writes nothing (no target/ either)");
    assert!(served(&server).is_empty(), "a dry run uploads nothing");
}

#[test]
fn publishes_every_package_in_dependency_order_then_skips_everything() {
    let n: usize = std::env::var("XTASK_TEST_PACKAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let s = sample(n, 5);
    let server = PypiServer::start();
    let summary = s.dir.path().join("summary.md");
    let run = publish_env(&s, &server.index_url(), &["--all"], &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())]);
    let run = run.ok();
    assert_eq!(served(&server), expected(&s), "every package's sdist and wheel, once");
    // Dependencies are visible before dependants upload: core first, vector stores before packs.
    let core = line_of(&run.stderr, "published llama-index-core ");
    for (k, line) in run.stderr.lines().enumerate() {
        let line = line.trim_start();
        if line.starts_with("uploading ")
            && !line.starts_with("uploading llama-index-core ")
            && !line.starts_with("uploading llama-index-instrumentation ")
        {
            assert!(k > core, "`{line}` before core was published:\n{}", run.stderr);
        }
        if line.starts_with("uploading llama-index-packs-") {
            let stores = run
                .stderr
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim_start().starts_with("published llama-index-vector-stores-"));
            assert!(
                stores.clone().count() > 0 && stores.clone().all(|(j, _)| j < k),
                "a pack uploaded before the vector stores"
            );
        }
    }
    assert!(run.stdout.starts_with("Package "), "the summary table on stdout:\n{}", run.stdout);
    assert_eq!(run.stdout.matches("  published  ").count(), n + 1, "{}", run.stdout);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains(&format!("### Publish: {} of {} packages done", n + 1, n + 1)), "{md}");

    // A rerun builds nothing new and uploads nothing.
    let again = publish(&s, &server.index_url(), &["--all", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let packages = report["packages"].as_array().unwrap();
    assert!(!packages.is_empty() && packages.iter().all(|p| p["result"] == "already published"), "{}", again.stdout);
    assert!(!again.stderr.lines().any(|l| l.trim_start().starts_with("uploading ")), "{}", again.stderr);
    assert_eq!(again.stderr.matches("unchanged since the last build").count(), n + 1);
}

#[test]
fn poetry_builds_and_uploads_with_poetry() {
    let s = sample(20, 5);
    let server = PypiServer::start();
    // Core builds with hatchling, so it goes first with uv; then every poetry-core package.
    publish(&s, &server.index_url(), &["llama-index-core", "--backend", "uv"]).ok();
    let info: serde_json::Value =
        serde_json::from_str(&s.xtask(&["pkg", "info", "--all", "--json"]).ok().stdout).unwrap();
    let poetry: Vec<String> = info
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_string())
        .filter(|dir| s.read(&format!("{dir}/pyproject.toml")).contains("poetry.core.masonry.api"))
        .collect();
    assert!(poetry.len() >= 2, "the sample has poetry packages: {poetry:?}");
    let mut args: Vec<&str> = poetry.iter().map(String::as_str).collect();
    args.extend(["--backend", "poetry"]);
    let run = publish(&s, &server.index_url(), &args).ok();
    assert_eq!(run.stdout.matches("  published  ").count(), poetry.len(), "{}", run.stdout);
    assert!(served(&server).iter().filter(|f| f.ends_with(".whl")).count() == poetry.len() + 1);
}

#[test]
fn a_different_file_on_the_index_burns_the_version() {
    let s = sample(20, 5);
    let server = PypiServer::start();
    publish(&s, &server.index_url(), &["llama-index-core"]).ok();
    s.write("llama-index-core/llama_index/core/base.py", "# changed without a version bump\n");
    let run = publish(&s, &server.index_url(), &["llama-index-core"]).fails_with(1);
    assert!(run.stderr.contains("already on the index with other content: version 0.14.12 of `llama-index-core` is burned; bump it (`cargo xtask pkg bump llama-index-core`)"), "{}", run.stderr);
    assert!(run.stdout.contains("llama-index-core  0.14.12  1     failed"), "{}", run.stdout);
}

#[test]
fn a_build_failure_blocks_its_dependants_and_nothing_else() {
    let s = sample(20, 5);
    let server = PypiServer::start();
    let emb = "llama-index-integrations/embeddings/llama-index-embeddings-openai/pyproject.toml";
    let text = s.read(emb);
    s.write(
        emb,
        &text.replace("build-backend = \"poetry.core.masonry.api\"", "build-backend = \"no_such_backend.api\""),
    );
    let run = publish(&s, &server.index_url(), &["--all"]).fails_with(1);
    let results: Vec<(String, String)> = run
        .stdout
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split("  ").filter(|c| !c.trim().is_empty()).map(str::trim).collect();
            (cells[0].to_string(), cells[3].to_string())
        })
        .collect();
    let not_published: Vec<String> =
        results.iter().filter(|(_, r)| r != "published").map(|(n, r)| format!("{n}: {r}")).collect();
    expect_test::expect![[r#"
        llama-index-embeddings-openai: failed
        llama-index: blocked
        llama-index-vector-stores-openai: blocked
        llama-index-packs-weaviate: blocked"#]]
    .assert_eq(&not_published.join("\n"));
    assert!(
        run.stderr.contains("`uv build` failed in `llama-index-integrations/embeddings/llama-index-embeddings-openai`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("error: 4 of 21 packages not published"), "{}", run.stderr);
}

#[test]
fn changed_since_selects_bumped_and_new_packages() {
    let s = sample(20, 12);
    let server = PypiServer::start();
    s.write(
        "llama-index-packs/llama-index-packs-new/pyproject.toml",
        "[project]\nname = \"llama-index-packs-new\"\nversion = \"0.1.0\"\n",
    );
    let run = publish(&s, &server.index_url(), &["--changed-since", "v0.14.12", "--dry-run", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: BTreeSet<&str> =
        report["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains("llama-index-packs-new"), "{names:?}");
    let diff = s.git(&["diff", "--name-only", "v0.14.12", "HEAD"]);
    for name in &names {
        if *name != "llama-index-packs-new" {
            assert!(diff.contains("pyproject.toml"), "{name} changed its pyproject");
        }
    }
    assert!(names.len() >= 3 && names.len() < 21, "some packages, not all: {names:?}");
    let err = publish(&s, &server.index_url(), &["--changed-since", "no-such-ref", "--dry-run"]).fails_with(1);
    assert!(err.stderr.contains("`no-such-ref` is not a commit"), "{}", err.stderr);
    let err = publish(&s, &server.index_url(), &["--dry-run"]).fails_with(2);
    assert!(err.stderr.contains("give package directories, `--all`, or `--changed-since REF`"), "{}", err.stderr);
}

/// Starts `publish --all` in its own process group, kills the group with SIGKILL once stderr
/// has `lines` lines starting with `prefix`, and returns what it printed.
fn publish_and_kill(s: &Sample, index: &str, prefix: &str, lines: usize) -> String {
    use std::{io::BufRead, os::unix::process::CommandExt};
    let upload = format!("{index}/");
    let mut child = Command::new(xtask_bin())
        .arg("--root")
        .arg(s.root())
        .args(["publish", "--all", "--index-url", index, "--publish-url", &upload, "-j", "2"])
        .env("NO_COLOR", "1")
        .env("UV_PUBLISH_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut seen = 0;
    let mut text = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        text += &line;
        text.push('\n');
        if line.trim_start().starts_with(prefix) {
            seen += 1;
            if seen == lines {
                // The whole group, as a cancelled CI job or a closed terminal would. Spelled
                // `-s KILL -- -PGID`: some `kill` versions read `-9 -PGID` as "every process".
                assert!(pid > 1, "a real process group");
                Command::new("kill").args(["-s", "KILL", "--", &format!("-{pid}")]).status().unwrap();
                break;
            }
        }
    }
    let _ = child.wait();
    text
}

#[test]
fn killed_at_any_point_a_rerun_finishes_with_every_file_uploaded_once() {
    for (prefix, lines) in [("building", 3), ("built", 12), ("uploading", 1), ("published", 5), ("uploading", 15)] {
        let s = sample(20, 5);
        let server = PypiServer::start();
        let before = publish_and_kill(&s, &server.index_url(), prefix, lines);
        let run = publish(&s, &server.index_url(), &["--all"]);
        assert_eq!(
            run.code, 0,
            "rerun after a kill at {prefix} #{lines} failed\nbefore:\n{before}\nrerun:\n{}",
            run.stderr
        );
        assert!(!run.stderr.to_lowercase().contains("exist") && !run.stderr.contains("409"), "{}", run.stderr);
        assert_eq!(served(&server), expected(&s), "after a kill at {prefix} #{lines}");
    }
}

#[test]
fn retries_through_an_index_that_fails_a_third_of_requests() {
    let s = sample(20, 5);
    let server = PypiServer::start();
    let proxy = FaultProxy::start(&server.url(), Faults::share(1, 3, Fault::Status500));
    let run = publish(&s, &proxy.url(), &["--all", "--retries", "6"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(served(&server), expected(&s));
    assert!(proxy.requests() > 60, "everything went through the proxy: {}", proxy.requests());
}

/// A `uv` that logs its argv and whether the token reached it, then runs the real one.
fn spying_tools(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("argv.log");
    for tool in ["uv", "poetry"] {
        let real = support::tool(tool);
        let script = format!(
            "#!/bin/sh\necho \"{tool} $* [token:${{UV_PUBLISH_TOKEN:+set}}${{POETRY_PYPI_TOKEN_XTASK:+set}}]\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        );
        std::fs::write(bin.join(tool), script).unwrap();
        Command::new("chmod").arg("+x").arg(bin.join(tool)).status().unwrap();
    }
    log
}

#[test]
fn the_token_never_appears_in_output_or_argv() {
    let s = sample(20, 5);
    let server = PypiServer::start();
    let tools = TempDir::new("spy");
    let log = spying_tools(tools.path());
    let env = [("XTASK_TOOLS_DIR", tools.path().to_str().unwrap())];
    let mut outputs = Vec::new();
    let started = Instant::now();
    for args in [
        &["--all", "--dry-run"][..],
        &["--all", "--dry-run", "--json"],
        &["llama-index-core", "llama-index-instrumentation"],
    ] {
        let run = publish_env(&s, &server.index_url(), args, &env);
        outputs.push(run.stdout + &run.stderr);
    }
    poetry_upload_with_token(&s, &server, &env, &mut outputs);
    let run = publish_env(&s, &server.index_url(), &["--all", "--json"], &env);
    outputs.push(run.stdout + &run.stderr);
    // A failing upload: the error quotes the tool's output, which must not carry the token.
    s.write("llama-index-core/llama_index/core/base.py", "# changed\n");
    let failed = publish_env(&s, &server.index_url(), &["llama-index-core"], &env).fails_with(1);
    outputs.push(failed.stdout + &failed.stderr);
    let down = publish_env(
        &s,
        "http://127.0.0.1:9",
        &["llama-index-utils/llama-index-utils-workflow", "--retries", "0"],
        &env,
    );
    outputs.push(down.stdout + &down.stderr);
    let argv = std::fs::read_to_string(&log).unwrap();
    let lines = |prefix: &str| argv.lines().filter(|l| l.starts_with(prefix)).collect::<Vec<_>>();
    assert!(
        !lines("uv publish").is_empty() && lines("uv publish").iter().all(|l| l.ends_with("[token:set]")),
        "the token reaches uv through its environment:\n{argv}"
    );
    assert!(
        !lines("poetry publish").is_empty() && lines("poetry publish").iter().all(|l| l.ends_with("[token:set]")),
        "and poetry through its own variable:\n{argv}"
    );
    assert!(
        !lines("uv build").is_empty()
            && !lines("poetry build").is_empty()
            && lines("uv build").iter().chain(&lines("poetry build")).all(|l| l.ends_with("[token:]")),
        "builds never get it:\n{argv}"
    );
    for text in outputs.iter().chain([&argv]) {
        assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
    }
    assert!(started.elapsed() < Duration::from_secs(600));
}

fn poetry_upload_with_token(s: &Sample, server: &PypiServer, env: &[(&str, &str)], outputs: &mut Vec<String>) {
    let dir = "llama-index-integrations/embeddings/llama-index-embeddings-openai";
    let run = publish_env(s, &server.index_url(), &[dir, "--backend", "poetry"], env);
    outputs.push(run.stdout + &run.stderr);
    assert_eq!(run.code, 0, "{}", outputs.last().unwrap());
}
