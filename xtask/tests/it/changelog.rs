//! `cargo xtask changelog` end to end: real git in generated monorepos, and the real `gh`
//! talking to the GitHub stand-in. The `defect N` notes refer to §10 of the spec of the tool
//! this replaces; each has a test here showing the fix.

use crate::support;

use expect_test::expect;
use serde_json::json;
use support::{
    commit_all,
    github::{pulls_from_git, xtask, StandIn, TOKEN},
    Sample,
};

const VOLC: &str = "llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql";
const OPENAI: &str = "llama-index-integrations/llms/llama-index-llms-openai";

/// A sample at release 0.14.12 with hand-made pull requests after it: every awkward case once.
fn crafted() -> Sample {
    let s = Sample::new(40, 0);
    let change = |rel: &str, subject: &str| {
        let path = s.root().join(rel);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        s.write(rel, &format!("{old}# {subject}\n"));
    };
    let commit = |files: &[&str], subject: &str| {
        for f in files {
            change(f, subject);
        }
        commit_all(&s.root(), subject);
    };
    commit(&[&format!("{VOLC}/llama_index/x.py")], "feat: volcengine mysql filters (#201)");
    commit(&["llama-index-core/llama_index/core/a.py"], "Fix: handle tool calls (#20237) (#203)");
    commit(&["docs/index.md"], "docs: explain the release flow (#202)");
    commit(&["llama-index-core/llama_index/core/b.py"], "Revert \"feat: streaming (#199)\"");
    commit(&[".github/workflows/unit_test.yml"], "Update unit test workflow");
    commit(
        &["llama-index-core/llama_index/core/c.py", &format!("{OPENAI}/llama_index/x.py")],
        "fix: escape `[tag]` ] and <!--- generated changelog ---> in titles (#205)",
    );
    commit(&[&format!("{OPENAI}/llama_index/y.py")], "# starts a heading, [WIP] Unterstützung 🚀 (#204)");
    s
}

