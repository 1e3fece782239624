//! `cargo xtask publish`: select packages, look at the index (one destination, stated), plan
//! waves of the dependency order, print the plan; then, holding the checkout's publish lock,
//! run the hooks and build what the index lacks (in parallel), compare every build with its
//! previous release, and upload wave by wave, each package once its internal dependencies are
//! visible on the index. A version the index holds is published, whoever built it; our own
//! interrupted upload is finished; so rerunning finishes an interrupted release.

mod archive;
mod artifact;
mod batch;
mod build;
mod buildenv;
mod cutoff;
mod describe;
mod direct;
mod form;
mod frontend;
mod hooks;
mod lock;
mod manifest;
mod plan;
mod quota;
mod remote;
mod report;
mod run;
mod sha256;
mod timing;
mod upload;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::Duration,
};

use anyhow::{bail, Result};
use serde_json::json;
use xshell::Shell;

use crate::time;
use crate::{
    config::{Backend, Config, Destination},
    flags, git,
    graph::Graph,
    index::Index,
    monorepo::Monorepo,
    output,
    usage::usage,
};
use report::Outcome;

/// The validated flags and configuration of one run.
pub struct Options {
    pub jobs: usize,
    /// The one index read and uploaded to.
    pub destination: Destination,
    pub backend: Backend,
    /// `[build.hooks]`, by package directory.
    pub hooks: BTreeMap<String, Vec<crate::config::BuildHook>>,
    /// Package names (or directories) the artifact check may not stop.
    pub accept_changes: BTreeSet<String>,
    pub artifact_check: bool,
    /// Build through the build frontend where it can (`--no-build-frontend` turns it off).
    pub build_frontend: bool,
    /// Upload the kinds missing from another build's version from ours.
    pub complete: bool,
    pub wait: Duration,
    pub retries: u32,
    pub dry_run: bool,
    pub json: bool,
    /// The summary table goes to stderr: the caller (the release) owns stdout.
    pub report_to_stderr: bool,
}

impl flags::Publish {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let repo = Monorepo::load(&sh.current_dir())?;
        for w in &repo.warnings {
            output::warn(w);
        }
        let options = self.options(&repo)?;
        let selected = self.select(sh, &repo)?;
        if selected.is_empty() {
            output::note("nothing to publish: no selected package changed its version");
        }
        publish(sh, &repo, &selected, &options)
    }

    fn options(&self, repo: &Monorepo) -> Result<Options> {
        let wait = flags::Wait::or(self.wait, Duration::from_secs(300));
        let (index_url, publish_url) = (self.index_url.clone().map(|u| u.0), self.publish_url.clone().map(|u| u.0));
        let destination = destination(&repo.config, self.index.as_deref(), &index_url, &publish_url)?;
        let mut accept: BTreeSet<String> = repo.config.accept_changes.iter().cloned().collect();
        accept.extend(self.accept_changes.iter().cloned());
        Ok(Options {
            jobs: self.jobs.map_or_else(default_jobs, |n| n.0),
            destination,
            backend: self.backend.unwrap_or(repo.config.backend),
            hooks: repo.config.hooks.clone(),
            accept_changes: accept,
            artifact_check: !self.no_artifact_check,
            build_frontend: !self.no_build_frontend,
            complete: self.complete,
            wait,
            retries: self.retries.unwrap_or(4),
            dry_run: self.dry_run,
            json: self.json,
            report_to_stderr: false,
        })
    }

    /// Paths, `--all`, or `--changed-since REF`: exactly one way of choosing.
    fn select(&self, sh: &Shell, repo: &Monorepo) -> Result<BTreeSet<usize>> {
        let Some(rev) = &self.changed_since else {
            if self.paths.is_empty() && !self.all {
                return Err(usage("give package directories, `--all`, or `--changed-since REF`"));
            }
            return Ok(repo.select(&self.paths, self.all)?.into_iter().map(|p| repo.index_of(p)).collect());
        };
        if self.all || !self.paths.is_empty() {
            return Err(usage("give package directories, `--all` or `--changed-since`, only one of them"));
        }
        changed_since(sh, repo, rev)
    }
}

