//! The README's main command: `cargo xtask rehearse` releases a generated sample end to end
//! against pypiserver and the GitHub stand-in, with no network and no credentials.

mod support;

use support::{Run, TempDir};

#[test]
fn rehearsal_releases_the_sample_end_to_end() {
    let dir = TempDir::new("rehearsal");
    let out = std::process::Command::new(support::xtask_bin())
        .args(["rehearse"])
        .arg(dir.path())
        .args(["--packages", "20", "--prs", "10"])
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .output()
        .unwrap();
    let run = Run::from(out).ok();
    assert!(run.stderr.contains("The rehearsal released 0.14.13"), "{}", run.stderr);
    let repo = dir.path().join("monorepo");
    assert_eq!(
        support::git(&repo, &["rev-parse", "v0.14.13^{commit}"]),
        support::git(&repo, &["rev-parse", "main"]),
        "the tag is on the release commit"
    );
    assert!(support::git(&repo, &["log", "-1", "--format=%s"]).starts_with("Release 0.14.13 (#"));
    let changelog = std::fs::read_to_string(repo.join("CHANGELOG.md")).unwrap();
    assert!(changelog.contains("### llama-index-core [0.14.13]"), "{changelog}");
    let index: Vec<String> = std::fs::read_dir(dir.path().join("index"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        index.iter().any(|f| f.starts_with("llama_index_core-0.14.13"))
            && index.iter().any(|f| f.starts_with("llama_index-0.14.13")),
        "{index:?}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("github-state.json")).unwrap()).unwrap();
    assert_eq!(state["releases"][0]["tag"], "v0.14.13");
    assert_eq!(state["pulls"][0]["title"], "Release 0.14.13");
}
