//! The monorepo model: its packages, found from the configured glob patterns, and which package
//! owns a path. Pure apart from reading the tree once in [`Monorepo::load`].

use std::{
    collections::{BTreeMap, HashMap},
    io::ErrorKind,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

use crate::{
    config::Config,
    flags::usage,
    pyproject::{Pyproject, Table},
    requirement::{PackageName, Requirement},
    version::Version,
};

#[derive(Debug, Clone)]
pub struct Package {
    /// The directory relative to the root, `/`-separated; `.` for the root itself.
    pub dir: String,
    pub name: PackageName,
    /// `project.name` as written, which is what the changelog shows.
    pub display_name: String,
    pub version: Version,
    pub dependencies: Vec<Requirement>,
    pub requires_python: Option<String>,
    pub table: Table,
}

impl Package {
    /// A package for unit tests: `[project]` at `dir`, its requirements parsed (and valid).
    #[cfg(test)]
    pub fn sample(dir: &str, name: &str, version: &str, deps: &[&str]) -> Package {
        Package {
            dir: dir.to_string(),
            name: PackageName::new(name),
            display_name: name.to_string(),
            version: version.parse().expect("a valid version"),
            dependencies: deps.iter().map(|d| Requirement::parse(d).expect("a valid requirement")).collect(),
            requires_python: None,
            table: Table::Project,
        }
    }

    pub fn pyproject_path(&self, root: &Path) -> PathBuf {
        root.join(&self.dir).join("pyproject.toml")
    }

    /// `dir/pyproject.toml`, relative to the root, for messages.
    pub fn pyproject_display(&self) -> String {
        if self.dir == "." {
            "pyproject.toml".to_string()
        } else {
            format!("{}/pyproject.toml", self.dir)
        }
    }
}

#[derive(Debug)]
pub struct Monorepo {
    pub root: PathBuf,
    pub config: Config,
    /// Sorted by directory.
    pub packages: Vec<Package>,
    /// Locations that matched nothing, for the user to fix the configuration.
    pub warnings: Vec<String>,
    by_dir: HashMap<String, usize>,
}

/// Who owns a changed path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Package(usize),
    Nobody,
}

/// Directory names that never hold packages of the monorepo.
const SKIPPED_DIRS: &[&str] = &["node_modules", "venv", "build", "dist", "target", "__pycache__", "site-packages"];

