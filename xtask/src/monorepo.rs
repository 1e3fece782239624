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
    pyproject::{source::VersionFile, Pyproject, Table, VersionSource},
    requirement::{PackageName, Requirement},
    usage::usage,
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
    /// Where the version is written (`project.version`, a file, or the package's tags).
    pub source: VersionSource,
    /// Packages used only to develop and test this one: edges for test selection only.
    pub dev_dependencies: Vec<PackageName>,
    /// Why `version` could not be read (it is then `0`): a command that acts on this package
    /// fails with it, the others warn.
    pub version_error: Option<String>,
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
            source: VersionSource::Static,
            dev_dependencies: Vec::new(),
            version_error: None,
        }
    }

    /// The file that holds the version, relative to the root: pyproject.toml, or the dynamic
    /// version's file; `None` for a version from tags.
    pub fn version_file(&self, root: &Path) -> Option<String> {
        match &self.source {
            VersionSource::Static => Some(self.pyproject_display()),
            VersionSource::File(f) => Some(self.join(existing(root, &self.dir, f)?)),
            VersionSource::Vcs { .. } => None,
        }
    }

    /// `dir/rel`, or `rel` for the root package.
    pub fn join(&self, rel: &str) -> String {
        if self.dir == "." {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.dir)
        }
    }

    pub fn pyproject_path(&self, root: &Path) -> PathBuf {
        root.join(&self.dir).join("pyproject.toml")
    }

    /// `dir/pyproject.toml`, relative to the root, for messages.
    pub fn pyproject_display(&self) -> String {
        self.join("pyproject.toml")
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
    /// The umbrella's and core's positions, where they are packages of this monorepo.
    umbrella: Option<usize>,
    core: Option<usize>,
    /// [`Monorepo::merged_tags`], once read.
    merged_tags: std::sync::OnceLock<Vec<String>>,
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
        let mut config = Config::load(root)?;
        if !config.include_set {
            crate::workspace::apply(root, &mut config)?;
        }
        // Without the umbrella, this is not the monorepo's root: say so, rather than list nothing.
        let umbrella = root.join(&config.umbrella).join("pyproject.toml");
        if root.is_dir() && config.umbrella_required && !umbrella.is_file() {
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
        let mut repo = Monorepo::new(root.to_path_buf(), config, packages, warnings)?;
        repo.read_tag_versions();
        for p in &repo.packages {
            if p.version_error.is_some() {
                repo.warnings.push(format!(
                    "{}: its version cannot be read, so the commands that act on `{}` fail; `cargo xtask pkg version {}` says why",
                    p.pyproject_display(),
                    p.display_name,
                    p.dir
                ));
            }
        }
        Ok(repo)
    }

    /// The versions that come from tags (hatch-vcs, setuptools-scm, pdm's `scm`): each one's
    /// last release under its own pattern, from one `git tag --merged HEAD`.
    fn read_tag_versions(&mut self) {
        if !self.packages.iter().any(|p| matches!(p.source, VersionSource::Vcs { .. })) {
            return;
        }
        let tags = self.merged_tags().map(<[String]>::to_vec);
        for i in 0..self.packages.len() {
            let VersionSource::Vcs { via } = self.packages[i].source else { continue };
            let (pattern, name) = self.tag_pattern(i);
            let p = &mut self.packages[i];
            match &tags {
                Ok(tags) => match crate::tags::last_release(&pattern, &name, tags) {
                    Some((_, v)) => p.version = v,
                    None => {
                        p.version_error = Some(format!(
                            "{}: the version comes from git tags ({via}) and no tag among HEAD's ancestors matches `{pattern}`; \
                             tag its last release, or set its pattern in `[release.tags]` of {}",
                            p.pyproject_display(),
                            crate::config::CONFIG_FILE
                        ))
                    }
                },
                Err(e) => p.version_error = Some(format!("{}: the version comes from git tags ({via}): {e:#}", p.pyproject_display())),
            }
        }
    }

    /// The tags HEAD descends from (`git tag --merged HEAD`), read once per load: each read walks
    /// the whole history (a second on 20,000 commits without git's commit-graph), and looking
    /// at a release asks for them several times. A command that creates tags or moves HEAD to a
    /// commit that is not a descendant reads `git::merged_tags` again instead.
    pub fn merged_tags(&self) -> Result<&[String]> {
        if let Some(tags) = self.merged_tags.get() {
            return Ok(tags);
        }
        let sh = xshell::Shell::new()?;
        sh.change_dir(&self.root);
        let tags = crate::git::merged_tags(&sh)?;
        Ok(self.merged_tags.get_or_init(|| tags))
    }

    /// Fails naming every package of `selected` whose version could not be read.
    pub fn require_versions(&self, selected: &[&Package]) -> Result<()> {
        let errors: Vec<&str> = selected.iter().filter_map(|p| p.version_error.as_deref()).collect();
        if !errors.is_empty() {
            bail!("{}", errors.join("\n"));
        }
        Ok(())
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
        let by_dir: HashMap<String, usize> = packages.iter().enumerate().map(|(i, p)| (p.dir.clone(), i)).collect();
        let core = by_dir.get(&normalize_rel(&config.core)).copied();
        // The umbrella and core are a group when core is there (or the umbrella is asked for):
        // a root package of a monorepo of independent packages is one of them.
        let umbrella = by_dir
            .get(&normalize_rel(&config.umbrella))
            .copied()
            .filter(|_| core.is_some() || config.umbrella_required || config.core_required);
        Ok(Monorepo { root, config, packages, warnings, by_dir, umbrella, core, merged_tags: Default::default() })
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
                    misuse |= e.downcast_ref::<crate::usage::UsageError>().is_some();
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

    fn special(&self, found: Option<usize>, dir: &Path, what: &str, key: &str, required: bool) -> Result<&Package> {
        let key_dir = normalize_rel(dir);
        if let Some(i) = found {
            return Ok(&self.packages[i]);
        }
        if !required {
            bail!(
                "this monorepo has no {what} package (`{key}` is not set in {}, and `{key_dir}` is not one of its packages); \
                 name the packages to act on, for example `cargo xtask release prepare PATH --bump patch`",
                crate::config::CONFIG_FILE
            );
        }
        bail!(
            "the {what} package `{key_dir}` has no pyproject.toml under {}; set `{key}` in {} to its directory",
            self.root.display(),
            crate::config::CONFIG_FILE
        )
    }

    pub fn umbrella(&self) -> Result<&Package> {
        self.special(
            self.umbrella,
            &self.config.umbrella,
            "umbrella",
            "packages.umbrella",
            self.config.umbrella_required,
        )
    }

    pub fn core(&self) -> Result<&Package> {
        self.special(self.core, &self.config.core, "core", "packages.core", self.config.core_required)
    }

    /// The umbrella and core, where they are this monorepo's: the one group released together
    /// under `release.tag`. Empty in a monorepo of independent packages.
    pub fn lockstep(&self) -> Vec<usize> {
        let mut group: Vec<usize> = self.umbrella.into_iter().chain(self.core).collect();
        group.sort_unstable();
        group.dedup();
        group
    }

    /// The last release of package `i`'s group among `tags` (HEAD's ancestors): the tag with
    /// the highest version under its pattern.
    pub fn last_release(&self, i: usize, tags: &[String]) -> Option<(String, Version)> {
        let (pattern, name) = self.tag_pattern(i);
        crate::tags::last_release(&pattern, &name, tags)
    }

    /// The tag of `version` for package `i`'s group.
    pub fn tag_for(&self, i: usize, version: &Version) -> String {
        let (pattern, name) = self.tag_pattern(i);
        crate::tags::render(&pattern, &name, version)
    }

    /// The tag pattern of package `i`'s group, and the name its `{name}` stands for.
    pub fn tag_pattern(&self, i: usize) -> (String, String) {
        if self.lockstep().contains(&i) {
            let name = self.umbrella.map_or(i, |u| u);
            return (self.config.tag.clone(), self.packages[name].display_name.clone());
        }
        let p = &self.packages[i];
        (self.config.package_tag(&p.dir).to_string(), p.display_name.clone())
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
    /// The umbrella's or core's directory where nothing requires them: a pyproject.toml there
    /// without package metadata (a workspace's root) is not a package.
    optional: bool,
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
    // The umbrella and core are looked for where the configuration requires them, or where
    // their directories exist (a monorepo of independent packages has neither).
    let special = |dir: &Path, required: bool| (required || root.join(dir).is_dir()).then(|| normalize_rel(dir));
    let specials: Vec<String> =
        [special(&config.umbrella, config.umbrella_required), special(&config.core, config.core_required)]
            .into_iter()
            .flatten()
            .collect();
    // When neither is required, both are optional, and they come first among the locations.
    let optional_specials = if config.umbrella_required || config.core_required { 0 } else { specials.len() };
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
            let optional = location < optional_specials;
            Candidate { dir, location, excluded, optional }
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
        // A root that is only a workspace (no `[project]`) is no package, when nothing requires one.
        Ok(()) if c.optional && !has_metadata(text) => None,
        Ok(()) => Some(Found::Read(parse_package(&c.dir, text).map(|p| with_file_version(root, p, text)))),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory) => None,
        Err(e) => Some(Found::Read(Err(anyhow::anyhow!("cannot read {}: {e}", path.display())))),
    }
}

