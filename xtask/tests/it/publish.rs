//! `cargo xtask publish` end to end: generated monorepos built by the real `uv` and `poetry`
//! (their backends and the sample core's hook dependencies from the test server's wheels,
//! never the public index), uploaded to a real local pypiserver, with a fault-injecting proxy
//! and `kill -9` in between. `XTASK_TEST_PACKAGES` scales the big test (30 by default).

use crate::support;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use support::{
    proxy::{Fault, FaultProxy, Faults},
    pypiserver::PypiServer,
    xtask_bin, Run, Sample, TempDir,
};

/// A sample monorepo whose .gitignore has `/target`, as the README asks (otherwise the
/// umbrella's sdist, hatchling at the root, would include the builds), and a server that is
/// both its index and its build index.
fn setup(packages: usize, prs: usize) -> (Sample, PypiServer) {
    let s = Sample::new(packages, prs);
    let ignore = s.read(".gitignore");
    s.write(".gitignore", &format!("{ignore}/target/\n"));
    support::commit_all(&s.root(), "Ignore target/");
    let server = PypiServer::start();
    s.use_build_index(&server);
    (s, server)
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
    let (s, server) = setup(20, 5);
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
    .fails_with(1);
    let text = run.stdout.replace(&server.url(), "[SERVER]");
    expect_test::expect![[r#"
        Would upload 1 package (2 blocked) to [SERVER]/ (index `--index-url`, read from [SERVER]) with uv (credentials: token from UV_PUBLISH_TOKEN):
        wave 1 (1 package):
          llama-index-core 0.14.12 (llama-index-core): new project: build and upload
            before the build: uv sync; uv run python -c 'from llama_index.core.utils import globals_helper; print(globals_helper.stopwords); print(globals_helper.punkt_tokenizer)'; uv run python -c 'from llama_index.core.utils import get_tokenizer; print(get_tokenizer())'; uv run python -c 'from llama_index.core.utils import get_tokenizer; print(get_tokenizer('\''gpt-5-mini'\''))'
            build: `uv build` (the only package to build, in its own environment)
            artifact check: no earlier release on the index
        wave 2 (1 package):
          llama-index-vector-stores-openai 0.5.3 (llama-index-integrations/vector_stores/llama-index-vector-stores-openai): blocked: needs `llama-index-embeddings-openai>=0.6.1`, which is neither on the index nor selected; publish `llama-index-embeddings-openai` too (add `llama-index-integrations/embeddings/llama-index-embeddings-openai`)
        wave 3 (1 package):
          llama-index-packs-weaviate 0.5.1 (llama-index-packs/llama-index-packs-weaviate): blocked: its dependency `llama-index-vector-stores-openai` is blocked
        new projects (no limit on `--index-url`): llama-index-core
    "#]]
    .assert_eq(&text);
    assert!(run.stderr.contains("dry run: nothing was built and nothing was uploaded"), "{}", run.stderr);
    assert!(run.stderr.contains("error: 2 of 3 packages would not be published: `llama-index-vector-stores-openai`, `llama-index-packs-weaviate`"), "{}", run.stderr);
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
    let (s, server) = setup(n, 5);
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

    // A rerun builds nothing and uploads nothing: the index holds every version.
    let again = publish(&s, &server.index_url(), &["--all", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let packages = report["packages"].as_array().unwrap();
    assert!(!packages.is_empty() && packages.iter().all(|p| p["result"] == "already published"), "{}", again.stdout);
    assert!(!again.stderr.lines().any(|l| l.trim_start().starts_with("uploading ")), "{}", again.stderr);
    assert!(!again.stderr.lines().any(|l| l.trim_start().starts_with("building ")), "{}", again.stderr);
}

#[test]
fn poetry_builds_and_uploads_with_poetry() {
    let (s, server) = setup(20, 5);
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
fn a_version_on_the_index_is_published_whoever_built_it() {
    let (s, server) = setup(20, 5);
    publish(&s, &server.index_url(), &["llama-index-core"]).ok();
    s.write("llama-index-core/llama_index/core/base.py", "# changed without a version bump\n");
    let run = publish(&s, &server.index_url(), &["llama-index-core"]).ok();
    assert!(
        run.stdout.contains("llama-index-core  0.14.12  1     already published  already on the index (2 files)"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stderr.lines().any(|l| l.trim_start().starts_with("building ")),
        "nothing is built for a version the index holds:\n{}",
        run.stderr
    );
}

/// A hatchling package of the sample besides core and the umbrella, whose only internal
/// dependency is core.
fn hatchling_packages(s: &Sample) -> Vec<String> {
    let info: serde_json::Value =
        serde_json::from_str(&s.xtask(&["pkg", "info", "--all", "--json"]).ok().stdout).unwrap();
    info.as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_string())
        .filter(|dir| dir.starts_with("llama-index-integrations/") && !dir.contains("/vector_stores/"))
        .filter(|dir| s.read(&format!("{dir}/pyproject.toml")).contains("hatchling.build"))
        .collect()
}

/// What the monorepo's on-merge workflow would have uploaded: `uv build` of `dir` with
/// another hatchling (from the tests' wheels), so the bytes differ from ours.
fn old_workflow_build(s: &Sample, server: &PypiServer, dir: &str) -> Vec<PathBuf> {
    let out = s.dir.path().join(format!("old-{}", dir.replace('/', "_")));
    let constraints = s.dir.path().join("old-hatchling.txt");
    std::fs::write(&constraints, format!("hatchling=={}\n", support::wheels::OLD_HATCHLING)).unwrap();
    let run: Run = support::command(support::tool("uv"))
        .args(["build", "--no-progress", "--out-dir"])
        .arg(&out)
        .arg("--build-constraint")
        .arg(&constraints)
        .current_dir(s.root().join(dir))
        .envs(server.build_env())
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let wheel = files.iter().find(|f| f.extension().is_some_and(|e| e == "whl")).unwrap();
    let generator = zip_read(wheel, "WHEEL");
    assert!(generator.contains(&format!("Generator: hatchling {}", support::wheels::OLD_HATCHLING)), "{generator}");
    files
}

/// Runs the tools' Python on a wheel: one member's text (by name suffix), or the member list.
fn zip_read(wheel: &Path, suffix: &str) -> String {
    let code = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nnames = [n for n in z.namelist() if n.endswith(sys.argv[2])] if sys.argv[2] else None\nprint(z.read(names[0]).decode() if names else '\\n'.join(z.namelist()))";
    let out = Command::new(support::tool("python")).args(["-c", code]).arg(wheel).arg(suffix).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_old_workflows_files_count_as_published_and_a_missing_sdist_is_warned() {
    let (s, server) = setup(20, 5);
    publish(&s, &server.index_url(), &["llama-index-core"]).ok();
    let dirs = hatchling_packages(&s);
    let (whole, partial) = (&dirs[0], &dirs[1]);
    // The on-merge workflow published one package whole, the other without its sdist.
    server.upload(&old_workflow_build(&s, &server, whole));
    let old = old_workflow_build(&s, &server, partial);
    let old_wheel: Vec<PathBuf> = old.into_iter().filter(|f| f.extension().is_some_and(|e| e == "whl")).collect();
    server.upload(&old_wheel);
    let before = served(&server);

    let dry = publish(&s, &server.index_url(), &["--dry-run", whole, partial]).ok();
    assert!(dry.stdout.contains("already on the index (2 files): nothing to build"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("on the index without its sdist: build, then upload the rest if the files there are ours"),
        "{}",
        dry.stdout
    );
    let run = publish(&s, &server.index_url(), &[whole, partial, "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let results: Vec<(&str, &str)> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["path"].as_str().unwrap(), p["result"].as_str().unwrap()))
        .collect();
    assert!(results.contains(&(whole.as_str(), "already published")), "{results:?}");
    assert!(results.contains(&(partial.as_str(), "built elsewhere")), "{results:?}");
    assert!(
        run.stderr
            .contains("is on the index from another build, without its sdist; nothing uploaded (pass `--complete`"),
        "{}",
        run.stderr
    );
    assert_eq!(served(&server), before, "nothing uploaded next to another build's files");
    assert!(!s.root().join("target/publish").join(format!("{}-0", whole)).exists());

    // With --complete, our sdist joins their wheel.
    let run = publish(&s, &server.index_url(), &[partial, "--complete"]).ok();
    assert!(run.stdout.contains("built elsewhere; uploaded ours:"), "{}", run.stdout);
    assert_eq!(served(&server).len(), before.len() + 1, "{:?}", served(&server));
}

#[test]
fn our_own_partial_upload_is_resumed_even_on_a_fresh_runner() {
    let (s, server) = setup(20, 5);
    let dir = &hatchling_packages(&s)[0];
    publish(&s, &server.index_url(), &["llama-index-core", dir]).ok();
    let all = served(&server);
    let sdist_of = |server: &PypiServer| -> PathBuf {
        let name =
            served(server).into_iter().find(|f| f.ends_with(".tar.gz") && !f.starts_with("llama_index_core")).unwrap();
        server.package_dir().join(name)
    };
    for fresh_runner in [false, true] {
        std::fs::remove_file(sdist_of(&server)).unwrap();
        if fresh_runner {
            std::fs::remove_dir_all(s.root().join("target")).unwrap();
        }
        let dry = publish(&s, &server.index_url(), &["--dry-run", dir]).ok();
        let want =
            if fresh_runner { "on the index without its sdist: build" } else { "our upload was interrupted: upload " };
        assert!(dry.stdout.contains(want), "{}", dry.stdout);
        let run = publish(&s, &server.index_url(), &[dir]).ok();
        assert!(run.stdout.contains("1 file uploaded, 1 already there"), "{}", run.stdout);
        assert_eq!(served(&server), all);
    }
}

/// An index that kept the first half of our sdist from an upload cut short (pypiserver behind
/// its fallback server does): our wheel still goes up, and the run fails naming the file, its
/// sizes and what to do, as the dry run says beforehand. Never "built elsewhere".
#[test]
fn a_cut_off_copy_of_our_file_on_the_index_is_named_and_the_rest_uploaded() {
    let (s, server) = setup(20, 5);
    // Needs nothing else on the index.
    let dir = "llama-index-instrumentation";
    publish(&s, &server.index_url(), &[dir]).ok();
    let sdist = served(&server).into_iter().find(|f| f.ends_with(".tar.gz")).unwrap();
    let wheel = served(&server).into_iter().find(|f| f.ends_with(".whl")).unwrap();
    let whole = std::fs::read(server.package_dir().join(&sdist)).unwrap();
    let cut = TempDir::new("cut");
    std::fs::write(cut.path().join(&sdist), &whole[..whole.len() / 2]).unwrap();
    let index = PypiServer::start_holding(&[cut.path().join(&sdist)]);
    let dry = publish(&s, &index.index_url(), &["--dry-run", dir]).fails_with(1);
    let said = format!(
        "the index holds a cut-off copy of `{sdist}` ({} of {} bytes): an upload of ours was interrupted",
        whole.len() / 2,
        whole.len()
    );
    assert!(dry.stdout.contains(&format!("upload {wheel}; fails: {said}")), "{}", dry.stdout);
    let run = publish(&s, &index.index_url(), &[dir]).fails_with(1);
    assert!(run.stderr.contains(&said) && run.stderr.contains("delete that file on the index"), "{}", run.stderr);
    assert!(!run.stderr.contains("built elsewhere"), "{}", run.stderr);
    assert_eq!(served(&index), BTreeSet::from([sdist, wheel]));
}

/// The index stand-in: pypiserver behind the proxy, which serves upload times as the public
/// index does; it closes versions 14 days after their first file, as the public index does.
#[test]
fn a_version_the_index_closed_is_never_uploaded_to() {
    let (s, server) = setup(20, 5);
    let dirs = hatchling_packages(&s);
    let (ours, theirs) = (dirs[0].as_str(), dirs[1].as_str());
    publish(&s, &server.index_url(), &["llama-index-core", ours]).ok();
    // Our upload of `ours` stopped after its wheel; another build published `theirs`' wheel.
    let sdist = served(&server).into_iter().find(|f| f.ends_with(".tar.gz") && !f.starts_with("llama_index_core"));
    std::fs::remove_file(server.package_dir().join(sdist.unwrap())).unwrap();
    let wheel: Vec<PathBuf> = old_workflow_build(&s, &server, theirs)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "whl"))
        .collect();
    server.upload(&wheel);
    let before = served(&server);

    let proxy = FaultProxy::start(&server.url(), Faults::none());
    proxy.serve_upload_times(Some("2026-01-05T09:30:00.000000Z"));
    let standin = proxy.url();
    configure(
        &s,
        &format!("[index.standin]\nurl = \"{standin}\"\npublish-url = \"{standin}/\"\nclosed-after = \"14d\"\n"),
    );
    let run = |args: &[&str]| {
        s.xtask_env(&[&["publish", "--index", "standin"][..], args].concat(), &[("UV_PUBLISH_TOKEN", TOKEN)])
    };

    // The dry run and its JSON say so, and fail as the real run does: our version is stuck.
    let dry = run(&[ours, theirs, "--dry-run", "--json"]).fails_with(1);
    let report: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(report["closed_after"], "14d", "{report:#}");
    let packages = report["packages"].as_array().unwrap();
    let of = |dir: &str| packages.iter().find(|p| p["path"] == dir).unwrap().clone();
    for p in [of(ours), of(theirs)] {
        assert!(
            p["closed"]
                .as_str()
                .unwrap()
                .starts_with("closed: the index no longer accepts files for this version (its first file is "),
            "{p:#}"
        );
    }
    let plan = of(ours)["plan"].as_str().unwrap().to_string();
    assert!(
        plan.starts_with(
            "our upload was interrupted and the version is closed: the index no longer accepts files for this version"
        ),
        "{plan}"
    );
    assert!(plan.ends_with(&format!("it stays without its sdist: release a new version (`cargo xtask pkg bump {ours} --bump patch`, then publish it)")), "{plan}");
    assert_eq!(of(ours)["fails"], true);
    let plan = of(theirs)["plan"].as_str().unwrap().to_string();
    assert!(
        plan.starts_with("on the index without its sdist, closed: the index no longer accepts files for this version"),
        "{plan}"
    );

    // The real run: nothing is attempted; ours fails saying what to do, theirs stands as it is.
    let real = run(&[ours, theirs]).fails_with(1);
    let line = |dir: &str| {
        real.stdout.lines().find(|l| l.contains(dir.rsplit('/').next().unwrap())).unwrap_or_default().to_string()
    };
    assert!(
        line(ours).contains("failed") && line(ours).contains("our upload was interrupted and the version is closed"),
        "{}",
        real.stdout
    );
    assert!(line(theirs).contains("built elsewhere, without its sdist (warned)"), "{}", real.stdout);
    assert!(real.stderr.contains("built elsewhere, without its sdist: upload nothing, closed: the index no longer accepts files for this version"), "{}", real.stderr);
    // `--complete` is refused with the same reason.
    let complete = run(&[theirs, "--complete"]).fails_with(1);
    assert!(
        complete.stdout.contains("`--complete` refused: closed: the index no longer accepts files for this version"),
        "{}",
        complete.stdout
    );
    assert_eq!(proxy.uploads(), 0, "no upload was attempted");
    assert_eq!(served(&server), before);

    // The same files uploaded today: the version is open, and our upload is finished.
    let now = Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]).output().unwrap().stdout;
    proxy.serve_upload_times(Some(String::from_utf8_lossy(&now).trim()));
    let open = run(&[ours]).ok();
    assert!(open.stdout.contains("1 file uploaded, 1 already there"), "{}", open.stdout);
    assert_eq!(served(&server).len(), before.len() + 1);
}

#[test]
fn a_build_failure_blocks_its_dependants_and_nothing_else() {
    let (s, server) = setup(20, 5);
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
    let (s, server) = setup(20, 12);
    s.write(
        "llama-index-packs/llama-index-packs-new/pyproject.toml",
        "[project]\nname = \"llama-index-packs-new\"\nversion = \"0.1.0\"\n",
    );
    // Some of them need packages that are neither selected nor on the index: exit 1, as the real run.
    let run = publish(&s, &server.index_url(), &["--changed-since", "v0.14.12", "--dry-run", "--json"]);
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
    let mut child = support::command(xtask_bin())
        .arg("--root")
        .arg(s.root())
        .args(["publish", "--all", "--index-url", index, "--publish-url", &upload, "-j", "2"])
        .env("NO_COLOR", "1")
        .env("UV_PUBLISH_TOKEN", TOKEN)
        .envs(s.env.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())))
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
    // Kills while building, each on a fresh sample.
    let mut built = None;
    for (prefix, lines) in [("building", 3), ("built", 12)] {
        let (s, server) = setup(20, 5);
        kill_and_rerun(&s, &server, prefix, lines);
        built = Some(s);
    }
    // Kills while uploading: every build is done by then (publish builds everything before its
    // first upload), so these start from a sample whose builds are complete, as the rerun after
    // a kill above did, each against a fresh index. The builds are reused, not redone.
    let s = built.expect("the rounds above ran");
    for (prefix, lines) in [("uploading", 1), ("published", 5), ("uploading", 15)] {
        let server = PypiServer::start();
        s.use_build_index(&server);
        kill_and_rerun(&s, &server, prefix, lines);
    }
}

/// Kills a publish at the `lines`th line starting with `prefix`, reruns it, and checks that the
/// rerun uploaded every file once.
fn kill_and_rerun(s: &Sample, server: &PypiServer, prefix: &str, lines: usize) {
    let before = publish_and_kill(s, &server.index_url(), prefix, lines);
    let run = publish(s, &server.index_url(), &["--all"]);
    assert_eq!(
        run.code, 0,
        "rerun after a kill at {prefix} #{lines} failed\nbefore:\n{before}\nrerun:\n{}",
        run.stderr
    );
    // The server's port may well contain "409": look at the text without its address.
    let text = without_addresses(&run.stderr);
    assert!(!text.to_lowercase().contains("exist") && !text.contains("409"), "{}", run.stderr);
    assert_eq!(
        served(server),
        expected(s),
        "after a kill at {prefix} #{lines}\nbefore:\n{before}\nrerun:\n{}",
        run.stderr
    );
}

#[test]
fn retries_through_an_index_that_fails_a_third_of_requests() {
    let (s, server) = setup(20, 5);
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
    let (s, server) = setup(20, 5);
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
    s.write(
        "llama-index-core/pyproject.toml",
        &s.read("llama-index-core/pyproject.toml").replace("version = \"0.14.12\"", "version = \"0.14.13\""),
    );
    let wrong = format!("{}/no/such/endpoint/", server.url());
    let failed = s
        .xtask_env(
            &[
                "publish",
                "llama-index-core",
                "--index-url",
                &server.index_url(),
                "--publish-url",
                &wrong,
                "--retries",
                "0",
            ],
            &[("UV_PUBLISH_TOKEN", TOKEN), ("XTASK_TOOLS_DIR", tools.path().to_str().unwrap())],
        )
        .fails_with(1);
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
    // With uv, the xtask uploads over HTTP itself (`publish/direct.rs`): no child uploads, and
    // no uv child gets the token (`upload_form.rs` shows the index gets it as uv sent it).
    assert!(lines("uv publish").is_empty(), "uv uploads nothing:\n{argv}");
    assert!(
        argv.lines().filter(|l| l.starts_with("uv ")).all(|l| l.ends_with("[token:]")),
        "no uv child gets the token:\n{argv}"
    );
    assert!(
        !lines("poetry publish").is_empty() && lines("poetry publish").iter().all(|l| l.ends_with("[token:set]")),
        "and poetry through its own variable:\n{argv}"
    );
    assert!(!lines("uv sync").is_empty(), "core's hooks ran:\n{argv}");
    assert!(
        !lines("uv build").is_empty()
            && !lines("poetry build").is_empty()
            && lines("uv build")
                .iter()
                .chain(&lines("poetry build"))
                .chain(&lines("uv sync"))
                .chain(&lines("uv run"))
                .all(|l| l.ends_with("[token:]")),
        "builds and hooks never get it:\n{argv}"
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

/// Writes `release.toml` and commits it (a release's working tree is clean).
fn configure(s: &Sample, text: &str) {
    s.write("release.toml", text);
    support::commit_all(&s.root(), "Configure the release tool");
}

fn spawn_publish(root: &Path, s: &Sample, index: &str) -> std::process::Child {
    let upload = format!("{index}/");
    support::command(xtask_bin())
        .arg("--root")
        .arg(root)
        // `--wait` bounds the wait for the other run's lock, which lasts the other run's whole
        // publish: on a loaded machine that can pass five minutes. A working run never waits long.
        .args(["publish", "--all", "--index-url", index, "--publish-url", &upload, "-j", "2", "--wait", "30m"])
        .env("NO_COLOR", "1")
        .env("UV_PUBLISH_TOKEN", TOKEN)
        .envs(s.env.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_runs_at_once_from_one_checkout_and_from_two_leave_one_wheel_and_one_sdist_each() {
    let (s, server) = setup(20, 5);
    let (a, b) = (spawn_publish(&s.root(), &s, &server.index_url()), spawn_publish(&s.root(), &s, &server.index_url()));
    let (a, b): (Run, Run) = (a.wait_with_output().unwrap().into(), b.wait_with_output().unwrap().into());
    assert!(a.code == 0 && b.code == 0, "{}\n{}", a.stderr, b.stderr);
    let waited = format!("{}{}", a.stderr, b.stderr);
    // Who holds the lock is named by its process, or, when the holder has not written its id
    // yet, as "a run that is starting".
    assert!(waited.contains("waiting for another publish in this checkout to finish ("), "{waited}");
    assert_eq!(served(&server), expected(&s));

    // Two checkouts (two CI runners) race for real: the slower one meets "file exists".
    let server = PypiServer::start();
    s.use_build_index(&server);
    let other = s.dir.path().join("second-checkout");
    support::git(s.dir.path(), &["clone", "--quiet", s.root().to_str().unwrap(), other.to_str().unwrap()]);
    let (a, b) = (spawn_publish(&s.root(), &s, &server.index_url()), spawn_publish(&other, &s, &server.index_url()));
    let (a, b): (Run, Run) = (a.wait_with_output().unwrap().into(), b.wait_with_output().unwrap().into());
    assert!(a.code == 0 && b.code == 0, "{}\n{}\n{}\n{}", a.stdout, a.stderr, b.stdout, b.stderr);
    assert_eq!(served(&server), expected(&s), "every package once, with one wheel and one sdist");
}

#[test]
fn one_destination_given_whole_and_stated_first() {
    let (s, server) = setup(20, 5);
    let index = server.index_url();
    let run = s.xtask(&["publish", "--all", "--dry-run", "--index-url", &index]).fails_with(2);
    assert!(
        run.stderr.contains("`--index-url` needs `--publish-url` too (where files are uploaded)"),
        "{}",
        run.stderr
    );
    let run = s.xtask(&["publish", "--all", "--dry-run", "--publish-url", &index]).fails_with(2);
    assert!(run.stderr.contains("`--publish-url` needs `--index-url` too"), "{}", run.stderr);
    let run = s.xtask(&["publish", "--all", "--dry-run", "--index", "staging"]).fails_with(2);
    assert!(
        run.stderr.contains("no index named `staging` in release.toml; the indexes are `default`"),
        "{}",
        run.stderr
    );
    configure(&s, &format!("[index.local]\nurl = \"{index}\"\npublish-url = \"{index}/\"\n"));
    // Without credentials the real run cannot upload: the dry run says so, and fails as it would.
    let run = s.xtask(&["publish", "llama-index-instrumentation", "--dry-run", "--index", "local"]).fails_with(1);
    let first = run.stdout.lines().next().unwrap().replace(&server.url(), "[SERVER]");
    expect_test::expect!["Would upload 1 package to [SERVER]/ (index `local`, read from [SERVER]) with uv (credentials: none (set UV_PUBLISH_TOKEN, or UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD)):"].assert_eq(&first);
    let said = run.stderr.lines().find(|l| l.contains("no upload credentials")).unwrap_or_default();
    expect_test::expect!["error: no upload credentials for [SERVER]/: set UV_PUBLISH_TOKEN (or UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD), or publish from GitHub Actions with `id-token: write` (trusted publishing)"]
        .assert_eq(&said.replace(&server.url(), "[SERVER]"));
    let real = s.xtask(&["publish", "llama-index-instrumentation", "--index", "local"]).fails_with(1);
    assert!(real.stderr.contains("no upload credentials for"), "the real run fails the same way:\n{}", real.stderr);
    assert!(served(&server).is_empty(), "nothing was uploaded");
    s.xtask_env(
        &["publish", "llama-index-instrumentation", "--dry-run", "--index", "local"],
        &[("UV_PUBLISH_TOKEN", TOKEN)],
    )
    .ok();
    s.xtask_env(&["publish", "llama-index-instrumentation", "--index", "local"], &[("UV_PUBLISH_TOKEN", TOKEN)]).ok();
    assert_eq!(served(&server).len(), 2, "uploaded to the named index");
}

#[test]
fn hooks_fill_cores_data_and_the_artifact_check_stops_a_core_without_it() {
    let (s, server) = setup(20, 5);
    let run = publish(&s, &server.index_url(), &["llama-index-core"]).ok();
    assert!(run.stderr.contains("hook llama-index-core 0.14.12: uv sync"), "{}", run.stderr);
    let wheel = server.package_dir().join("llama_index_core-0.14.12-py3-none-any.whl");
    let members = zip_read(&wheel, "");
    assert_eq!(
        members.lines().filter(|m| m.contains("/_static/") && !m.ends_with(".gitignore")).count(),
        8,
        "the hook's data is in the wheel:\n{members}"
    );
    assert!(s.git(&["status", "--porcelain"]).is_empty(), "the data is ignored, as in the real monorepo");

    // The next release, built on a fresh runner by a configuration without the hook.
    let pyproject = s.read("llama-index-core/pyproject.toml").replace("version = \"0.14.12\"", "version = \"0.14.13\"");
    s.write("llama-index-core/pyproject.toml", &pyproject);
    configure(&s, "[build.hooks]\n");
    s.git(&["clean", "-fdXq", "llama-index-core"]);
    let dry = publish(&s, &server.index_url(), &["llama-index-core", "--dry-run"]).ok();
    assert!(
        dry.stdout
            .contains("artifact check against 0.14.12 after the build (a dry run cannot know what building reveals)"),
        "{}",
        dry.stdout
    );
    let before = served(&server);
    let run = publish(&s, &server.index_url(), &["llama-index-core"]).fails_with(1);
    assert!(
        run.stdout.contains(
            "stopped  stopped by the artifact check: its wheel lost 8 files and is 3 kB against 302 kB in 0.14.12"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("--accept-changes llama-index-core"), "{}", run.stderr);
    assert_eq!(served(&server), before, "nothing uploaded");
    // Now that a build exists, the dry run knows, and exits as the real run did.
    let dry = publish(&s, &server.index_url(), &["llama-index-core", "--dry-run", "--json"]).fails_with(1);
    let report: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let core = &report["packages"][0];
    assert_eq!(core["fails"], true);
    assert_eq!(core["artifact_check"]["kinds"][0]["removed"].as_array().unwrap().len(), 8, "{core}");
    assert!(!dry.stderr.contains("downloading"), "the previous release's files come from the cache");
    publish(&s, &server.index_url(), &["llama-index-core", "--accept-changes", "llama-index-core"]).ok();
    assert_eq!(served(&server).len(), before.len() + 2);
}

#[test]
fn a_failing_hook_stops_its_package_and_dependants_before_any_upload() {
    let (s, server) = setup(20, 5);
    configure(
        &s,
        "[build.hooks]\n\"llama-index-core\" = [[\"python3\", \"-c\", \"print('fetching nltk data'); raise SystemExit(3)\"]]\n",
    );
    let dependant = &hatchling_packages(&s)[0];
    let args = ["llama-index-core", "llama-index-instrumentation", dependant.as_str()];
    let dry = publish(&s, &server.index_url(), &[&args[..], &["--dry-run"]].concat()).ok();
    assert!(
        dry.stdout.contains("before the build: python3 -c 'print('\\''fetching nltk data'\\''); raise SystemExit(3)'"),
        "{}",
        dry.stdout
    );
    let run = publish(&s, &server.index_url(), &args).fails_with(1);
    assert!(run.stderr.contains("the build hook `python3 -c"), "{}", run.stderr);
    assert!(run.stderr.contains("    fetching nltk data"), "the tail of its output:\n{}", run.stderr);
    assert!(run.stdout.contains("blocked"), "{}", run.stdout);
    let files = served(&server);
    assert!(files.iter().all(|f| f.starts_with("llama_index_instrumentation")) && files.len() == 2, "{files:?}");
}

/// Issue 21.2: a build hook that hangs is killed at its `timeout` and stops its package and
/// its dependants like a failing one, with its last lines.
#[test]
fn a_build_hook_past_its_timeout_is_killed_and_stops_its_package() {
    let (s, server) = setup(20, 5);
    configure(
        &s,
        "[build.hooks]\n\"llama-index-core\" = [{ run = [\"python3\", \"-c\", \"import time; print('fetching nltk data', flush=True); time.sleep(600)\"], timeout = \"2s\" }]\n",
    );
    let dependant = &hatchling_packages(&s)[0];
    let args = ["llama-index-core", "llama-index-instrumentation", dependant.as_str()];
    let run = publish(&s, &server.index_url(), &args).fails_with(1);
    assert!(
        run.stderr.contains(
            "in `llama-index-core` ran longer than its timeout (2s) and was killed with every process it started"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("    fetching nltk data"), "the tail of its output:\n{}", run.stderr);
    assert!(run.stdout.contains("blocked"), "{}", run.stdout);
    let files = served(&server);
    assert!(files.iter().all(|f| f.starts_with("llama_index_instrumentation")) && files.len() == 2, "{files:?}");
}

/// What a child prints is redacted by whole values only: a long credential standing alone is
/// masked, a short one (a password `pw`) is never searched for, so NLTK's message stays whole.
#[test]
fn child_output_is_redacted_by_whole_values_only() {
    let (s, server) = setup(20, 5);
    // From a file, so that the hook's argv (which the tool shows) holds no secret.
    s.write("llama-index-core/said.txt", &format!("Resource stopwords not found\nauthorization: token {TOKEN}\n"));
    configure(&s, "[build.hooks]\n\"llama-index-core\" = [[\"sh\", \"-c\", \"cat said.txt; exit 3\"]]\n");
    let run = publish_env(&s, &server.index_url(), &["llama-index-core"], &[("UV_PUBLISH_PASSWORD", "pw")]);
    let run = run.fails_with(1);
    assert!(run.stderr.contains("    Resource stopwords not found"), "{}", run.stderr);
    assert!(run.stderr.contains("    authorization: token [REDACTED]"), "{}", run.stderr);
    assert!(!run.stderr.contains(TOKEN) && !run.stdout.contains(TOKEN), "{}", run.stderr);
}

#[test]
fn new_projects_past_the_quota_are_deferred_and_the_dry_run_says_so() {
    let (s, server) = setup(20, 5);
    let index = server.index_url();
    configure(&s, &format!("[index.local]\nurl = \"{index}\"\npublish-url = \"{index}/\"\nnew-projects-per-day = 4\n"));
    let dirs = hatchling_packages(&s);
    let mut args = vec!["llama-index-core", "llama-index-instrumentation"];
    args.extend(dirs.iter().take(4).map(String::as_str));
    args.extend(["--index", "local"]);
    let dry = s.xtask(&[&["publish", "--dry-run"][..], &args].concat()).fails_with(1);
    assert_eq!(
        dry.stdout.matches("deferred (new-project quota of 4 per 24 hours on the index `local`)").count(),
        2,
        "{}",
        dry.stdout
    );
    assert!(dry.stderr.contains("2 new projects deferred by the index's new-project quota (4 new projects per 24 hours); run the same command again after "), "{}", dry.stderr);
    let run = s.xtask_env(&[&["publish", "--json"][..], &args].concat(), &[("UV_PUBLISH_TOKEN", TOKEN)]).fails_with(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let results: Vec<&str> =
        report["packages"].as_array().unwrap().iter().map(|p| p["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["published", "published", "published", "published", "deferred", "deferred"]);
    assert_eq!(served(&server).len(), 8);
    assert!(run.stderr.contains("run the same command again after "), "{}", run.stderr);
}

#[test]
fn a_429_on_project_creation_is_never_retried_and_others_are() {
    let (s, server) = setup(20, 5);
    let proxy = FaultProxy::start(&server.url(), Faults::all(Fault::TooManyNewProjects).on_uploads());
    let run = publish(&s, &proxy.url(), &["llama-index-instrumentation"]).fails_with(1);
    assert_eq!(proxy.uploads(), 1, "one attempt only:\n{}", run.stderr);
    assert!(
        run.stdout.contains("deferred  the index refused to create the project (new-project quota)"),
        "{}",
        run.stdout
    );
    let detail = run.stdout.lines().find(|l| l.contains("deferred")).unwrap();
    assert!(
        detail.contains("Too many new projects created") && !detail.contains('<'),
        "one line, without HTML: {detail}"
    );

    proxy.set_faults(Faults::first(1, Fault::Status429 { retry_after: 1 }).on_uploads());
    publish(&s, &proxy.url(), &["llama-index-instrumentation"]).ok();
    assert_eq!(served(&server).len(), 2);
}

/// `text` with every loopback address (`127.0.0.1:PORT`) replaced by `[SERVER]`.
fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at]);
        out.push_str("[SERVER]");
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Adds a setuptools package to the sample, committed: the shape of the monorepo's few
/// integrations that still build with setuptools.
const SETUPTOOLS_PACKAGE: &str = "llama-index-integrations/tools/llama-index-tools-legacy-setup";

fn add_setuptools_package(s: &Sample) {
    let dir = SETUPTOOLS_PACKAGE;
    s.write(
        &format!("{dir}/pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"llama-index-tools-legacy-setup\"\nversion = \"0.1.0\"\n\
         description = \"llama-index legacy_setup integration\"\nreadme = \"README.md\"\n\
         requires-python = \">=3.9,<4.0\"\ndependencies = []\n\n\
         [tool.setuptools.packages.find]\ninclude = [\"llama_index*\"]\nnamespaces = true\n",
    );
    s.write(&format!("{dir}/README.md"), "# Legacy setup\n");
    s.write(&format!("{dir}/llama_index/tools/legacy_setup/__init__.py"), "VALUE = 1\n");
    support::commit_all(&s.root(), "Add a setuptools integration");
}

/// The sha256 of every file in `dir`, by name. A setuptools sdist is digested without the
/// times in it: setuptools stamps the sdist (its gzip header, its generated files) with the time
/// of the build, so two `uv build`s a second apart already differ; its wheel is exact under
/// `SOURCE_DATE_EPOCH`.
fn digests(dir: &Path) -> BTreeMap<String, String> {
    use sha2::Digest;
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // `uv build`'s .gitignore in its output directory
        }
        let digest = if name.starts_with("llama_index_tools_legacy_setup") && name.ends_with(".tar.gz") {
            sdist_without_times(&path)
        } else {
            format!("{:x}", sha2::Sha256::digest(std::fs::read(&path).unwrap()))
        };
        out.insert(name, digest);
    }
    out
}

/// The sha256 of an sdist's members (name, type, mode, owner, contents) without their times.
fn sdist_without_times(path: &Path) -> String {
    let code = "import hashlib, sys, tarfile\nh = hashlib.sha256()\nt = tarfile.open(sys.argv[1])\nfor m in t.getmembers():\n    h.update(repr((m.name, m.type, m.mode, m.uname, m.gname, m.size)).encode())\n    if m.isfile(): h.update(t.extractfile(m).read())\nprint('members:' + h.hexdigest())";
    let out = Command::new(support::tool("python")).args(["-c", code]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The packages in `dirs` (every package when empty) built by `uv build` each on its own
/// (isolated, as before the shared environment and the frontend), into one directory. Four at a
/// time: each is mostly the start of uv and Python, and builds in separate directories do not meet.
fn uv_build_each(s: &Sample, server: &PypiServer, env: &[(&str, &str)], dirs: &[&str]) -> TempDir {
    let out = TempDir::new("uv-build-each");
    let info: serde_json::Value =
        serde_json::from_str(&s.xtask(&["pkg", "info", "--all", "--json"]).ok().stdout).unwrap();
    let all: Vec<&str> = info.as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    let dirs = if dirs.is_empty() { &all[..] } else { dirs };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let build = |dir: &str| -> Run {
        support::command(support::tool("uv"))
            .args(["build", "--no-progress", "--out-dir"])
            .arg(out.path())
            .current_dir(s.root().join(dir))
            .envs(server.build_env())
            .envs(env.iter().copied())
            .output()
            .unwrap()
            .into()
    };
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(dir) = dirs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    let run = build(dir);
                    assert_eq!(run.code, 0, "uv build in {dir}: {}", run.stderr);
                }
            });
        }
    });
    out
}

/// A hatchling package that asks for setuptools-scm (hatch-vcs does, in the independent sample).
const SCM_REQUIRER: &str = "llama-index-integrations/tools/llama-index-tools-scm";

/// Adds [`SCM_REQUIRER`], committed: the shared build environment then has setuptools-scm, whose
/// setuptools file finder would add every file git tracks to any setuptools sdist built there.
fn add_scm_requirer(s: &Sample) {
    s.write(
        &format!("{SCM_REQUIRER}/pyproject.toml"),
        "[build-system]\nrequires = [\"hatchling\", \"setuptools-scm\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"llama-index-tools-scm\"\nversion = \"0.1.0\"\n\
         description = \"llama-index scm integration\"\nrequires-python = \">=3.9,<4.0\"\ndependencies = []\n\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"llama_index\"]\n",
    );
    s.write(&format!("{SCM_REQUIRER}/llama_index/tools/scm/__init__.py"), "VALUE = 2\n");
    support::commit_all(&s.root(), "Add an integration that asks for setuptools-scm");
}

/// Removes what building [`SETUPTOOLS_PACKAGE`] left in it: setuptools leaves its egg-info in the
/// package, and a later sdist reads its SOURCES.txt.
fn clean_setuptools_package(s: &Sample) {
    s.git(&["clean", "-fdxq", "--", SETUPTOOLS_PACKAGE]);
}

/// Both halves publish the whole sample to an empty index and compare the uploads with `uv build`
/// of each package: first as the monorepo is (every package through the frontend), then with a
/// package that asks for setuptools-scm beside the setuptools one (which is then built isolated).
#[test]
fn the_build_frontend_uploads_the_same_bytes_as_uv_build() {
    let (s, server) = setup(20, 5);
    add_setuptools_package(&s);
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let dry = publish_env(&s, &server.index_url(), &["--all", "--dry-run"], &env).ok();
    assert!(
        dry.stdout
            .contains("    build: in the build frontend (setuptools.build_meta), with `uv build` if that fails\n")
            && dry.stdout.contains(
                "    build: in the build frontend (poetry.core.masonry.api), with `uv build` if that fails\n"
            )
            && dry
                .stdout
                .contains("    build: in the build frontend (hatchling.build), with `uv build` if that fails\n"),
        "the plan says which way each package is built:\n{}",
        dry.stdout
    );
    let run = publish_env(&s, &server.index_url(), &["--all"], &env).ok();
    // Core (with its build hooks), the umbrella, hatchling, poetry-core and setuptools packages:
    // all 22 through the frontend, none falling back.
    assert!(run.stderr.contains(" 22 by the build frontend "), "{}", run.stderr);
    assert!(run.stderr.contains(" 0 by the tool's command "), "{}", run.stderr);
    assert!(!run.stderr.contains("could not build it"), "{}", run.stderr);
    let first = digests(&server.package_dir());
    let theirs = digests(uv_build_each(&s, &server, &env, &[]).path());
    assert_eq!(first.len(), 44, "{first:#?}");
    assert_eq!(first, theirs, "the uploaded files are byte for byte what `uv build` makes");

    // Tracked by git, left out by setuptools' own rules (as the independent sample's uv.lock).
    s.write(&format!("{SETUPTOOLS_PACKAGE}/uv.lock"), "version = 1\n");
    support::commit_all(&s.root(), "Lock the setuptools integration");
    add_scm_requirer(&s);
    // `uv build` starts from the tree as git has it, and so does this half.
    clean_setuptools_package(&s);
    std::fs::remove_dir_all(s.root().join("target/publish")).unwrap();
    let server = PypiServer::start();
    s.use_build_index(&server);
    let dry = publish_env(&s, &server.index_url(), &["--all", "--dry-run"], &env).ok();
    assert!(
        dry.stdout.contains(
            "    build: `uv build` in its own environment (setuptools without setuptools-scm, which the shared environment has for another package)\n"
        ),
        "the plan says the setuptools package is built isolated:\n{}",
        dry.stdout
    );
    let run = publish_env(&s, &server.index_url(), &["--all"], &env).ok();
    assert!(run.stderr.contains(" 22 by the build frontend "), "{}", run.stderr);
    assert!(run.stderr.contains(" 1 by the tool's command "), "{}", run.stderr);
    clean_setuptools_package(&s);
    let ours = digests(&server.package_dir());
    let mut theirs = first;
    theirs.extend(digests(uv_build_each(&s, &server, &env, &[SETUPTOOLS_PACKAGE, SCM_REQUIRER]).path()));
    assert_eq!(ours.len(), 46, "{ours:#?}");
    assert_eq!(ours, theirs, "the uploaded files are byte for byte what `uv build` makes");
    let sdist = ours.keys().find(|f| f.starts_with("llama_index_tools_legacy_setup") && f.ends_with(".tar.gz"));
    let list = Command::new("tar").arg("tzf").arg(server.package_dir().join(sdist.unwrap())).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("/pyproject.toml\n") && !list.contains("uv.lock"), "{list}");
}

/// The processes that carry `marker` in their environment and run the build frontend.
fn frontends_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let has = |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
        if has(&environ, marker) && has(&cmdline, "xtask-frontend.py") {
            found.push(pid);
        }
    }
    found
}

