//! A thin `git` wrapper: every call runs in the monorepo's root, and every error carries git's
//! own stderr.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use crate::exec;

/// Fails with an actionable error unless the shell's directory is inside a git work tree.
pub fn ensure_repo(sh: &Shell) -> Result<()> {
    let inside = cmd!(sh, "git rev-parse --is-inside-work-tree").ignore_status().quiet().ignore_stderr().read();
    if inside.map(|s| s.trim() == "true").ok() != Some(true) {
        bail!(
            "`{}` is not a git repository; pass --root with the path of the monorepo's checkout",
            sh.current_dir().display()
        );
    }
    Ok(())
}

/// Fails with an actionable error unless `rev` names a commit.
pub fn ensure_commit(sh: &Shell, rev: &str) -> Result<()> {
    let spec = format!("{rev}^{{commit}}");
    if cmd!(sh, "git rev-parse --verify --quiet {spec}").ignore_status().quiet().ignore_stdout().ignore_stderr().output()?.status.success() {
        return Ok(());
    }
    bail!("`{rev}` is not a commit of this repository; fetch it (`git fetch origin {rev}`) or pass another ref")
}

/// Files changed between the merge base of `base` and HEAD, and HEAD (`git diff base...HEAD`).
pub fn changed_files(sh: &Shell, base: &str) -> Result<Vec<String>> {
    ensure_repo(sh)?;
    ensure_commit(sh, base)?;
    let range = format!("{base}...HEAD");
    let out = exec::read(cmd!(sh, "git -c core.quotePath=false diff --name-only --no-renames {range}"))?;
    Ok(out.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
}

/// The contents of `paths` (relative to the root) at `rev`, `None` where a path does not exist
/// there: one `git cat-file --batch` for all of them, which matters with 2,000 packages.
pub fn files_at(sh: &Shell, rev: &str, paths: &[String]) -> Result<Vec<Option<String>>> {
    ensure_repo(sh)?;
    ensure_commit(sh, rev)?;
    let input: String = paths.iter().map(|p| format!("{rev}:{p}\n")).collect();
    let output = cmd!(sh, "git cat-file --batch").stdin(input).ignore_status().quiet().output()?;
    if !output.status.success() {
        bail!("`git cat-file --batch` failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr).trim_end());
    }
    let mut out = Vec::with_capacity(paths.len());
    let mut rest: &[u8] = &output.stdout;
    for path in paths {
        let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let header = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        rest = rest.get(line_end + 1..).unwrap_or_default();
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            out.push(None);
            continue;
        }
        // `<sha> blob <size>`, then exactly `size` bytes and a newline.
        let size: usize = header.rsplit(' ').next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            anyhow::anyhow!("`git cat-file --batch` printed `{header}` for `{rev}:{path}`, which is not an object header")
        })?;
        let body = rest.get(..size).unwrap_or(rest);
        out.push(Some(String::from_utf8_lossy(body).into_owned()));
        rest = rest.get(size + 1..).unwrap_or_default();
    }
    Ok(out)
}

/// Whether git ignores `path` (relative to the root); false outside a repository.
pub fn is_ignored(sh: &Shell, path: &str) -> bool {
    cmd!(sh, "git check-ignore --quiet --no-index {path}").ignore_status().quiet().ignore_stdout().ignore_stderr().output().is_ok_and(|o| o.status.success())
}