fn is_skipped(name: &str) -> bool {
    name.starts_with('.') || SKIPPED_DIRS.contains(&name) || name.ends_with(".egg-info")
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Monorepo {
    /// Finds and reads every package below `root`.
    pub fn load(root: &Path) -> Result<Monorepo> {
        let config = Config::load(root)?;
        // Without the umbrella, this is not the monorepo's root: say so, rather than list nothing.
        let umbrella = root.join(&config.umbrella).join("pyproject.toml");
        if root.is_dir() && !umbrella.is_file() {
            bail!(
                "`{}` has no umbrella `{}`; pass --root with the monorepo's root, or set `packages.umbrella` in {}",
                root.display(),
                normalize_rel(&config.umbrella.join("pyproject.toml")),
                crate::config::CONFIG_FILE
            );
        }
        let (candidates, locations, mut warnings) = candidates(root, &config)?;
        let read = read_all(root, &candidates);
        let (read, unmatched) = packages(&candidates, read, &locations);
        warnings.extend(unmatched);
        let mut packages = Vec::with_capacity(read.len());
        let mut errors = Vec::new();
        for r in read {
            match r {
                Ok(p) => packages.push(p),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            bail!(
                "{} package{} cannot be read:\n  {}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                errors.join("\n  ")
            );
        }
        Monorepo::new(root.to_path_buf(), config, packages, warnings)
    }

    pub fn new(root: PathBuf, config: Config, mut packages: Vec<Package>, warnings: Vec<String>) -> Result<Monorepo> {
        packages.sort_by(|a, b| a.dir.cmp(&b.dir));
        let mut by_name: HashMap<&PackageName, &str> = HashMap::new();
        let mut clashes = Vec::new();
        for p in &packages {
            if let Some(other) = by_name.insert(&p.name, &p.dir) {
                clashes.push(format!("`{}` is the name of both `{other}` and `{}`", p.name, p.dir));
            }
        }
        if !clashes.is_empty() {
            bail!(
                "two packages share a name (compared in PEP 503 normal form):\n  {}\nrename one of them",
                clashes.join("\n  ")
            );
        }
        let by_dir = packages.iter().enumerate().map(|(i, p)| (p.dir.clone(), i)).collect();
        Ok(Monorepo { root, config, packages, warnings, by_dir })
    }

    /// The package whose directory is `dir` (relative to the root, `.` for the root).
    pub fn at_dir(&self, dir: &str) -> Option<&Package> {
        self.by_dir.get(dir).map(|&i| &self.packages[i])
    }

    pub fn index_of(&self, package: &Package) -> usize {
        self.by_dir[&package.dir]
    }

    /// The packages named by `paths`, or all of them with `--all`, sorted by directory.
    pub fn select(&self, paths: &[String], all: bool) -> Result<Vec<&Package>> {
        match (paths.is_empty(), all) {
            (true, false) => return Err(usage("give package directories, or --all for every package")),
            (false, true) => return Err(usage("give package directories or --all, not both")),
            (true, true) => return Ok(self.packages.iter().collect()),
            (false, false) => {}
        }
        let mut found = Vec::new();
        let mut errors = Vec::new();
        let mut misuse = false;
        for path in paths {
            match self.resolve(path) {
                Ok(p) => found.push(p),
                Err(e) => {
                    misuse |= e.downcast_ref::<crate::flags::UsageError>().is_some();
                    errors.push(e.to_string());
                }
            }
        }
        if misuse {
            return Err(usage(errors.join("\n")));
        }
        if !errors.is_empty() {
            bail!("{}", errors.join("\n"));
        }
        found.sort_by(|a, b| a.dir.cmp(&b.dir));
        found.dedup_by(|a, b| a.dir == b.dir);
        Ok(found)
    }

    /// Resolves a path given by the user (relative to the root or absolute) to a package.
    pub fn resolve(&self, arg: &str) -> Result<&Package> {
        let key = self.relative(arg)?;
        self.at_dir(&key).with_context(|| {
            format!(
                "`{arg}` is not a package of this monorepo (no pyproject.toml found there by the package patterns); \
                 give a package directory relative to {}, or run `cargo xtask pkg info --all` to list them",
                self.root.display()
            )
        })
    }

    /// A path argument relative to the root (absolute ones must lie inside it), as a key of
    /// `by_dir`; one that leaves the root is a usage error naming it.
    pub fn relative(&self, arg: &str) -> Result<String> {
        let path = Path::new(arg);
        let rel = if path.is_absolute() {
            let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
            let root = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
            abs.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(abs)
        } else {
            path.to_path_buf()
        };
        crate::config::inside_root(&rel).ok_or_else(|| {
            usage(format!(
                "the path `{arg}` leaves the monorepo's root {}; give a package directory relative to it, without `..`",
                self.root.display()
            ))
        })
    }

    fn special(&self, dir: &Path, what: &str, key: &str) -> Result<&Package> {
        let key_dir = normalize_rel(dir);
        self.at_dir(&key_dir).with_context(|| {
            format!(
                "the {what} package `{key_dir}` has no pyproject.toml under {}; set `{key}` in {} to its directory",
                self.root.display(),
                crate::config::CONFIG_FILE
            )
        })
    }

    pub fn umbrella(&self) -> Result<&Package> {
        self.special(&self.config.umbrella.clone(), "umbrella", "packages.umbrella")
    }

    pub fn core(&self) -> Result<&Package> {
        self.special(&self.config.core.clone(), "core", "packages.core")
    }

    /// The package that contains `path` (`/`-separated, relative to the root): the deepest
    /// package directory above it. The umbrella at the root owns only its configured paths.
    pub fn owner_of(&self, path: &str) -> Owner {
        let mut dir = path;
        while let Some(slash) = dir.rfind('/') {
            dir = &dir[..slash];
            if let Some(&i) = self.by_dir.get(dir) {
                return Owner::Package(i);
            }
        }
        let umbrella = normalize_rel(&self.config.umbrella);
        if let Some(&i) = self.by_dir.get(&umbrella) {
            let inner = if umbrella == "." { Some(path) } else { path.strip_prefix(&format!("{umbrella}/")) };
            if let Some(inner) = inner {
                let owned = self
                    .config
                    .umbrella_paths
                    .iter()
                    .any(|p| inner == p || inner.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('/')));
                if owned {
                    return Owner::Package(i);
                }
            }
        }
        Owner::Nobody
    }
}

/// `a/./b/` → `a/b`; empty → `.`.
pub fn normalize_rel(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// A configured package location: the umbrella's, core's, or a pattern of `packages`.
struct Location {
    pattern: String,
    /// Warned of already (it does not exist), or the umbrella's or core's, which have errors of
    /// their own when missing: no "matched no directory" warning.
    quiet: bool,
}

/// A directory that the configured locations name, before anyone looked inside it.
struct Candidate {
    dir: String,
    /// Which of the locations (umbrella, core, then `packages`) named it first.
    location: usize,
    /// Matched by `exclude`: not a package, though it counts as found for its location's
    /// warning; its pyproject.toml is not read.
    excluded: bool,
}

/// The directories the locations name, relative and sorted; and the
/// locations, for the warnings of those that found nothing. Nothing is opened here but the
/// directories the glob patterns walk through: whether a directory holds a pyproject.toml is
/// learnt by reading it, once (`read_all`).
fn candidates(root: &Path, config: &Config) -> Result<(Vec<Candidate>, Vec<Location>, Vec<String>)> {
    if !root.is_dir() {
        bail!("the root `{}` is not a directory; pass --root with the monorepo's path", root.display());
    }
    let compile = |p: &str| glob::Pattern::new(p).map_err(|e| anyhow::anyhow!("`{p}` is not a glob pattern: {e}"));
    let excludes = config.exclude.iter().map(|p| compile(p)).collect::<Result<Vec<_>>>()?;
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    let mut warnings = Vec::new();
    let specials = [normalize_rel(&config.umbrella), normalize_rel(&config.core)];
    let mut locations: Vec<Location> = specials
        .iter()
        .chain(&config.packages)
        .map(|pattern| Location { pattern: pattern.clone(), quiet: specials.contains(pattern) })
        .collect();
    for (location, Location { pattern, quiet }) in locations.iter_mut().enumerate() {
        let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
        let literal = parts.iter().take_while(|p| !has_glob(p)).count();
        let base = root.join(parts[..literal].join("/"));
        if !base.is_dir() {
            warnings.push(format!(
                "package location `{pattern}`: `{}` does not exist",
                base.strip_prefix(root).unwrap_or(&base).display()
            ));
            *quiet = true;
            continue;
        }
        let mut add = |rel: String| {
            found.entry(rel).or_insert(location);
        };
        if literal == parts.len() {
            add(normalize_rel(Path::new(&parts.join("/"))));
            continue;
        }
        let mut dirs = Vec::new();
        dirs_at_depth(root, &base, parts.len() - literal, &mut dirs)?;
        // The walk returns exactly the directories at the pattern's depth, hidden ones left
        // out: when every part after the literal ones is `*`, that is what the pattern matches.
        let matcher = if parts[literal..].iter().all(|p| *p == "*") { None } else { Some(compile(&parts.join("/"))?) };
        for dir in dirs {
            let rel = normalize_rel(dir.strip_prefix(root).unwrap_or(&dir));
            if matcher.as_ref().is_none_or(|m| m.matches_with(&rel, GLOB_OPTIONS)) {
                add(rel);
            }
        }
    }
    let candidates = found
        .into_iter()
        .map(|(dir, location)| {
            let excluded = excludes.iter().any(|x| x.matches_with(&dir, GLOB_OPTIONS));
            Candidate { dir, location, excluded }
        })
        .collect();
    Ok((candidates, locations, warnings))
}

const GLOB_OPTIONS: glob::MatchOptions =
    glob::MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };

/// The directories exactly `depth` levels below `dir`, skipping hidden and build directories.
/// A hand-rolled walk: it never opens the directories it returns, which halves the system calls
/// of discovering 2,000 packages compared with a general-purpose walker. A directory that cannot
/// be listed is an error: skipping it would make its packages silently disappear.
fn dirs_at_depth(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    let shown = || dir.strip_prefix(root).map_or(dir.display().to_string(), |d| d.display().to_string());
    let cannot = |e: std::io::Error| {
        anyhow::anyhow!("cannot list `{}` while looking for packages: {e}; fix its permissions or remove it", shown())
    };
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let name = entry.file_name();
        if is_skipped(&name.to_string_lossy()) || !entry.file_type().map_err(cannot)?.is_dir() {
            continue;
        }
        if depth == 1 {
            out.push(entry.path());
        } else {
            dirs_at_depth(root, &entry.path(), depth - 1, out)?;
        }
    }
    Ok(())
}

