//! Running the release's hooks (`[release]` in release.toml): argv only, in their directory,
//! with no credential in their environment, their output on stderr so stdout stays data, each
//! watched (`exec::watched`): killed with its process group at its `timeout`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::{config::Hook, exec, git, output};

/// How the plan shows the hooks: each one's argv and directory, or why it will not run.
pub fn describe(root: &Path, hooks: &[Hook], core: &str, umbrella: &str) -> String {
    hooks
        .iter()
        .map(|h| match &h.if_exists {
            Some(p) if !root.join(p).exists() => format!("{} (not run: no `{p}`)", h.display(core, umbrella)),
            _ => h.display(core, umbrella),
        })
        .collect::<Vec<_>>()
        .join(", then ")
}

/// Whether any of `hooks` will run: those with an `if-exists` path that is missing will not.
pub fn any_applies(root: &Path, hooks: &[Hook]) -> bool {
    hooks.iter().any(|h| h.if_exists.as_ref().is_none_or(|p| root.join(p).exists()))
}

/// Runs `hooks` in order; the first failure stops them, with the hook and its exit status.
/// `files` gives each hook's `{files}` as it starts (and again for its rerun), so a hook sees
/// what the hooks before it changed: the formatter formats the docs the docs hook generated.
pub fn run_all(
    sh: &Shell,
    root: &Path,
    hooks: &[Hook],
    core: &str,
    umbrella: &str,
    files: &dyn Fn() -> Result<Vec<String>>,
) -> Result<()> {
    for hook in hooks {
        if let Some(p) = &hook.if_exists {
            if !root.join(p).exists() {
                output::status("skipped", &format!("{}: no `{p}`", hook.display(core, umbrella)));
                continue;
            }
        }
        let before = git::dirty_files(sh)?;
        let ok = run_one(root, hook, core, umbrella, &files()?)?;
        if ok {
            continue;
        }
        if hook.rerun_on_change && git::dirty_files(sh)? != before {
            output::status("rerunning", &format!("{}: it changed files", hook.display(core, umbrella)));
            if run_one(root, hook, core, umbrella, &files()?)? {
                continue;
            }
        }
        bail!("the hook {} failed; its output is above", hook.display(core, umbrella));
    }
    Ok(())
}

/// Runs the gate: `hooks`, then puts back every file they changed in the tree (a `uv sync`
/// writes a lock file), so that what is published is what was committed.
pub fn run_gate(sh: &Shell, root: &Path, hooks: &[Hook], core: &str, umbrella: &str) -> Result<()> {
    let before = git::dirty_files(sh)?;
    let result = run_all(sh, root, hooks, core, umbrella, &|| Ok(Vec::new()));
    let left: Vec<String> = git::dirty_files(sh)?.into_iter().filter(|f| !before.contains(f)).collect();
    if !left.is_empty() {
        git::restore(sh, &left)?;
        output::status(
            "restored",
            &format!("{}: the gate changed them, and the release builds what was committed", left.join(", ")),
        );
    }
    result
}

/// Whether the hook succeeded; a hook that ran out of time is an error of its own (no rerun:
/// it would hang again), with the end of its output.
fn run_one(root: &Path, hook: &Hook, core: &str, umbrella: &str, files: &[String]) -> Result<bool> {
    let dir = root.join(hook.dir_in(core, umbrella));
    let argv = hook.argv(files);
    let (program, args) = argv.split_first().context("a hook has an empty `run`")?;
    let program = exec::find(program).unwrap_or_else(|| program.into());
    let shown = hook.display(core, umbrella);
    output::status("running", &shown);
    let watch = exec::Watch { label: &shown, timeout: hook.timeout, heartbeat: exec::heartbeat(), echo: true };
    // No credential: uploads and GitHub are the tool's job, never a hook's.
    let watched =
        exec::Cmd::new(&program).args(args).dir(&dir).watched(&watch, &mut std::io::stderr()).with_context(|| {
            format!("cannot run the hook {shown} in `{}`; is `{}` installed?", dir.display(), argv[0])
        })?;
    match watched.ended {
        exec::Ended::Exited(status) => Ok(status.success()),
        exec::Ended::TimedOut => bail!(
            "the hook {shown} ran longer than its timeout ({}) and was killed with every process it started \
             (if it only needs more time, raise its `timeout` in release.toml); its last lines:\n{}",
            crate::time::human(hook.timeout),
            exec::tail(&watched.text, 20)
        ),
    }
}
