//! `cargo xtask publish`: select packages, look at the index, plan waves of the dependency
//! order, print the plan; then build every package once (in parallel), and upload wave by wave,
//! each package once its internal dependencies are visible on the index. Files already on the
//! index with the same sha256 are skipped, so rerunning finishes an interrupted release.

mod build;
mod buildenv;
mod manifest;
mod plan;
mod remote;
mod report;
mod run;
mod sha256;
mod upload;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use anyhow::{bail, Result};
use serde_json::json;
use xshell::Shell;

use crate::{
    config::Backend,
    flags::{self, usage},
    git,
    graph::Graph,
    index::{self, Index},
    monorepo::Monorepo,
    output,
};
use report::Outcome;

/// The validated flags and configuration of one run.
pub struct Options {
    pub jobs: usize,
    pub index_url: String,
    pub publish_url: String,
    pub backend: Backend,
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
        let wait = match &self.wait {
            Some(text) => index::parse_duration(text).map_err(|e| usage(format!("--wait: {e}")))?,
            None => Duration::from_secs(300),
        };
        if self.jobs == Some(0) {
            return Err(usage("--jobs must be at least 1"));
        }
        Ok(Options {
            jobs: self.jobs.unwrap_or_else(default_jobs),
            index_url: self.index_url.clone().unwrap_or_else(|| repo.config.index_url.clone()),
            publish_url: self.publish_url.clone().unwrap_or_else(|| repo.config.publish_url.clone()),
            backend: self.backend.unwrap_or(repo.config.backend),
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

/// Publishes `selected`: looks at the index, plans the waves, prints the plan; then (unless a
/// dry run) builds every package once and uploads wave by wave. Fails unless every selected
/// package ends up published or already was.
pub fn publish(sh: &Shell, repo: &Monorepo, selected: &BTreeSet<usize>, options: &Options) -> Result<()> {
    let credentials = upload::Credentials::from_env();
    let graph = Graph::new(&repo.packages);
    // The tool is checked up front, before any work, but a dry run needs none.
    let tool = if options.dry_run {
        None
    } else {
        Some(crate::exec::require(&options.backend.to_string(), "to build and upload packages")?)
    };

    // Look at the world: every selected package and every internal dependency of one.
    let index = Index::new(&options.index_url);
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
            &format!("{} on {}", report::count(names.len(), "project"), report::shown_url(&options.index_url)),
        );
    }
    let projects = remote::projects(&index, &names, options.jobs)?;
    if selected.iter().any(|&i| repo.packages[i].dir == ".") && !git::is_ignored(sh, "target/publish/x") {
        output::warn("`target/` is not in .gitignore: the root package's sdist may include the builds; add `/target` to .gitignore");
    }
    let plan = plan::plan(&repo.packages, &graph, selected, &projects)?;

    let header = format!(
        "{} {} to {} with {} (credentials: {}):",
        if options.dry_run { "Would publish" } else { "Publishing" },
        report::count(selected.len(), "package"),
        report::shown_url(&options.publish_url),
        options.backend,
        credentials.describe()
    );
    let what = run::describe(repo, &plan, options, &index)?;
    let text = report::plan_text(&repo.packages, &plan, &what, &header);
    let settings = json!({
        "dry_run": options.dry_run,
        "backend": options.backend.to_string(),
        "index_url": report::shown_url(&options.index_url),
        "publish_url": report::shown_url(&options.publish_url),
    });
    if options.dry_run {
        let outcomes: BTreeMap<usize, Outcome> = what.into_iter().map(|(i, w)| (i, Outcome::Planned(w))).collect();
        if options.json {
            output::json(&report::json_report(&repo.packages, &plan, &outcomes, settings));
        } else {
            output::data(&text);
        }
        output::note("dry run: nothing was built and nothing was uploaded");
        return Ok(());
    }
    output::note(&text);

    let tool = tool.expect("checked above for real runs");
    let outcomes = run::execute(repo, &plan, options, &index, &tool, &credentials);

    if options.json {
        output::json(&report::json_report(&repo.packages, &plan, &outcomes, settings));
    } else {
        let table = report::summary_table(&repo.packages, &plan, &outcomes);
        if options.report_to_stderr {
            output::note(&table);
        } else {
            output::data(&table);
        }
    }
    output::github_summary(&report::github_markdown(&repo.packages, &plan, &outcomes));
    let missing: Vec<String> = plan
        .waves
        .iter()
        .flatten()
        .filter(|i| !outcomes.get(i).is_some_and(Outcome::is_done))
        .map(|&i| format!("`{}`", repo.packages[i].display_name))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} of {} not published: {}; fix what is reported above and run the same command again (what is on the index already is skipped)",
            missing.len(),
            report::count(selected.len(), "package"),
            missing.join(", ")
        );
    }
    Ok(())
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
    /// The options `release publish` uses: the configuration, overridden by its flags.
    pub fn for_release(
        repo: &Monorepo,
        index_url: Option<String>,
        publish_url: Option<String>,
        wait: Duration,
        jobs: Option<usize>,
    ) -> Result<Options> {
        if jobs == Some(0) {
            return Err(usage("--jobs must be at least 1"));
        }
        Ok(Options {
            jobs: jobs.unwrap_or_else(default_jobs),
            index_url: index_url.unwrap_or_else(|| repo.config.index_url.clone()),
            publish_url: publish_url.unwrap_or_else(|| repo.config.publish_url.clone()),
            backend: repo.config.backend,
            wait,
            retries: 4,
            dry_run: false,
            json: false,
            report_to_stderr: true,
        })
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
