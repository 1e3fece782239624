//! The monorepo's release settings: the LlamaIndex layout by default, overridden key by key
//! from `release.toml` at the root of the monorepo.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use toml_edit::Document;

pub const CONFIG_FILE: &str = "release.toml";

/// The public Python package index: its JSON API base and its upload endpoint.
/// The only place in the code that names a registry host.
pub const PUBLIC_INDEX_URL: &str = "https://pypi.org/pypi";
pub const PUBLIC_UPLOAD_URL: &str = "https://upload.pypi.org/legacy/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Directory of the umbrella package, relative to the root.
    pub umbrella: PathBuf,
    /// Paths below the umbrella's directory that belong to it (the rest belongs to no package).
    pub umbrella_paths: Vec<String>,
    /// Directory of the core package, relative to the root.
    pub core: PathBuf,
    /// Glob patterns of package directories, relative to the root.
    pub packages: Vec<String>,
    /// Glob patterns of directories never taken as packages.
    pub exclude: Vec<String>,
    /// `owner/name` of the GitHub repository, for pull request links and releases.
    pub repository: String,
    /// The release branch that `check` and `release` require.
    pub branch: String,
    /// Tag names of releases; `{version}` is replaced by the umbrella's version.
    pub tag: String,
    /// Whether the umbrella and core must exist: the LlamaIndex default, or set in `release.toml`.
    /// A `release.toml` that lists `packages.include` without naming them, or a uv workspace,
    /// describes independent packages: the pair is a group only where it exists.
    pub umbrella_required: bool,
    pub core_required: bool,
    /// `packages.include` was set in `release.toml` (else a uv workspace's members may be the packages).
    pub include_set: bool,
    /// `release.package-tag`: the tag pattern of a package released on its own.
    pub package_tag: String,
    /// `[release.tags]`: a package's own tag pattern, by package directory.
    pub tags: BTreeMap<String, String>,
    pub changelog: PathBuf,
    /// `changelog.package-file`: a package's own changelog (`{path}`, `{name}`), written by
    /// `changelog --package` only when it exists.
    pub package_changelog: String,
    pub placeholder: String,
    /// Prepended to a release's section to make the GitHub release notes.
    pub notes_header: String,
    /// Whether pull requests touching no package get a section of their own in the changelog
    /// (they are always listed in the audit on stderr).
    pub other_section: bool,
    /// Base of the index's JSON API: a project's JSON is at `{index_url}/{name}/json`.
    pub index_url: String,
    /// Where distributions are uploaded.
    pub publish_url: String,
    /// `index.new-projects-per-day`; `None`: the default of the index (see [`Destination`]).
    pub new_projects_per_day: Option<u32>,
    /// `index.closed-after`; `None`: the default of the index (see [`Destination`]).
    pub closed_after: Option<Duration>,
    /// `[index.NAME]`: other indexes, chosen with `publish --index NAME`.
    pub indexes: BTreeMap<String, NamedIndex>,
    /// `[index]` sets one of `url` and `publish-url` without the other: no default destination.
    pub half_index: bool,
    pub backend: Backend,
    /// `[build.hooks]`: commands (argv) run in a package's directory before it is built, by
    /// package directory relative to the root, in order.
    pub hooks: BTreeMap<String, Vec<BuildHook>>,
    /// `publish.accept-changes`: package names whose artifact check may not stop them.
    pub accept_changes: Vec<String>,
    /// Commands the release runs at its named points (`[release]` in release.toml).
    pub release_hooks: Hooks,
    /// The compatibility wave of `prepare`: whether requirements that exclude a version this
    /// release makes are widened to admit its series, and how each rewritten package is bumped
    /// (`None`: not at all).
    pub wave_widen: bool,
    pub wave_bump: Option<crate::version::Bump>,
    /// `check --bumps`: glob patterns (relative to a package's directory) of files a change to
    /// which needs no new version (and credits no package in the changelog: `shipped.rs`), and how a version that went down or skipped a release counts.
    pub bumps_unshipped: Vec<String>,
    pub bumps_down: Severity,
    pub bumps_jump: Severity,
    /// `[secrets] extra`: more credential variables, kept from every child like the built-in
    /// list of `exec/secrets.rs` (read at start-up by [`secret_names`]).
    pub secrets_extra: Vec<String>,
}

/// An index of `[index.NAME]`: where to read and where to upload are one choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedIndex {
    pub url: String,
    pub publish_url: String,
    pub new_projects_per_day: Option<u32>,
    pub closed_after: Option<Duration>,
}

/// The index a publish reads and uploads to, as chosen: by name, by URLs, or the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `default` for `[index]`, the table's name, or `--index-url` when given on the command line.
    pub name: String,
    pub url: String,
    pub publish_url: String,
    /// New projects allowed per 24 hours; `None`: no limit.
    pub new_projects_per_day: Option<u32>,
    /// How long after its first file the index still accepts files for a version; `None`: for
    /// ever.
    pub closed_after: Option<Duration>,
}

