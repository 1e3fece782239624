//! Running one package: install its environment, install the working tree's changed packages it
//! depends on, run pytest (with coverage and diff coverage when asked), and, when a dependant
//! fails, run it again against the index's versions. The tracked tree is left as it was: a
//! `uv.lock` is read (`uv sync --locked`); a stale one is locked afresh for the run and put back
//! byte for byte afterwards (`test/locks.rs`), unless `--strict-locks` fails it; one the run had
//! to create is removed, and coverage data goes to a scratch directory outside the tree.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use super::{
    locks::{Journal, Relocked},
    selection::Selected,
};
use crate::{monorepo::Package, pyproject::Table, requirement::Requirement, version::Version};

/// The diff-cover release that measures changed lines, run through `uv tool run` so that no
/// package has to depend on it (the original ran it with `uv run`, from each package's own
/// environment, where it often was not installed).
pub const DIFF_COVER: &str = "diff-cover==9.7.2";

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    Failed,
    InstallFailed,
    /// The lock is stale and `--strict-locks` was given: nothing ran.
    LockOutdated,
    /// The stale lock could not be locked afresh: no version set satisfies the requirements.
    LockUnresolvable,
    TimedOut,
    /// Changed lines covered, in percent, under the required share.
    CoverageFailed(f64),
    NoTests,
    UnsupportedPython(String),
    NotRun,
}

impl Outcome {
    pub fn label(&self) -> String {
        match self {
            Outcome::Passed => "passed".into(),
            Outcome::Failed => "failed".into(),
            Outcome::InstallFailed => "install failed".into(),
            Outcome::LockOutdated => "uv.lock is out of date; run `uv lock`".into(),
            Outcome::LockUnresolvable => "the stale lock cannot be resolved; run `uv lock` to see why".into(),
            Outcome::TimedOut => "timed out".into(),
            Outcome::CoverageFailed(p) => format!("changed lines {p:.0}% covered"),
            Outcome::NoTests => "skipped: no tests".into(),
            Outcome::UnsupportedPython(v) => format!("skipped: needs Python {v}"),
            Outcome::NotRun => "not run (--fail-fast)".into(),
        }
    }
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed
                | Outcome::InstallFailed
                | Outcome::LockOutdated
                | Outcome::LockUnresolvable
                | Outcome::TimedOut
                | Outcome::CoverageFailed(_)
        )
    }
}

/// Total and diff coverage, in percent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Coverage {
    pub total: Option<f64>,
    pub diff: Option<f64>,
}

/// Seconds spent in each step of a package's run, to say where the time goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Steps {
    pub install: f64,
    pub local: f64,
    pub tests: f64,
    pub baseline: f64,
}

/// A package's lock file that no longer matches its `pyproject.toml`, and the command that
/// brings it up to date, run in the package's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleLock {
    pub file: &'static str,
    pub fix: &'static str,
}

