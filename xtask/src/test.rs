//! `cargo xtask test`: each affected package's tests, with `uv` (or poetry for legacy
//! `[tool.poetry]` packages), in parallel.
//!
//! Every outcome is counted for what it is: a timeout, an install failure, a test failure and a
//! coverage shortfall all fail the run (the original counted the first two as passed).

use std::{
    collections::BTreeSet,
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use serde_json::json;
use xshell::{cmd, Shell};

use crate::{
    exec, flags, git,
    graph::Graph,
    monorepo::{Monorepo, Owner, Package},
    output, parallel,
    pyproject::Table,
    requirement::Requirement,
    version::Version,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    InstallFailed,
    TimedOut,
    CoverageFailed,
    NoTests,
    UnsupportedPython(String),
    NotRun,
}

impl Outcome {
    fn label(&self) -> String {
        match self {
            Outcome::Passed => "passed".into(),
            Outcome::Failed => "failed".into(),
            Outcome::InstallFailed => "install failed".into(),
            Outcome::TimedOut => "timed out".into(),
            Outcome::CoverageFailed => "coverage too low".into(),
            Outcome::NoTests => "skipped: no tests".into(),
            Outcome::UnsupportedPython(v) => format!("skipped: needs Python {v}"),
            Outcome::NotRun => "not run (--fail-fast)".into(),
        }
    }
    fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed | Outcome::InstallFailed | Outcome::TimedOut | Outcome::CoverageFailed)
    }
}

struct Report {
    package: usize,
    outcome: Outcome,
    seconds: f64,
    log: String,
}

struct Options {
    timeout: Duration,
    cov: bool,
    cov_fail_under: Option<u32>,
}

impl flags::Test {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.cov_fail_under.is_some() && !self.cov {
            return Err(flags::usage("--cov-fail-under needs --cov"));
        }
        let repo = Monorepo::load(&sh.current_dir())?;
        let selected = self.select(sh, &repo)?;
        let uv = exec::require("uv", "to run the packages' tests")?;
        let python = interpreter_version(sh, &uv)?;
        let options = Options {
            timeout: Duration::from_secs(self.timeout.unwrap_or(600)),
            cov: self.cov,
            cov_fail_under: self.cov_fail_under,
        };
        let jobs = self.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
        output::note(&format!("testing {} package(s) with {jobs} job(s), Python {python}", selected.len()));

        let stop = AtomicBool::new(false);
        let reports = parallel::map(&selected, jobs, |&i| {
            if stop.load(Ordering::Relaxed) {
                return None; // Reported as not run below.
            }
            let package = &repo.packages[i];
            output::status("testing", &package.dir);
            let report = test_one(&repo.root, package, i, &python, &options);
            output::status(
                if report.outcome.is_failure() { "failed" } else { "done" },
                &format!("{} ({})", package.dir, report.outcome.label()),
            );
            if report.outcome.is_failure() && self.fail_fast {
                stop.store(true, Ordering::Relaxed);
            }
            Some(report)
        });
        let mut reports: Vec<Report> = reports.into_iter().flatten().collect();
        for &i in &selected {
            if !reports.iter().any(|r| r.package == i) {
                reports.push(Report { package: i, outcome: Outcome::NotRun, seconds: 0.0, log: String::new() });
            }
        }
        reports.sort_by_key(|r| repo.packages[r.package].dir.clone());
        self.print(&repo, &reports);
        let failed: Vec<&str> =
            reports.iter().filter(|r| r.outcome.is_failure()).map(|r| repo.packages[r.package].dir.as_str()).collect();
        if !failed.is_empty() {
            bail!("{} of {} packages failed: {}", failed.len(), reports.len(), failed.join(", "));
        }
        if reports.iter().any(|r| r.outcome == Outcome::NotRun) {
            bail!("some packages were not run because of --fail-fast");
        }
        Ok(())
    }

    /// Named packages alone (plus dependants with --with-dependants), or what changed since
    /// --base-ref plus everything that depends on it.
    fn select(&self, sh: &Shell, repo: &Monorepo) -> Result<Vec<usize>> {
        let mut set: BTreeSet<usize> = BTreeSet::new();
        let with_dependants = match (&self.base_ref, self.paths.is_empty()) {
            (Some(_), false) => return Err(flags::usage("give package directories or --base-ref, not both")),
            (None, true) => {
                return Err(flags::usage("give package directories, or --base-ref REF to test what changed since REF"))
            }
            (None, false) => {
                for p in repo.select(&self.paths, false)? {
                    set.insert(repo.index_of(p));
                }
                self.with_dependants
            }
            (Some(base), true) => {
                for file in git::changed_files(sh, base)? {
                    if let Owner::Package(i) = repo.owner_of(&file) {
                        set.insert(i);
                    }
                }
                true
            }
        };
        if with_dependants {
            let dependants = Graph::new(&repo.packages).dependants(&set, true);
            set.extend(dependants);
        }
        Ok(set.into_iter().collect())
    }

    fn print(&self, repo: &Monorepo, reports: &[Report]) {
        if self.json {
            let list: Vec<_> = reports
                .iter()
                .map(|r| {
                    let p = &repo.packages[r.package];
                    json!({"name": p.display_name, "path": p.dir, "result": r.outcome.label(), "failed": r.outcome.is_failure(), "seconds": (r.seconds * 100.0).round() / 100.0})
                })
                .collect();
            output::json(&serde_json::Value::Array(list));
        } else {
            let rows: Vec<Vec<String>> = reports
                .iter()
                .map(|r| vec![repo.packages[r.package].dir.clone(), r.outcome.label(), format!("{:.2}s", r.seconds)])
                .collect();
            output::data(&output::table(&["Package", "Result", "Time"], &rows));
        }
        for r in reports.iter().filter(|r| r.outcome.is_failure()) {
            let tail: Vec<&str> = r.log.lines().rev().take(50).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!(
                "\n{} {} ({}), last lines of its log:\n{}",
                output::red("==>"),
                repo.packages[r.package].dir,
                r.outcome.label(),
                tail.join("\n")
            );
        }
        let mut summary = String::from("| Package | Result | Time |\n| --- | --- | --- |\n");
        for r in reports {
            summary += &format!("| {} | {} | {:.2}s |\n", repo.packages[r.package].dir, r.outcome.label(), r.seconds);
        }
        output::github_summary(&summary);
    }
}

