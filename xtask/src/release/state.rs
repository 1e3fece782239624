//! The record of a release being prepared, in the git directory: which release, and which files
//! were dirty before it began. With it a rerun recognises the half-finished release it left (its
//! own edits, the files its hooks changed) instead of refusing a dirty tree, and the release
//! commit takes exactly the release's files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use xshell::Shell;

use crate::{changeset, git};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Which release: the group's version, or the named packages' release title.
    pub release: String,
    /// Files that were dirty before the release began (with --allow-dirty): never the release's.
    pub before: Vec<String>,
    /// Whether the prepare hooks ran to the end.
    pub hooks_done: bool,
}

/// `<git dir>/xtask-release.json`: inside the git directory, so that it is never dirt itself.
pub fn path(sh: &Shell) -> Result<PathBuf> {
    Ok(sh.current_dir().join(git::git_path(sh, "xtask-release.json")?))
}

/// The record of `release`, if an earlier run left one (another release's is stale).
pub fn load(path: &Path, release: &str) -> Option<Marker> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let marker = Marker {
        release: v["release"].as_str()?.to_string(),
        before: v["before"].as_array()?.iter().filter_map(|f| f.as_str().map(str::to_string)).collect(),
        hooks_done: v["hooks_done"].as_bool().unwrap_or(false),
    };
    (marker.release == release).then_some(marker)
}

pub fn save(path: &Path, marker: &Marker) -> Result<()> {
    let text = json!({"release": marker.release, "before": marker.before, "hooks_done": marker.hooks_done});
    changeset::write_atomic(path, &format!("{text}\n"))
        .with_context(|| format!("cannot record the release's progress in {}", path.display()))
}

pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}