/// Reads every candidate's pyproject.toml, on all cores: this is most of `pkg info --all`'s
/// time. `None` where there is none; opening it is how we learn that (one system call, not a
/// stat and then an open).
fn read_all(root: &Path, candidates: &[Candidate]) -> Vec<Option<Found>> {
    // One buffer for a batch of files: a fresh one per file was a tenth of the time, in the
    // allocator and in page faults.
    let read_batch = |batch: &[Candidate]| -> Vec<Option<Found>> {
        let mut text = String::with_capacity(16 * 1024);
        batch.iter().map(|c| read(root, c, &mut text)).collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if candidates.len() < 64 || threads == 1 {
        return read_batch(candidates);
    }
    // Small batches taken in turn, so that no thread idles while another has a long queue.
    let batches: Vec<&[Candidate]> = candidates.chunks(32).collect();
    crate::parallel::map(&batches, threads, |batch| read_batch(batch)).into_iter().flatten().collect()
}

/// One candidate's package, read through `text`, the batch's buffer.
fn read(root: &Path, c: &Candidate, text: &mut String) -> Option<Found> {
    let path = root.join(&c.dir).join("pyproject.toml");
    if c.excluded {
        return path.is_file().then_some(Found::Excluded);
    }
    match read_text(&path, text) {
        Ok(()) => Some(Found::Read(parse_package(&c.dir, text))),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory) => None,
        Err(e) => Some(Found::Read(Err(anyhow::anyhow!("cannot read {}: {e}", path.display())))),
    }
}

