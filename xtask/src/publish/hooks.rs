//! Build hooks: commands from `[build.hooks]` run in a package's directory before it is built
//! (the LlamaIndex default fills core's NLTK and tiktoken caches, which its wheel must carry).
//! Argv as configured, in order, no shell, with the build's environment: never credentials.

use std::path::Path;

use anyhow::{bail, Result};

use super::upload::Credentials;
use crate::{exec, git, monorepo::Package};

/// The hooks of `p`: by its directory relative to the root.
pub fn of<'a>(hooks: &'a std::collections::BTreeMap<String, Vec<Vec<String>>>, p: &Package) -> &'a [Vec<String>] {
    hooks.get(p.dir.trim_end_matches('/')).map_or(&[], Vec::as_slice)
}

/// A command as people read it: `uv run python -c '…'`.
pub fn shown(argv: &[String]) -> String {
    let quote = |a: &String| {
        if a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c)) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    argv.iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// Runs every hook of `p` in order; the first failure stops with the tail of its output. Then
/// puts back what the hooks changed in `p`'s tracked or unignored files (core's `uv sync` writes a
/// `uv.lock`), so publishing leaves the tree as it was; the data they write is ignored and stays.
pub fn run(root: &Path, p: &Package, hooks: &[Vec<String>], credentials: &Credentials) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let sh = xshell::Shell::new()?;
    sh.change_dir(root);
    let prefix = format!("{}/", p.dir.trim_end_matches('/'));
    let mine = |files: Vec<String>| -> Vec<String> {
        files.into_iter().filter(|f| p.dir == "." || p.dir.is_empty() || f.starts_with(&prefix)).collect()
    };
    let before = mine(git::dirty_files(&sh)?);
    let result = run_each(root, p, hooks, credentials);
    let left: Vec<String> = mine(git::dirty_files(&sh)?).into_iter().filter(|f| !before.contains(f)).collect();
    if !left.is_empty() {
        git::restore(&sh, &left)?;
        crate::output::status("restored", &format!("{}: the build hooks changed them", left.join(", ")));
    }
    result
}

fn run_each(root: &Path, p: &Package, hooks: &[Vec<String>], credentials: &Credentials) -> Result<()> {
    let dir = root.join(&p.dir);
    for argv in hooks {
        let (program, args) = argv.split_first().expect("the configuration has no empty commands");
        crate::output::status("hook", &format!("{} {}: {}", p.display_name, p.version, shown(argv)));
        // A path is the package's own script; a bare name is a tool (the pinned one first).
        let program = if program.contains('/') {
            dir.join(program)
        } else {
            exec::require(program, "for a build hook of `[build.hooks]` in release.toml")?
        };
        match exec::Cmd::new(&program).args(args).dir(&dir).capture() {
            Ok(exec::Captured { ok: true, .. }) => {}
            Ok(exec::Captured { ok: false, text }) => bail!(
                "the build hook `{}` failed in `{}`, so nothing of it was built or uploaded:\n{}\nfix it (or `[build.hooks]` in release.toml), then rerun",
                shown(argv),
                p.dir,
                credentials.redact(&exec::tail(&text, 20))
            ),
            Err(e) => bail!("cannot run the build hook `{}` in `{}`: {e}", shown(argv), p.dir),
        }
    }
    Ok(())
}
