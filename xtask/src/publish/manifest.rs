//! The build manifest: which files a package's build produced and their sha256, written next
//! to the files under `target/publish/`. Uploads send exactly the files it lists, and a rerun
//! reuses a build whose sources have not changed, so an interrupted release uploads the same
//! bytes it started with.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::sha256;

pub const FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub backend: String,
    /// The digest of the package's sources when it was built (see [`source_digest`]).
    pub source: String,
    pub files: Vec<BuiltFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltFile {
    pub filename: String,
    pub sha256: String,
    pub size: u64,
}

impl Manifest {
    pub fn to_json(&self) -> Value {
        let files: Vec<Value> =
            self.files.iter().map(|f| json!({"filename": f.filename, "sha256": f.sha256, "size": f.size})).collect();
        json!({"name": self.name, "version": self.version, "backend": self.backend, "source": self.source, "files": files})
    }

    pub fn parse(path: &Path, text: &str) -> Result<Manifest> {
        let bad = || format!("{} is not a build manifest; delete it and rerun to rebuild", path.display());
        let v: Value = serde_json::from_str(text).with_context(bad)?;
        let s = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string).with_context(bad);
        let mut files = Vec::new();
        for f in v.get("files").and_then(Value::as_array).with_context(bad)? {
            files.push(BuiltFile {
                filename: f.get("filename").and_then(Value::as_str).with_context(bad)?.to_string(),
                sha256: f.get("sha256").and_then(Value::as_str).with_context(bad)?.to_string(),
                size: f.get("size").and_then(Value::as_u64).with_context(bad)?,
            });
        }
        Ok(Manifest { name: s("name")?, version: s("version")?, backend: s("backend")?, source: s("source")?, files })
    }

    /// The manifest in `dir`, if there is one whose files are all there with the recorded
    /// digests; anything else (a build killed half-way, a file edited by hand) means rebuild.
    pub fn load_intact(dir: &Path) -> Option<Manifest> {
        let path = dir.join(FILE);
        let manifest = Manifest::parse(&path, &std::fs::read_to_string(&path).ok()?).ok()?;
        let intact = manifest
            .files
            .iter()
            .all(|f| sha256::file(&dir.join(&f.filename)).is_ok_and(|(digest, _)| digest == f.sha256));
        intact.then_some(manifest)
    }

    /// Lists the distributions in `dir` (what the build wrote) and hashes them.
    pub fn scan(dir: &Path) -> Result<Vec<BuiltFile>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry?;
            let filename = entry.file_name().to_string_lossy().into_owned();
            if !(filename.ends_with(".whl") || filename.ends_with(".tar.gz") || filename.ends_with(".zip")) {
                continue;
            }
            let (sha256, size) = sha256::file(&entry.path())?;
            files.push(BuiltFile { filename, sha256, size });
        }
        if files.is_empty() {
            bail!("the build wrote no distribution into {}", dir.display());
        }
        files.sort_by(|a, b| a.filename.cmp(&b.filename));
        Ok(files)
    }
}

/// Directories whose contents never go into a distribution's sources.
fn skipped(name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "dist" | "build" | "target" | "__pycache__" | "node_modules" | "venv")
        || name.ends_with(".egg-info")
}

/// A digest of every source file of the package in `dir` (paths and contents), leaving out
/// build outputs, caches and the trees of other packages nested below it (the umbrella at the
/// root would otherwise cover the whole monorepo). It decides whether a previous build is
/// still the build of these sources.
pub fn source_digest(dir: &Path) -> Result<String> {
    let files = source_files(dir)?;
    let mut digest = sha256::Hasher::default();
    for rel in &files {
        let path = dir.join(rel);
        let len = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?.len();
        digest.update(rel.to_string_lossy().as_bytes());
        digest.update(&[0]);
        digest.update(&len.to_le_bytes());
        let read = digest.update_file(&path)?;
        if read != len {
            anyhow::bail!("{} changed while it was being hashed; rerun", path.display());
        }
    }
    Ok(digest.hex())
}

/// The source files below `dir`, relative to it and sorted; walkdir opens every directory
/// anyway, which is what this walk needs.
fn source_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let walk = walkdir::WalkDir::new(dir).into_iter().filter_entry(|e| {
        let nested = e.file_type().is_dir()
            && e.depth() > 0
            && (skipped(&e.file_name().to_string_lossy()) || e.path().join("pyproject.toml").is_file());
        !nested
    });
    let mut files = Vec::new();
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot list the sources of {}", dir.display()))?;
        if entry.file_type().is_file() {
            files.push(entry.path().strip_prefix(dir).unwrap_or(entry.path()).to_path_buf());
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_source_digest() {
        let scratch = crate::scratch::Scratch::new("manifest").unwrap();
        let dir = scratch.path().to_path_buf();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pkg/src")).unwrap();
        std::fs::create_dir_all(dir.join("pkg/nested")).unwrap();
        std::fs::create_dir_all(dir.join("pkg/dist")).unwrap();
        std::fs::write(dir.join("pkg/pyproject.toml"), "[project]\n").unwrap();
        std::fs::write(dir.join("pkg/src/a.py"), "x = 1\n").unwrap();
        let before = source_digest(&dir.join("pkg")).unwrap();
        // Build outputs and nested packages do not count; sources do.
        std::fs::write(dir.join("pkg/dist/a.whl"), "wheel").unwrap();
        std::fs::write(dir.join("pkg/nested/pyproject.toml"), "[project]\n").unwrap();
        assert_eq!(source_digest(&dir.join("pkg")).unwrap(), before);
        std::fs::write(dir.join("pkg/src/a.py"), "x = 2\n").unwrap();
        assert_ne!(source_digest(&dir.join("pkg")).unwrap(), before);

        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("p-1.0.tar.gz"), "sdist").unwrap();
        std::fs::write(out.join(".gitignore"), "*").unwrap();
        let files = Manifest::scan(&out).unwrap();
        let m = Manifest { name: "p".into(), version: "1.0".into(), backend: "uv".into(), source: before, files };
        std::fs::write(out.join(FILE), m.to_json().to_string()).unwrap();
        assert_eq!(Manifest::load_intact(&out), Some(m));
        std::fs::write(out.join("p-1.0.tar.gz"), "changed").unwrap();
        assert_eq!(Manifest::load_intact(&out), None, "a changed file means rebuild");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
