//! The one temporary-directory helper: a directory outside the monorepo (a virtualenv or a file
//! inside the root would end up in the umbrella's sdist or in `git status`), named for what it
//! holds, unique to this process and call, and removed when dropped, however the command ends.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, Result};

/// A fresh, empty temporary directory, removed on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// `xtask-<purpose>-<pid>-<n>` in the system's temporary directory.
    pub fn new(purpose: &str) -> Result<Scratch> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        #[allow(clippy::disallowed_methods)] // the one place
        let dir = std::env::temp_dir().join(format!("xtask-{purpose}-{}-{n}", std::process::id()));
        // A directory of a dead process that had this process's id.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        Ok(Scratch(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Its path, left on disk (unit tests that leave their fixtures behind, as before).
    #[cfg(test)]
    pub fn keep(self) -> PathBuf {
        let path = self.0.clone();
        std::mem::forget(self);
        path
    }

    /// `name` inside it.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::Scratch;

    #[test]
    fn each_is_fresh_and_gone_when_dropped() {
        let (a, b) = (Scratch::new("unit").expect("a"), Scratch::new("unit").expect("b"));
        assert_ne!(a.path(), b.path());
        std::fs::write(a.join("f"), "x").expect("write");
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists() && b.path().is_dir());
    }
}
