//! `cargo xtask test`: the selected packages' tests against the working tree's changes, in
//! parallel, with uv (poetry for legacy `[tool.poetry]` packages).
//!
//! Select (`test/selection.rs`), take this machine's shard (`test/shards.rs`), build the changed
//! packages' wheels once, then run every package (`test/run.rs`) and say what happened
//! (`test/report.rs`): a dependant that fails is a regression only if it passes against the
//! index's versions. Every other outcome is counted for what it is (the original counted
//! timeouts and install failures as passed).

mod locks;
mod progress;
mod report;
mod run;
mod selection;
mod shards;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use serde_json::json;
use xshell::Shell;

use crate::scratch::Scratch;
use crate::usage::usage;
use crate::{exec, flags, git, graph::Graph, monorepo::Monorepo, output, parallel};
use report::Row;
use run::{Context, Report};
use selection::Selected;
pub use shards::Shard;
use shards::Timings;

/// The flags, validated.
struct Options {
    jobs: usize,
    timeout: Duration,
    shard: Option<Shard>,
}

impl flags::Test {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if !self.merge.is_empty() {
            return self.merge();
        }
        let options = self.validate()?;
        let repo = Monorepo::load(&sh.current_dir())?;
        let timings = match &self.timings {
            Some(path) => Timings::read(path)?,
            None => Timings::default(),
        };
        let (mut selection, mut expected) = match &self.selection {
            Some(file) => selection::read(&repo, file)?,
            None => {
                let graph = Graph::new(&repo.packages);
                let (changed, named) = self.changes(sh, &repo)?;
                let selection =
                    selection::select(&repo.packages, &graph, &changed, named.as_ref(), self.with_dependants);
                let dirs: Vec<&str> = selection.iter().map(|s| repo.packages[s.package].dir.as_str()).collect();
                let expected = timings.expected(&dirs);
                (selection, expected)
            }
        };
        if let Some(shard) = options.shard {
            let of = shards::assign(&expected, shard.n);
            let keep: Vec<bool> = of.iter().map(|&s| s + 1 == shard.k).collect();
            let mut k = keep.iter();
            selection.retain(|_| *k.next().expect("one per package"));
            let mut k = keep.iter();
            expected.retain(|_| *k.next().expect("one per package"));
        }
        if self.dry_run {
            self.print_plan(&repo, &selection, &expected, options.shard);
            return Ok(());
        }
        self.execute(sh, &repo, &options, selection, &expected, timings)
    }

    fn validate(&self) -> Result<Options> {
        if self.timeout == Some(0) {
            return Err(usage("`--timeout 0` leaves no time to run: give at least 1 second"));
        }
        if self.cov_fail_under.is_some() && !self.cov {
            return Err(usage("--cov-fail-under needs --cov"));
        }
        if self.cov_fail_under.is_some() && self.base_ref.is_none() {
            return Err(usage("--cov-fail-under measures the lines changed since --base-ref: give --base-ref too"));
        }
        if self.python.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(usage("`--python` is empty: give a version such as `3.9`"));
        }
        if self.selection.is_some() && (!self.paths.is_empty() || self.with_dependants) {
            return Err(usage("--selection is the whole selection: give no package directories with it"));
        }
        let shard = self.shard;
        let jobs = self.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j.0);
        Ok(Options { jobs, timeout: Duration::from_secs(self.timeout.unwrap_or(600)), shard })
    }

    /// The changed packages (since --base-ref, else the named ones) and the named ones.
    fn changes(&self, sh: &Shell, repo: &Monorepo) -> Result<(BTreeSet<usize>, Option<BTreeSet<usize>>)> {
        let named = if self.paths.is_empty() {
            None
        } else {
            let mut set = BTreeSet::new();
            let mut unknown = Vec::new();
            for path in &self.paths {
                match repo.resolve(path) {
                    Ok(p) => {
                        set.insert(repo.index_of(p));
                    }
                    Err(e) => unknown.push(format!("{e:#}")),
                }
            }
            if !unknown.is_empty() {
                return Err(usage(unknown.join("\n")));
            }
            Some(set)
        };
        let changed = match (&self.base_ref, &named) {
            (None, None) => {
                return Err(usage("give package directories, or --base-ref REF to test what changed since REF"))
            }
            (None, Some(named)) => named.clone(),
            (Some(base), _) => {
                let mut set = BTreeSet::new();
                for file in git::changed_files(sh, base)?.into_iter().chain(git::dirty_files(sh)?) {
                    if let crate::monorepo::Owner::Package(i) = repo.owner_of(&file) {
                        set.insert(i);
                    }
                }
                set
            }
        };
        Ok((changed, named))
    }

    fn print_plan(&self, repo: &Monorepo, selection: &[Selected], expected: &[f64], shard: Option<Shard>) {
        let local =
            |s: &Selected| -> Vec<String> { s.local.iter().map(|&i| repo.packages[i].display_name.clone()).collect() };
        if self.json {
            let packages: Vec<_> = selection
                .iter()
                .zip(expected)
                .map(|(s, e)| {
                    let p = &repo.packages[s.package];
                    json!({"path": p.dir, "name": p.display_name, "reason": s.reason.label(),
                           "local_packages": local(s), "expected_seconds": (e * 100.0).round() / 100.0})
                })
                .collect();
            let tools = exec::tools_json(&tools(repo, selection));
            output::json(&json!({"shard": shard.map(|s| s.to_string()), "packages": packages, "tools": tools}));
            return;
        }
        let rows: Vec<Vec<String>> = selection
            .iter()
            .zip(expected)
            .map(|(s, e)| {
                let p = &repo.packages[s.package];
                vec![p.dir.clone(), s.reason.label().into(), local(s).join(", "), format!("{e:.1}s")]
            })
            .collect();
        output::data(&output::table(&["Package", "Reason", "Local packages", "Expected"], &rows));
        let total: f64 = expected.iter().sum();
        let shard = shard.map_or(String::new(), |s| format!(" (shard {s})"));
        output::note(&format!(
            "would test {} package(s){shard}, about {total:.0}s of work, with {}",
            selection.len(),
            exec::tools_line(&tools(repo, selection))
        ));
    }

    fn execute(
        &self,
        sh: &Shell,
        repo: &Monorepo,
        options: &Options,
        mut selection: Vec<Selected>,
        expected: &[f64],
        mut timings: Timings,
    ) -> Result<()> {
        let uv = exec::require("uv", "to run the packages' tests")?;
        let (python_path, python_version) = interpreter(sh, &uv, self.python.as_deref())?;
        let scratch = Scratch::new("test")?;
        let journal = journal(sh, repo, &scratch)?;
        locks::catch_interrupts();
        // Longest first, so the last package to finish is a short one; stable, so packages
        // without timings keep directory order.
        let mut order: Vec<usize> = (0..selection.len()).collect();
        order.sort_by(|&a, &b| expected[b].total_cmp(&expected[a]));
        let ordered: Vec<Selected> = order.iter().map(|&i| selection[i].clone()).collect();
        let locals: BTreeSet<usize> = selection.iter().flat_map(|s| s.local.iter().copied()).collect();
        let tools = tools(repo, &selection);
        output::note(&format!(
            "testing {} package(s) with {} job(s), Python {python_version}{}, {}; local packages: {}",
            selection.len(),
            options.jobs,
            options.shard.map_or(String::new(), |s| format!(", shard {s}")),
            exec::tools_line(&tools),
            if locals.is_empty() {
                "none".to_string()
            } else {
                locals.iter().map(|&i| repo.packages[i].display_name.as_str()).collect::<Vec<_>>().join(", ")
            }
        ));
        let started = std::time::Instant::now();
        let wheels = build_wheels(repo, &uv, &locals, &scratch.join("wheels"), options.jobs);
        let wheel_seconds = started.elapsed().as_secs_f64();
        let ctx = Context {
            root: repo.root.clone(),
            uv,
            poetry: exec::find("poetry"),
            python_request: self.python.clone(),
            python_path,
            python_version: python_version.clone(),
            timeout: options.timeout,
            cov: self.cov,
            diff_cover: self.cov_fail_under.zip(self.base_ref.clone()),
            wheels,
            scratch: scratch.join("coverage"),
            strict_locks: self.strict_locks,
            journal,
        };
        let reports = self.run_all(repo, &ctx, &ordered, options.jobs);
        if locks::interrupted() {
            drop(ctx);
            bail!(
                "interrupted after {} of {} package(s), so nothing is reported; every lock the run relocked \
                 is back as it was",
                reports.len(),
                selection.len()
            );
        }
        let sum = |f: fn(&run::Steps) -> f64| reports.iter().map(|r| f(&r.steps)).sum::<f64>();
        output::note(&format!(
            "time: {:.1}s in all; building {} local wheel(s) {wheel_seconds:.1}s; summed over packages: \
             installing environments {:.1}s, local packages {:.1}s, tests {:.1}s, reruns against the base {:.1}s; \
             with {}",
            started.elapsed().as_secs_f64(),
            locals.len(),
            sum(|s| s.install),
            sum(|s| s.local),
            sum(|s| s.tests),
            sum(|s| s.baseline),
            exec::tools_line(&tools),
        ));
        selection.sort_by(|a, b| repo.packages[a.package].dir.cmp(&repo.packages[b.package].dir));
        let rows: Vec<Row> = selection
            .iter()
            .map(|s| {
                let r = reports.iter().find(|r| r.package == s.package).cloned().unwrap_or_else(|| not_run(s));
                Row::new(&repo.packages, s, &r, self.strict)
            })
            .collect();
        if let Some(path) = &self.timings {
            for r in reports.iter() {
                timings.0.insert(repo.packages[r.package].dir.clone(), r.seconds);
            }
            timings.write(path)?;
        }
        self.finish(&rows, &python_version.to_string(), options.shard.map(|s| s.to_string()), &tools)
    }

    /// Every package on `jobs` threads, with progress; `--fail-fast` starts nothing new after a
    /// package that fails the run.
    #[allow(clippy::disallowed_methods)] // the progress clock: one thread that only prints, beside the pool
    fn run_all(&self, repo: &Monorepo, ctx: &Context, ordered: &[Selected], jobs: usize) -> Vec<Report> {
        let stop = AtomicBool::new(false);
        let progress = progress::Progress::new(ordered.len());
        let work = |sel: &Selected| {
            if stop.load(Ordering::Relaxed) || locks::interrupted() {
                return None; // Reported as not run.
            }
            let dir = &repo.packages[sel.package].dir;
            progress.start(dir);
            let report = run::test_one(ctx, &repo.packages, sel);
            let verdict = report::verdict(&report.outcome, report.baseline.as_ref(), sel.is_changed());
            let fails = verdict.fails_run(self.strict);
            let message = report.outcome.is_failure().then(|| {
                format!("{} {dir} ({}, {})", output::red("      failed"), report.outcome.label(), verdict.label())
            });
            progress.finish(dir, verdict, message);
            if fails && self.fail_fast {
                stop.store(true, Ordering::Relaxed);
            }
            Some(report)
        };
        std::thread::scope(|s| {
            s.spawn(|| progress.tick());
            let reports = parallel::map(ordered, jobs, work);
            progress.end();
            reports.into_iter().flatten().collect()
        })
    }

    /// Prints the results (table or JSON), the failures' logs and the step summary; the error
    /// says what failed the run.
    fn finish(&self, rows: &[Row], python: &str, shard: Option<String>, tools: &[&str]) -> Result<()> {
        if self.json {
            let mut doc = report::document(rows, python, shard);
            doc["tools"] = exec::tools_json(tools);
            output::json(&doc);
        } else {
            output::data(&report::render(rows));
        }
        for r in rows {
            if let Some(lock) = &r.stale_lock {
                output::warn(&lock.warning(&r.path));
            }
        }
        for r in rows.iter().filter(|r| !r.log.is_empty() && (r.fails_run || r.verdict == "already failing")) {
            eprintln!(
                "\n{} {} ({}), last lines of its log:\n{}",
                output::red("==>"),
                r.path,
                r.result,
                report::tail(&r.log, 50)
            );
        }
        output::github_summary(&format!("### Tests, Python {python}\n\n{}", report::markdown(rows)));
        fail_if_needed(rows)
    }

    /// `--merge`: the shards' `--json` results as one table and one step summary.
    fn merge(&self) -> Result<()> {
        let mut by_python: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for path in &self.merge {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("`{}` is not the JSON of `cargo xtask test --json`", path.display()))?;
            let rows = doc["packages"].as_array().with_context(|| format!("`{}` has no `packages`", path.display()))?;
            let python = doc["python"].as_str().unwrap_or("unknown").to_string();
            for r in rows {
                let row = Row::from_json(r)
                    .with_context(|| format!("`{}` has a package result without its fields: {r}", path.display()))?;
                by_python.entry(python.clone()).or_default().push(row);
            }
        }
        let mut all = Vec::new();
        let mut summary = String::new();
        for (python, rows) in &mut by_python {
            rows.sort_by(|a, b| a.path.cmp(&b.path));
            if !self.json {
                output::data(&format!("Python {python}:\n{}", report::render(rows)));
            }
            summary += &format!("### Tests, Python {python}\n\n{}\n", report::markdown(rows));
            all.extend(rows.iter().cloned());
        }
        if self.json {
            let docs: Vec<_> = by_python.iter().map(|(p, rows)| report::document(rows, p, None)).collect();
            output::json(&json!({"results": docs}));
        }
        output::github_summary(&summary);
        if let Some(path) = &self.timings {
            let mut timings = Timings::read(path)?;
            for r in &all {
                let t = timings.0.entry(r.path.clone()).or_insert(0.0);
                *t = if by_python.len() > 1 { t.max(r.seconds) } else { r.seconds };
            }
            timings.write(path)?;
        }
        fail_if_needed(&all)
    }
}