impl StaleLock {
    fn of(package: &Package) -> StaleLock {
        if package.table == Table::Poetry {
            StaleLock { file: "poetry.lock", fix: "poetry lock" }
        } else {
            StaleLock { file: "uv.lock", fix: "uv lock" }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub package: usize,
    pub outcome: Outcome,
    /// The tree's lock was stale: the run used a fresh one and put the tree's back.
    pub stale_lock: Option<StaleLock>,
    /// The rerun against the index's versions, when a dependant failed with the change.
    pub baseline: Option<Outcome>,
    pub coverage: Coverage,
    pub seconds: f64,
    pub steps: Steps,
    pub log: String,
}

/// What every package's run shares.
pub struct Context {
    pub root: PathBuf,
    pub uv: PathBuf,
    pub poetry: Option<PathBuf>,
    /// `--python` as given, passed on to uv, and the interpreter it names.
    pub python_request: Option<String>,
    pub python_path: PathBuf,
    pub python_version: Version,
    pub timeout: Duration,
    pub cov: bool,
    /// `--cov-fail-under` and `--base-ref`, for diff-cover.
    pub diff_cover: Option<(u32, String)>,
    /// The wheel built from each changed package's working tree, or why it could not be built.
    pub wheels: BTreeMap<usize, Result<PathBuf, String>>,
    /// Outside the tree: coverage data and reports.
    pub scratch: PathBuf,
    /// `--strict-locks`: a stale lock fails the package instead of being locked afresh.
    pub strict_locks: bool,
    /// Where the tree's stale locks are kept while they are relocked.
    pub journal: Journal,
}

pub fn test_one(ctx: &Context, packages: &[Package], sel: &Selected) -> Report {
    let started = Instant::now();
    let package = &packages[sel.package];
    let mut steps = Steps::default();
    let report = |outcome, stale_lock, baseline, coverage, steps, log| Report {
        package: sel.package,
        outcome,
        stale_lock,
        baseline,
        coverage,
        seconds: started.elapsed().as_secs_f64(),
        steps,
        log,
    };
    let dir = ctx.root.join(&package.dir);
    if !dir.join("tests").is_dir() {
        return report(Outcome::NoTests, None, None, Coverage::default(), steps, String::new());
    }
    if let Some(spec) = &package.requires_python {
        let allowed = Requirement::parse(&format!("python{spec}")).and_then(|r| r.allows(&ctx.python_version));
        if allowed == Ok(false) {
            let outcome = Outcome::UnsupportedPython(spec.clone());
            return report(outcome, None, None, Coverage::default(), steps, String::new());
        }
    }
    let lock = StaleLock::of(package).file;
    let had_lock = dir.join(lock).exists();
    let mut log = String::new();
    let local: Vec<(String, Result<PathBuf, String>)> = sel
        .local
        .iter()
        .map(|&i| (packages[i].name.to_string(), ctx.wheels.get(&i).cloned().unwrap_or(Err("not built".into()))))
        .collect();
    let (mut outcome, mut coverage) = attempt(ctx, package, &dir, had_lock, &local, ctx.cov, &mut steps, &mut log);
    let mut stale_lock = None;
    let mut relocked = None;
    if outcome == Outcome::LockOutdated && !ctx.strict_locks {
        stale_lock = Some(StaleLock::of(package));
        match relock(ctx, package, &dir, &mut steps, &mut log) {
            Ok(guard) => {
                relocked = Some(guard);
                (outcome, coverage) = attempt(ctx, package, &dir, true, &local, ctx.cov, &mut steps, &mut log);
            }
            Err(failed) => outcome = failed,
        }
    }
    // A dependant's failure is checked against the base: the same package without the working
    // tree's changed packages, that is, with what the index has. Not for a lock that is stale
    // (under --strict-locks) or cannot be resolved: locking never involves the local packages,
    // so the base would fail the same way.
    let rerun = outcome.is_failure()
        && !matches!(outcome, Outcome::LockOutdated | Outcome::LockUnresolvable)
        && !sel.is_changed()
        && !sel.local.is_empty();
    let baseline = rerun.then(|| {
        log.push_str("\n==> again against the index's versions (the base), without the local packages\n");
        let again = Instant::now();
        let outcome = attempt(ctx, package, &dir, had_lock, &[], false, &mut Steps::default(), &mut log).0;
        steps.baseline = again.elapsed().as_secs_f64();
        outcome
    });
    if let Some(guard) = relocked {
        match guard.restore() {
            Ok(()) => log.push_str(&format!("\n==> put back the tree's `{lock}`, as it was\n")),
            Err(e) => log.push_str(&format!("\n{e:#}\n")),
        }
    }
    if !had_lock {
        // The run made this lock; the tree had none.
        let _ = std::fs::remove_file(dir.join(lock));
    }
    report(outcome, stale_lock, baseline, coverage, steps, log)
}

/// Locks `package` afresh in its directory, for this run: the tree's lock is recorded first, and
/// goes back when the guard is dropped. The failure's outcome when no fresh lock could be had.
fn relock(
    ctx: &Context,
    package: &Package,
    dir: &Path,
    steps: &mut Steps,
    log: &mut String,
) -> Result<Relocked, Outcome> {
    let stale = StaleLock::of(package);
    let relative = if package.dir == "." { stale.file.to_string() } else { format!("{}/{}", package.dir, stale.file) };
    log.push_str(&format!(
        "\n==> `{relative}` is out of date: locking afresh for this run, the tree's lock goes back afterwards \
         (`{}` in `{}` brings it up to date)\n",
        stale.fix, package.dir
    ));
    let guard = Relocked::record(&ctx.journal, &ctx.root, &relative).map_err(|e| {
        log.push_str(&format!("{e:#}\n"));
        Outcome::InstallFailed
    })?;
    let mut argv = match (package.table == Table::Poetry, &ctx.poetry) {
        (true, Some(poetry)) => vec![poetry.display().to_string(), "lock".into()],
        (true, None) => vec!["poetry".into(), "lock".into()],
        (false, _) => vec![ctx.uv.display().to_string(), "lock".into()],
    };
    if let (false, Some(p)) = (package.table == Table::Poetry, &ctx.python_request) {
        argv.extend(["--python".into(), p.clone()]);
    }
    let started = Instant::now();
    let from = log.len();
    let locked = run_until(dir, &argv, &[], Instant::now() + ctx.timeout, log);
    steps.install += started.elapsed().as_secs_f64();
    match locked {
        Some(true) => Ok(guard),
        Some(false) if is_unresolvable(&log[from..]) => Err(Outcome::LockUnresolvable),
        Some(false) => Err(Outcome::InstallFailed),
        None => Err(Outcome::TimedOut),
    }
}

/// uv's and poetry's words when no set of versions satisfies the requirements.
fn is_unresolvable(output: &str) -> bool {
    output.contains("No solution found when resolving dependencies") || output.contains("version solving failed")
}

/// One install and test of `package` with `local` wheels on top of its environment.
#[allow(clippy::too_many_arguments)]
fn attempt(
    ctx: &Context,
    package: &Package,
    dir: &Path,
    locked: bool,
    local: &[(String, Result<PathBuf, String>)],
    cov: bool,
    steps: &mut Steps,
    log: &mut String,
) -> (Outcome, Coverage) {
    let mut clock = Instant::now();
    let mut lap = || std::mem::replace(&mut clock, Instant::now()).elapsed().as_secs_f64();
    let deadline = Instant::now() + ctx.timeout;
    let none = Coverage::default();
    let poetry = package.table == Table::Poetry;
    let uv = ctx.uv.display().to_string();
    let poetry_bin = ctx.poetry.as_ref().map_or("poetry".to_string(), |p| p.display().to_string());
    if poetry && ctx.python_request.is_some() {
        let argv = [poetry_bin.clone(), "env".into(), "use".into(), ctx.python_path.display().to_string()];
        match run_until(dir, &argv, &[], deadline, log) {
            Some(true) => {}
            Some(false) => return (Outcome::InstallFailed, none),
            None => return (Outcome::TimedOut, none),
        }
    }
    let mut install: Vec<String> = if poetry {
        vec![poetry_bin.clone(), "install".into()]
    } else {
        let mut a = vec![uv.clone(), "sync".into()];
        if locked {
            a.push("--locked".into());
        }
        a
    };
    if let (false, Some(p)) = (poetry, &ctx.python_request) {
        install.extend(["--python".into(), p.clone()]);
    }
    let from = log.len();
    let installed = run_until(dir, &install, &[], deadline, log);
    steps.install += lap();
    match installed {
        Some(true) => {}
        Some(false) if is_stale_lock(&log[from..]) => return (Outcome::LockOutdated, none),
        // `--locked` resolves again to compare; a stale lock whose requirements nothing satisfies
        // fails there.
        Some(false) if locked && is_unresolvable(&log[from..]) => return (Outcome::LockUnresolvable, none),
        Some(false) => return (Outcome::InstallFailed, none),
        None => return (Outcome::TimedOut, none),
    }
    if !local.is_empty() {
        let installed = install_local(ctx, dir, poetry, &poetry_bin, local, deadline, log);
        steps.local += lap();
        match installed {
            Some(true) => {}
            Some(false) => return (Outcome::InstallFailed, none),
            None => return (Outcome::TimedOut, none),
        }
    }
    let tested = pytest(ctx, package, dir, poetry, &poetry_bin, cov, deadline, log);
    steps.tests += lap();
    tested
}

/// uv's words when `--locked` meets a lock that no longer matches `pyproject.toml`; poetry's
/// when its lock is stale.
fn is_stale_lock(output: &str) -> bool {
    output.contains("needs to be updated, but `--locked` was provided")
        || output.contains("changed significantly since poetry.lock was last generated")
}

/// `uv pip install` of the changed packages' wheels into the environment just installed.
fn install_local(
    ctx: &Context,
    dir: &Path,
    poetry: bool,
    poetry_bin: &str,
    local: &[(String, Result<PathBuf, String>)],
    deadline: Instant,
    log: &mut String,
) -> Option<bool> {
    let mut wheels = Vec::new();
    for (name, wheel) in local {
        match wheel {
            Ok(w) => wheels.push((name, w)),
            Err(e) => {
                log.push_str(&format!("the working tree's `{name}` could not be built:\n{e}\n"));
                return Some(false);
            }
        }
    }
    let python = if poetry {
        let mut out = String::new();
        let argv = [poetry_bin.to_string(), "env".into(), "info".into(), "--executable".into()];
        if run_until(dir, &argv, &[], deadline, &mut out) != Some(true) {
            log.push_str(&out);
            return Some(false);
        }
        out.lines().last().unwrap_or_default().trim().to_string()
    } else {
        venv_python(dir).display().to_string()
    };
    let mut argv = vec![ctx.uv.display().to_string(), "pip".into(), "install".into(), "--python".into(), python];
    for (name, _) in &wheels {
        argv.extend(["--reinstall-package".into(), name.to_string()]);
    }
    argv.extend(wheels.iter().map(|(_, w)| w.display().to_string()));
    run_until(dir, &argv, &[], deadline, log)
}

fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join(".venv/Scripts/python.exe")
    } else {
        dir.join(".venv/bin/python")
    }
}