/// The public index allows 4 new projects per 24 hours, per user and per IP; other indexes
/// are not limited unless the configuration says so.
pub const PUBLIC_NEW_PROJECTS_PER_DAY: u32 = 4;

fn default_quota(url: &str, set: Option<u32>) -> Option<u32> {
    set.or(is_public(url).then_some(PUBLIC_NEW_PROJECTS_PER_DAY))
}

/// The public index closes a version to new files 14 days after its first file (warehouse
/// issue 19727): a missing sdist can never be added after that. Other indexes never close one
/// unless the configuration says so.
pub const PUBLIC_CLOSED_AFTER: Duration = Duration::from_secs(14 * 86_400);

fn default_closed_after(url: &str, set: Option<Duration>) -> Option<Duration> {
    set.or(is_public(url).then_some(PUBLIC_CLOSED_AFTER))
}

fn is_public(url: &str) -> bool {
    url.trim_end_matches('/') == PUBLIC_INDEX_URL
}

/// One command of a release hook: argv only, no shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The argv; `{files}` stands for the files the release changed so far, one argument each.
    pub run: Vec<String>,
    /// Where it runs, relative to the root; `{core}` and `{umbrella}` name those packages' directories.
    pub dir: String,
    /// Run only when this path (relative to the root) exists.
    pub if_exists: Option<String>,
    /// When it fails having changed files (as formatters do), run it once more; that run decides.
    pub rerun_on_change: bool,
    /// How long it may run before its process group is killed and it fails (`timeout`).
    pub timeout: Duration,
}

/// A hook's time limit unless it says otherwise: a hung tool must not hold the release (and
/// its credentials) for CI's six hours. The gate runs core's whole test suite: longer.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(10 * 60);
pub const GATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// One command of `[build.hooks]`: argv only, and its time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildHook {
    pub run: Vec<String>,
    pub timeout: Duration,
}

/// The release's hooks, the LlamaIndex workflows' steps by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hooks {
    /// After the bump and the changelog, before the release commit; what they change joins it.
    pub prepare: Vec<Hook>,
    /// Before core is published; a failure publishes nothing.
    pub gate: Vec<Hook>,
    /// Package directories whose sdist (from the publish manifest) is attached to the GitHub release.
    pub assets: Vec<String>,
}

impl Default for Hooks {
    fn default() -> Hooks {
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let hook = |run: &[&str], dir: &str, if_exists: Option<&str>, rerun_on_change: bool| Hook {
            run: argv(run),
            dir: dir.to_string(),
            if_exists: if_exists.map(str::to_string),
            rerun_on_change,
            timeout: HOOK_TIMEOUT,
        };
        let gate = |run: &[&str]| Hook { timeout: GATE_TIMEOUT, ..hook(run, "{core}", None, false) };
        Hooks {
            prepare: vec![
                // pre_release.yml: the API reference pages and the docs navigation.
                hook(
                    &["uv", "run", "--with", "toml", "--with", "pyaml", "scripts/prepare_for_build.py"],
                    "docs",
                    Some("docs/scripts/prepare_for_build.py"),
                    false,
                ),
                // pre_release.yml: formatting of what the release changed.
                hook(
                    &["uv", "tool", "run", "pre-commit", "run", "--files", "{files}"],
                    ".",
                    Some(".pre-commit-config.yaml"),
                    true,
                ),
            ],
            // release.yml: core's tests gate its publication.
            gate: vec![gate(&["uv", "sync"]), gate(&["uv", "run", "pytest", "tests"])],
            // release.yml: `gh release create … dist/*.tar.gz` attaches the umbrella's sdist.
            assets: vec![".".to_string()],
        }
    }
}

/// Whether a finding fails a check or only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fail,
    Warn,
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        match s {
            "fail" => Ok(Severity::Fail),
            "warn" => Ok(Severity::Warn),
            _ => Err(format!("`{s}` is neither `fail` nor `warn`")),
        }
    }
}

impl Hook {
    /// `dir` with `{core}` and `{umbrella}` replaced.
    pub fn dir_in(&self, core: &str, umbrella: &str) -> String {
        self.dir.replace("{core}", core).replace("{umbrella}", umbrella)
    }

    /// The argv with `{files}` expanded.
    pub fn argv(&self, files: &[String]) -> Vec<String> {
        self.run.iter().flat_map(|a| if a == "{files}" { files.to_vec() } else { vec![a.clone()] }).collect()
    }

    /// How the plan shows it.
    pub fn display(&self, core: &str, umbrella: &str) -> String {
        let dir = self.dir_in(core, umbrella);
        let at = if dir == "." { String::new() } else { format!(" in `{dir}`") };
        format!("`{}`{at}", self.run.join(" "))
    }
}

