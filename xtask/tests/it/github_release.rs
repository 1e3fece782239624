//! The release steps' GitHub calls end to end: the real `gh` against the stand-in, run with the
//! argv `github.rs` builds and read by its parsers. `github::commands` comes from the library
//! itself, so these tests cannot drift from what the xtask runs; the functions around it only add
//! `exec::require`, the `--repo` host and error wording, which the unit tests in `github.rs` cover.

use crate::support;

use serde_json::json;
use support::{
    github::{StandIn, TOKEN},
    Run, TempDir,
};
use xtask::github::commands::{self, Pr, Release};

/// The `--repo` value `github::repo` builds under the tests' `GH_HOST`.
const REPO: &str = "github.localhost/run-llama/llama_index";

/// A work directory with the notes/body file the release command would write.
fn workdir(text: &str) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new("ghrelease");
    let notes = dir.path().join("notes.md");
    std::fs::write(&notes, text).unwrap();
    (dir, notes)
}

/// No run shows the token, whatever it printed and however it was called.
fn assert_no_token(gh: &StandIn, runs: &[&Run]) {
    for run in runs {
        assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "{run:?}");
    }
    let calls = gh.gh_calls();
    assert!(!calls.is_empty() && calls.iter().all(|c| !c.contains(TOKEN)), "{calls:?}");
    // It did reach the stand-in, in the header where it belongs.
    let requests = gh.requests();
    assert!(requests.iter().all(|r| r["token_ok"] == true), "{requests:#?}");
    // The stand-in's own log shows the scheme, never the token.
    assert!(requests.iter().all(|r| r["authorization"] == "token [REDACTED]"), "{requests:#?}");
    let log = std::fs::read_to_string(gh.dir.path().join("requests.jsonl")).unwrap();
    assert!(!log.is_empty() && !log.contains(TOKEN) && !format!("{requests:?}").contains(TOKEN), "{log}");
}

