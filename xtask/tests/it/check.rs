//! `cargo xtask check` against a real local index (pypiserver seeded with real distributions),
//! directly and through the fault-injecting proxy; and the harness those tests stand on.

use crate::support;

use std::time::{Duration, Instant};

use expect_test::expect;
use support::{
    proxy::{Fault, FaultProxy, Faults},
    pypiserver::{self, http_get_status, seed, PypiServer},
    Sample,
};

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

#[test]
fn harness_serves_real_uploads_and_injects_faults() {
    let server = PypiServer::start();
    assert_eq!(http_get_status(server.port(), "/llama-index-core/json"), Some(404));
    seed(&server, "llama-index-core", &["0.14.12"]);
    let mut files: Vec<String> = std::fs::read_dir(server.package_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["llama_index_core-0.14.12-py3-none-any.whl", "llama_index_core-0.14.12.tar.gz"]);

    let proxy = FaultProxy::start(&server.index_url(), Faults::share(1, 2, Fault::Status500));
    let port = port_of(&proxy.url());
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(500));
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(200));
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(500));
    proxy.set_faults(Faults::first(1, Fault::Reset));
    assert_eq!(http_get_status(port, "/llama-index-core/json"), None, "reset");
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(200));
    proxy.set_faults(Faults::all(Fault::Stall(Duration::from_secs(8))));
    let start = std::time::Instant::now();
    assert_eq!(http_get_status(port, "/llama-index-core/json"), None, "stall");
    assert!(start.elapsed() >= Duration::from_secs(4), "the stall outlasts the 5 s read timeout of the probe");
    assert_eq!(proxy.requests(), 6);
}

/// A sample monorepo: umbrella and core at 0.14.12, on `main`.
fn sample() -> Sample {
    Sample::new(20, 2)
}

/// Stdout with the servers' URLs replaced by placeholders.
fn scrub(text: &str, urls: &[(&str, String)]) -> String {
    urls.iter().fold(text.to_string(), |t, (name, url)| t.replace(url.as_str(), name))
}