/// The index to read and upload to: `--index NAME`, or `--index-url` with `--publish-url`
/// (both: one without the other would read one index and upload to another), or the
/// configuration's default.
pub fn destination(
    config: &Config,
    name: Option<&str>,
    index_url: &Option<String>,
    publish_url: &Option<String>,
) -> Result<Destination> {
    match (name, index_url, publish_url) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err(usage("give `--index NAME` or `--index-url` with `--publish-url`, not both"))
        }
        (_, Some(_), None) => Err(usage(
            "`--index-url` needs `--publish-url` too (where files are uploaded), or use `--index NAME` for an index of release.toml",
        )),
        (_, None, Some(_)) => Err(usage(
            "`--publish-url` needs `--index-url` too (where published files are read), or use `--index NAME` for an index of release.toml",
        )),
        (None, Some(url), Some(publish)) => {
            // Given by URL: the quota is the public index's when that is where they point.
            let known = config.destination(None).ok().filter(|d| d.url == *url);
            Ok(Destination {
                name: "--index-url".into(),
                url: url.clone(),
                publish_url: publish.clone(),
                new_projects_per_day: known.as_ref().and_then(|d| d.new_projects_per_day),
                closed_after: known.and_then(|d| d.closed_after),
            })
        }
        (name, None, None) => config.destination(name).map_err(usage),
    }
}

/// Publishes `selected`: looks at the index, plans the waves, prints the plan; then (unless a
/// dry run) builds what the index lacks and uploads wave by wave. Fails unless every selected
/// package ends up published or already was; a dry run fails where the real run would.
pub fn publish(sh: &Shell, repo: &Monorepo, selected: &BTreeSet<usize>, options: &Options) -> Result<()> {
    let credentials = upload::Credentials::from_env();
    let graph = Graph::new(&repo.packages);
    let dest = &options.destination;
    // The tool is checked up front, before any work, but a dry run needs none.
    let tool = if options.dry_run {
        None
    } else {
        Some(crate::exec::require(&options.backend.to_string(), "to build and upload packages")?)
    };
    // One run per checkout from here on: a second one would race this one's builds and uploads.
    let builds_dir = build::builds_dir(&repo.root);
    let _lock = if options.dry_run { None } else { Some(lock::acquire(&builds_dir, options.wait)?) };
    if !options.dry_run {
        clear_stale_staging(&builds_dir);
    }

    let index = Index::new(&dest.url);
    let plan = look(sh, repo, &graph, selected, options, &index)?;

    let to = format!(
        "to {} (index `{}`, read from {}) with {} (credentials: {}):",
        report::shown_url(&dest.publish_url),
        dest.name,
        report::shown_url(&dest.url),
        options.backend,
        credentials.describe()
    );
    let header = report::header(&plan, options.dry_run, &to);
    let cache = remote::Cache { dir: builds_dir.join("cache"), writable: !options.dry_run };
    let ctx = run::Ctx {
        repo,
        plan: &plan,
        options,
        index: &index,
        cache,
        credentials: &credentials,
        timing: Default::default(),
    };
    let what = describe::describe(&ctx)?;
    let text = report::plan_text(&repo.packages, &plan, &what, &header) + &new_projects(repo, &plan, dest);
    // Checked for dry runs and real runs alike, before anything is built.
    let no_credentials =
        plan.items.values().any(plan::Item::may_upload).then(|| credentials.problem(&dest.publish_url)).flatten();
    let settings = json!({
        "dry_run": options.dry_run,
        "backend": options.backend.to_string(),
        "index": dest.name,
        "index_url": report::shown_url(&dest.url),
        "publish_url": report::shown_url(&dest.publish_url),
        "new_projects_per_day": dest.new_projects_per_day,
        "closed_after": dest.closed_after.map(time::human),
        "credentials": credentials.describe(),
        "tools": crate::exec::tools_json(&[&options.backend.to_string()]),
    });
    let tools = format!("tools: {}", crate::exec::tools_line(&[&options.backend.to_string()]));
    if options.dry_run {
        let outcomes: BTreeMap<usize, Outcome> = what.into_iter().map(|(i, w)| (i, Outcome::Planned(w))).collect();
        if options.json {
            output::json(&report::json_report(&repo.packages, &plan, &outcomes, settings, &BTreeMap::new()));
        } else {
            output::data(&text);
        }
        output::note(&tools);
        output::note("dry run: nothing was built and nothing was uploaded");
        let failing: Vec<usize> =
            outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Planned(p) if p.fails)).map(|(&i, _)| i).collect();
        let deferred = plan.items.values().filter(|it| it.deferred).count();
        let verdict = fail_unless_done(repo, selected, &failing, deferred, options, "would not be published");
        return match (verdict, no_credentials) {
            (Err(e), Some(why)) => bail!("{e:#}\n{why}"),
            (Err(e), None) => Err(e),
            (Ok(()), Some(why)) => bail!(why),
            (Ok(()), None) => Ok(()),
        };
    }
    output::note(&text);
    output::note(&tools);
    if let Some(why) = no_credentials {
        bail!(why);
    }

    let tool = tool.expect("checked above for real runs");
    let done = run::execute(&ctx, &tool);
    let outcomes = &done.outcomes;
    if options.json {
        output::json(&report::json_report(&repo.packages, &plan, outcomes, settings, &json_extra(&done)));
    } else {
        let table = report::summary_table(&repo.packages, &plan, outcomes);
        if options.report_to_stderr {
            output::note(&table);
        } else {
            output::data(&table);
        }
    }
    output::github_summary(&report::github_markdown(&repo.packages, &plan, outcomes));
    let failing: Vec<usize> =
        plan.waves.iter().flatten().copied().filter(|i| !outcomes.get(i).is_some_and(Outcome::is_done)).collect();
    let deferred = outcomes.values().filter(|o| matches!(o, Outcome::Deferred(_))).count();
    fail_unless_done(repo, selected, &failing, deferred, options, "not published")
}