#[allow(clippy::too_many_arguments)]
fn pytest(
    ctx: &Context,
    package: &Package,
    dir: &Path,
    poetry: bool,
    poetry_bin: &str,
    cov: bool,
    deadline: Instant,
    log: &mut String,
) -> (Outcome, Coverage) {
    let mut argv: Vec<String> = if poetry {
        vec![poetry_bin.to_string(), "run".into(), "pytest".into()]
    } else {
        vec![ctx.uv.display().to_string(), "run".into(), "--no-sync".into(), "--".into(), "pytest".into()]
    };
    // No `.pytest_cache` in the tree.
    argv.extend(["-q".into(), "-p".into(), "no:cacheprovider".into()]);
    let scratch = ctx.scratch.join(package.name.to_string());
    let xml = scratch.join("coverage.xml");
    let data = scratch.join(".coverage");
    let mut env = Vec::new();
    if cov {
        let _ = std::fs::create_dir_all(&scratch);
        argv.extend(["--cov=.".into(), format!("--cov-report=xml:{}", xml.display())]);
        env.push(("COVERAGE_FILE".to_string(), data.display().to_string()));
    }
    let none = Coverage::default();
    let from = log.len();
    match run_until(dir, &argv, &env, deadline, log) {
        Some(true) => {}
        None => return (Outcome::TimedOut, none),
        // pytest's "no tests collected".
        Some(false) if log[from..].contains("no tests ran") => return (Outcome::NoTests, none),
        Some(false) => return (Outcome::Failed, none),
    }
    if !cov {
        return (Outcome::Passed, none);
    }
    let total = std::fs::read_to_string(&xml).ok().and_then(|x| line_rate(&x));
    let Some((fail_under, base)) = &ctx.diff_cover else {
        return (Outcome::Passed, Coverage { total, diff: None });
    };
    let report = scratch.join("diff-cover.json");
    let argv = [
        ctx.uv.display().to_string(),
        "tool".into(),
        "run".into(),
        "--from".into(),
        DIFF_COVER.into(),
        "diff-cover".into(),
        xml.display().to_string(),
        format!("--compare-branch={base}"),
        format!("--json-report={}", report.display()),
    ];
    match run_until(dir, &argv, &[], deadline, log) {
        Some(true) => {}
        None => return (Outcome::TimedOut, Coverage { total, diff: None }),
        Some(false) => return (Outcome::Failed, Coverage { total, diff: None }),
    }
    let diff = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["total_percent_covered"].as_f64());
    let coverage = Coverage { total, diff };
    match diff {
        Some(d) if d < f64::from(*fail_under) => (Outcome::CoverageFailed(d), coverage),
        Some(_) => (Outcome::Passed, coverage),
        None => {
            log.push_str("diff-cover wrote no total_percent_covered\n");
            (Outcome::Failed, coverage)
        }
    }
}