fn parse_hooks(p: &str, name: &str, value: &toml_edit::Item, timeout: Duration) -> Result<Vec<Hook>> {
    let bad = || {
        format!("{p}: `{name}` must be an array of tables like `{{ run = [\"uv\", \"sync\"], dir = \"llama-index-core\" }}`")
    };
    let tables: Vec<&dyn toml_edit::TableLike> = if let Some(a) = value.as_array_of_tables() {
        a.iter().map(|t| t as &dyn toml_edit::TableLike).collect()
    } else {
        let array = value.as_array().with_context(bad)?;
        array
            .iter()
            .map(|v| v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike).with_context(bad))
            .collect::<Result<_>>()?
    };
    let mut hooks = Vec::new();
    for t in tables {
        let mut hook = Hook { run: Vec::new(), dir: ".".into(), if_exists: None, rerun_on_change: false, timeout };
        for (key, v) in t.iter() {
            match key {
                "run" => {
                    hook.run = v
                        .as_array()
                        .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
                        .with_context(|| format!("{p}: `{name}.run` must be an array of strings (argv, no shell)"))?
                }
                "dir" => hook.dir = v.as_str().with_context(|| format!("{p}: `{name}.dir` must be a string"))?.into(),
                "if-exists" => {
                    hook.if_exists =
                        Some(v.as_str().with_context(|| format!("{p}: `{name}.if-exists` must be a string"))?.into())
                }
                "rerun-on-change" => {
                    hook.rerun_on_change =
                        v.as_bool().with_context(|| format!("{p}: `{name}.rerun-on-change` must be true or false"))?
                }
                "timeout" => hook.timeout = hook_timeout(p, name, v)?,
                _ => bail!(
                    "{p}: unknown setting `{name}.{key}`; a hook has `run`, `dir`, `if-exists`, `rerun-on-change` and `timeout`"
                ),
            }
        }
        if hook.run.is_empty() {
            bail!("{p}: a hook of `{name}` has no `run`; give its argv, e.g. `run = [\"uv\", \"sync\"]`");
        }
        hooks.push(hook);
    }
    Ok(hooks)
}

/// A hook's `timeout`: a duration such as `90s`, `10m` or `1h30m`, more than zero.
fn hook_timeout(p: &str, name: &str, v: &toml_edit::Item) -> Result<Duration> {
    let text = v.as_str().with_context(|| format!("{p}: `{name}.timeout` must be a string such as \"10m\""))?;
    match crate::time::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => bail!("{p}: `{name}.timeout` is `{text}`; give a time longer than zero, such as \"10m\""),
        Err(e) => bail!("{p}: `{name}.timeout`: {e}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Uv,
    Poetry,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "uv" => Ok(Backend::Uv),
            "poetry" => Ok(Backend::Poetry),
            _ => Err(format!("`{s}` is not a build backend: use `uv` or `poetry`")),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Uv => "uv",
            Backend::Poetry => "poetry",
        })
    }
}

impl Default for Config {
    /// The LlamaIndex monorepo's layout.
    fn default() -> Config {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Config {
            umbrella: PathBuf::from("."),
            umbrella_paths: strings(&["pyproject.toml", "uv.lock", "_llama-index"]),
            core: PathBuf::from("llama-index-core"),
            packages: strings(&[
                "llama-index-core",
                "llama-index-instrumentation",
                "llama-index-cli",
                "llama-index-experimental",
                "llama-index-finetuning",
                "llama-index-integrations/*/*",
                "llama-index-integrations/storage/*/*",
                "llama-index-packs/*",
                "llama-index-utils/*",
            ]),
            exclude: Vec::new(),
            repository: "run-llama/llama_index".to_string(),
            branch: "main".to_string(),
            tag: "v{version}".to_string(),
            umbrella_required: true,
            core_required: true,
            include_set: false,
            package_tag: DEFAULT_PACKAGE_TAG.to_string(),
            tags: BTreeMap::new(),
            changelog: PathBuf::from("CHANGELOG.md"),
            package_changelog: "{path}/CHANGELOG.md".to_string(),
            placeholder: "<!--- generated changelog --->".to_string(),
            notes_header: "# Release Notes".to_string(),
            other_section: true,
            index_url: PUBLIC_INDEX_URL.to_string(),
            publish_url: PUBLIC_UPLOAD_URL.to_string(),
            new_projects_per_day: None,
            closed_after: None,
            indexes: BTreeMap::new(),
            half_index: false,
            backend: Backend::Uv,
            hooks: default_hooks(),
            accept_changes: Vec::new(),
            release_hooks: Hooks::default(),
            wave_widen: true,
            wave_bump: Some(crate::version::Bump::Patch),
            // Lock files pin the package's own development environment, never what it requires.
            bumps_unshipped: strings(&["tests/**", "docs/**", "examples/**", "*.md"])
                .into_iter()
                .chain(crate::shipped::LOCK_FILES.map(String::from))
                .collect(),
            bumps_down: Severity::Fail,
            bumps_jump: Severity::Warn,
            secrets_extra: Vec::new(),
        }
    }
}

