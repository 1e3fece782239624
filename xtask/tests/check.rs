//! `cargo xtask check` against a real local index (pypiserver seeded with real distributions),
//! directly and through the fault-injecting proxy; and the harness those tests stand on.

mod support;

use std::time::{Duration, Instant};

use expect_test::expect;
use support::{
    proxy::{Fault, FaultProxy, Faults},
    pypiserver::{build_package, http_get_status, seed, PypiServer},
    Sample, TempDir,
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
    let dist = TempDir::new("dist");
    let files = build_package(dist.path(), "llama-index-core", "0.14.12");
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

    let run = std::thread::scope(|scope| {
        let check = scope.spawn(|| s.xtask(&["check", "--index-url", &url, "--wait", "1m"]));
        std::thread::sleep(Duration::from_secs(2));
        server.upload(&files);
        check.join().unwrap()
    })
    .ok();
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
    usage(&["check", "--wait", "5x"], expect!["error: `5x` is not a duration; write it like `30s`, `5m` or `1h`"]);
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