/// Waits for `done`, looking every tenth of a second, while `going` holds and for at most five
/// minutes (a bound for a broken run, never reached by a working one however loaded the
/// machine); false if it never came.
fn eventually_while(mut going: impl FnMut() -> bool, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline && going() {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

#[test]
fn the_build_frontends_end_with_the_run_however_it_ends() {
    use std::os::unix::process::CommandExt;
    let (s, server) = setup(20, 5);
    // A run that finishes: its frontends are reaped before it exits.
    let value = format!("finished-{}", std::process::id());
    let marker = format!("XTASK_TEST_MARKER={value}");
    publish_env(&s, &server.index_url(), &["--all"], &[("XTASK_TEST_MARKER", &value)]).ok();
    assert_eq!(frontends_with(&marker), Vec::<u32>::new(), "no frontend outlives a finished run");
    // Killed (SIGKILL, the xtask alone), or interrupted (SIGINT to the group, as Ctrl-C does)
    // while its frontends build: they stop by themselves.
    for (signal, group) in [("KILL", false), ("INT", true)] {
        let fresh = PypiServer::start();
        s.use_build_index(&fresh);
        std::fs::remove_dir_all(s.root().join("target/publish")).unwrap();
        let value = format!("{signal}-{}", std::process::id());
        let marker = format!("XTASK_TEST_MARKER={value}");
        let upload = format!("{}/", fresh.index_url());
        let said = s.dir.path().join(format!("publish-{signal}.stderr"));
        let mut child = support::command(xtask_bin())
            .arg("--root")
            .arg(s.root())
            .args(["publish", "--all", "--index-url", &fresh.index_url(), "--publish-url", &upload])
            .env("NO_COLOR", "1")
            // A real run without upload credentials now stops before building anything.
            .env("UV_PUBLISH_TOKEN", TOKEN)
            .env("XTASK_TEST_MARKER", &value)
            .envs(s.env.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&said).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        // Until a frontend shows or the run ends (how long the hooks before the builds take
        // depends on the machine's load): a run that ended first is a failure that shows why.
        let started =
            eventually_while(|| child.try_wait().is_ok_and(|s| s.is_none()), || !frontends_with(&marker).is_empty());
        let said_then = || std::fs::read_to_string(&said).unwrap_or_default();
        assert!(started, "no frontend started ({signal}); the run printed:\n{}", said_then());
        let target = if group { format!("-{}", child.id()) } else { child.id().to_string() };
        Command::new("kill").args(["-s", signal, "--", &target]).status().unwrap();
        let _ = child.wait();
        assert!(
            eventually_while(|| true, || frontends_with(&marker).is_empty()),
            "the frontends outlived the run ({signal}); it printed:\n{}",
            said_then()
        );
    }
}