fn fail_if_needed(rows: &[Row]) -> Result<()> {
    let failed: Vec<&str> =
        rows.iter().filter(|r| r.fails_run && r.verdict != "not run").map(|r| r.path.as_str()).collect();
    if !failed.is_empty() {
        bail!("{} of {} packages failed: {}", failed.len(), rows.len(), failed.join(", "));
    }
    if rows.iter().any(|r| r.verdict == "not run") {
        bail!("some packages were not run because of --fail-fast");
    }
    Ok(())
}

fn not_run(s: &Selected) -> Report {
    Report {
        package: s.package,
        outcome: run::Outcome::NotRun,
        stale_lock: None,
        baseline: None,
        coverage: run::Coverage::default(),
        seconds: 0.0,
        steps: run::Steps::default(),
        log: String::new(),
    }
}

/// The tools the run uses: uv, and poetry when a legacy `[tool.poetry]` package is selected.
fn tools(repo: &Monorepo, selection: &[Selected]) -> Vec<&'static str> {
    let poetry = selection.iter().any(|s| repo.packages[s.package].table == crate::pyproject::Table::Poetry);
    if poetry {
        vec!["uv", "poetry"]
    } else {
        vec!["uv"]
    }
}

/// This run's journal of the stale locks it relocks, in the git directory (never dirt); first,
/// the locks that an earlier run was killed before putting back go back.
fn journal(sh: &Shell, repo: &Monorepo, scratch: &Scratch) -> Result<locks::Journal> {
    let base = match git::git_path(sh, "xtask-test-locks") {
        Ok(path) => repo.root.join(path),
        // Not a git checkout: the journal lives as long as the run.
        Err(_) => scratch.join("locks"),
    };
    for file in locks::recover(&base, &repo.root)? {
        output::warn(&format!("put back `{file}`, which an interrupted `cargo xtask test` had locked afresh"));
    }
    locks::Journal::create(&base)
}

