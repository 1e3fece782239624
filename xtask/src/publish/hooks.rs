//! Build hooks: commands from `[build.hooks]` run in a package's directory before it is built
//! (the LlamaIndex default fills core's NLTK and tiktoken caches, which its wheel must carry).
//! Argv as configured, in order, no shell, with the build's environment: never credentials.
//! Each is watched (`exec::watched`): killed with its process group at its `timeout`.

use std::path::Path;

use anyhow::{bail, Result};

use super::upload::Credentials;
use crate::{config::BuildHook, exec, git, monorepo::Package};

/// The hooks of `p`: by its directory relative to the root.
pub fn of<'a>(hooks: &'a std::collections::BTreeMap<String, Vec<BuildHook>>, p: &Package) -> &'a [BuildHook] {
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
pub fn run(root: &Path, p: &Package, hooks: &[BuildHook], credentials: &Credentials) -> Result<()> {
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

fn run_each(root: &Path, p: &Package, hooks: &[BuildHook], credentials: &Credentials) -> Result<()> {
    let dir = root.join(&p.dir);
    for hook in hooks {
        let argv = &hook.run;
        let (program, args) = argv.split_first().expect("the configuration has no empty commands");
        crate::output::status("hook", &format!("{} {}: {}", p.display_name, p.version, shown(argv)));
        // A path is the package's own script; a bare name is a tool (the pinned one first).
        let program = if program.contains('/') {
            dir.join(program)
        } else {
            exec::require(program, "for a build hook of `[build.hooks]` in release.toml")?
        };
        let label = format!("the build hook `{}` of {}", shown(argv), p.display_name);
        let watch = exec::Watch { label: &label, timeout: hook.timeout, heartbeat: exec::heartbeat(), echo: false };
        let watched = exec::Cmd::new(&program)
            .args(args)
            .dir(&dir)
            .watched(&watch, &mut std::io::stderr())
            .map_err(|e| anyhow::anyhow!("cannot run the build hook `{}` in `{}`: {e}", shown(argv), p.dir))?;
        let tail = || credentials.redact(&exec::tail(&watched.text, 20));
        match watched.ended {
            exec::Ended::Exited(status) if status.success() => {}
            exec::Ended::Exited(_) => bail!(
                "the build hook `{}` failed in `{}`, so nothing of it was built or uploaded:\n{}\nfix it (or `[build.hooks]` in release.toml), then rerun",
                shown(argv),
                p.dir,
                tail()
            ),
            exec::Ended::TimedOut => bail!(
                "the build hook `{}` in `{}` ran longer than its timeout ({}) and was killed with every process it started, so nothing of it was built or uploaded (fix it, or give it more time with `timeout` in `[build.hooks]` in release.toml, then rerun); its last lines:\n{}",
                shown(argv),
                p.dir,
                crate::time::human(hook.timeout),
                tail()
            ),
        }
    }
    Ok(())
}