/// A candidate with a pyproject.toml. One per candidate, moved once into the package list: a
/// box for the large variant would be an allocation per package for nothing.
#[allow(clippy::large_enum_variant)]
enum Found {
    Read(Result<Package>),
    /// Matched by `exclude`, and not read.
    Excluded,
}

/// The file's text into `text`, in one open and two reads. Not `fs::read_to_string`, whose size
/// hint costs one more system call per file (2,000 of them per load).
fn read_text(path: &Path, text: &mut String) -> std::io::Result<()> {
    use std::io::Read;
    text.clear();
    let file = std::fs::File::open(path)?;
    // `take` hides the file from std's size-hint specialisation; it reads to the end.
    file.take(u64::MAX).read_to_string(text)?;
    Ok(())
}

fn parse_package(dir: &str, text: &str) -> Result<Package> {
    let display = if dir == "." { "pyproject.toml".to_string() } else { format!("{dir}/pyproject.toml") };
    let p = Pyproject::parse(Path::new(&display), text)?;
    Ok(Package {
        dir: dir.to_string(),
        name: PackageName::new(&p.name),
        display_name: p.name,
        version: p.version,
        dependencies: p.dependencies,
        requires_python: p.requires_python,
        table: p.table,
    })
}

/// The packages among what was read, and the warnings of locations that found none. A
/// pyproject.toml inside another package's tree (a stray or a test fixture) is not a package,
/// and its errors are not the monorepo's.
fn packages(
    candidates: &[Candidate],
    read: Vec<Option<Found>>,
    locations: &[Location],
) -> (Vec<Result<Package>>, Vec<String>) {
    let found: Vec<&str> =
        candidates.iter().zip(&read).filter(|(_, r)| r.is_some()).map(|(c, _)| c.dir.as_str()).collect();
    let nested = |dir: &str| {
        let mut dir = dir;
        while let Some(slash) = dir.rfind('/') {
            dir = &dir[..slash];
            if found.binary_search(&dir).is_ok() {
                return true;
            }
        }
        false
    };
    let mut located = vec![false; locations.len()];
    let mut packages = Vec::with_capacity(found.len());
    for (c, r) in candidates.iter().zip(read) {
        let Some(found) = r else { continue };
        located[c.location] = true;
        if let Found::Read(r) = found {
            if !nested(&c.dir) {
                packages.push(r);
            }
        }
    }
    let warnings = locations
        .iter()
        .zip(located)
        .filter(|(l, located)| !located && !l.quiet)
        .map(|(Location { pattern, .. }, _)| {
            format!("package location `{pattern}` matched no directory with a pyproject.toml")
        })
        .collect();
    (packages, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn pyproject(name: &str, deps: &[&str]) -> String {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        format!("[project]\nname = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [{}]\n", deps.join(", "))
    }

    fn temp(name: &str) -> PathBuf {
        crate::scratch::Scratch::new(&format!("monorepo-{name}")).unwrap().keep()
    }

    #[test]
    fn discovers_the_llama_index_layout() {
        let root = temp("layout");
        write(&root, "pyproject.toml", &pyproject("llama-index", &["llama-index-core>=0.1"]));
        write(&root, "llama-index-core/pyproject.toml", &pyproject("llama-index-core", &[]));
        write(
            &root,
            "llama-index-integrations/llms/llama-index-llms-a/pyproject.toml",
            &pyproject("llama-index-llms-a", &[]),
        );
        write(
            &root,
            "llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql/pyproject.toml",
            &pyproject("llama-index-vector-stores-volcengine-mysql", &[]),
        );
        write(
            &root,
            "llama-index-integrations/storage/docstore/llama-index-storage-docstore-x/pyproject.toml",
            &pyproject("llama-index-docstore-x", &[]),
        );
        // A stray nested pyproject, a hidden dir, a virtualenv, and a file where a category would be.
        write(
            &root,
            "llama-index-integrations/llms/llama-index-llms-a/llama_index/llms/a/pyproject.toml",
            &pyproject("stray", &[]),
        );
        write(&root, "llama-index-integrations/.cache/x/pyproject.toml", &pyproject("hidden", &[]));
        write(&root, "llama-index-packs/.venv/pyproject.toml", &pyproject("venv", &[]));
        write(&root, "llama-index-integrations/README.md", "not a category");
        write(&root, "llama-index-packs/pack1/pyproject.toml", &pyproject("llama-index-packs-one", &[]));
        write(&root, "llama-index-packs/not_a_pack/README.md", "");
        // A broken fixture inside a package is not the monorepo's error; a directory named
        // pyproject.toml is no package.
        write(&root, "llama-index-packs/pack1/tests/data/pyproject.toml", "[project\nname = ");
        write(&root, "llama-index-packs/odd/pyproject.toml/README.md", "");

        let repo = Monorepo::load(&root).unwrap();
        let dirs: Vec<_> = repo.packages.iter().map(|p| p.dir.as_str()).collect();
        assert_eq!(
            dirs,
            [
                ".",
                "llama-index-core",
                "llama-index-integrations/llms/llama-index-llms-a",
                "llama-index-integrations/storage/docstore/llama-index-storage-docstore-x",
                "llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql",
                "llama-index-packs/pack1",
            ]
        );
        expect_test::expect![[r#"
            package location `llama-index-instrumentation`: `llama-index-instrumentation` does not exist
            package location `llama-index-cli`: `llama-index-cli` does not exist
            package location `llama-index-experimental`: `llama-index-experimental` does not exist
            package location `llama-index-finetuning`: `llama-index-finetuning` does not exist
            package location `llama-index-utils/*`: `llama-index-utils` does not exist"#]]
        .assert_eq(&repo.warnings.join("\n"));

        let owner = |path: &str| match repo.owner_of(path) {
            Owner::Package(i) => repo.packages[i].display_name.clone(),
            Owner::Nobody => "-".to_string(),
        };
        assert_eq!(owner("llama-index-core/llama_index/core/x.py"), "llama-index-core");
        assert_eq!(
            owner("llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql/README.md"),
            "llama-index-vector-stores-volcengine-mysql"
        );
        assert_eq!(owner("pyproject.toml"), "llama-index");
        assert_eq!(owner("_llama-index/llama_index/__init__.py"), "llama-index");
        assert_eq!(owner("docs/index.md"), "-");
        assert_eq!(owner(".github/workflows/x.yml"), "-");
        assert_eq!(owner("llama-index-integrations/README.md"), "-");

        assert_eq!(repo.resolve("llama-index-packs/pack1/").unwrap().display_name, "llama-index-packs-one");
        assert_eq!(repo.resolve(".").unwrap().display_name, "llama-index");
        let err = repo.resolve("llama-index-packs/not_a_pack").unwrap_err().to_string();
        assert!(err.starts_with("`llama-index-packs/not_a_pack` is not a package of this monorepo"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_extra_that_installs_a_dependant_is_no_cycle() {
        let root = temp("extra");
        write(&root, "pyproject.toml", &pyproject("llama-index", &["llama-index-core>=0.1"]));
        let core = pyproject("llama-index-core", &[])
            + "[project.optional-dependencies]\nllms = [\"llama-index-llms-a>=0.1\"]\n";
        write(&root, "llama-index-core/pyproject.toml", &core);
        let llm = pyproject("llama-index-llms-a", &["llama-index-core>=0.1"]);
        write(&root, "llama-index-integrations/llms/llama-index-llms-a/pyproject.toml", &llm);
        let repo = Monorepo::load(&root).unwrap();
        let graph = crate::graph::Graph::new(&repo.packages);
        let all: std::collections::BTreeSet<usize> = (0..repo.packages.len()).collect();
        let waves = graph.waves(&all, &repo.packages).unwrap();
        let names: Vec<Vec<&str>> =
            waves.iter().map(|w| w.iter().map(|&i| repo.packages[i].display_name.as_str()).collect()).collect();
        assert_eq!(names, [vec!["llama-index-core"], vec!["llama-index", "llama-index-llms-a"]]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn reports_every_bad_package_and_name_clashes() {
        let root = temp("bad");
        write(&root, "pyproject.toml", &pyproject("llama-index", &[]));
        write(&root, "llama-index-core/pyproject.toml", "[project]\nname = \"llama-index-core\"\n");
        write(&root, "llama-index-packs/a/pyproject.toml", "[project\n");
        let err = format!("{:#}", Monorepo::load(&root).unwrap_err());
        expect_test::expect![[r#"
            2 packages cannot be read:
              llama-index-core/pyproject.toml: `[project]` has no `version`; add `version = "0.1.0"`
              llama-index-packs/a/pyproject.toml:1:9: invalid TOML: unclosed table, expected `]`; fix the file and rerun"#]]
        .assert_eq(&err);

        write(&root, "llama-index-core/pyproject.toml", &pyproject("llama-index-core", &[]));
        write(&root, "llama-index-packs/a/pyproject.toml", &pyproject("Llama_Index.Core", &[]));
        let err = format!("{:#}", Monorepo::load(&root).unwrap_err());
        expect_test::expect![[r#"
            two packages share a name (compared in PEP 503 normal form):
              `llama-index-core` is the name of both `llama-index-core` and `llama-index-packs/a`
            rename one of them"#]]
        .assert_eq(&err);
        std::fs::remove_dir_all(root).unwrap();
    }
}