#[test]
fn offline_changelog_dry_run_then_write() {
    let s = crafted();
    let before = s.fingerprint();
    let dry = xtask(&s.root(), &["changelog", "--dry-run", "--date", "2026-01-21"], &[]).ok();
    // Defect 5: the dry run prints plain text, `[#N]` and `[tag]` included, and changes nothing.
    assert_eq!(s.fingerprint(), before, "a dry run writes nothing, git status included");
    // Defects 2, 3, 4, 8: `project.name` headings, the last `(#N)`, an "Other" section, and a
    // blank line after every heading with a trailing newline.
    expect![[r#"
        ## [2026-01-21]

        ### llama-index-core [0.14.12]

        - Fix: handle tool calls (#20237) ([#203](https://github.com/run-llama/llama_index/pull/203))
        - fix: escape `[tag]` \] and \<!--- generated changelog ---> in titles ([#205](https://github.com/run-llama/llama_index/pull/205))

        ### llama-index-llms-openai [0.1.7]

        - \# starts a heading, \[WIP\] Unterstützung 🚀 ([#204](https://github.com/run-llama/llama_index/pull/204))
        - fix: escape `[tag]` \] and \<!--- generated changelog ---> in titles ([#205](https://github.com/run-llama/llama_index/pull/205))

        ### llama-index-vector-stores-volcengine-mysql [0.4.4]

        - feat: volcengine mysql filters ([#201](https://github.com/run-llama/llama_index/pull/201))

        ### Other changes

        - docs: explain the release flow ([#202](https://github.com/run-llama/llama_index/pull/202))
    "#]]
    .assert_eq(&dry.stdout);
    // The completeness audit: direct pushes and reverts are reported, never lost.
    let audit: String = dry.stderr.lines().map(|l| format!("{}\n", mask_commit(l))).collect();
    expect![[r#"
        audit of v0.14.12..HEAD: 7 commits, 5 pull requests, 3 packages (titles from the commit subjects)
          pull requests per package: llama-index-core 2, llama-index-llms-openai 2, llama-index-vector-stores-volcengine-mysql 1
          2 commits without a pull request (not in the changelog):
            [COMMIT] Update unit test workflow
            [COMMIT] Revert "feat: streaming (#199)"
          1 pull request touching no package (under "Other changes"): #202
        dry run: CHANGELOG.md was not changed
    "#]]
    .assert_eq(&audit);

    let old = s.read("CHANGELOG.md");
    let real = xtask(&s.root(), &["changelog", "--date", "2026-01-21"], &[]).ok();
    assert_eq!(real.stdout, dry.stdout, "the real run prints the same text");
    let placeholder = "<!--- generated changelog --->";
    assert_eq!(
        s.read("CHANGELOG.md"),
        old.replacen(placeholder, &format!("{placeholder}\n\n{}", dry.stdout.trim_end_matches('\n')), 1)
    );
    assert!(
        s.read("CHANGELOG.md").starts_with(&format!("# ChangeLog\n\n{placeholder}\n\n## [2026-01-21]\n")),
        "the placeholder stays on top"
    );
    assert_eq!(s.git(&["status", "--porcelain"]), " M CHANGELOG.md");
}

fn mask_commit(line: &str) -> String {
    match line.strip_prefix("    ").and_then(|l| l.split_once(' ')) {
        Some((id, rest)) if id.len() == 10 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("    [COMMIT] {rest}")
        }
        _ => line.to_string(),
    }
}

/// Issue 21.5: a pull request that only relocked (the root `uv.lock`, an integration's) credits
/// no package, as it needs no bump; one that also changed code credits only that code's package.
#[test]
fn lock_files_credit_no_package() {
    let s = crafted();
    let (core_lock, openai_lock) = ("llama-index-core/uv.lock", format!("{OPENAI}/uv.lock"));
    for f in ["uv.lock", core_lock, &openai_lock] {
        s.write(f, "version = 1\n");
    }
    commit_all(&s.root(), "chore: add the lock files (#206)");
    for f in ["uv.lock", core_lock, &openai_lock] {
        s.write(f, "version = 1\nrevision = 3\n");
    }
    commit_all(&s.root(), "chore: relock everything (#207)");
    s.write("uv.lock", "version = 1\nrevision = 4\n");
    s.write(&format!("{OPENAI}/llama_index/z.py"), "# z\n");
    commit_all(&s.root(), "feat: openai z, relocked (#208)");
    // Tests ship in no distribution, but a fix to them is still the package's news.
    s.write("llama-index-core/tests/test_z.py", "def test_z():\n    pass\n");
    commit_all(&s.root(), "test: core covers z (#209)");
    let dry = xtask(&s.root(), &["changelog", "--dry-run", "--date", "2026-01-21"], &[]).ok();
    expect![[r#"
        ## [2026-01-21]

        ### llama-index-core [0.14.12]

        - Fix: handle tool calls (#20237) ([#203](https://github.com/run-llama/llama_index/pull/203))
        - fix: escape `[tag]` \] and \<!--- generated changelog ---> in titles ([#205](https://github.com/run-llama/llama_index/pull/205))
        - test: core covers z ([#209](https://github.com/run-llama/llama_index/pull/209))

        ### llama-index-llms-openai [0.1.7]

        - \# starts a heading, \[WIP\] Unterstützung 🚀 ([#204](https://github.com/run-llama/llama_index/pull/204))
        - fix: escape `[tag]` \] and \<!--- generated changelog ---> in titles ([#205](https://github.com/run-llama/llama_index/pull/205))
        - feat: openai z, relocked ([#208](https://github.com/run-llama/llama_index/pull/208))

        ### llama-index-vector-stores-volcengine-mysql [0.4.4]

        - feat: volcengine mysql filters ([#201](https://github.com/run-llama/llama_index/pull/201))

        ### Other changes

        - docs: explain the release flow ([#202](https://github.com/run-llama/llama_index/pull/202))
        - chore: add the lock files ([#206](https://github.com/run-llama/llama_index/pull/206))
        - chore: relock everything ([#207](https://github.com/run-llama/llama_index/pull/207))
    "#]]
    .assert_eq(&dry.stdout);
    assert!(!dry.stdout.contains("### llama-index ["), "{}", dry.stdout);
}

#[test]
fn json_has_packages_versions_and_orphans() {
    let s = crafted();
    let out = xtask(&s.root(), &["changelog", "--dry-run", "--json", "--date", "2026-01-21"], &[]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["since"], "v0.14.12");
    assert_eq!(v["written"], false);
    assert_eq!(v["titles_from"], "git");
    let names: Vec<&str> = v["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["llama-index-core", "llama-index-llms-openai", "llama-index-vector-stores-volcengine-mysql"]);
    assert_eq!(v["packages"][2]["path"], VOLC);
    assert_eq!(
        v["packages"][0]["pull_requests"][0],
        json!({"number": 203, "title": "Fix: handle tool calls (#20237)", "url": "https://github.com/run-llama/llama_index/pull/203", "author": null})
    );
    assert_eq!(v["other"][0]["number"], 202);
    let orphans: Vec<&str> = v["orphans"].as_array().unwrap().iter().map(|o| o["subject"].as_str().unwrap()).collect();
    assert_eq!(orphans, ["Update unit test workflow", "Revert \"feat: streaming (#199)\""]);
    assert_eq!(v["orphans"][1]["packages"], json!(["llama-index-core"]));
    assert_eq!(v["audit"]["commits"], 7);
    assert_eq!(v["audit"]["without_package"], json!([202]));
    assert!(v["text"].as_str().unwrap().starts_with("## [2026-01-21]\n"));
}

#[test]
fn the_range_starts_at_the_highest_ancestor_tag() {
    let s = crafted();
    // Defect 9: a lower tag nearer HEAD (what `git describe` picks) and a higher one that is
    // not an ancestor (v0.15.0rc1 on a side branch) do not move the start.
    s.git(&["tag", "v0.14.3", "HEAD~1"]);
    s.git(&["tag", "not-a-release", "HEAD"]);
    assert_eq!(s.git(&["describe", "--tags", "--match", "v[0-9]*", "--abbrev=0"]), "v0.14.3");
    let out = xtask(&s.root(), &["changelog", "--dry-run", "--json"], &[]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["since"], "v0.14.12");
    assert_eq!(v["audit"]["commits"], 7);
    // --since overrides it.
    let out = xtask(&s.root(), &["changelog", "--dry-run", "--json", "--since", "HEAD~2"], &[]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((v["since"].as_str(), v["audit"]["pull_requests"].as_u64()), (Some("HEAD~2"), Some(2)));
}

#[test]
fn errors_are_clean_and_write_nothing() {
    let s = crafted();
    // Defect 7: no tag is an error that says what to do, not a traceback.
    for tag in ["v0.14.10", "v0.14.12", "v0.15.0rc1"] {
        s.git(&["tag", "-d", tag]);
    }
    let before = s.fingerprint();
    let out = xtask(&s.root(), &["changelog"], &[]).fails_with(1);
    expect![[r#"
        error: no release tag (`v{version}`) is an ancestor of HEAD, so the changelog has no start; pass --since with the last release's commit or tag, or fetch the tags (`git fetch --tags`)
    "#]]
    .assert_eq(&out.stderr);
    let out = xtask(&s.root(), &["changelog", "--since", "nope"], &[]).fails_with(1);
    assert!(out.stderr.contains("`nope` is not a commit of this repository"), "{}", out.stderr);
    let out = xtask(&s.root(), &["changelog", "--date", "21.01.2026", "--since", "HEAD~1"], &[]).fails_with(2);
    assert!(out.stderr.contains("`--date 21.01.2026` is not a date; write it as YYYY-MM-DD"), "{}", out.stderr);
    let out = xtask(&s.root(), &["changelog", "--since", "HEAD~3", "--since", "HEAD"], &[]).fails_with(2);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert_eq!(s.fingerprint(), before);

    // Defect 6: a missing placeholder or file is an error naming the file, and nothing is written.
    let s = crafted();
    s.write("CHANGELOG.md", "# ChangeLog\n\nno placeholder here\n");
    commit_all(&s.root(), "Drop the placeholder");
    let before = s.fingerprint();
    let out = xtask(&s.root(), &["changelog", "--since", "v0.14.12"], &[]).fails_with(1);
    expect![[r#"
        error: CHANGELOG.md has no placeholder `<!--- generated changelog --->`; add it on a line of its own where new releases go (below the title), or set `changelog.placeholder` in release.toml
    "#]]
    .assert_eq(&out.stderr.lines().filter(|l| l.starts_with("error")).map(|l| format!("{l}\n")).collect::<String>());
    assert_eq!(s.fingerprint(), before);
    std::fs::remove_file(s.root().join("CHANGELOG.md")).unwrap();
    let out = xtask(&s.root(), &["changelog"], &[]).fails_with(1);
    assert!(out.stderr.contains("cannot read the changelog `CHANGELOG.md`"), "{}", out.stderr);
    assert!(!s.root().join("CHANGELOG.md").exists());
}

#[test]
fn notes_are_the_section_of_a_version_whatever_the_date() {
    let s = crafted();
    // The release flow: bump first, then the changelog, so headings show the new versions.
    xtask(&s.root(), &["pkg", "bump", ".", "llama-index-core"], &[]).ok();
    xtask(&s.root(), &["changelog", "--date", "2026-01-21"], &[]).ok();
    // Defect 10: publishing on another day still finds the notes, by version.
    let notes = xtask(&s.root(), &["changelog", "notes", "--version", "0.14.13"], &[]).ok();
    assert!(
        notes
            .stdout
            .starts_with("# Release Notes\n\n## [2026-01-21]\n\n### llama-index-core [0.14.13]\n\n- Fix: handle"),
        "{}",
        notes.stdout
    );
    assert!(!notes.stdout.contains("2025-12-18"), "only one release's section");
    assert!(notes.stdout.ends_with("pull/202))\n"), "{}", notes.stdout);
    let out = xtask(&s.root(), &["changelog", "notes", "--version", "0.14.11"], &[]).fails_with(1);
    assert!(out.stderr.contains("CHANGELOG.md has no section for version `0.14.11`"), "{}", out.stderr);
    xtask(&s.root(), &["changelog", "notes", "--version", "x.y"], &[]).fails_with(2);
}

#[test]
fn generated_history_loses_no_pull_request() {
    let s = Sample::new(60, 60);
    let out = xtask(&s.root(), &["changelog", "--dry-run", "--json"], &[]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let expected = pulls_from_git(&s.root(), "v0.14.12");
    let mut listed: Vec<u64> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["pull_requests"].as_array().unwrap().iter().map(|e| e["number"].as_u64().unwrap()))
        .chain(v["other"].as_array().unwrap().iter().map(|e| e["number"].as_u64().unwrap()))
        .collect();
    listed.sort();
    listed.dedup();
    let mut want: Vec<u64> = expected.as_object().unwrap().keys().map(|k| k.parse().unwrap()).collect();
    want.sort();
    assert_eq!(listed, want, "every pull request of the range is in the changelog");
    let orphans = v["orphans"].as_array().unwrap().len() as u64;
    assert_eq!(orphans + want.len() as u64, v["audit"]["commits"].as_u64().unwrap());
}

#[test]
fn online_titles_come_in_batches_of_50() {
    let s = Sample::new(30, 144);
    let mut pulls = pulls_from_git(&s.root(), "v0.14.12");
    assert_eq!(pulls.as_object().unwrap().len(), 120);
    let first = pulls.as_object().unwrap().keys().next().unwrap().clone();
    pulls[&first]["title"] = json!("Retitled on GitHub [after merge]");
    let gh = StandIn::start(&pulls, &[]);
    let out = xtask(&s.root(), &["changelog", "--date", "2026-01-21"], &gh.env()).ok();
    // `gh --version` once (its minimum version is checked before anything runs), then one `gh`
    // run and one GraphQL query per 50 pull requests, each with distinct numbers.
    let calls = gh.gh_calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[0], "--version");
    let requests = gh.requests();
    assert_eq!(requests.len(), 3);
    let mut sizes: Vec<usize> = requests.iter().map(|r| r["pull_requests"].as_array().unwrap().len()).collect();
    sizes.sort();
    assert_eq!(sizes, [20, 50, 50]);
    let mut all: Vec<u64> = requests
        .iter()
        .flat_map(|r| r["pull_requests"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 120);
    assert!(
        requests
            .iter()
            .all(|r| r["path"] == "/graphql" && r["authorization"] == "token [REDACTED]" && r["token_ok"] == true),
        "gh got the token from the environment"
    );
    assert!(s.read("CHANGELOG.md").contains(&format!(
        "- Retitled on GitHub \\[after merge\\] ([#{first}](https://github.com/run-llama/llama_index/pull/{first}))"
    )));
    assert!(
        out.stderr.contains(&format!("1 pull request titled differently on GitHub than in the subject: #{first}")),
        "{}",
        out.stderr
    );
    // The token is in no argv, no output and no file.
    assert!(gh.gh_calls().iter().all(|c| !c.contains(TOKEN)));
    assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN) && !s.read("CHANGELOG.md").contains(TOKEN));

    // --offline with a token set asks nobody.
    xtask(&s.root(), &["changelog", "--dry-run", "--offline"], &gh.env()).ok();
    assert_eq!(gh.requests().len(), 3);
}

#[test]
fn online_unknown_pull_requests_are_warnings_with_the_fallback() {
    let s = crafted();
    let mut pulls = pulls_from_git(&s.root(), "v0.14.12");
    pulls.as_object_mut().unwrap().remove("204");
    let gh = StandIn::start(&pulls, &[]);
    let out = xtask(&s.root(), &["changelog", "--dry-run", "--json"], &gh.env()).ok();
    expect![[r#"
        warning: GitHub does not know pull request #204; its title is taken from the commit subject: `# starts a heading, [WIP] Unterstützung 🚀`
    "#]]
    .assert_eq(&out.stderr.lines().filter(|l| l.starts_with("warning")).map(|l| format!("{l}\n")).collect::<String>());
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["titles_from"], "github");
    assert_eq!(v["audit"]["unknown_on_github"], json!([204]));
    assert_eq!(v["packages"][0]["pull_requests"][0]["author"], "dev");
    assert_eq!(gh.requests().len(), 1);
}

#[test]
fn online_failures_fail_the_command_and_write_nothing() {
    let s = crafted();
    let before = s.fingerprint();
    let cases: [(serde_json::Value, &[&str], &str); 3] = [
        // Defect 6: every lookup failing is a failure, not an empty section.
        (json!({}), &[], "error: could not fetch any of the 5 pull requests from GitHub: GitHub knows none of them in `run-llama/llama_index`"),
        (json!({}), &["--fail", "502"], "error: could not fetch any of the 5 pull requests from GitHub: GitHub answered with an error: Server Error (HTTP 502)"),
        (json!({}), &["--rate-limit"], "error: could not fetch any of the 5 pull requests from GitHub: GitHub's API rate limit is exhausted (API rate limit already exceeded for user ID 1.); wait for it to reset, or rerun with --offline"),
    ];
    for (pulls, args, want) in cases {
        let gh = StandIn::start(&pulls, args);
        let out = xtask(&s.root(), &["changelog"], &gh.env()).fails_with(1);
        assert!(out.stderr.contains(want), "{args:?}:\n{}", out.stderr);
        assert!(out.stderr.contains("rerun with --offline to use the commit subjects"), "{}", out.stderr);
        assert!(!out.stderr.contains(TOKEN) && !out.stdout.contains(TOKEN));
        assert_eq!(gh.requests().len(), 1);
    }
    assert_eq!(s.fingerprint(), before);
}

#[test]
fn pull_requests_touching_no_package_can_stay_out_of_the_text() {
    let s = crafted();
    s.write("release.toml", "[changelog]\nother-section = false\n");
    let out = xtask(&s.root(), &["changelog", "--dry-run", "--date", "2026-01-21"], &[]).ok();
    assert!(!out.stdout.contains("Other changes") && !out.stdout.contains("[#202]"), "{}", out.stdout);
    assert!(out.stderr.contains("1 pull request touching no package (not in the changelog): #202"), "{}", out.stderr);
}

#[test]
fn the_standin_answers_gh_pr_view_as_the_old_tool_asked() {
    let gh = StandIn::start(&json!({"7": {"title": "A title", "files": ["a/b.py"]}}), &[]);
    let run = |n: &str| {
        let mut cmd = std::process::Command::new(support::tool("gh"));
        cmd.args([
            "pr",
            "view",
            n,
            "--repo",
            "github.localhost/run-llama/llama_index",
            "--json",
            "number,title,url,files",
        ]);
        cmd.envs(gh.env().into_iter().filter(|(k, _)| k != "XTASK_TOOLS_DIR"));
        cmd.output().unwrap()
    };
    let out = run("7");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["number"].as_u64(), v["title"].as_str(), v["files"][0]["path"].as_str()),
        (Some(7), Some("A title"), Some("a/b.py"))
    );
    assert_eq!(v["url"], "https://github.com/run-llama/llama_index/pull/7");
    let out = run("8");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Could not resolve to a PullRequest with the number of 8."));
    assert_eq!(gh.requests().len(), 2);
}

#[test]
fn online_a_failed_batch_falls_back_to_the_subjects_with_a_warning() {
    let s = Sample::new(30, 72);
    let pulls = pulls_from_git(&s.root(), "v0.14.12");
    assert_eq!(pulls.as_object().unwrap().len(), 60);
    let gh = StandIn::start(&pulls, &["--fail", "502", "--fail-first", "1"]);
    let out = xtask(&s.root(), &["changelog", "--dry-run", "--json"], &gh.env()).ok();
    let requests = gh.requests();
    assert_eq!(requests.len(), 2, "no retries: one query per batch");
    let failed: Vec<u64> =
        requests[0]["pull_requests"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["audit"]["failed_on_github"], json!(failed));
    let warning = out.stderr.lines().find(|l| l.starts_with("warning: could not fetch #")).unwrap_or_default();
    assert!(
        warning.ends_with("from GitHub, so their titles are the commit subjects: GitHub answered with an error: Server Error (HTTP 502)"),
        "{}",
        out.stderr
    );
    assert_eq!(warning.matches('#').count(), failed.len());
}

#[test]
fn a_second_run_for_the_same_range_writes_nothing_and_says_so() {
    let s = crafted();
    xtask(&s.root(), &["changelog", "--date", "2026-01-21"], &[]).ok();
    let once = s.read("CHANGELOG.md");
    // Another day, the same range: the section is already there.
    let again = xtask(&s.root(), &["changelog", "--date", "2026-01-22"], &[]).ok();
    assert_eq!(s.read("CHANGELOG.md"), once, "the section is written once");
    assert!(again.stderr.contains("CHANGELOG.md already has this section"), "{}", again.stderr);
    let json = xtask(&s.root(), &["changelog", "--json"], &[]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((v["written"].clone(), v["already_present"].clone()), (json!(false), json!(true)));
    assert_eq!(s.read("CHANGELOG.md"), once);
}

#[test]
fn notes_of_any_past_release_by_heading_or_by_the_tag_date_and_never_another_one() {
    let s = crafted();
    // A past release whose section has neither a core nor an umbrella heading, as most of the
    // real changelog's: found by its tag's date.
    let old = s.read("CHANGELOG.md");
    let past = "## [2025-12-30]\n\n### llama-index-llms-openai [0.1.5]\n\n- An integration-only release ([#150](https://github.com/run-llama/llama_index/pull/150))\n\n";
    s.write("CHANGELOG.md", &old.replacen("## [2025-12-18]", &format!("{past}## [2025-12-18]"), 1));
    commit_all(&s.root(), "docs: the 0.14.11 notes");
    let tagged = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "tag",
            "-a",
            "v0.14.11",
            "-m",
            "v0.14.11",
            "v0.14.10",
        ])
        .current_dir(s.root())
        .env("GIT_COMMITTER_DATE", "2025-12-30T12:00:00Z")
        .status()
        .unwrap();
    assert!(tagged.success());
    let notes = xtask(&s.root(), &["changelog", "notes", "--version", "0.14.11"], &[]).ok();
    expect![[r#"
        # Release Notes

        ## [2025-12-30]

        ### llama-index-llms-openai [0.1.5]

        - An integration-only release ([#150](https://github.com/run-llama/llama_index/pull/150))
    "#]]
    .assert_eq(&notes.stdout);
    // By core's heading.
    let notes = xtask(&s.root(), &["changelog", "notes", "--version", "0.14.10"], &[]).ok();
    assert!(notes.stdout.contains("### llama-index-core [0.14.10]"), "{}", notes.stdout);
    // The working tree's version has no section yet: an error, not the previous release's notes.
    let out = xtask(&s.root(), &["changelog", "notes", "--version", "0.14.12.1"], &[]).fails_with(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("has no section for version `0.14.12.1`"), "{}", out.stderr);
    let out = xtask(&s.root(), &["changelog", "notes", "--version", "0.14.13"], &[]).fails_with(1);
    assert!(out.stderr.contains("no release tag to date it by"), "{}", out.stderr);
}