/// The version of the interpreter uv picks for new environments.
fn interpreter_version(sh: &Shell, uv: &Path) -> Result<Version> {
    let python = exec::read(cmd!(sh, "{uv} python find"))?;
    let version = exec::read(cmd!(sh, "{python} -c 'import platform; print(platform.python_version())'"))?;
    version.parse().map_err(|e| anyhow::anyhow!("the interpreter uv found (`{python}`) reports an odd version: {e}"))
}

fn test_one(root: &Path, package: &Package, index: usize, python: &Version, options: &Options) -> Report {
    let started = Instant::now();
    let done = |outcome, log: String| Report { package: index, outcome, seconds: started.elapsed().as_secs_f64(), log };
    let dir = root.join(&package.dir);
    if !dir.join("tests").is_dir() {
        return done(Outcome::NoTests, String::new());
    }
    if let Some(spec) = &package.requires_python {
        let allowed = Requirement::parse(&format!("python{spec}")).and_then(|r| r.allows(python));
        if allowed == Ok(false) {
            return done(Outcome::UnsupportedPython(spec.clone()), String::new());
        }
    }
    let (install, test): (Vec<String>, Vec<String>) = if package.table == Table::Poetry {
        let poetry = exec::find("poetry").map_or("poetry".into(), |p| p.display().to_string());
        (vec![poetry.clone(), "install".into()], vec![poetry, "run".into(), "pytest".into(), "-q".into()])
    } else {
        let uv = exec::find("uv").map_or("uv".into(), |p| p.display().to_string());
        (
            vec![uv.clone(), "sync".into()],
            vec![uv, "run".into(), "--no-sync".into(), "--".into(), "pytest".into(), "-q".into()],
        )
    };
    let mut test = test;
    if options.cov {
        test.extend(["--cov=.".to_string(), "--cov-report=xml".to_string()]);
        if let Some(n) = options.cov_fail_under {
            test.push(format!("--cov-fail-under={n}"));
        }
    }
    let deadline = started + options.timeout;
    let mut log = String::new();
    match run_until(&dir, &install, deadline, &mut log) {
        Some(true) => {}
        Some(false) => return done(Outcome::InstallFailed, log),
        None => return done(Outcome::TimedOut, log),
    }
    match run_until(&dir, &test, deadline, &mut log) {
        Some(true) => done(Outcome::Passed, log),
        None => done(Outcome::TimedOut, log),
        Some(false) if options.cov_fail_under.is_some() && log.contains("FAIL Required test coverage") => {
            done(Outcome::CoverageFailed, log)
        }
        Some(false) => done(Outcome::Failed, log),
    }
}

/// Runs `argv` in `dir`, appending its output to `log`. `None` when it was killed at `deadline`.
fn run_until(dir: &Path, argv: &[String], deadline: Instant, log: &mut String) -> Option<bool> {
    log.push_str(&format!("$ {}\n", argv.join(" ")));
    let handle = match duct::cmd(&argv[0], &argv[1..])
        .dir(dir)
        .env_remove("VIRTUAL_ENV")
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .start()
    {
        Ok(h) => h,
        Err(e) => {
            log.push_str(&format!("cannot run `{}`: {e}\n", argv[0]));
            return Some(false);
        }
    };
    loop {
        match handle.try_wait() {
            Ok(Some(out)) => {
                log.push_str(&String::from_utf8_lossy(&out.stdout));
                return Some(out.status.success());
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = handle.kill();
                log.push_str("killed: the time limit (--timeout) ran out\n");
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                log.push_str(&format!("{e}\n"));
                return Some(false);
            }
        }
    }
}
