//! Zero configuration for uv workspaces: with no `packages.include` in `release.toml`, a root
//! `[tool.uv.workspace]`'s `members` and `exclude` are the packages, each released on its own.

use std::path::Path;

use anyhow::{Context, Result};
use toml_edit::Document;

use crate::config::{inside_root, Config, OUTSIDE};

/// Takes the root's uv workspace as the packages, when there is one. Reads one file.
pub fn apply(root: &Path, config: &mut Config) -> Result<()> {
    let path = root.join("pyproject.toml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    // Most roots have no workspace: skip the parse of the whole document.
    if !text.contains("workspace") {
        return Ok(());
    }
    let Ok(doc) = Document::parse(text.as_str()) else { return Ok(()) };
    let Some(workspace) = doc.get("tool").and_then(|t| t.get("uv")).and_then(|u| u.get("workspace")) else {
        return Ok(());
    };
    let list = |key: &str| -> Result<Vec<String>> {
        let Some(item) = workspace.get(key) else { return Ok(Vec::new()) };
        let bad = || format!("pyproject.toml: `tool.uv.workspace.{key}` must be an array of strings");
        let array = item.as_array().with_context(bad)?;
        let mut out = Vec::new();
        for v in array {
            let pattern = v.as_str().with_context(bad)?.trim_end_matches('/').to_string();
            inside_root(Path::new(&pattern))
                .with_context(|| format!("pyproject.toml: `tool.uv.workspace.{key}` has `{pattern}`, {OUTSIDE}"))?;
            out.push(pattern);
        }
        Ok(out)
    };
    let members = list("members")?;
    if members.is_empty() {
        return Ok(());
    }
    config.exclude.extend(list("exclude")?);
    config.packages = members;
    config.umbrella_required = false;
    config.core_required = false;
    Ok(())
}