/// The tag of a package released on its own, unless `release.package-tag` or `[release.tags]`
/// say otherwise: release-plz's default.
pub const DEFAULT_PACKAGE_TAG: &str = "{name}-v{version}";

/// Why a path that leaves the root is refused, and what to write instead.
pub const OUTSIDE: &str = "which leaves the monorepo's root; give a path relative to the root, without `..`";

/// `path` relative to the root, `/`-separated (`.` for the root itself), with `.` and `x/..`
/// resolved; `None` when it is absolute or climbs out with `..`. Paths that leave the root are
/// refused rather than rewritten, so a typo never silently names another directory.
pub fn inside_root(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::RootDir | std::path::Component::Prefix(_) => return None,
        }
    }
    Some(if parts.is_empty() { ".".to_string() } else { parts.join("/") })
}

/// The release workflow's fill of core's NLTK and tiktoken caches, which core's wheel must
/// carry (its hatch include globs pick them up; without them the build succeeds, 115 files short).
fn default_hooks() -> BTreeMap<String, Vec<BuildHook>> {
    let argv = |v: &[&str]| BuildHook { run: v.iter().map(|s| s.to_string()).collect(), timeout: HOOK_TIMEOUT };
    let run = |code: &str| argv(&["uv", "run", "python", "-c", code]);
    let core = vec![
        argv(&["uv", "sync"]),
        run("from llama_index.core.utils import globals_helper; print(globals_helper.stopwords); print(globals_helper.punkt_tokenizer)"),
        run("from llama_index.core.utils import get_tokenizer; print(get_tokenizer())"),
        run("from llama_index.core.utils import get_tokenizer; print(get_tokenizer('gpt-5-mini'))"),
    ];
    BTreeMap::from([("llama-index-core".to_string(), core)])
}

impl Config {
    /// The index chosen by `--index NAME` (`default` is `[index]`), or the default one.
    pub fn destination(&self, name: Option<&str>) -> Result<Destination, String> {
        match name {
            None | Some("default") if self.half_index => Err(format!(
                "`[index]` in {CONFIG_FILE} sets only one of `url` and `publish-url`; set both, so that the index read and the index uploaded to are one choice"
            )),
            None | Some("default") => Ok(Destination {
                name: "default".into(),
                url: self.index_url.clone(),
                publish_url: self.publish_url.clone(),
                new_projects_per_day: default_quota(&self.index_url, self.new_projects_per_day),
                closed_after: default_closed_after(&self.index_url, self.closed_after),
            }),
            Some(name) => {
                let Some(i) = self.indexes.get(name) else {
                    let known: Vec<String> = ["default"]
                        .into_iter()
                        .chain(self.indexes.keys().map(String::as_str))
                        .map(|n| format!("`{n}`"))
                        .collect();
                    return Err(format!(
                        "no index named `{name}` in {CONFIG_FILE}; the indexes are {} (add `[index.{name}]` with `url` and `publish-url`)",
                        known.join(", ")
                    ));
                };
                Ok(Destination {
                    name: name.into(),
                    url: i.url.clone(),
                    publish_url: i.publish_url.clone(),
                    new_projects_per_day: default_quota(&i.url, i.new_projects_per_day),
                    closed_after: default_closed_after(&i.url, i.closed_after),
                })
            }
        }
    }