/// Whether a pyproject.toml names a package (`[project]` or `[tool.poetry]` with a `name`).
fn has_metadata(text: &str) -> bool {
    let metadata = |root: &toml_edit::Item, path: &[&str]| {
        path.iter().try_fold(root, |item, key| item.get(key)).and_then(|t| t.get("name")).is_some()
    };
    match text.parse::<toml_edit::DocumentMut>() {
        Ok(doc) => metadata(doc.as_item(), &["project"]) || metadata(doc.as_item(), &["tool", "poetry"]),
        // A broken file is the package's error to report.
        Err(_) => true,
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
        source: p.source,
        dev_dependencies: p.dev_dependencies,
        version_error: p.version_error,
    })
}

/// The first of a version file's candidates that exists, relative to the package.
fn existing<'f>(root: &Path, dir: &str, file: &'f VersionFile) -> Option<&'f str> {
    file.candidates.iter().map(String::as_str).find(|c| root.join(dir).join(c).is_file())
}

/// `package` with its version read from the file its backend names (through `text`, the batch's
/// buffer), or with `version_error` saying which file and what was looked for.
fn with_file_version(root: &Path, mut package: Package, text: &mut String) -> Package {
    let VersionSource::File(file) = &package.source else { return package };
    match read_file_version(root, &package, file, text) {
        Ok(v) => package.version = v,
        Err(e) => package.version_error = Some(e),
    }
    package
}

fn read_file_version(root: &Path, package: &Package, file: &VersionFile, text: &mut String) -> Result<Version, String> {
    let shown = package.pyproject_display();
    let Some(rel) = existing(root, &package.dir, file) else {
        return Err(format!(
            "{shown}: the version is dynamic and {} names `{}`, which does not exist; create it with the version, or fix the setting",
            file.via,
            file.candidates.join("` or `")
        ));
    };
    let at = package.join(rel);
    if let crate::pyproject::source::Written::Refused(why) = &file.how {
        return Err(format!("{shown}: {why}"));
    }
    read_text(&root.join(&at), text).map_err(|e| format!("{shown}: cannot read `{at}` ({}): {e}", file.via))?;
    let range = crate::pyproject::source::locate(text, &file.how).ok_or_else(|| {
        format!("{shown}: `{at}` ({}) has no version literal such as `__version__ = \"1.0.0\"`; write one", file.via)
    })?;
    text[range].parse().map_err(|e| format!("{shown}: `{at}` ({}): {e}", file.via))
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
mod tests;
