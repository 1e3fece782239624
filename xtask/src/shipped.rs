//! Which changed files a package ships: all of its files but those `bumps.unshipped` matches
//! (tests, docs, examples, Markdown and lock files by default), relative to the package's
//! directory; the bump check needs no new version for a change to an unshipped file, and a
//! package's own notes list only changes to what it ships. Lock files
//! ([`LOCK_FILES`]) are also what the changelog credits no package for: a pull request that only
//! relocked needs no release, while one that only fixed a package's tests is still that package's
//! news, as in the original tool's changelog.

use crate::monorepo::{Monorepo, Owner};

/// The lock files of Python's package managers: they pin a development environment, never what a
/// package requires, so they are unshipped by default and credit no package in the changelog.
pub const LOCK_FILES: [&str; 3] = ["uv.lock", "poetry.lock", "pdm.lock"];

/// Where a changed file belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A file the package at this index ships.
    Shipped(usize),
    /// A file of the package at this index that its distributions do not carry.
    Unshipped(usize),
    /// No package's.
    Nobody,
}

/// `bumps.unshipped`, compiled once for a whole diff or history.
pub struct Shipped<'a> {
    repo: &'a Monorepo,
    unshipped: Vec<glob::Pattern>,
}

/// `*.md` matches Markdown at any depth, and `tests/**` dotfiles too.
const OPTIONS: glob::MatchOptions =
    glob::MatchOptions { case_sensitive: true, require_literal_separator: false, require_literal_leading_dot: false };

impl<'a> Shipped<'a> {
    /// The patterns were validated when the configuration was read.
    pub fn new(repo: &'a Monorepo) -> Shipped<'a> {
        let unshipped = repo.config.bumps_unshipped.iter().filter_map(|p| glob::Pattern::new(p).ok()).collect();
        Shipped { repo, unshipped }
    }

    /// `file` is `/`-separated, relative to the root.
    pub fn classify(&self, file: &str) -> Class {
        let Owner::Package(i) = self.repo.owner_of(file) else { return Class::Nobody };
        let dir = &self.repo.packages[i].dir;
        let inner = if dir == "." || dir.is_empty() {
            file
        } else {
            file.strip_prefix(dir.as_str()).and_then(|r| r.strip_prefix('/')).unwrap_or(file)
        };
        if self.unshipped.iter().any(|g| g.matches_with(inner, OPTIONS)) {
            Class::Unshipped(i)
        } else {
            Class::Shipped(i)
        }
    }

    /// The package that ships `file`, if any: the one a change to it credits in a package's own
    /// notes (`changelog --package`), which list only what changed in its distributions.
    pub fn owner(&self, file: &str) -> Option<usize> {
        match self.classify(file) {
            Class::Shipped(i) => Some(i),
            Class::Unshipped(_) | Class::Nobody => None,
        }
    }

    /// The package a change to `file` credits in the release's changelog: its owner, unless it is a lock file.
    pub fn credited(&self, file: &str) -> Option<usize> {
        let name = file.rsplit('/').next().unwrap_or(file);
        if LOCK_FILES.contains(&name) {
            return None;
        }
        match self.repo.owner_of(file) {
            Owner::Package(i) => Some(i),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_tests_and_docs_are_not_shipped() {
        let scratch = crate::scratch::Scratch::new("shipped").unwrap();
        let dir = scratch.path().to_path_buf();
        let write = |rel: &str, text: &str| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("pyproject.toml", "[project]\nname = \"llama-index\"\nversion = \"0.14.12\"\n");
        write("llama-index-core/pyproject.toml", "[project]\nname = \"llama-index-core\"\nversion = \"0.14.12\"\n");
        let repo = Monorepo::load(&dir).unwrap();
        let shipped = Shipped::new(&repo);
        let core = repo.packages.iter().position(|p| p.dir == "llama-index-core").unwrap();
        let umbrella = repo.packages.iter().position(|p| p.dir == ".").unwrap();
        let cases = [
            ("uv.lock", Class::Unshipped(umbrella)),
            ("pyproject.toml", Class::Shipped(umbrella)),
            ("_llama-index/llama_index/__init__.py", Class::Shipped(umbrella)),
            ("llama-index-core/uv.lock", Class::Unshipped(core)),
            ("llama-index-core/poetry.lock", Class::Unshipped(core)),
            ("llama-index-core/pdm.lock", Class::Unshipped(core)),
            ("llama-index-core/tests/test_a.py", Class::Unshipped(core)),
            ("llama-index-core/README.md", Class::Unshipped(core)),
            ("llama-index-core/llama_index/core/uv.lock.py", Class::Shipped(core)),
            ("llama-index-core/llama_index/core/base.py", Class::Shipped(core)),
            ("docs/index.md", Class::Nobody),
        ];
        let got: Vec<(&str, Class)> = cases.iter().map(|(f, _)| (*f, shipped.classify(f))).collect();
        assert_eq!(got, cases);
        assert_eq!(shipped.credited("uv.lock"), None);
        assert_eq!(shipped.credited("llama-index-core/poetry.lock"), None);
        assert_eq!(shipped.credited("llama-index-core/tests/test_a.py"), Some(core));
        assert_eq!(shipped.credited("llama-index-core/llama_index/core/base.py"), Some(core));
        assert_eq!(shipped.credited("docs/index.md"), None);
        assert_eq!(shipped.owner("llama-index-core/tests/test_a.py"), None);
        assert_eq!(shipped.owner("llama-index-core/llama_index/core/base.py"), Some(core));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
