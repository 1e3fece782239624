//! Stale locks, tested without touching the tree. A package whose `uv.lock` (or `poetry.lock`) no
//! longer matches its `pyproject.toml` is locked afresh in place for its run, and the lock the
//! tree had is put back byte for byte afterwards, whatever the run's end.
//!
//! Before the lock is rewritten, its bytes go into this run's journal in the git directory
//! (`xtask-test-locks/<run>/files/<path>`), which never shows in `git status`. The run holds an
//! exclusive lock on the journal's `.held` file while it lives (the kernel releases it however the
//! process ends), so the next `cargo xtask test` tells a live run's journal from a killed one's
//! and puts back what the killed run left relocked (`recover`).
//!
//! A first SIGINT (Ctrl-C) or SIGTERM does not kill the run: it starts no new step, so the
//! package being run ends (a terminal's Ctrl-C has stopped its children already) and its lock
//! goes back (`catch_interrupts`). A second one ends the process at once.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use anyhow::{Context as _, Result};

use crate::{changeset, output};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// From here on, the first SIGINT or SIGTERM sets [`interrupted`] instead of ending the process;
/// the second one ends it as it would have.
pub fn catch_interrupts() {
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // In this order: the default action runs only once the flag is already set.
        let _ = signal_hook::flag::register_conditional_default(signal, &INTERRUPTED);
        let _ = signal_hook::flag::register(signal, &INTERRUPTED);
    }
}

/// Whether the run was asked to stop: no new package or step starts.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// This run's journal of the locks it rewrote.
pub struct Journal {
    dir: PathBuf,
    /// Holds the journal's `.held` lock while the run lives.
    _held: File,
}