/// The interpreter uv picks (for `--python`, the one it names) and its version.
fn interpreter(sh: &Shell, uv: &Path, request: Option<&str>) -> Result<(PathBuf, crate::version::Version)> {
    let args: Vec<&str> = request.into_iter().collect();
    // `uv python find` prefers an active virtualenv, as the user would expect.
    let python = exec::Cmd::new(uv).dir(sh.current_dir()).args(["python", "find"]).args(args).keep_virtualenv().read();
    let python = python.with_context(|| match request {
        Some(r) => format!(
            "uv finds no Python `{r}` on this machine; install it (`uv python install {r}`) or choose another --python"
        ),
        None => "uv finds no Python interpreter; install one (`uv python install`)".to_string(),
    })?;
    let version = exec::Cmd::new(&python)
        .dir(sh.current_dir())
        .args(["-c", "import platform; print(platform.python_version())"])
        .read()?;
    let version = version
        .parse()
        .map_err(|e| anyhow::anyhow!("the interpreter uv found (`{python}`) reports an odd version: {e}"))?;
    Ok((PathBuf::from(python), version))
}

/// Each local package's wheel, built once from the working tree with `uv build`, in parallel.
fn build_wheels(
    repo: &Monorepo,
    uv: &Path,
    locals: &BTreeSet<usize>,
    out: &Path,
    jobs: usize,
) -> BTreeMap<usize, Result<PathBuf, String>> {
    let list: Vec<usize> = locals.iter().copied().collect();
    let built = parallel::map(&list, jobs, |&i| {
        let p = &repo.packages[i];
        output::status("building", &format!("{} from the working tree", p.display_name));
        (i, build_wheel(&repo.root.join(&p.dir), uv, &out.join(p.name.to_string())))
    });
    built.into_iter().collect()
}

fn build_wheel(src: &Path, uv: &Path, out: &Path) -> Result<PathBuf, String> {
    let mut log = String::new();
    let argv = [
        uv.display().to_string(),
        "build".into(),
        "--wheel".into(),
        "--out-dir".into(),
        out.display().to_string(),
        src.display().to_string(),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    if run::run_until(src, &argv, &[], deadline, &mut log) != Some(true) {
        return Err(report::tail(&log, 30));
    }
    let wheel = std::fs::read_dir(out)
        .ok()
        .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "whl")));
    wheel.ok_or_else(|| format!("`uv build --wheel` wrote no wheel into `{}`\n{log}", out.display()))
}