    /// The defaults, overridden by `<root>/release.toml` when it exists.
    ///
    /// `[secrets] extra` is also read apart, by [`secret_names`], before anything runs.
    pub fn load(root: &Path) -> Result<Config> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let p = path.display();
        let doc = Document::parse(text).map_err(|e| anyhow::anyhow!("{p}: invalid TOML: {}", e.message().trim()))?;
        let mut c = Config::default();
        let mut unknown = Vec::new();
        let (mut umbrella_set, mut core_set) = (false, false);
        for (section, item) in doc.iter() {
            let Some(table) = item.as_table_like() else {
                unknown.push(section.to_string());
                continue;
            };
            for (key, value) in table.iter() {
                let name = format!("{section}.{key}");
                let string = || -> Result<String> {
                    value.as_str().map(str::to_string).with_context(|| format!("{p}: `{name}` must be a string"))
                };
                let strings = || -> Result<Vec<String>> {
                    let array =
                        value.as_array().with_context(|| format!("{p}: `{name}` must be an array of strings"))?;
                    array
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .with_context(|| format!("{p}: `{name}` must be an array of strings"))
                        })
                        .collect()
                };
                match name.as_str() {
                    "index.new-projects-per-day" => c.new_projects_per_day = Some(count(&p, &name, value)?),
                    "index.closed-after" => c.closed_after = Some(duration(&p, &name, value)?),
                    "build.hooks" => c.hooks = hooks(&p, value)?,
                    "publish.accept-changes" => c.accept_changes = strings()?,
                    _ if section == "index" && value.is_table_like() => {
                        c.indexes.insert(key.to_string(), named_index(&p, &name, value)?);
                    }
                    "packages.umbrella" => {
                        c.umbrella = PathBuf::from(string()?);
                        umbrella_set = true;
                    }
                    "packages.umbrella-paths" => c.umbrella_paths = strings()?,
                    "packages.core" => {
                        c.core = PathBuf::from(string()?);
                        core_set = true;
                    }
                    "packages.include" => {
                        c.packages = strings()?;
                        c.include_set = true;
                    }
                    "release.package-tag" => c.package_tag = tag_pattern(&p, &name, &string()?)?,
                    "release.tags" => c.tags = tag_table(&p, value)?,
                    "packages.exclude" => c.exclude = strings()?,
                    "github.repository" => c.repository = string()?,
                    "release.branch" => c.branch = string()?,
                    "release.tag" => c.tag = string()?,
                    "release.prepare-hooks" => {
                        c.release_hooks.prepare = parse_hooks(&p.to_string(), &name, value, HOOK_TIMEOUT)?
                    }
                    "release.gate" => c.release_hooks.gate = parse_hooks(&p.to_string(), &name, value, GATE_TIMEOUT)?,
                    "release.assets" => c.release_hooks.assets = strings()?,
                    "changelog.file" => c.changelog = PathBuf::from(string()?),
                    "changelog.package-file" => c.package_changelog = string()?,
                    "changelog.placeholder" => c.placeholder = string()?,
                    "changelog.notes-header" => c.notes_header = string()?,
                    "changelog.other-section" => {
                        c.other_section =
                            value.as_bool().with_context(|| format!("{p}: `{name}` must be true or false"))?
                    }
                    "index.url" | "index.publish-url" => {
                        let url = string()?;
                        crate::url::check(&url).map_err(|e| crate::usage::usage(format!("{p}: `{name}`: {e}")))?;
                        *if key == "url" { &mut c.index_url } else { &mut c.publish_url } = url;
                    }
                    "build.backend" => {
                        c.backend = string()?.parse().map_err(|e| anyhow::anyhow!("{p}: `{name}`: {e}"))?
                    }
                    "wave.widen" => {
                        c.wave_widen =
                            value.as_bool().with_context(|| format!("{p}: `{name}` must be true or false"))?
                    }
                    "wave.bump" => {
                        c.wave_bump = match string()?.as_str() {
                            "none" => None,
                            kind => Some(kind.parse().map_err(|e| anyhow::anyhow!("{p}: `{name}`: {e}, or `none`"))?),
                        }
                    }
                    "bumps.unshipped" => c.bumps_unshipped = strings()?,
                    "secrets.extra" => c.secrets_extra = variable_names(&p, &name, strings()?)?,
                    "bumps.down" => {
                        c.bumps_down = string()?.parse().map_err(|e| anyhow::anyhow!("{p}: `{name}`: {e}"))?
                    }
                    "bumps.jump" => {
                        c.bumps_jump = string()?.parse().map_err(|e| anyhow::anyhow!("{p}: `{name}`: {e}"))?
                    }
                    _ => unknown.push(name),
                }
            }
        }
        if !unknown.is_empty() {
            bail!(
                "{p}: unknown setting{} {}; the settings are listed in the README under \"Configuration\"",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            );
        }
        for (key, path) in
            [("packages.umbrella", &c.umbrella), ("packages.core", &c.core), ("changelog.file", &c.changelog)]
        {
            inside_root(path).with_context(|| format!("{p}: `{key}` is `{}`, {OUTSIDE}", path.display()))?;
        }
        let patterns = [("packages.include", &c.packages), ("packages.exclude", &c.exclude)];
        for (key, list) in patterns.into_iter().chain([("packages.umbrella-paths", &c.umbrella_paths)]) {
            for pattern in list {
                inside_root(Path::new(pattern)).with_context(|| format!("{p}: `{key}` has `{pattern}`, {OUTSIDE}"))?;
            }
        }
        if c.include_set {
            c.umbrella_required = umbrella_set;
            c.core_required = core_set;
        }
        let has = |key: &str| doc.get("index").and_then(|i| i.get(key)).is_some();
        // `check` reads `url` alone; publishing needs both (see `destination`).
        c.half_index = has("url") != has("publish-url");
        if !c.tag.contains("{version}") {
            bail!("{p}: `release.tag` is `{}`, which lacks `{{version}}`; use a pattern like `v{{version}}`", c.tag);
        }
        for pattern in &c.bumps_unshipped {
            glob::Pattern::new(pattern)
                .map_err(|e| anyhow::anyhow!("{p}: `bumps.unshipped`: `{pattern}` is not a glob pattern: {e}"))?;
        }
        if c.repository.split('/').count() != 2 {
            bail!("{p}: `github.repository` is `{}`; write it as `owner/name`", c.repository);
        }
        Ok(c)
    }

    /// The tag name of a release.
    pub fn tag_for(&self, version: &crate::version::Version) -> String {
        self.tag.replace("{version}", &version.to_string())
    }

    /// The version a tag name stands for, when it matches the tag pattern.
    pub fn version_of_tag(&self, tag: &str) -> Option<crate::version::Version> {
        let (prefix, suffix) = self.tag.split_once("{version}")?;
        tag.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok()
    }

    /// The tag pattern of the package at `dir` when released on its own.
    pub fn package_tag(&self, dir: &str) -> &str {
        self.tags.get(dir).unwrap_or(&self.package_tag)
    }

    pub fn pull_request_url(&self, number: u64) -> String {
        format!("https://github.com/{}/pull/{number}", self.repository)
    }
}