/// Looks at the index (every selected package and every internal dependency of one) and plans.
fn look(
    sh: &Shell,
    repo: &Monorepo,
    graph: &Graph,
    selected: &BTreeSet<usize>,
    options: &Options,
    index: &Index,
) -> Result<plan::Plan> {
    let dest = &options.destination;
    // Look at the world: every selected package and every internal dependency of one.
    let mut names = BTreeMap::new();
    for &i in selected {
        names.insert(i, repo.packages[i].name.clone());
        for &d in graph.dependencies(i) {
            names.insert(d, repo.packages[d].name.clone());
        }
    }
    if !names.is_empty() {
        output::status(
            "checking",
            &format!("{} on {}", report::count(names.len(), "project"), report::shown_url(&dest.url)),
        );
    }
    let projects = remote::projects(index, &names, options.jobs)?;
    if selected.iter().any(|&i| repo.packages[i].dir == ".") && !git::is_ignored(sh, "target/publish/x") {
        output::warn("`target/` is not in .gitignore: the root package's sdist may include the builds; add `/target` to .gitignore");
    }
    // The clock is read here, once: the plan is a pure function of it.
    let limits =
        plan::Limits { new_projects: dest.new_projects_per_day, closed_after: dest.closed_after, now: time::clock() };
    plan::plan(&repo.packages, graph, selected, &projects, &limits)
}

/// What [`build_only`] made of each package it was given.
#[derive(Debug, Default)]
pub struct Built {
    /// The directory of each package's build (made by this run or reused).
    pub dirs: BTreeMap<usize, PathBuf>,
    /// Why each package that did not build failed: its build, or the plan's block.
    pub failed: BTreeMap<usize, String>,
}