#[test]
fn verdicts_follow_the_real_index_before_and_after_core() {
    let server = PypiServer::start();
    let s = sample();
    let url = server.index_url();
    let check = |args: &[&str]| s.xtask(&[&["check", "--index-url", &url], args].concat());
    let urls = [("[SERVER]", url.clone())];

    // Nothing published yet: new before core, missing after.
    let run = check(&["--before-core"]).ok();
    expect![[r#"
        ok     branch: on `main`, the release branch
        ok     index: `llama-index-core` is not on the index yet, so `0.14.12` is new
    "#]]
    .assert_eq(&run.stdout);
    let run = check(&[]).fails_with(1);
    expect![[r#"
        ok     branch: on `main`, the release branch
        FAILED index: `llama-index-core` is not on the index at [SERVER] (not published yet); publish core first, wait with `--wait 5m`, or check `--index-url`
    "#]]
    .assert_eq(&scrub(&run.stdout, &urls));
    assert!(run.stderr.contains("error: 1 of 2 checks failed (index); see the verdicts above"), "{}", run.stderr);

    seed(&server, "llama-index-core", &["0.14.11", "0.14.12"]);
    let run = check(&["--after-core"]).ok();
    expect![[r#"
        ok     branch: on `main`, the release branch
        ok     index: `llama-index-core` `0.14.12` is on the index (2 files)
    "#]]
    .assert_eq(&run.stdout);
    let run = check(&["--before-core"]).fails_with(1);
    expect![[r#"
        ok     branch: on `main`, the release branch
        FAILED index: `llama-index-core` `0.14.12` is already on the index; bump core's version (`cargo xtask prepare`)
    "#]]
    .assert_eq(&run.stdout);

    // Defect 11: a newer release on the index means the checkout is behind, not "the latest".
    seed(&server, "llama-index-core", &["0.14.25"]);
    let run = check(&["--json"]).fails_with(1);
    expect![[r#"
        {
          "checks": [
            {
              "check": "branch",
              "message": "on `main`, the release branch",
              "ok": true
            },
            {
              "check": "index",
              "message": "`llama-index-core` `0.14.12` is on the index, but older than `0.14.25`, the latest release there: the checkout is behind; pull the release branch and run `cargo xtask prepare`",
              "ok": false
            }
          ],
          "index_url": "[SERVER]",
          "mode": "after-core",
          "ok": false,
          "package": "llama-index-core",
          "version": "0.14.12"
        }
    "#]]
    .assert_eq(&scrub(&run.stdout, &urls));
    // The index URL also comes from release.toml.
    s.write("release.toml", &format!("[index]\nurl = \"{url}/\"\n"));
    let run = s.xtask(&["check", "--before-core"]).fails_with(1);
    assert!(run.stdout.contains("`0.14.12` is already on the index"), "{}", run.stdout);
}

#[test]
fn branch_rule_accepts_a_detached_release_tip_and_nothing_else() {
    let server = PypiServer::start();
    let s = sample();
    let url = server.index_url();
    let check = || s.xtask(&["check", "--before-core", "--index-url", &url]);

    // Defect 12: CI checks out a merged pull request as a detached HEAD at the branch's tip.
    s.git(&["checkout", "--quiet", "--detach", "main"]);
    let run = check().ok();
    let tip = &s.git(&["rev-parse", "HEAD"])[..10];
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        format!("ok     branch: detached HEAD at `{tip}`, the tip of `refs/heads/main`")
    );
    assert!(run.stderr.contains("note: HEAD is detached; accepted because it is the tip of `main`"), "{}", run.stderr);

    s.git(&["checkout", "--quiet", "--detach", "HEAD~1"]);
    let run = check().fails_with(1);
    let here = &s.git(&["rev-parse", "HEAD"])[..10];
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        format!("FAILED branch: detached HEAD at `{here}`, which is not the tip of `main` (`{tip}`); check out `main` (`git checkout main`)")
    );

    s.git(&["checkout", "--quiet", "-b", "feature"]);
    let run = check().fails_with(1);
    expect![[r#"
        FAILED branch: on `feature`, not the release branch `main`; check it out (`git checkout main`)
        ok     index: `llama-index-core` is not on the index yet, so `0.14.12` is new
    "#]]
    .assert_eq(&run.stdout);

    // The release branch is configurable.
    s.write("release.toml", "[release]\nbranch = \"feature\"\n");
    check().ok();
}

#[test]
fn retries_ride_out_500s_resets_and_stalls() {
    let server = PypiServer::start();
    seed(&server, "llama-index-core", &["0.14.12"]);
    let s = sample();
    let proxy = FaultProxy::start(&server.index_url(), Faults::share(1, 2, Fault::Status500));
    let url = proxy.url();
    let check = || s.xtask_env(&["check", "--index-url", &url], &[("XTASK_HTTP_TIMEOUT", "1s")]);
    let passed = "ok     index: `llama-index-core` `0.14.12` is on the index (2 files)";

    let run = check().ok();
    assert!(run.stdout.contains(passed), "{}", run.stdout);
    assert!(run.stderr.contains("the index answered HTTP 500"), "{}", run.stderr);
    assert_eq!(proxy.requests(), 2, "one failure, one retry");

    proxy.set_faults(Faults::first(2, Fault::Reset));
    let run = check().ok();
    assert!(run.stdout.contains(passed), "{}", run.stdout);
    assert_eq!(proxy.requests(), 5);

    proxy.set_faults(Faults::first(1, Fault::Stall(Duration::from_secs(20))));
    let start = Instant::now();
    let run = check().ok();
    assert!(run.stdout.contains(passed), "{}", run.stdout);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(
        start.elapsed() >= Duration::from_secs(1) && start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(proxy.requests(), 7);

    // Retries are bounded, and the failure names the URL and what to do.
    proxy.set_faults(Faults::all(Fault::Status500));
    let run = check().fails_with(1);
    expect![[r#"
        ok     branch: on `main`, the release branch
        FAILED index: cannot fetch [PROXY]/llama-index-core/json: the index answered HTTP 500 (5 attempts); check that the index is up and reachable, then rerun
    "#]]
    .assert_eq(&scrub(&run.stdout, &[("[PROXY]", url.clone())]));
    assert_eq!(proxy.requests(), 12);
}

#[test]
fn wait_polls_until_core_is_published() {
    let server = PypiServer::start();
    let s = sample();
    let files = pypiserver::built(&server, "llama-index-core", "0.14.12");
    let url = server.index_url();

    let run = s.xtask(&["check", "--index-url", &url, "--wait", "2s"]).fails_with(1);
    assert!(
        run.stdout.contains("(not published yet)")
            && run.stdout.contains("gave up waiting for `llama-index-core` 0.14.12 on the index after 2s"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("waiting for `llama-index-core` 0.14.12 on the index (1s of 2s waited)"),
        "{}",
        run.stderr
    );

    // Upload once the check says it is waiting (its first poll found nothing), not after a sleep.
    let mut child = support::command(support::xtask_bin())
        .arg("--root")
        .arg(s.root())
        .args(["check", "--index-url", &url, "--wait", "1m"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reading_stdout = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("waiting for `llama-index-core` 0.14.12 on the index") {
        let before = seen.len();
        std::io::BufRead::read_line(&mut stderr, &mut seen).unwrap();
        assert!(seen.len() > before, "the check ended without waiting:\n{seen}");
    }
    server.upload(&files);
    std::io::Read::read_to_string(&mut stderr, &mut seen).unwrap();
    let status = child.wait().unwrap();
    let run =
        support::Run { code: status.code().unwrap_or(-1), stdout: reading_stdout.join().unwrap(), stderr: seen }.ok();
    assert!(
        run.stdout.contains("ok     index: `llama-index-core` `0.14.12` is on the index (2 files)"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("of 1m00s waited)"), "{}", run.stderr);
}

#[test]
fn bad_input_is_a_clear_error() {
    let server = PypiServer::start();
    let s = sample();
    let proxy = FaultProxy::start(&server.index_url(), Faults::all(Fault::Body("<!DOCTYPE html><html>login</html>")));
    let url = proxy.url();
    let urls = [("[PROXY]", url.clone())];
    let run = s.xtask(&["check", "--index-url", &url]).fails_with(1);
    expect![[r#"
        ok     branch: on `main`, the release branch
        FAILED index: [PROXY]/llama-index-core/json answered HTML, not JSON; check that `--index-url` (or `index.url` in release.toml) is the JSON API's base: the server's root for a pypiserver, the `/pypi` path for the public Python package index
    "#]]
    .assert_eq(&scrub(&run.stdout, &urls));
    proxy.set_faults(Faults::all(Fault::Body("{\"releases\": {\"0.14.12\": ")));
    // A wrong answer is not waited out.
    let run = s.xtask(&["check", "--index-url", &url, "--wait", "1m"]).fails_with(1);
    assert!(run.stdout.contains("answered invalid JSON (EOF while parsing"), "{}", run.stdout);
    assert_eq!(proxy.requests(), 2);

    let usage = |args: &[&str], want: expect_test::Expect| {
        let run = s.xtask(args).fails_with(2);
        want.assert_eq(run.stderr.lines().next().unwrap());
    };
    usage(
        &["check", "--before-core", "--after-core"],
        expect!["error: give `--before-core` or `--after-core`, not both"],
    );
    usage(
        &["check", "--wait", "5x"],
        expect!["error: can't parse `--wait`, `5x` is not a duration; write it like `30s`, `5m` or `1h`"],
    );
    usage(
        &["check", "--before-core", "--wait", "5m"],
        expect!["error: `--wait` waits for core to appear on the index: use it with `--after-core`"],
    );
    usage(
        &["check", "--index-url", "ftp://x"],
        expect!["error: can't parse `--index-url`, `ftp://x` is not a URL: it must start with `http://` or `https://`"],
    );

    s.write("release.toml", "[packages]\ncore = \"nope\"\n");
    let run = s.xtask(&["check", "--index-url", &url]).fails_with(1);
    assert!(run.stderr.contains("the core package `nope` has no pyproject.toml"), "{}", run.stderr);

    std::fs::remove_dir_all(s.root().join(".git")).unwrap();
    let run = s.xtask(&["check", "--index-url", &url]).fails_with(1);
    assert!(
        run.stderr.contains("is not a git repository; pass --root with the path of the monorepo's checkout"),
        "{}",
        run.stderr
    );
}

/// Edits `path` of the sample by `edit`, and commits it on the current branch.
fn change(s: &Sample, path: &str, edit: impl Fn(String) -> String, subject: &str) {
    let text = std::fs::read_to_string(s.root().join(path)).unwrap_or_default();
    s.write(path, &edit(text));
    support::commit_all(&s.root(), subject);
}

fn set_version(from: &str, to: &str) -> impl Fn(String) -> String {
    let (from, to) = (format!("version = \"{from}\""), format!("version = \"{to}\""));
    move |t| t.replacen(&from, &to, 1)
}

const LLMS: &str = "llama-index-integrations/llms/llama-index-llms-openai";
const READERS: &str = "llama-index-integrations/readers/llama-index-readers-anthropic";
const TOOLS: &str = "llama-index-integrations/tools/llama-index-tools-openai-classic";
const EMBEDDINGS: &str = "llama-index-integrations/embeddings/llama-index-embeddings-openai";
const PACKS: &str = "llama-index-packs/llama-index-packs-weaviate";
const UTILS: &str = "llama-index-utils/llama-index-utils-qianfan";

/// A pull request branch off `main` with one of each case the bump check knows.
fn pull_request(s: &Sample) {
    s.git(&["switch", "--quiet", "-c", "pr"]);
    // Code changed, version not: the forgotten bump.
    change(s, &format!("{LLMS}/llama_index/llms/openai/base.py"), |t| t + "# fix\n", "Fix llms (#901)");
    // Only tests, docs, examples and Markdown: no bump needed.
    change(s, &format!("{READERS}/tests/test_more.py"), |_| "def test_x():\n    pass\n".into(), "Tests (#902)");
    change(s, &format!("{READERS}/docs/usage.md"), |_| "# Usage\n".into(), "Docs (#903)");
    change(s, &format!("{READERS}/README.md"), |t| t + "More.\n", "Readme (#904)");
    // Code and a proper bump.
    change(s, &format!("{TOOLS}/llama_index/tools/openai/base.py"), |t| t + "# feature\n", "Feature (#905)");
    change(s, &format!("{TOOLS}/pyproject.toml"), set_version("0.2.9", "0.2.10"), "Bump tools (#905)");
    // Down, and over a release.
    change(s, &format!("{EMBEDDINGS}/pyproject.toml"), set_version("0.6.1", "0.6.0"), "Oops (#906)");
    change(s, &format!("{PACKS}/pyproject.toml"), set_version("0.5.1", "0.7.0"), "Jump (#907)");
    // A requirement that excludes the tree's core (0.14.12), with a bump.
    change(
        s,
        &format!("{UTILS}/pyproject.toml"),
        |t| {
            set_version("0.4.0", "0.4.1")(t.replace("llama-index-core>=0.14.0,<0.15", "llama-index-core>=0.13.0,<0.14"))
        },
        "Pin core (#908)",
    );
}

#[test]
fn the_bump_check_names_every_problem_and_its_fix() {
    let s = sample();
    pull_request(&s);
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main"]).fails_with(1);
    let base = &s.git(&["rev-parse", "main"])[..10];
    expect![[r#"
        FAILED  llama-index-embeddings-openai (llama-index-integrations/embeddings/llama-index-embeddings-openai): the version went down from `0.6.1` to `0.6.0`; versions only move forward (`bumps.down`)
        FAILED  llama-index-llms-openai (llama-index-integrations/llms/llama-index-llms-openai): 1 shipped file changed since the merge base (llama_index/llms/openai/base.py), but the version is still `0.5.1`; bump it: `cargo xtask pkg bump llama-index-integrations/llms/llama-index-llms-openai --bump patch`
        FAILED  llama-index-vector-stores-openai (llama-index-integrations/vector_stores/llama-index-vector-stores-openai): requires `llama-index-embeddings-openai>=0.6.1`, which excludes `llama-index-embeddings-openai` `0.6.0` in this tree; widen the requirement to admit it
        warning llama-index-packs-weaviate (llama-index-packs/llama-index-packs-weaviate): the version jumped from `0.5.1` to `0.7.0`, over a release; the next ones are `0.5.2`, `0.6.0` or `1.0.0` (`bumps.jump`)
        FAILED  llama-index-utils-qianfan (llama-index-utils/llama-index-utils-qianfan): requires `llama-index-core>=0.13.0,<0.14`, which excludes `llama-index-core` `0.14.12` in this tree; widen the requirement to admit it
        6 changed packages since `[BASE]` (the merge base with `main`): 4 with a new version, 5 problems
    "#]]
    .assert_eq(&run.stdout.replace(base, "[BASE]"));
    assert_eq!(run.stderr, "error: 4 packages failed the bump check; see above\n");

    // Configured: a jump fails, a version going down only warns; Python files under tests/
    // count as shipped once the patterns say so.
    s.write("release.toml", "[bumps]\njump = \"fail\"\ndown = \"warn\"\nunshipped = [\"*.md\", \"docs/**\"]\n");
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main", READERS, PACKS, EMBEDDINGS]).fails_with(1);
    expect![[r#"
        warning llama-index-embeddings-openai (llama-index-integrations/embeddings/llama-index-embeddings-openai): the version went down from `0.6.1` to `0.6.0`; versions only move forward (`bumps.down`)
        FAILED  llama-index-readers-anthropic (llama-index-integrations/readers/llama-index-readers-anthropic): 1 shipped file changed since the merge base (tests/test_more.py), but the version is still `0.4.8`; bump it: `cargo xtask pkg bump llama-index-integrations/readers/llama-index-readers-anthropic --bump patch`
        FAILED  llama-index-vector-stores-openai (llama-index-integrations/vector_stores/llama-index-vector-stores-openai): requires `llama-index-embeddings-openai>=0.6.1`, which excludes `llama-index-embeddings-openai` `0.6.0` in this tree; widen the requirement to admit it
        FAILED  llama-index-packs-weaviate (llama-index-packs/llama-index-packs-weaviate): the version jumped from `0.5.1` to `0.7.0`, over a release; the next ones are `0.5.2`, `0.6.0` or `1.0.0` (`bumps.jump`)
        3 changed packages since `[BASE]` (the merge base with `main`): 2 with a new version, 4 problems
    "#]]
    .assert_eq(&run.stdout.replace(base, "[BASE]"));
    std::fs::remove_file(s.root().join("release.toml")).unwrap();

    // In GitHub Actions: one annotation per problem, on the package's pyproject.toml.
    let summary = s.dir.path().join("summary.md");
    let run = s
        .xtask_env(
            &["check", "--bumps", "--base-ref", "main", LLMS, PACKS],
            &[("GITHUB_ACTIONS", "true"), ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        )
        .fails_with(1);
    let annotations: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::")).collect();
    expect![[r#"
        [
            "::error file=llama-index-integrations/llms/llama-index-llms-openai/pyproject.toml,title=bump check%3A llama-index-llms-openai::1 shipped file changed since the merge base (llama_index/llms/openai/base.py), but the version is still `0.5.1`; bump it: `cargo xtask pkg bump llama-index-integrations/llms/llama-index-llms-openai --bump patch`",
            "::warning file=llama-index-packs/llama-index-packs-weaviate/pyproject.toml,title=bump check%3A llama-index-packs-weaviate::the version jumped from `0.5.1` to `0.7.0`, over a release; the next ones are `0.5.2`, `0.6.0` or `1.0.0` (`bumps.jump`)",
        ]
    "#]]
    .assert_debug_eq(&annotations);
    assert!(std::fs::read_to_string(&summary).unwrap().starts_with("### Bump check against `main`\n"));

    // --json: every changed package, with its files and findings.
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main", "--json", TOOLS, READERS]).ok();
    let mut v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["merge_base"] = "[BASE]".into();
    expect![[r#"
        {
          "base_ref": "main",
          "dependants": [],
          "merge_base": "[BASE]",
          "ok": true,
          "packages": [
            {
              "base_version": "0.4.8",
              "findings": [],
              "name": "llama-index-readers-anthropic",
              "path": "llama-index-integrations/readers/llama-index-readers-anthropic",
              "shipped_files": [],
              "unshipped_files": 3,
              "version": "0.4.8"
            },
            {
              "base_version": "0.2.9",
              "findings": [],
              "name": "llama-index-tools-openai-classic",
              "path": "llama-index-integrations/tools/llama-index-tools-openai-classic",
              "shipped_files": [
                "llama-index-integrations/tools/llama-index-tools-openai-classic/llama_index/tools/openai/base.py",
                "llama-index-integrations/tools/llama-index-tools-openai-classic/pyproject.toml"
              ],
              "unshipped_files": 0,
              "version": "0.2.10"
            }
          ]
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&v).unwrap());
}

/// Issues 18.8 and 21.5: a pull request that only relocked (`uv.lock`, `poetry.lock`,
/// `pdm.lock`, the root's included) needs no bump of any package.
#[test]
fn the_bump_check_needs_no_bump_for_lock_files() {
    let s = sample();
    s.git(&["switch", "--quiet", "-c", "pr"]);
    for f in
        ["uv.lock".to_string(), format!("{LLMS}/uv.lock"), format!("{PACKS}/poetry.lock"), format!("{TOOLS}/pdm.lock")]
    {
        change(&s, &f, |t| t + "# relocked\n", "chore: relock (#910)");
    }
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let packages: Vec<(String, usize, usize)> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let shipped = p["shipped_files"].as_array().unwrap().len();
            (p["name"].as_str().unwrap().to_string(), shipped, p["unshipped_files"].as_u64().unwrap() as usize)
        })
        .collect();
    expect![[r#"
        [
            (
                "llama-index",
                0,
                1,
            ),
            (
                "llama-index-llms-openai",
                0,
                1,
            ),
            (
                "llama-index-tools-openai-classic",
                0,
                1,
            ),
            (
                "llama-index-packs-weaviate",
                0,
                1,
            ),
        ]
    "#]]
    .assert_debug_eq(&packages);
    assert_eq!(v["ok"], true, "{}", run.stdout);
    // The same files with a pattern list that leaves lock files out: each is a forgotten bump.
    s.write("release.toml", "[bumps]\nunshipped = [\"*.md\"]\n");
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main"]).fails_with(1);
    assert!(run.stdout.contains("1 shipped file changed since the merge base (uv.lock)"), "{}", run.stdout);
}

#[test]
fn the_bump_check_fails_a_version_the_index_has_and_a_dependant_left_behind() {
    let server = PypiServer::start();
    seed(&server, "llama-index-tools-openai-classic", &["0.2.10"]);
    let s = sample();
    pull_request(&s);
    let url = server.index_url();
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main", "--index-url", &url, TOOLS]).fails_with(1);
    expect![[r#"
        FAILED  llama-index-tools-openai-classic (llama-index-integrations/tools/llama-index-tools-openai-classic): `llama-index-tools-openai-classic` `0.2.10` is on the index already, and its file names can never be uploaded again; bump it past the index: `cargo xtask pkg bump llama-index-integrations/tools/llama-index-tools-openai-classic --bump patch`
    "#]]
    .assert_eq(run.stdout.lines().next().map(|l| format!("{l}\n")).as_deref().unwrap());
    // Not on the index: fine.
    s.xtask(&["check", "--bumps", "--base-ref", "main", "--index-url", &url, READERS]).ok();
    // `--index` asks the configured index.
    s.write("release.toml", &format!("[index]\nurl = \"{url}\"\n"));
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main", "--index", TOOLS]).fails_with(1);
    assert!(run.stdout.contains("`0.2.10` is on the index already"), "{}", run.stdout);
    std::fs::remove_file(s.root().join("release.toml")).unwrap();

    // Core moves to 0.15.0 in a pull request: its dependants' `<0.15` now exclude it.
    s.git(&["switch", "--quiet", "main"]);
    change(&s, "llama-index-core/pyproject.toml", set_version("0.14.12", "0.15.0"), "Core 0.15 (#910)");
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main~1", "--json"]).fails_with(1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let behind = v["dependants"].as_array().unwrap();
    assert_eq!(behind.len(), 19, "the umbrella and 18 packages: {v}");
    expect![[r#"
        {
          "kind": "excludes",
          "message": "requires `llama-index-core>=0.14.0,<0.15`, which excludes `llama-index-core` `0.15.0` in this tree; widen the requirement to admit it",
          "name": "llama-index-cli",
          "path": "llama-index-cli",
          "severity": "fail"
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&behind[1]).unwrap());
}

#[test]
fn the_bump_check_refuses_bad_input_clearly_and_writes_nothing() {
    let s = sample();
    pull_request(&s);
    let before = s.fingerprint();
    let check = |args: &[&str], code: i32, want: expect_test::Expect| {
        let run = s.xtask(&[&["check", "--bumps"], args].concat()).fails_with(code);
        want.assert_eq(&run.stderr.replace(&s.root().display().to_string(), "[ROOT]"));
    };
    check(
        &[],
        2,
        expect![[r#"
            error: `--bumps` compares with a base: pass `--base-ref REF` (for example `origin/main`)

            Run `cargo xtask check --help` for usage.
        "#]],
    );
    check(
        &["--base-ref", "origin/nope"],
        1,
        expect![[r#"
            error: `origin/nope` is not a commit of this repository; fetch it (`git fetch origin origin/nope`) or pass another ref
        "#]],
    );
    check(
        &["--base-ref", "main", "llama-index-integrations/llms/llama-index-llms-nope"],
        1,
        expect![[r#"
            error: `llama-index-integrations/llms/llama-index-llms-nope` is not a package of this monorepo (no pyproject.toml found there by the package patterns); give a package directory relative to [ROOT], or run `cargo xtask pkg info --all` to list them
        "#]],
    );
    check(
        &["--base-ref", "main", "--before-core"],
        2,
        expect![[r#"
            error: `--bumps` is the pull request check; `--before-core`, `--after-core` and `--wait` are the release's

            Run `cargo xtask check --help` for usage.
        "#]],
    );
    // Unrelated histories: no merge base.
    let tree = s.git(&["rev-parse", "HEAD^{tree}"]);
    let unrelated =
        s.git(&["-c", "user.name=T", "-c", "user.email=t@example.com", "commit-tree", &tree, "-m", "Unrelated"]);
    s.git(&["branch", "elsewhere", &unrelated]);
    let before_orphan = s.fingerprint();
    check(
        &["--base-ref", "elsewhere"],
        1,
        expect![[r#"
            error: `elsewhere` and HEAD have no merge base (unrelated histories, or a shallow clone); fetch the history (`git fetch --unshallow origin`, or `fetch-depth: 0` in `actions/checkout`) or pass another --base-ref
        "#]],
    );
    assert_eq!(s.fingerprint(), before_orphan, "nothing written");
    assert_ne!(before, before_orphan);
    // A requirement that cannot be read names its file.
    change(
        &s,
        &format!("{LLMS}/pyproject.toml"),
        |t| {
            set_version("0.5.1", "0.5.2")(
                t.replace("llama-index-core>=0.14.0,<0.15", "llama-index-core>=0.14.0,<<0.15"),
            )
        },
        "Typo (#909)",
    );
    // Discovery parses every requirement strictly, so the check stops before it looks at anything.
    let before_typo = s.fingerprint();
    let run = s.xtask(&["check", "--bumps", "--base-ref", "main", LLMS]).fails_with(1);
    assert!(run.stderr.contains(&format!("{LLMS}/pyproject.toml")), "{}", run.stderr);
    assert!(run.stderr.contains("`<<0.15` is not a version specifier"), "{}", run.stderr);
    assert_eq!(s.fingerprint(), before_typo, "nothing written");
}