/// A package tag pattern: `{version}` once, `{name}` at will.
fn tag_pattern(p: &impl std::fmt::Display, name: &str, pattern: &str) -> Result<String> {
    if pattern.matches("{version}").count() != 1 {
        bail!("{p}: `{name}` is `{pattern}`, which needs `{{version}}` exactly once; use a pattern like `{DEFAULT_PACKAGE_TAG}`");
    }
    Ok(pattern.to_string())
}

/// `[release.tags]`: `"package/dir" = "pattern"`.
fn tag_table(p: &impl std::fmt::Display, value: &toml_edit::Item) -> Result<BTreeMap<String, String>> {
    let table = value
        .as_table_like()
        .with_context(|| format!("{p}: `release.tags` must be a table from package directory to tag pattern"))?;
    let mut out = BTreeMap::new();
    for (dir, pattern) in table.iter() {
        let name = format!("release.tags.\"{dir}\"");
        let pattern = pattern.as_str().with_context(|| format!("{p}: `{name}` must be a string"))?;
        let dir = inside_root(Path::new(dir)).with_context(|| format!("{p}: `{name}`: `{dir}` {OUTSIDE}"))?;
        out.insert(dir, tag_pattern(p, &name, pattern)?);
    }
    Ok(out)
}

/// A duration such as `"14d"` (`time::parse_duration`).
fn duration(p: &impl std::fmt::Display, name: &str, value: &toml_edit::Item) -> Result<Duration> {
    let text = value.as_str().with_context(|| format!("{p}: `{name}` must be a duration such as \"14d\""))?;
    crate::time::parse_duration(text).map_err(|e| anyhow::anyhow!("{p}: `{name}`: {e}"))
}

fn count(p: &impl std::fmt::Display, name: &str, value: &toml_edit::Item) -> Result<u32> {
    value
        .as_integer()
        .and_then(|n| u32::try_from(n).ok())
        .with_context(|| format!("{p}: `{name}` must be a whole number, 0 or more"))
}

/// `[index.NAME]`: `url` and `publish-url`, both, and optionally `new-projects-per-day` and
/// `closed-after`.
fn named_index(p: &impl std::fmt::Display, name: &str, value: &toml_edit::Item) -> Result<NamedIndex> {
    let table = value.as_table_like().expect("checked by the caller");
    let mut url = None;
    let mut publish_url = None;
    let mut quota = None;
    let mut closed_after = None;
    for (key, v) in table.iter() {
        let string = || v.as_str().map(str::to_string).with_context(|| format!("{p}: `{name}.{key}` must be a string"));
        // The same check as `[index]` and the flags get.
        let checked = || -> Result<String> {
            let u = string()?;
            crate::url::check(&u).map_err(|e| crate::usage::usage(format!("{p}: `{name}.{key}`: {e}")))?;
            Ok(u)
        };
        match key {
            "url" => url = Some(checked()?),
            "publish-url" => publish_url = Some(checked()?),
            "new-projects-per-day" => quota = Some(count(p, &format!("{name}.{key}"), v)?),
            "closed-after" => closed_after = Some(duration(p, &format!("{name}.{key}"), v)?),
            _ => bail!(
                "{p}: unknown setting `{name}.{key}`; an index has `url`, `publish-url`, `new-projects-per-day` and `closed-after`"
            ),
        }
    }
    match (url, publish_url) {
        (Some(url), Some(publish_url)) => {
            Ok(NamedIndex { url, publish_url, new_projects_per_day: quota, closed_after })
        }
        _ => bail!("{p}: `[{name}]` needs both `url` (the JSON API, to read) and `publish-url` (to upload)"),
    }
}

