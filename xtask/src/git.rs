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