impl Built {
    /// Every build failure as one error naming each package.
    pub fn all_or_error(self, repo: &Monorepo) -> Result<Vec<PathBuf>> {
        if self.failed.is_empty() {
            return Ok(self.dirs.into_values().collect());
        }
        let failed: Vec<String> =
            self.failed.iter().map(|(&i, why)| format!("`{}`: {why}", repo.packages[i].display_name)).collect();
        bail!("{} did not build:\n  {}", report::count(failed.len(), "package"), failed.join("\n  "))
    }
}

/// Builds what publishing `selected` would build (hooks first; a build whose sources have not
/// changed is reused), and uploads nothing: the build half of [`publish`], for the check before
/// a release's first upload. Looks and plans as `publish` does, under the same lock; a package
/// the plan blocks, or whose build fails, is in [`Built::failed`], and the others are built all
/// the same. New projects past the quota are built too: a later run publishes them.
pub fn build_only(sh: &Shell, repo: &Monorepo, selected: &BTreeSet<usize>, options: &Options) -> Result<Built> {
    let credentials = upload::Credentials::from_env();
    let tool = crate::exec::require(&options.backend.to_string(), "to build packages")?;
    let builds_dir = build::builds_dir(&repo.root);
    let _lock = lock::acquire(&builds_dir, options.wait)?;
    clear_stale_staging(&builds_dir);
    let index = Index::new(&options.destination.url);
    let plan = look(sh, repo, &Graph::new(&repo.packages), selected, options, &index)?;
    let mut failed: BTreeMap<usize, String> = plan
        .items
        .iter()
        .filter_map(|(&i, it)| it.blocked.as_ref().map(|why| (i, format!("cannot be published: {why}"))))
        .collect();
    let cache = remote::Cache { dir: builds_dir.join("cache"), writable: true };
    let ctx = run::Ctx {
        repo,
        plan: &plan,
        options,
        index: &index,
        cache,
        credentials: &credentials,
        timing: Default::default(),
    };
    let (builds, build_failures) = run::build_only(&ctx, &tool);
    failed.extend(build_failures);
    Ok(Built { dirs: builds.into_iter().map(|(i, b)| (i, b.dir)).collect(), failed })
}

/// The plan's line of new projects, with the index's quota.
fn new_projects(repo: &Monorepo, plan: &plan::Plan, dest: &Destination) -> String {
    let new: Vec<String> = plan
        .items
        .iter()
        .filter(|(_, it)| it.new_project && it.blocked.is_none())
        .map(|(&i, it)| format!("{}{}", repo.packages[i].display_name, if it.deferred { " (deferred)" } else { "" }))
        .collect();
    if new.is_empty() {
        return String::new();
    }
    let limit = dest.new_projects_per_day.map_or("no limit".to_string(), |n| format!("{n} per 24 hours"));
    format!("new projects ({limit} on `{}`): {}\n", dest.name, new.join(", "))
}

/// What the JSON report adds per package after a real run: the artifact check and our files.
fn json_extra(done: &run::Done) -> BTreeMap<usize, serde_json::Value> {
    let mut extra = BTreeMap::new();
    for (&i, check) in &done.checks {
        extra.insert(i, json!({"artifact_check": check.to_json()}));
    }
    for (&i, b) in &done.builds {
        let files: Vec<serde_json::Value> = b
            .manifest
            .files
            .iter()
            .map(|f| json!({"filename": f.filename, "sha256": f.sha256, "size": f.size}))
            .collect();
        extra.entry(i).or_insert_with(|| json!({}))["files"] = json!(files);
    }
    extra
}