/// `[build.hooks]`: `"package/dir" = [["argv", "…"], { run = ["argv", "…"], timeout = "20m" }, …]`.
fn hooks(p: &impl std::fmt::Display, value: &toml_edit::Item) -> Result<BTreeMap<String, Vec<BuildHook>>> {
    let bad = |key: &str| {
        format!("{p}: `build.hooks.\"{key}\"` must be a list of commands, each a list of strings (argv), like `[[\"uv\", \"sync\"]]`, or a table like `{{ run = [\"uv\", \"sync\"], timeout = \"20m\" }}`")
    };
    let table =
        value.as_table_like().with_context(|| format!("{p}: `build.hooks` must be a table of package directories"))?;
    let argv_of = |v: &toml_edit::Value| -> Option<Vec<String>> {
        v.as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<String>>>())
            .filter(|argv| !argv.is_empty())
    };
    let mut out = BTreeMap::new();
    for (dir, commands) in table.iter() {
        let list = commands.as_array().with_context(|| bad(dir))?;
        let mut found = Vec::new();
        for command in list.iter() {
            let hook = match command.as_inline_table() {
                None => BuildHook { run: argv_of(command).with_context(|| bad(dir))?, timeout: HOOK_TIMEOUT },
                Some(t) => {
                    let name = format!("build.hooks.\"{dir}\"");
                    let mut hook = BuildHook { run: Vec::new(), timeout: HOOK_TIMEOUT };
                    for (key, v) in t.iter() {
                        match key {
                            "run" => hook.run = argv_of(v).with_context(|| bad(dir))?,
                            "timeout" => {
                                hook.timeout = hook_timeout(&p.to_string(), &name, &toml_edit::Item::Value(v.clone()))?
                            }
                            _ => {
                                bail!("{p}: unknown setting `{key}` in `{name}`; a build hook has `run` and `timeout`")
                            }
                        }
                    }
                    if hook.run.is_empty() {
                        bail!(bad(dir));
                    }
                    hook
                }
            };
            found.push(hook);
        }
        out.insert(dir.trim_end_matches('/').to_string(), found);
    }
    Ok(out)
}

