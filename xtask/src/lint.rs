//! `cargo xtask fmt` and `cargo xtask lint`: the monorepo's pre-commit hooks, run through uv so
//! nobody has to install pre-commit. `fmt` runs only the formatting hooks.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::{exec, flags, output};

const CONFIG: &str = ".pre-commit-config.yaml";
/// The pre-commit release used when the monorepo does not pin one.
const PRE_COMMIT: &str = "pre-commit==4.3.0";

/// The pre-commit the monorepo pins, and where: a `pre-commit` requirement among the root
/// `pyproject.toml`'s `[dependency-groups]` (LlamaIndex has `pre-commit==3.2.0` in `dev`, which
/// its workflows run through `uv run`), else the config's `minimum_pre_commit_version`, else
/// [`PRE_COMMIT`].
fn pinned(pyproject: &str, config: &str) -> (String, String) {
    let doc = pyproject.parse::<toml_edit::DocumentMut>().ok();
    let groups = doc.as_ref().and_then(|d| d.get("dependency-groups")).and_then(|g| g.as_table_like());
    for (group, list) in groups.into_iter().flat_map(|g| g.iter()) {
        let Some(list) = list.as_array() else { continue };
        for item in list.iter().filter_map(|v| v.as_str()) {
            let Ok(req) = crate::requirement::Requirement::parse(item) else { continue };
            if req.name.as_str() == "pre-commit" && req.marker.is_empty() && !req.specifiers.starts_with('@') {
                return (
                    format!("pre-commit{}", req.specifiers.replace(' ', "")),
                    format!("pyproject.toml `dependency-groups.{group}`"),
                );
            }
        }
    }
    let minimum = config.lines().find_map(|l| l.strip_prefix("minimum_pre_commit_version:"));
    match minimum.map(|v| v.trim().trim_matches(['"', '\''])).filter(|v| !v.is_empty()) {
        Some(v) => (format!("pre-commit>={v}"), format!("{CONFIG} `minimum_pre_commit_version`")),
        None => (PRE_COMMIT.to_string(), "no pin in the monorepo; the release tool's default".to_string()),
    }
}

/// The plain reason when pre-commit could not fetch a hook repository: git's own `fatal:` line.
fn fetch_failure(output: &str) -> Option<String> {
    let git_failed =
        output.contains("CalledProcessError: command: (") && (output.contains("'fetch'") || output.contains("'clone'"));
    git_failed.then(|| {
        output.lines().map(str::trim).find(|l| l.starts_with("fatal:")).unwrap_or("git could not fetch").to_string()
    })
}

/// The remote `repo:` URLs of the config (not `local` or `meta`), for the message that they
/// could not be fetched.
fn remote_repos(config: &str) -> Vec<String> {
    config
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- repo:").or_else(|| l.trim().strip_prefix("repo:")))
        .map(|r| r.trim().trim_matches(['"', '\'']).to_string())
        .filter(|r| r.contains("://") || r.contains('@'))
        .collect()
}

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
    let pyproject = std::fs::read_to_string(sh.current_dir().join("pyproject.toml")).unwrap_or_default();
    let (pre_commit, source) = pinned(&pyproject, &config);
    // Set up every hook first, captured: a repository that cannot be fetched is then said
    // plainly, not mistaken for a hook that failed.
    output::status("installing", &format!("the hooks with {pre_commit} ({source})"));
    let setup = exec::Cmd::new(&uv)
        .args(["tool", "run", "--quiet", "--from", &pre_commit, "pre-commit", "install-hooks"])
        .dir(sh.current_dir());
    let exec::Captured { ok, text } = setup.capture().with_context(|| "cannot run pre-commit through uv")?;
    if !ok {
        if let Some(reason) = fetch_failure(&text) {
            bail!(
                "cannot fetch the hook repositories of {CONFIG} ({}): {reason}; pre-commit clones each `repo:` once \
                 into its cache, so rerun where they are reachable (network, proxy), or point them at a mirror",
                remote_repos(&config).join(", ")
            );
        }
        bail!("pre-commit could not install the hooks of {CONFIG}:\n{}", exec::tail(&text, 15));
    }
    let scope: &[&str] = if all_files { &["--all-files"] } else { &[] };
    let mut failed = Vec::new();
    let runs: Vec<Option<&String>> = if hooks.is_empty() { vec![None] } else { hooks.iter().map(Some).collect() };
    for hook in runs {
        let hook: Vec<&String> = hook.into_iter().collect();
        let name = hook.first().map_or("pre-commit".to_string(), |h| h.to_string());
        output::status("running", &format!("pre-commit {}", hook.first().map_or("(all hooks)", |h| h.as_str())));
        // Streamed, so the hooks' own output reaches the user as they run.
        let command = exec::Cmd::new(&uv)
            .args(["tool", "run", "--quiet", "--from", &pre_commit, "pre-commit", "run"])
            .args(scope)
            .args(hook)
            .dir(sh.current_dir())
            .keep_virtualenv();
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

    #[test]
    fn the_pin_comes_from_the_dev_group_then_the_minimum_version() {
        let pyproject = "[dependency-groups]\ndev = [\"black>=23\", \"Pre_Commit == 3.2.0\"]\n";
        let (pin, source) = super::pinned(pyproject, "");
        assert_eq!((pin.as_str(), source.as_str()), ("pre-commit==3.2.0", "pyproject.toml `dependency-groups.dev`"));
        let (pin, _) = super::pinned("[project]\nname = \"x\"\n", "minimum_pre_commit_version: '3.5.0'\nrepos: []\n");
        assert_eq!(pin, "pre-commit>=3.5.0");
        assert_eq!(super::pinned("", "repos: []\n").0, super::PRE_COMMIT);
        let failed = "An unexpected error has occurred: CalledProcessError: command: ('/usr/bin/git', 'fetch', 'origin', '--tags')\nstderr:\n    fatal: unable to access 'x'\n";
        assert_eq!(super::fetch_failure(failed).as_deref(), Some("fatal: unable to access 'x'"));
        assert_eq!(super::fetch_failure("- hook id: ruff\n- exit code: 1\n"), None);
    }
}
