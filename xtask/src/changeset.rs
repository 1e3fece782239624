//! A plan of file edits: shown as unified diffs, then applied all-or-nothing.
//!
//! Every edit is computed and validated before any file is written; each file is written to a
//! temporary sibling and renamed over the original, and a failure part-way restores the files
//! already replaced.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
    /// The path relative to the root, for display.
    pub display: String,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Default)]
pub struct Changeset {
    pub changes: Vec<FileChange>,
}

impl Changeset {
    pub fn push(&mut self, change: FileChange) {
        if change.old != change.new {
            self.changes.push(change);
        }
    }

    /// Pushes each of `changes` (an `Option`'s one, or none).
    pub fn extend(&mut self, changes: impl IntoIterator<Item = FileChange>) {
        for change in changes {
            self.push(change);
        }
    }

    /// Unified diffs of every change, in order.
    pub fn diff(&self) -> String {
        self.changes.iter().map(|c| unified_diff(&c.display, &c.old, &c.new)).collect()
    }

    /// Writes every change, or none of them.
    pub fn apply(&self) -> Result<()> {
        for c in &self.changes {
            let now = std::fs::read_to_string(&c.path).unwrap_or_default();
            if now != c.old {
                bail!("{} changed while the plan was being made; nothing was written, rerun the command", c.display);
            }
        }
        for c in &self.changes {
            sweep(&c.path);
        }
        let temps: Vec<std::path::PathBuf> = self.changes.iter().map(|c| temp_path(&c.path)).collect();
        let written = write_all_synced(&self.changes, &temps);
        if let Some((i, e)) = written.into_iter().enumerate().find_map(|(i, r)| r.err().map(|e| (i, e))) {
            for t in &temps {
                let _ = std::fs::remove_file(t);
            }
            return Err(e).with_context(|| format!("cannot write {}; nothing was changed", self.changes[i].display));
        }
        for (i, (c, temp)) in self.changes.iter().zip(&temps).enumerate() {
            if let Err(e) = std::fs::rename(temp, &c.path) {
                for t in &temps[i..] {
                    let _ = std::fs::remove_file(t);
                }
                for done in &self.changes[..i] {
                    let _ = std::fs::write(&done.path, &done.old);
                }
                return Err(e)
                    .with_context(|| format!("cannot replace {}; the files already written were restored", c.display));
            }
        }
        Ok(())
    }
}

/// Writes every change's temporary file, several at once: a release's wave writes 2,000 files,
/// and their `fsync`s, one after the other, take seconds where together they take a fraction.
fn write_all_synced(changes: &[FileChange], temps: &[std::path::PathBuf]) -> Vec<std::io::Result<()>> {
    let jobs = if changes.len() < 16 { 1 } else { 16 };
    let pairs: Vec<(&FileChange, &std::path::PathBuf)> = changes.iter().zip(temps).collect();
    crate::parallel::map(&pairs, jobs, |(c, t)| write_synced(t, &c.new))
}

/// Writes `path` atomically: a temporary sibling, then a rename.
pub fn write_atomic(path: &std::path::Path, text: &str) -> Result<()> {
    sweep(path);
    let temp = temp_path(path);
    write_synced(&temp, text).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path)
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
        .with_context(|| format!("cannot replace {}", path.display()))
}

/// A hidden sibling of `path`, so that the rename stays on one file system.
fn temp_path(path: &std::path::Path) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}{TEMP_MARK}{}", std::process::id()))
}

const TEMP_MARK: &str = ".xtask-";

/// Whether a file name is one of [`temp_path`]'s: `.<name>.xtask-<pid>`. A run killed between
/// the write and the rename leaves one behind; it is never the user's work, so it is not dirt.
pub fn is_temp(file_name: &str) -> bool {
    file_name.starts_with('.')
        && file_name
            .rsplit_once(TEMP_MARK)
            .is_some_and(|(base, pid)| base.len() > 1 && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the temporary siblings of `path` that killed runs left behind.
fn sweep(path: &std::path::Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let prefix = format!(".{}{TEMP_MARK}", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { std::path::Path::new(".") } else { dir })
    else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && is_temp(&file) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn write_synced(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// A unified diff with three lines of context, by `similar`. A change of the final newline
/// alone shows, marked `\ No newline at end of file` as `diff -u` does.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let body = diff.unified_diff().context_radius(3).missing_newline_hint(true).to_string();
    format!("--- a/{name}\n+++ b/{name}\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_show_only_the_edits() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n";
        let new = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nM\nn\n";
        expect_test::expect![[r#"
            --- a/x.toml
            +++ b/x.toml
            @@ -1,5 +1,5 @@
             a
            -b
            +B
             c
             d
             e
            @@ -9,6 +9,5 @@
             i
             j
             k
            -l
            -m
            +M
             n
        "#]]
        .assert_eq(&unified_diff("x.toml", old, new));
        assert_eq!(unified_diff("x", "same\n", "same\n"), "--- a/x\n+++ b/x\n");
    }

    #[test]
    fn a_change_of_the_final_newline_shows() {
        // Both showed an empty diff before: `lines()` drops the final newline.
        expect_test::expect![[r#"
            --- a/x.toml
            +++ b/x.toml
            @@ -1,2 +1,2 @@
             a
            -b
            \ No newline at end of file
            +b
        "#]]
        .assert_eq(&unified_diff("x.toml", "a\nb", "a\nb\n"));
        expect_test::expect![[r#"
            --- a/x.toml
            +++ b/x.toml
            @@ -1,2 +1,2 @@
             a
            -b
            +b
            \ No newline at end of file
        "#]]
        .assert_eq(&unified_diff("x.toml", "a\nb\n", "a\nb"));
    }

    #[test]
    fn temporary_files_are_recognised_and_swept() {
        for (name, temp) in [
            (".pyproject.toml.xtask-4242", true),
            (".CHANGELOG.md.xtask-1", true),
            ("pyproject.toml", false),
            (".pyproject.toml.xtask-", false),
            (".pyproject.toml.xtask-12a", false),
            ("pyproject.toml.xtask-12", false),
        ] {
            assert_eq!(is_temp(name), temp, "{name}");
        }
        let scratch = crate::scratch::Scratch::new("sweep").unwrap();
        let dir = scratch.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let stale = dir.join(".a.toml.xtask-99999");
        std::fs::write(&stale, "half").unwrap();
        std::fs::write(dir.join(".b.toml.xtask-99999"), "another file's").unwrap();
        write_atomic(&dir.join("a.toml"), "new\n").unwrap();
        assert!(!stale.exists(), "the killed run's temporary file is gone");
        assert!(dir.join(".b.toml.xtask-99999").exists(), "only the written file's are swept");
        assert_eq!(std::fs::read_to_string(dir.join("a.toml")).unwrap(), "new\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn apply_is_all_or_nothing() {
        let scratch = crate::scratch::Scratch::new("changeset").unwrap();
        let dir = scratch.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.txt");
        std::fs::write(&a, "old a").unwrap();
        let mut set = Changeset::default();
        set.push(FileChange { path: a.clone(), display: "a.txt".into(), old: "old a".into(), new: "new a".into() });
        set.push(FileChange {
            path: dir.join("missing-dir/b.txt"),
            display: "missing-dir/b.txt".into(),
            old: String::new(),
            new: "new b".into(),
        });
        let err = set.apply().unwrap_err();
        assert!(format!("{err:#}").contains("cannot write missing-dir/b.txt; nothing was changed"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
