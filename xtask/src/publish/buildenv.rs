//! One build environment shared by every `uv build` of a run, instead of one isolated
//! environment per build.
//!
//! Measured on the sample's packages: an isolated `uv build` spends about half its time
//! creating two environments and compiling the backend's bytecode in them; with the backend
//! installed once and `--no-build-isolation`, a build takes half as long and writes the same
//! bytes. The environment holds the union of the packages' `[build-system] requires`; when that
//! cannot be installed, builds stay isolated, and a build that fails in the shared environment
//! is retried isolated (a backend may ask for more at build time).

use std::{collections::BTreeSet, path::Path, path::PathBuf};

use anyhow::{bail, Context, Result};

use crate::{exec, monorepo::Package, output, scratch::Scratch};

/// The `[build-system] requires` of every package, deduplicated and sorted.
pub fn requirements(root: &Path, packages: &[&Package]) -> Result<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for p in packages {
        let path = p.pyproject_path(root);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let doc: toml_edit::Document<String> =
            toml_edit::Document::parse(text).map_err(|e| anyhow::anyhow!("{}: {e}", p.pyproject_display()))?;
        let requires = doc.get("build-system").and_then(|b| b.get("requires")).and_then(|r| r.as_array());
        match requires {
            Some(list) => all.extend(list.iter().filter_map(|v| v.as_str()).map(str::to_string)),
            // No requires: PEP 517 says setuptools; let such a package build isolated instead.
            None => bail!("{} has no `[build-system] requires`", p.pyproject_display()),
        }
    }
    Ok(all)
}

/// A requirement's distribution name, normalised (lower case, runs of `-_.` as one `-`).
pub fn requirement_name(requirement: &str) -> String {
    let end =
        requirement.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(requirement.len());
    let mut name = String::new();
    for c in requirement[..end].chars() {
        match c {
            '-' | '_' | '.' if name.ends_with('-') => {}
            '-' | '_' | '.' => name.push('-'),
            c => name.push(c.to_ascii_lowercase()),
        }
    }
    name
}

/// Whether an environment with `requires` has setuptools-scm in it: named, or brought by
/// hatch-vcs (which depends on it). Its setuptools file finder then acts on every setuptools
/// build there ([`super::frontend::way`]).
pub fn brings_scm(requires: &BTreeSet<String>) -> bool {
    requires.iter().any(|r| matches!(requirement_name(r).as_str(), "setuptools-scm" | "hatch-vcs"))
}

/// The shared environment, in a temporary directory; removed when dropped.
pub struct BuildEnv {
    _scratch: Scratch,
    venv: PathBuf,
    scm: bool,
}

impl BuildEnv {
    pub fn path(&self) -> &Path {
        &self.venv
    }

    /// Whether it has setuptools-scm ([`brings_scm`]).
    pub fn scm(&self) -> bool {
        self.scm
    }
}

/// Creates the shared environment with `uv`. `None`, with a note, when it cannot be made: the
/// builds are then isolated as usual.
pub fn create(root: &Path, uv: &Path, packages: &[&Package]) -> Option<BuildEnv> {
    let made = (|| -> Result<BuildEnv> {
        let requires = requirements(root, packages)?;
        // Outside the monorepo: a virtualenv inside the root would end up in the umbrella's sdist.
        let scratch = Scratch::new("build-env")?;
        let dir = scratch.join("venv");
        run(exec::Cmd::new(uv).args(["venv", "--quiet"]).arg(&dir))?;
        let scm = brings_scm(&requires);
        run(exec::Cmd::new(uv).args(["pip", "install", "--quiet", "--python"]).arg(&dir).args(requires))?;
        Ok(BuildEnv { _scratch: scratch, venv: dir, scm })
    })();
    match made {
        Ok(env) => Some(env),
        Err(e) => {
            output::note(&format!("building each package in its own isolated environment: {e:#}"));
            None
        }
    }
}

fn run(cmd: exec::Cmd) -> Result<()> {
    let out = cmd.capture()?;
    if !out.ok {
        bail!("{}", out.text.trim_end());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setuptools_scm_is_found_by_its_normalised_name_or_through_hatch_vcs() {
        let set = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(requirement_name("Setuptools_SCM[toml]>=8"), "setuptools-scm");
        assert_eq!(requirement_name("setuptools..scm ; python_version>'3'"), "setuptools-scm");
        assert!(brings_scm(&set(&["hatchling", "hatch-vcs"])));
        assert!(brings_scm(&set(&["setuptools>=64", "setuptools_scm>=8"])));
        assert!(!brings_scm(&set(&["setuptools>=64", "setuptools-scm-git-archive", "hatchling"])));
    }
}
