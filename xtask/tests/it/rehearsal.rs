//! The README's quick start: its rehearsal command (`scripts/rehearse.sh`), read from the README
//! and run exactly as written and at its defaults, from a clean clone of the committed HEAD,
//! releases a generated sample end to end against pypiserver and the GitHub stand-in, with no
//! network and no credentials. `rehearse --shape independent` does the same for a monorepo of
//! independent packages.

use crate::support;

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::Command,
};

use support::{Run, TempDir};

#[test]
fn the_quick_start_works_on_a_clean_clone() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let (clone, _lock) = clean_clone(&here);
    // Two shortcuts, both through settings the scripts honour, so that the test does not pay
    // for a fresh machine each time: the tools this checkout already bootstrapped (the same
    // pins, checked by bootstrap.sh's stamp), and a target directory of its own that keeps the
    // compiled dependencies between runs (the clone's xtask is rebuilt when the committed HEAD
    // changed its sources: see `clean_clone`). Everything else is the clone's: its scripts, its
    // sources, and its `target/rehearsal`.
    let out = support::command(clone.join(quick_start(&clone)))
        .current_dir(&clone)
        .env("XTASK_TOOLS_DIR", here.join("target/tools"))
        .env("CARGO_TARGET_DIR", here.join("target/quickstart"))
        // Set for the test binary by `scripts/bench/suite.sh` (libtest's JSON report), never by
        // a person running the quick start: inherited, it changes the dependencies' build
        // (anyhow's probe) and every run after a bench rebuilt them all.
        .env_remove("RUSTC_BOOTSTRAP")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let run = Run::from(out).ok();
    let err = &run.stderr;
    assert!(err.contains("==> The rehearsal released 0.14.13"), "{err}");
    let results = &err[err.find("==> The rehearsal released").unwrap()..];
    // The results are shown, not only pointed at: the changelog section, the new files on the
    // index, the tag and the GitHub release.
    for shown in [
        "The new section of CHANGELOG.md:",
        "### llama-index-core [0.14.13]",
        "llama_index_core-0.14.13-py3-none-any.whl",
        "llama_index-0.14.13.tar.gz",
        "The tag: v0.14.13 at ",
        "Release 0.14.13 (#",
        "The GitHub release (in the stand-in): v0.14.13 at ",
        "The release pull request: #",
    ] {
        assert!(results.contains(shown), "{shown}:\n{results}");
    }
    let rehearsal = clone.join("target/rehearsal");
    let repo = rehearsal.join("monorepo");
    assert_eq!(
        support::git(&repo, &["rev-parse", "v0.14.13^{commit}"]),
        support::git(&repo, &["rev-parse", "main"]),
        "the tag is on the release commit"
    );
    assert!(support::git(&repo, &["log", "-1", "--format=%s"]).starts_with("Release 0.14.13 (#"));
    let changelog = std::fs::read_to_string(repo.join("CHANGELOG.md")).unwrap();
    assert!(changelog.contains("### llama-index-core [0.14.13]"), "{changelog}");
    let index: Vec<String> = std::fs::read_dir(rehearsal.join("index"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // The previous release as it was at its tag, and this release.
    for prefix in ["llama_index_core-0.14.12", "llama_index_core-0.14.13", "llama_index-0.14.13"] {
        assert!(index.iter().any(|f| f.starts_with(prefix)), "{prefix}: {index:?}");
    }
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rehearsal.join("github-state.json")).unwrap()).unwrap();
    assert_eq!(state["releases"][0]["tag"], "v0.14.13");
    assert_eq!(state["pulls"][0]["title"], "Release 0.14.13");
}