/// `[secrets] extra` of `<root>/release.toml`, read at start-up before any thread or child
/// runs, so that those variables leave the environment with the built-in ones. A file that
/// cannot be read or parsed gives none here: [`Config::load`] then reports it before any
/// command that uses the configuration runs a child.
pub fn secret_names(root: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(root.join(CONFIG_FILE)) else { return Vec::new() };
    let Ok(doc) = Document::parse(text) else { return Vec::new() };
    let extra = doc.get("secrets").and_then(|s| s.get("extra")).and_then(|e| e.as_array());
    extra.into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// Checks that `names` are environment variable names (`MY_TOKEN`).
fn variable_names(p: &impl std::fmt::Display, key: &str, names: Vec<String>) -> Result<Vec<String>> {
    let valid = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match names.iter().find(|n| !valid(n)) {
        Some(bad) => {
            bail!("{p}: `{key}` has `{bad}`, which is not an environment variable's name (letters, digits and `_`)")
        }
        None => Ok(names),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_root_are_refused() {
        assert_eq!(inside_root(Path::new("./a/b/../c/")).as_deref(), Some("a/c"));
        assert_eq!(inside_root(Path::new(".")).as_deref(), Some("."));
        assert_eq!(inside_root(Path::new("a/../..")), None);
        assert_eq!(inside_root(Path::new("/a")), None);
        let err = Config::parse(Path::new("release.toml"), "[changelog]\nfile = \"../CHANGELOG.md\"\n").unwrap_err();
        assert_eq!(err.to_string(), format!("release.toml: `changelog.file` is `../CHANGELOG.md`, {OUTSIDE}"));
        let err = Config::parse(Path::new("release.toml"), "[packages]\ninclude = [\"/x/*\"]\n").unwrap_err();
        assert_eq!(err.to_string(), format!("release.toml: `packages.include` has `/x/*`, {OUTSIDE}"));
    }

    #[test]
    fn secrets_extra_are_variable_names() {
        let c = Config::parse(Path::new("release.toml"), "[secrets]\nextra = [\"MY_TOKEN\", \"X2\"]\n").unwrap();
        assert_eq!(c.secrets_extra, ["MY_TOKEN", "X2"]);
        let err = Config::parse(Path::new("release.toml"), "[secrets]\nextra = [\"MY-TOKEN\"]\n").unwrap_err();
        expect_test::expect!["release.toml: `secrets.extra` has `MY-TOKEN`, which is not an environment variable's name (letters, digits and `_`)"]
            .assert_eq(&err.to_string());
        let scratch = crate::scratch::Scratch::new("secret-names").unwrap();
        let dir = scratch.path();
        assert!(secret_names(dir).is_empty(), "no release.toml");
        std::fs::write(dir.join(CONFIG_FILE), "[secrets]\nextra = [\"MY_TOKEN\"]\n").unwrap();
        assert_eq!(secret_names(dir), ["MY_TOKEN"]);
        std::fs::write(dir.join(CONFIG_FILE), "[secrets\n").unwrap();
        assert!(secret_names(dir).is_empty(), "an invalid file is reported by `Config::load`");
    }

    #[test]
    fn overrides_and_rejects_unknown_keys() {
        let c = Config::parse(
            Path::new("release.toml"),
            r#"
[packages]
core = "core"
include = ["core", "plugins/*"]
[github]
repository = "acme/mono"
[release]
tag = "release-{version}"
[build]
backend = "poetry"
"#,
        )
        .unwrap();
        assert_eq!(c.core, PathBuf::from("core"));
        assert_eq!(c.packages, ["core", "plugins/*"]);
        assert_eq!(c.backend, Backend::Poetry);
        assert_eq!(c.tag_for(&"1.2.3".parse().unwrap()), "release-1.2.3");
        assert_eq!(c.version_of_tag("release-1.2.3").unwrap().to_string(), "1.2.3");
        assert!(c.version_of_tag("v1.2.3").is_none());
        assert_eq!(c.umbrella, PathBuf::from("."), "defaults stay");

        let err = Config::parse(Path::new("release.toml"), "[index]\nurl = 1\n").unwrap_err();
        assert_eq!(err.to_string(), "release.toml: `index.url` must be a string");
        let err = Config::parse(Path::new("release.toml"), "[packages]\ncores = \"x\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "release.toml: unknown setting `packages.cores`; the settings are listed in the README under \"Configuration\""
        );
        let err = Config::parse(Path::new("release.toml"), "[release]\ntag = \"v\"\n").unwrap_err();
        assert!(err.to_string().contains("lacks `{version}`"), "{err}");
    }

    #[test]
    fn destinations_hooks_and_quotas() {
        let c = Config::parse(
            Path::new("release.toml"),
            r#"
[index]
url = "http://127.0.0.1:1"
publish-url = "http://127.0.0.1:1/"
new-projects-per-day = 2
[index.test]
url = "http://127.0.0.1:2"
publish-url = "http://127.0.0.1:2/"
closed-after = "3d12h"
[build.hooks]
"pkgs/a" = [["make", "data"], { run = ["true"], timeout = "90s" }]
[publish]
accept-changes = ["a"]
"#,
        )
        .unwrap();
        let d = c.destination(None).unwrap();
        assert_eq!((d.name.as_str(), d.new_projects_per_day, d.closed_after), ("default", Some(2), None));
        assert_eq!(c.destination(Some("test")).unwrap().closed_after, Some(Duration::from_secs(84 * 3600)));
        let t = c.destination(Some("test")).unwrap();
        assert_eq!(
            (t.url.as_str(), t.publish_url.as_str(), t.new_projects_per_day),
            ("http://127.0.0.1:2", "http://127.0.0.1:2/", None)
        );
        assert_eq!(
            c.hooks["pkgs/a"],
            [
                BuildHook { run: vec!["make".to_string(), "data".into()], timeout: HOOK_TIMEOUT },
                BuildHook { run: vec!["true".into()], timeout: Duration::from_secs(90) }
            ]
        );
        assert_eq!(c.accept_changes, ["a"]);
        let err = c.destination(Some("prod")).unwrap_err();
        assert_eq!(err, "no index named `prod` in release.toml; the indexes are `default`, `test` (add `[index.prod]` with `url` and `publish-url`)");
        assert_eq!(
            Config::default().destination(None).unwrap().new_projects_per_day,
            Some(4),
            "the public index's quota"
        );
        assert_eq!(Config::default().destination(None).unwrap().closed_after, Some(PUBLIC_CLOSED_AFTER));
        let set = Config::parse(Path::new("release.toml"), "[index]\nclosed-after = \"30d\"\n").unwrap();
        assert_eq!(set.destination(None).unwrap().closed_after, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(Config::default().hooks["llama-index-core"].len(), 4, "uv sync and the three cache fills");

        let half = Config::parse(Path::new("release.toml"), "[index]\nurl = \"http://x\"\n").unwrap();
        assert_eq!(half.index_url, "http://x", "`check` reads it");
        assert!(half.destination(None).unwrap_err().contains("sets only one of `url` and `publish-url`"));
        for (text, want) in [
            ("[index.t]\nurl = \"http://x\"\n", "`[index.t]` needs both `url`"),
            ("[build.hooks]\n\"a\" = [\"make\"]\n", "must be a list of commands"),
            ("[build.hooks]\n\"a\" = [{ run = [\"make\"], timeout = \"soon\" }]\n", "`soon` is not a duration"),
            ("[build.hooks]\n\"a\" = [{ run = [\"make\"], after = \"1\" }]\n", "a build hook has `run` and `timeout`"),
            ("[release]\ngate = [{ run = [\"x\"], timeout = \"0s\" }]\n", "give a time longer than zero"),
            ("[release]\ngate = [{ run = [\"x\"], timeout = 5 }]\n", "must be a string such as"),
            ("[index]\nnew-projects-per-day = -1\n", "must be a whole number"),
            ("[index]\nclosed-after = 14\n", "`index.closed-after` must be a duration such as \"14d\""),
            ("[index.t]\nclosed-after = \"2w\"\n", "`index.t.closed-after`: `2w` is not a duration"),
        ] {
            let err = Config::parse(Path::new("release.toml"), text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn default_tags() {
        let c = Config::default();
        assert_eq!(c.version_of_tag("v0.14.13").unwrap().to_string(), "0.14.13");
        assert!(c.version_of_tag("vnext").is_none());
        assert_eq!(c.pull_request_url(20389), "https://github.com/run-llama/llama_index/pull/20389");
    }
}