#[test]
fn a_missing_release_is_none_then_a_created_one_is_found() {
    let gh = StandIn::start(&json!({}), &[]);
    let (dir, notes) = workdir("## llama-index-core [0.14.13]\n\n- a change\n");
    let view = |tag: &str| gh.gh(dir.path(), &commands::release_view_args(REPO, tag));

    let missing = view("v0.14.13");
    assert_eq!(missing.code, 1);
    assert!(commands::release_missing(&missing.stderr), "{}", missing.stderr);

    let sha = "0123456789abcdef0123456789abcdef01234567";
    let create = gh.gh(dir.path(), &commands::release_create_args(REPO, "v0.14.13", sha, "v0.14.13", &notes)).ok();
    let made = commands::parse_created_release(&create.stdout, "v0.14.13", sha).unwrap();
    let want = Release {
        tag: "v0.14.13".into(),
        target: sha.into(),
        url: "https://github.com/run-llama/llama_index/releases/tag/v0.14.13".into(),
    };
    assert_eq!(made, want);

    let found = view("v0.14.13").ok();
    assert_eq!(commands::parse_release(&found.stdout).unwrap(), want);
    assert!(commands::release_missing(&view("v0.14.12").stderr), "other tags stay missing");

    // A second create is GitHub's 422, which `create_release` turns into "it exists already".
    let again =
        gh.gh(dir.path(), &commands::release_create_args(REPO, "v0.14.13", sha, "v0.14.13", &notes)).fails_with(1);
    expect_test::expect![[r#"
        cannot create the GitHub release `v0.14.13` at `0123456789abcdef0123456789abcdef01234567` in `github.localhost/run-llama/llama_index`: HTTP 422: Validation Failed (http://api.github.localhost/repos/run-llama/llama_index/releases)
        Release.tag_name already exists; `gh release view v0.14.13 --repo github.localhost/run-llama/llama_index` shows it; rerun the release to continue from it"#]].assert_eq(&commands::release_create_error(REPO, "v0.14.13", sha, &again.stderr));

    assert_eq!(
        gh.state()["releases"],
        json!([{"repo": "run-llama/llama_index", "tag": "v0.14.13", "target": sha, "title": "v0.14.13",
                "body": "## llama-index-core [0.14.13]\n\n- a change\n", "draft": false, "assets": []}])
    );
    let calls: Vec<String> = gh.gh_calls().iter().map(|c| c.replace(&*dir.path().to_string_lossy(), "[DIR]")).collect();
    expect_test::expect![[r#"
        release view v0.14.13 --repo github.localhost/run-llama/llama_index --json tagName,targetCommitish,url
        release create v0.14.13 --repo github.localhost/run-llama/llama_index --target 0123456789abcdef0123456789abcdef01234567 --title v0.14.13 --notes-file [DIR]/notes.md
        release view v0.14.13 --repo github.localhost/run-llama/llama_index --json tagName,targetCommitish,url
        release view v0.14.12 --repo github.localhost/run-llama/llama_index --json tagName,targetCommitish,url
        release create v0.14.13 --repo github.localhost/run-llama/llama_index --target 0123456789abcdef0123456789abcdef01234567 --title v0.14.13 --notes-file [DIR]/notes.md"#]]
    .assert_eq(&calls.join("\n"));
    assert_no_token(&gh, &[&missing, &create, &found, &again]);
}

#[test]
fn a_created_pull_request_is_the_open_one_of_its_branch() {
    // Known pull requests go up to #20300, so the new one is #20301.
    let gh = StandIn::start(&json!({"20237": {"title": "old"}, "20300": {"title": "older"}}), &[]);
    let (dir, body) = workdir("Release v0.14.13\n\n- llama-index-core 0.14.13\n");
    let branch = "release/v0.14.13";
    let list = |branch: &str| gh.gh(dir.path(), &commands::pr_list_args(REPO, branch)).ok();

    let none = list(branch);
    assert_eq!(commands::parse_pr_list(&none.stdout).unwrap(), None);

    let create = gh.gh(dir.path(), &commands::pr_create_args(REPO, "main", branch, "Release v0.14.13", &body)).ok();
    let pr = commands::parse_created_pr(&create.stdout).unwrap();
    assert_eq!(pr, Pr { number: 20301, url: "https://github.com/run-llama/llama_index/pull/20301".into() });

    let open = list(branch);
    assert_eq!(commands::parse_pr_list(&open.stdout).unwrap(), Some(pr));
    assert_eq!(commands::parse_pr_list(&list("release/v0.14.12").stdout).unwrap(), None, "only its own branch");

    // `gh` itself refuses a second pull request for the branch, naming the first.
    let again =
        gh.gh(dir.path(), &commands::pr_create_args(REPO, "main", branch, "Release v0.14.13", &body)).fails_with(1);
    expect_test::expect![[r#"
        cannot open a pull request from `release/v0.14.13` into `main` in `github.localhost/run-llama/llama_index`: a pull request for branch "release/v0.14.13" into branch "main" already exists:
        https://github.com/run-llama/llama_index/pull/20301; rerun the release to continue from that pull request"#]].assert_eq(&commands::pr_create_error(REPO, "main", branch, &again.stderr));

    assert_eq!(
        gh.state(),
        json!({"releases": [], "pulls": [{"repo": "run-llama/llama_index", "number": 20301, "base": "main", "head": branch,
                "title": "Release v0.14.13", "body": "Release v0.14.13\n\n- llama-index-core 0.14.13\n"}]})
    );
    assert_no_token(&gh, &[&none, &create, &open, &again]);
}

#[test]
fn a_failing_github_is_an_error_not_a_missing_release() {
    let gh = StandIn::start(&json!({}), &["--fail", "500"]);
    let (dir, notes) = workdir("notes\n");
    let (tag, branch) = ("v0.14.13", "release/v0.14.13");
    let runs = [
        gh.gh(dir.path(), &commands::release_view_args(REPO, tag)),
        gh.gh(dir.path(), &commands::release_create_args(REPO, tag, "abc", tag, &notes)),
        gh.gh(dir.path(), &commands::pr_list_args(REPO, branch)),
        gh.gh(dir.path(), &commands::pr_create_args(REPO, "main", branch, "t", &notes)),
    ];
    for run in &runs {
        assert_eq!(run.code, 1, "{run:?}");
        // A release lookup that failed must not read as "no release": that would create it twice.
        assert!(!commands::release_missing(&run.stderr), "{}", run.stderr);
    }
    // The errors `github.rs` raises (REST errors read `HTTP 500`, GraphQL ones `status code: 500`).
    // `gh release view` asks REST and GraphQL at once, so either may be the one reported.
    let view = commands::release_view_error(REPO, tag, &runs[0].stderr);
    assert!(
        view.starts_with("cannot look up the GitHub release `v0.14.13` of `github.localhost/run-llama/llama_index`: "),
        "{view}"
    );
    assert!(
        view.ends_with("; check that the token can read the repository, then rerun") && view.contains("500"),
        "{view}"
    );
    let errors = [
        commands::release_create_error(REPO, tag, "abc", &runs[1].stderr),
        commands::pr_list_error(REPO, branch, &runs[2].stderr),
        commands::pr_create_error(REPO, "main", branch, &runs[3].stderr),
    ];
    expect_test::expect![[r#"
        cannot create the GitHub release `v0.14.13` at `abc` in `github.localhost/run-llama/llama_index`: HTTP 500: Server Error (http://api.github.localhost/repos/run-llama/llama_index/releases); check that the token may write to the repository, then rerun
        cannot list the open pull requests of branch `release/v0.14.13` in `github.localhost/run-llama/llama_index`: HTTP 500: Server Error (http://api.github.localhost/graphql); check that the token can read the repository, then rerun
        cannot open a pull request from `release/v0.14.13` into `main` in `github.localhost/run-llama/llama_index`: HTTP 500: Server Error (http://api.github.localhost/graphql); push `release/v0.14.13` first, and check that the token may write to the repository"#]].assert_eq(&errors.join("\n"));
    assert_eq!(gh.state(), json!({"releases": [], "pulls": []}), "nothing was created");
    assert_no_token(&gh, &runs.iter().collect::<Vec<_>>());
}

#[test]
fn the_release_lookup_answers_under_latency_whichever_request_wins() {
    // `gh release view` asks REST and GraphQL at once and takes the first useful answer; with
    // latency both arrive late, and a found release must still be found every time.
    let gh = StandIn::start(&json!({}), &["--latency-ms", "50"]);
    let (dir, notes) = workdir("notes\n");
    gh.gh(dir.path(), &commands::release_create_args(REPO, "v1.0.0", "abc", "v1.0.0", &notes)).ok();
    for _ in 0..3 {
        let run = gh.gh(dir.path(), &commands::release_view_args(REPO, "v1.0.0")).ok();
        assert_eq!(commands::parse_release(&run.stdout).unwrap().target, "abc");
    }
}

/// Assets: the real `gh release upload` posts the file to the release's `upload_url` on the
/// uploads host, with the token; the stand-in keeps name and size, `gh release view --json
/// assets` lists them, and a second upload of the same name is refused.
#[test]
fn an_asset_is_uploaded_to_the_uploads_host_once() {
    let gh = StandIn::start(&json!({}), &[]);
    let (dir, notes) = workdir("notes\n");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    gh.gh(dir.path(), &commands::release_create_args(REPO, "v0.14.13", sha, "v0.14.13", &notes)).ok();
    let sdist = dir.path().join("llama_index-0.14.13.tar.gz");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    std::fs::write(&sdist, &bytes).unwrap();
    let upload = gh
        .gh(
            dir.path(),
            &[
                std::ffi::OsStr::new("release"),
                "upload".as_ref(),
                "v0.14.13".as_ref(),
                "--repo".as_ref(),
                REPO.as_ref(),
                sdist.as_os_str(),
            ],
        )
        .ok();
    let view = gh.gh(dir.path(), &["release", "view", "v0.14.13", "--repo", REPO, "--json", "assets"]).ok();
    let v: serde_json::Value = serde_json::from_str(&view.stdout).unwrap();
    assert_eq!(
        (v["assets"][0]["name"].as_str(), v["assets"][0]["size"].as_u64()),
        (Some("llama_index-0.14.13.tar.gz"), Some(3000))
    );
    assert_eq!(gh.state()["releases"][0]["assets"], json!([{"name": "llama_index-0.14.13.tar.gz", "size": 3000}]));
    let post = gh
        .requests()
        .into_iter()
        .find(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/assets"))
        .unwrap();
    assert_eq!(post["path"], "/repos/run-llama/llama_index/releases/1001/assets");
    let again = gh
        .gh(
            dir.path(),
            &[
                std::ffi::OsStr::new("release"),
                "upload".as_ref(),
                "v0.14.13".as_ref(),
                "--repo".as_ref(),
                REPO.as_ref(),
                sdist.as_os_str(),
            ],
        )
        .fails_with(1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_no_token(&gh, &[&upload, &view, &again]);
}