/// The rehearsal of the independent sample: two packages released with `--bump auto` in one pull
/// request, each published, tagged with its own pattern on the merged release commit, and
/// released on GitHub with its own notes.
#[test]
fn the_rehearsal_releases_packages_of_the_independent_sample() {
    let dir = TempDir::new("rehearsal-independent");
    support::standin_bin();
    let out = support::command(support::xtask_bin())
        .arg("rehearse")
        .arg(dir.path().join("rehearsal"))
        .args(["--shape", "independent", "--prs", "12"])
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let run = Run::from(out).ok();
    let err = &run.stderr;
    let results = &err[err.find("==> The rehearsal released 2 packages").unwrap_or_else(|| panic!("{err}"))..];
    for shown in [
        "The tags, each with its package's pattern, on the release commit ",
        " release: acme 1.3.0, acme-store 4.2.1 (#",
        "  1.3.0\n  store==4.2.1\n",
        "  acme-1.3.0-py3-none-any.whl\n  acme-1.3.0.tar.gz\n  acme_store-4.2.1-py3-none-any.whl\n  acme_store-4.2.1.tar.gz\n",
        "The GitHub release (in the stand-in) `store==4.2.1`, with its notes:\n  ## acme-store 4.2.1 (",
    ] {
        assert!(err.contains(shown), "{shown}:\n{results}");
    }
    // The plan, as the maintainer reads it: why each bump.
    let why = "--bump auto chose minor: a feature (`feat(acme): add a cache option (#12)`), since `1.2.11`";
    assert!(run.stdout.contains(why), "{}", run.stdout);
    let repo = dir.path().join("rehearsal/monorepo");
    let mut tags: Vec<String> =
        support::git(&repo, &["tag", "--points-at", "main"]).lines().map(str::to_string).collect();
    tags.sort();
    assert_eq!(tags, ["1.3.0", "store==4.2.1"], "each package's tag is on the merged release commit");
    assert_eq!(
        support::git(&dir.path().join("rehearsal/origin.git"), &["tag", "--points-at", "main"]).lines().count(),
        2
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("rehearsal/github-state.json")).unwrap())
            .unwrap();
    assert_eq!(state["pulls"][0]["title"], "release: acme 1.3.0, acme-store 4.2.1");
    let body = state["pulls"][0]["body"].as_str().unwrap();
    assert!(body.starts_with("## acme 1.3.0 (") && body.contains("\n## acme-store 4.2.1 ("), "{body}");
    let mut released: Vec<&str> =
        state["releases"].as_array().unwrap().iter().map(|r| r["tag"].as_str().unwrap()).collect();
    released.sort();
    assert_eq!(released, ["1.3.0", "store==4.2.1"]);
}

/// The rehearsal command of the README's quick start, as written there (its comment dropped).
fn quick_start(clone: &std::path::Path) -> String {
    let readme = std::fs::read_to_string(clone.join("README.md")).unwrap();
    let section = &readme[readme.find("## Quick start").expect("a quick start section")..];
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    let command =
        block.lines().map(|l| l.split('#').next().unwrap_or_default().trim()).find(|l| l.contains("rehearse"));
    let command = command.expect("a rehearsal command in the quick start").to_string();
    assert_eq!(command, "scripts/rehearse.sh", "the quick start runs the rehearsal script, at its defaults");
    command
}

/// A clone of the committed HEAD of `here` with nothing else in it: no untracked or ignored file,
/// no change. It lives at one place (`target/quickstart-clone`) and is brought to HEAD by a fetch,
/// a forced checkout and `git clean -ffdx`, which leave the tree exactly as a fresh `git clone`
/// would but keep the times of the files HEAD did not change, so that cargo rebuilds the clone's
/// xtask only when its committed sources changed (a fresh clone at a new path rebuilt it on every
/// run: most of this test's time). The lock keeps two test runs of this checkout apart.
fn clean_clone(here: &Path) -> (PathBuf, File) {
    let target = here.join("target");
    std::fs::create_dir_all(&target).unwrap();
    let lock = File::create(target.join("quickstart-clone.lock")).unwrap();
    lock.lock().unwrap();
    let clone = target.join("quickstart-clone");
    let head = support::git(here, &["rev-parse", "HEAD"]);
    let refreshed = clone.join(".git").is_dir()
        && [
            &["fetch", "--quiet", "--no-tags", here.to_str().unwrap(), "HEAD"][..],
            &["checkout", "--quiet", "--force", "--detach", &head],
            &["clean", "-ffdxq"],
        ]
        .iter()
        .all(|args| Command::new("git").args(*args).current_dir(&clone).output().is_ok_and(|o| o.status.success()));
    if !refreshed {
        let _ = std::fs::remove_dir_all(&clone);
        let out =
            Command::new("git").args(["clone", "--quiet", "--no-hardlinks"]).arg(here).arg(&clone).output().unwrap();
        assert!(out.status.success(), "git clone: {}", String::from_utf8_lossy(&out.stderr));
        support::git(&clone, &["checkout", "--quiet", "--detach", &head]);
    }
    assert_eq!(support::git(&clone, &["rev-parse", "HEAD"]), head, "the clone is at the committed HEAD");
    let status = support::git(&clone, &["status", "--porcelain", "--ignored", "--untracked-files=all"]);
    assert_eq!(status, "", "the clone holds the committed files and nothing else");
    (clone, lock)
}
