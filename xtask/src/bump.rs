//! The edit that sets one package's version wherever Python keeps it: `project.version`, or the
//! file a dynamic version is read from (`__init__.py`, `VERSION`, …), byte for byte but the
//! version. A version from git tags has no file: its bump is its next tag.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::{
    changeset::FileChange,
    monorepo::Package,
    pyproject::{self, source, VersionSource},
    version::Version,
};

/// The change that sets `package`'s version to `new`, reading its file (`None` for a version
/// that comes from tags). Fails, naming the file, when the version cannot be read or written.
pub fn version_edit(root: &Path, package: &Package, new: &Version) -> Result<Option<FileChange>> {
    if let Some(e) = &package.version_error {
        bail!("{e}");
    }
    let file = match &package.source {
        VersionSource::Static => {
            let display = package.pyproject_display();
            let path = root.join(&display);
            let old = std::fs::read_to_string(&path).with_context(|| format!("cannot read {display}"))?;
            let text = pyproject::set_version(Path::new(&display), &old, new)?;
            return Ok(Some(FileChange { path, display, old, new: text }));
        }
        VersionSource::Vcs { .. } => return Ok(None),
        VersionSource::File(f) => f,
    };
    let display = package
        .version_file(root)
        .with_context(|| format!("{}: the version file {} named is gone", package.pyproject_display(), file.via))?;
    let path = root.join(&display);
    let old = std::fs::read_to_string(&path).with_context(|| format!("cannot read {display}"))?;
    let range = source::locate(&old, &file.how).with_context(|| {
        format!("{display}: no version literal any more ({}); write one such as `__version__ = \"{new}\"`", file.via)
    })?;
    let text = source::replace(&old, range, &new.to_string());
    Ok(Some(FileChange { path, display, old, new: text }))
}

/// The version written in `text`, a version file of `package` (`shown` names it in errors):
/// what the file said at another commit.
pub fn version_in(package: &Package, shown: &str, text: &str) -> Result<Version> {
    match &package.source {
        VersionSource::File(file) => {
            let range = source::locate(text, &file.how).with_context(|| {
                format!("{shown}: no version literal such as `__version__ = \"1.0.0\"` ({})", file.via)
            })?;
            text[range].parse().map_err(|e| anyhow::anyhow!("{shown}: {e}"))
        }
        _ => Ok(pyproject::Pyproject::parse(Path::new(shown), text)?.version),
    }
}