fn fail_unless_done(
    repo: &Monorepo,
    selected: &BTreeSet<usize>,
    failing: &[usize],
    deferred: usize,
    options: &Options,
    verb: &str,
) -> Result<()> {
    if failing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = failing.iter().map(|&i| format!("`{}`", repo.packages[i].display_name)).collect();
    let quota = if deferred > 0 {
        format!("; {}", quota::rerun_hint(deferred, options.destination.new_projects_per_day))
    } else {
        String::new()
    };
    bail!(
        "{} of {} {verb}: {}; fix what is reported above and run the same command again (what is on the index already is skipped){quota}",
        failing.len(),
        report::count(selected.len(), "package"),
        names.join(", ")
    )
}

/// Staging directories of runs that died (the lock says none is running now).
fn clear_stale_staging(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".staging-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The packages whose version differs from the one at `rev` (new packages count).
pub fn changed_since(sh: &Shell, repo: &Monorepo, rev: &str) -> Result<BTreeSet<usize>> {
    let paths: Vec<String> = repo.packages.iter().map(|p| p.pyproject_display()).collect();
    let old = git::files_at(sh, rev, &paths)?;
    Ok(plan::changed_since(&repo.packages, &old))
}

/// What the index knows of `packages`, asked in parallel.
pub fn projects(
    index: &Index,
    repo: &Monorepo,
    packages: &BTreeSet<usize>,
) -> Result<BTreeMap<usize, Option<crate::index::Project>>> {
    let names = packages.iter().map(|&i| (i, repo.packages[i].name.clone())).collect();
    remote::projects(index, &names, default_jobs())
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Options {
    /// The options `release publish` uses: the configuration, overridden by its flags. The
    /// destination is the one [`destination`] chose from the release's flags.
    pub fn for_release(
        repo: &Monorepo,
        destination: Destination,
        wait: Duration,
        jobs: Option<usize>,
    ) -> Result<Options> {
        if jobs == Some(0) {
            return Err(usage("--jobs must be at least 1"));
        }
        Ok(Options {
            jobs: jobs.unwrap_or_else(default_jobs),
            destination,
            backend: repo.config.backend,
            hooks: repo.config.hooks.clone(),
            accept_changes: repo.config.accept_changes.iter().cloned().collect(),
            artifact_check: true,
            build_frontend: true,
            complete: false,
            wait,
            retries: 4,
            dry_run: false,
            json: false,
            report_to_stderr: true,
        })
    }
}

impl Options {
    /// The options of a build without an upload (`verify --built`): `index_url` is read, and
    /// is the only destination, for no file leaves the machine.
    pub fn for_build(repo: &Monorepo, index_url: &str, wait: Duration) -> Options {
        let destination = Destination {
            name: "--index-url".into(),
            url: index_url.to_string(),
            publish_url: index_url.to_string(),
            new_projects_per_day: None,
            closed_after: None,
        };
        Options {
            jobs: default_jobs(),
            destination,
            backend: repo.config.backend,
            hooks: repo.config.hooks.clone(),
            accept_changes: BTreeSet::new(),
            artifact_check: false,
            build_frontend: true,
            complete: false,
            wait,
            retries: 0,
            dry_run: false,
            json: false,
            report_to_stderr: true,
        }
    }
}

/// The files of `p`'s finished build under `target/publish/` (name, size and path), when its
/// manifest is there and intact: what `release` attaches to the GitHub release.
pub fn built_files(
    root: &std::path::Path,
    p: &crate::monorepo::Package,
) -> Option<Vec<(String, u64, std::path::PathBuf)>> {
    let dir = build::out_dir(root, p);
    let manifest = manifest::Manifest::load_intact(&dir)?;
    Some(manifest.files.into_iter().map(|f| (f.filename.clone(), f.size, dir.join(&f.filename))).collect())
}

/// Which upload credentials the environment gives, for a plan: never their values.
pub fn credentials() -> &'static str {
    upload::Credentials::from_env().describe()
}

/// Why uploads to `dest` cannot happen (no credentials), as `publish` says it: for the
/// release's plan, so that its dry run fails where the real run would.
pub fn credentials_problem(dest: &Destination) -> Option<String> {
    upload::Credentials::from_env().problem(&dest.publish_url)
}