/// The total line coverage of a Cobertura report, in percent: its root's `line-rate`.
pub fn line_rate(xml: &str) -> Option<f64> {
    let start = xml.find("<coverage")?;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let value = tag.split("line-rate=\"").nth(1)?.split('"').next()?;
    value.parse::<f64>().ok().map(|r| r * 100.0)
}

/// Runs `argv` in `dir`, appending its output to `log`. `None` when it was killed at `deadline`.
pub fn run_until(
    dir: &Path,
    argv: &[String],
    env: &[(String, String)],
    deadline: Instant,
    log: &mut String,
) -> Option<bool> {
    if super::locks::interrupted() {
        log.push_str(&format!("not run, the run was interrupted: {}\n", argv.join(" ")));
        return Some(false);
    }
    log.push_str(&format!("$ {}\n", argv.join(" ")));
    let mut cmd = crate::exec::Cmd::new(&argv[0]).args(&argv[1..]).dir(dir);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    match cmd.capture_until(deadline) {
        Ok(Some(out)) => {
            log.push_str(&out.text);
            Some(out.ok)
        }
        Ok(None) => {
            log.push_str("killed: the time limit (--timeout) ran out\n");
            None
        }
        Err(e) => {
            log.push_str(&format!("cannot run `{}`: {e}\n", argv[0]));
            Some(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_coverage_is_the_reports_line_rate() {
        let xml = "<?xml version=\"1.0\" ?>\n<coverage version=\"7.6\" timestamp=\"1\" lines-valid=\"8\" \
                   lines-covered=\"6\" line-rate=\"0.75\" branches-covered=\"0\">\n<sources/>";
        assert_eq!(line_rate(xml), Some(75.0));
        assert_eq!(line_rate("<coverage>"), None);
    }

    #[test]
    fn stale_locks_are_recognised_by_the_tools_words() {
        let uv = "error: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided. To update the lockfile, run `uv lock`.";
        assert!(is_stale_lock(uv));
        assert!(!is_stale_lock("error: No solution found when resolving dependencies"));
        assert!(is_unresolvable(
            "  × No solution found when resolving dependencies:\n  ╰─▶ Because there is no version"
        ));
        assert!(!is_unresolvable(uv));
    }
}