impl Journal {
    /// A journal of its own for this run under `base` (`<git dir>/xtask-test-locks`).
    pub fn create(base: &Path) -> Result<Journal> {
        let nanos = crate::time::nanos();
        let dir = base.join(format!("{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        let path = dir.join(".held");
        let held = File::create(&path).with_context(|| format!("cannot create `{}`", path.display()))?;
        held.try_lock().with_context(|| format!("cannot lock `{}`", path.display()))?;
        std::fs::create_dir_all(dir.join("files")).with_context(|| format!("cannot create `{}`", dir.display()))?;
        Ok(Journal { dir, _held: held })
    }

    fn backup(&self, relative: &str) -> PathBuf {
        self.dir.join("files").join(relative)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // A copy still here is a lock that could not be put back: it stays for the next run,
        // which finds the journal abandoned once this process is gone.
        let left = walkdir::WalkDir::new(self.dir.join("files")).into_iter().flatten().any(|e| e.file_type().is_file());
        if !left {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A lock file of the tree, rewritten for this run; put back when this is dropped.
pub struct Relocked {
    path: PathBuf,
    original: Vec<u8>,
    backup: PathBuf,
    restored: bool,
}

impl Relocked {
    /// Records `root/relative`'s bytes in `journal`, before anything rewrites the file.
    pub fn record(journal: &Journal, root: &Path, relative: &str) -> Result<Relocked> {
        let path = root.join(relative);
        let original = std::fs::read(&path).with_context(|| format!("cannot read `{relative}`"))?;
        let backup = journal.backup(relative);
        if let Some(parent) = backup.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        write_synced(&backup, &original).with_context(|| format!("cannot keep a copy of `{relative}`"))?;
        Ok(Relocked { path, original, backup, restored: false })
    }

    /// Puts the recorded bytes back (atomically), then forgets the copy.
    pub fn restore(mut self) -> Result<()> {
        self.put_back()
    }

    fn put_back(&mut self) -> Result<()> {
        if self.restored {
            return Ok(());
        }
        write_back(&self.path, &self.original)?;
        self.restored = true;
        let _ = std::fs::remove_file(&self.backup);
        Ok(())
    }
}

impl Drop for Relocked {
    fn drop(&mut self) {
        // A panic or an early return still puts the lock back; an error here leaves the copy in
        // the journal, for the next run to put back.
        if let Err(e) = self.put_back() {
            output::warn(&format!("{e:#}; the next `cargo xtask test` puts it back"));
        }
    }
}

/// Puts back the locks of runs that ended before they could (killed, or the machine stopped):
/// every journal under `base` whose run no longer holds it. Returns the files put back, relative
/// to `root`.
pub fn recover(base: &Path, root: &Path) -> Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(base) else { return Ok(Vec::new()) };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let mut restored = Vec::new();
    for dir in dirs {
        let Some(_held) = abandoned(&dir) else { continue };
        let files = dir.join("files");
        let mut backups: Vec<PathBuf> = walkdir::WalkDir::new(&files)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect();
        backups.sort();
        for backup in backups {
            let Ok(relative) = backup.strip_prefix(&files) else { continue };
            let shown = relative.to_string_lossy().replace('\\', "/");
            let bytes = std::fs::read(&backup).with_context(|| format!("cannot read `{}`", backup.display()))?;
            write_back(&root.join(relative), &bytes)?;
            std::fs::remove_file(&backup).with_context(|| format!("cannot remove `{}`", backup.display()))?;
            restored.push(shown);
        }
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove `{}`", dir.display()))?;
    }
    Ok(restored)
}

/// The journal's `.held` file, locked, when no live run holds it.
fn abandoned(dir: &Path) -> Option<File> {
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join(".held"));
    let file = file.ok()?;
    file.try_lock().ok()?;
    Some(file)
}

fn write_back(path: &Path, bytes: &[u8]) -> Result<()> {
    let text = std::str::from_utf8(bytes);
    match text {
        // The one atomic write of the crate (a sibling temporary file, then a rename).
        Ok(text) => changeset::write_atomic(path, text),
        Err(_) => write_synced(path, bytes).with_context(|| format!("cannot write `{}`", path.display())),
    }
    .with_context(|| format!("cannot put back `{}` as it was", path.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> crate::scratch::Scratch {
        let dir = crate::scratch::Scratch::new(name).unwrap();
        std::fs::create_dir_all(dir.join("root/pkg")).unwrap();
        dir
    }

    #[test]
    fn a_relocked_file_is_put_back_byte_for_byte_when_dropped_or_restored() {
        let scratch = temp("locks-guard");
        let dir = scratch.path();
        let root = dir.join("root");
        let lock = root.join("pkg/uv.lock");
        std::fs::write(&lock, "version = 1\r\n# no final newline").unwrap();
        let journal = Journal::create(&dir.join("journal")).unwrap();
        {
            let _guard = Relocked::record(&journal, &root, "pkg/uv.lock").unwrap();
            std::fs::write(&lock, "relocked").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), "version = 1\r\n# no final newline");
        let guard = Relocked::record(&journal, &root, "pkg/uv.lock").unwrap();
        std::fs::write(&lock, "relocked").unwrap();
        guard.restore().unwrap();
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), "version = 1\r\n# no final newline");
        assert!(!journal.backup("pkg/uv.lock").exists(), "the copy goes once the lock is back");
        drop(journal);
        assert_eq!(std::fs::read_dir(dir.join("journal")).unwrap().count(), 0);
    }

    #[test]
    fn a_killed_runs_locks_are_put_back_and_a_live_runs_are_left_alone() {
        let scratch = temp("locks-recover");
        let dir = scratch.path();
        let root = dir.join("root");
        let base = dir.join("journal");
        let lock = root.join("pkg/uv.lock");
        std::fs::write(&lock, "original").unwrap();
        let live = Journal::create(&base).unwrap();
        let guard = Relocked::record(&live, &root, "pkg/uv.lock").unwrap();
        std::fs::write(&lock, "relocked").unwrap();
        assert_eq!(recover(&base, &root).unwrap(), Vec::<String>::new(), "a live run's journal is its own");
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), "relocked");
        // As if killed: the guard never runs, and the lock on `.held` goes with the run; the
        // journal keeps the copy it still holds.
        std::mem::forget(guard);
        drop(live);
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 1);
        assert_eq!(recover(&base, &root).unwrap(), vec!["pkg/uv.lock".to_string()]);
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), "original");
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
        assert_eq!(recover(&base, &root).unwrap(), Vec::<String>::new(), "a second recovery has nothing to do");
    }
}
