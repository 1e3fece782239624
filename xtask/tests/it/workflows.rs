//! The repository's GitHub workflows: every one passes actionlint (pinned in
//! `scripts/bootstrap.sh`), and the README's CI section lists each one.

use crate::support;

use std::path::PathBuf;

fn workflows() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_workflow_passes_actionlint() {
    let files = workflows();
    assert!(files.len() >= 5, "the workflows: {files:?}");
    let out = std::process::Command::new(support::tool("actionlint"))
        .args(["-no-color", "-shellcheck=", "-pyflakes="])
        .args(&files)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.trim().is_empty(), "actionlint:\n{text}");
}

#[test]
fn the_readme_lists_every_workflow() {
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let ci = &readme[readme.find("### CI workflows").expect("a CI section")..];
    for file in workflows() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(ci.contains(&format!("`{name}`")), "the README's CI section does not list `{name}`");
    }
}
