//! `cargo xtask fmt` and `cargo xtask lint`: the monorepo's pre-commit hooks, run through uv so
//! nobody has to install pre-commit. `fmt` runs only the formatting hooks.

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{exec, flags, output};

const CONFIG: &str = ".pre-commit-config.yaml";
/// The pre-commit release used when the monorepo does not pin one.
const PRE_COMMIT: &str = "pre-commit==4.3.0";

/// Hook ids that only format: what `fmt` runs.
fn is_formatter(id: &str) -> bool {
    id.contains("format") || id == "prettier" || id == "black" || id == "isort"
}

/// The hook ids of a pre-commit config, in order (a line scan: `- id: NAME`).
fn hook_ids(config: &str) -> Vec<String> {
    config
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- id:").or_else(|| l.trim().strip_prefix("id:")))
        .map(|id| id.trim().trim_matches(['"', '\'']).to_string())
        .filter(|id| !id.is_empty())
        .collect()
}

fn pre_commit(sh: &Shell, hooks: &[String], all_files: bool) -> Result<()> {
    let config = std::fs::read_to_string(sh.current_dir().join(CONFIG))
        .with_context(|| format!("{CONFIG} not found in {}; the hooks live there", sh.current_dir().display()))?;
    if hook_ids(&config).is_empty() {
        bail!("{CONFIG} has no hooks (no `- id:` lines)");
    }
    let uv = exec::require("uv", "to run pre-commit")?;
    let scope: &[&str] = if all_files { &["--all-files"] } else { &[] };
    let mut failed = Vec::new();
    let runs: Vec<Option<&String>> = if hooks.is_empty() { vec![None] } else { hooks.iter().map(Some).collect() };
    for hook in runs {
        let hook: Vec<&String> = hook.into_iter().collect();
        let name = hook.first().map_or("pre-commit".to_string(), |h| h.to_string());
        output::status("running", &format!("pre-commit {}", hook.first().map_or("(all hooks)", |h| h.as_str())));
        // Streamed, so the hooks' own output reaches the user as they run.
        let mut command: std::process::Command =
            cmd!(sh, "{uv} tool run --quiet --from {PRE_COMMIT} pre-commit run {scope...} {hook...}").into();
        let ok = command.status().with_context(|| "cannot run pre-commit through uv")?.success();
        if !ok {
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!("hooks failed or changed files: {}; review the changes (`git diff`) and rerun", failed.join(", "));
    }
    Ok(())
}

impl flags::Fmt {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let config = std::fs::read_to_string(sh.current_dir().join(CONFIG)).unwrap_or_default();
        let hooks: Vec<String> = hook_ids(&config).into_iter().filter(|id| is_formatter(id)).collect();
        if hooks.is_empty() && !config.is_empty() {
            bail!("{CONFIG} has no formatting hooks (ids containing `format`, or `prettier`, `black`, `isort`); use `cargo xtask lint`");
        }
        pre_commit(sh, &hooks, !self.changed)
    }
}

impl flags::Lint {
    pub fn run(self, sh: &Shell) -> Result<()> {
        pre_commit(sh, &[], !self.changed)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_hook_ids_and_formatters() {
        let config = "repos:\n  - repo: local\n    hooks:\n      - id: ruff-format\n        name: x\n      - id: \"ruff\"\n      - id: prettier\n";
        let ids = super::hook_ids(config);
        assert_eq!(ids, ["ruff-format", "ruff", "prettier"]);
        let fmt: Vec<_> = ids.iter().filter(|i| super::is_formatter(i)).collect();
        assert_eq!(fmt, ["ruff-format", "prettier"]);
    }
}
