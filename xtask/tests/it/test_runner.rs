//! `cargo xtask test` with real uv and pytest on generated monorepos whose integrations take core
//! from a real local index (pypiserver), as in the real monorepo: dependants are tested against
//! the working tree's changes, a dependant's failure is told apart from an old one by a rerun
//! against the index's versions, and the tree is left as it was.

use crate::support;

use std::{collections::BTreeSet, path::PathBuf, sync::OnceLock};

use serde_json::Value;
use support::{pypiserver::PypiServer, Run, Sample};

const OPENAI: &str = "llama-index-integrations/llms/llama-index-llms-openai";
const EMBEDDINGS: &str = "llama-index-integrations/embeddings/llama-index-embeddings-openai";
const WORKFLOW: &str = "llama-index-utils/llama-index-utils-workflow";
/// The change that breaks the dependants whose tests call core's `chunk`; core's own tests,
/// which check only its edges, still pass.
const BROKEN_CHUNK: &str = "return [text] if text else []";

/// A sample, and a local index holding core as released (dependants' `uv sync` installs it from
/// there). uv is pointed at the index with `UV_DEFAULT_INDEX`; pypiserver sends what it does not
/// hold (pytest, pydantic) on to the public index.
struct Indexed {
    s: Sample,
    server: PypiServer,
}

impl Indexed {
    fn new() -> Indexed {
        let s = Sample::new(20, 0);
        let server = PypiServer::start_holding(released_core());
        Indexed { s, server }
    }

    fn env(&self) -> String {
        format!("{}/simple", self.server.url())
    }

    fn test(&self, args: &[&str]) -> Run {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        self.s.xtask_env(&all, &[("UV_DEFAULT_INDEX", &self.env()), ("GITHUB_STEP_SUMMARY", "")])
    }

    fn break_core(&self) {
        let base = self.s.read("llama-index-core/llama_index/core/base.py");
        let broken = base.replace("return [text[i : i + size] for i in range(0, len(text), size)]", BROKEN_CHUNK);
        assert_ne!(base, broken);
        self.s.write("llama-index-core/llama_index/core/base.py", &broken);
    }

    /// Tracked files changed or untracked files added (ignored ones, like `.venv`, aside).
    fn status(&self) -> String {
        self.s.git(&["status", "--porcelain", "--untracked-files=all"])
    }
}

/// Core's distributions as released: published by the xtask from a sample like every test's
/// (the sample is deterministic), once per test process, and copied to each test's index.
fn released_core() -> &'static [PathBuf] {
    static RELEASED: OnceLock<Vec<PathBuf>> = OnceLock::new();
    RELEASED.get_or_init(|| {
        let s = Sample::new(20, 0);
        let server = PypiServer::start();
        let upload = server.publish_url();
        s.xtask_env(
            &["publish", "--index-url", &server.index_url(), "--publish-url", &upload, "llama-index-core"],
            &[("UV_PUBLISH_TOKEN", "test")],
        )
        .ok();
        let files = std::fs::read_dir(server.package_dir()).unwrap().map(|e| e.unwrap().path());
        let files = support::keep(files, &support::run_dir("released-core"));
        assert_eq!(files.len(), 2, "core's sdist and wheel: {files:?}");
        files
    })
}

fn packages(out: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["packages"].as_array().unwrap().clone()
}

/// (path, result, verdict) of each package.
fn results(out: &str) -> Vec<(String, String, String)> {
    packages(out)
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
            (s("path"), s("result"), s("verdict"))
        })
        .collect()
}

fn triples(want: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn a_core_change_that_breaks_a_dependant_is_a_regression_and_old_failures_stand_apart() {
    let x = Indexed::new();
    // The workflow utils' tests fail already at the base, whatever core does.
    x.s.write(&format!("{WORKFLOW}/tests/test_old.py"), "def test_old_failure():\n    assert 1 == 2\n");
    support::commit_all(&x.s.root(), "A test that fails (#901)");
    x.s.git(&["tag", "base"]);
    x.break_core();
    support::commit_all(&x.s.root(), "Change how core chunks text (#902)");
    let before = x.status();

    let args = ["--base-ref", "base", "llama-index-core", OPENAI, WORKFLOW, "-j", "2", "--python", "3.11"];
    let timings = x.s.dir.path().join("timings.json");
    let timings_arg = timings.display().to_string();
    let mut with_json = args.to_vec();
    with_json.extend(["--json", "--timings", &timings_arg]);
    let out = x.test(&with_json).fails_with(1);
    assert_eq!(
        results(&out.stdout),
        triples(&[
            ("llama-index-core", "passed", "passed"),
            (OPENAI, "failed", "regression"),
            (WORKFLOW, "failed", "already failing"),
        ]),
        "{}",
        out.stderr
    );
    let openai = packages(&out.stdout).into_iter().find(|p| p["path"] == OPENAI).unwrap();
    assert_eq!(openai["local_packages"], serde_json::json!(["llama-index-core"]));
    assert_eq!(openai["reason"], "named");
    assert_eq!(openai["baseline"], "passed", "it passes against the index's core");
    // Only the regression fails the run; the log shows the change's failure and the rerun.
    assert!(out.stderr.contains(&format!("1 of 3 packages failed: {OPENAI}")), "{}", out.stderr);
    assert!(out.stderr.contains("['abcdefg'] == ['abc', 'def', 'g']"), "{}", out.stderr);
    assert!(out.stderr.contains("again against the index's versions"), "{}", out.stderr);
    assert!(out.stderr.contains("sync --python 3.11"), "--python reaches uv: {}", out.stderr);
    // The run measured every package into the timings file.
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&timings).unwrap()).unwrap();
    assert_eq!(t["packages"].as_object().unwrap().len(), 3, "{t}");
    assert_eq!(x.status(), before, "a test run changes no file of the tree");

    // Old failures alone pass the run, unless --strict; the table puts them apart.
    let out = x.test(&["--base-ref", "base", WORKFLOW]).ok();
    assert!(out.stdout.contains("Already failing"), "{}", out.stdout);
    assert!(out.stdout.contains("llama-index-core"), "the table names the local packages: {}", out.stdout);
    x.test(&["--base-ref", "base", WORKFLOW, "--strict"]).fails_with(1);
    // A changed package's own failure always fails the run.
    let out = x.test(&[WORKFLOW]).fails_with(1);
    assert!(out.stderr.contains(&format!("1 of 1 packages failed: {WORKFLOW}")), "{}", out.stderr);
}

#[test]
fn a_tracked_lock_is_only_read_and_a_stale_one_is_reported() {
    let x = Indexed::new();
    let dir = x.s.root().join(EMBEDDINGS);
    let lock = support::command(support::tool("uv"))
        .arg("lock")
        .current_dir(&dir)
        .env("UV_DEFAULT_INDEX", x.env())
        .output()
        .unwrap();
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));
    support::commit_all(&x.s.root(), "Lock the embeddings (#903)");
    let locked = x.s.read(&format!("{EMBEDDINGS}/uv.lock"));

    let out = x.test(&[EMBEDDINGS, "llama-index-instrumentation", "--json"]).ok();
    assert_eq!(
        results(&out.stdout),
        triples(&[("llama-index-instrumentation", "passed", "passed"), (EMBEDDINGS, "passed", "passed")])
    );
    assert_eq!(x.status(), "", "the lock is read, and instrumentation's made lock is gone");

    let pyproject =
        x.s.read(&format!("{EMBEDDINGS}/pyproject.toml"))
            .replace("dependencies = [\n", "dependencies = [\n    \"iniconfig>=1\",\n");
    x.s.write(&format!("{EMBEDDINGS}/pyproject.toml"), &pyproject);
    support::commit_all(&x.s.root(), "Add a dependency without locking (#904)");
    let out = x.test(&[EMBEDDINGS, "--json", "--strict-locks"]).fails_with(1);
    assert_eq!(results(&out.stdout), triples(&[(EMBEDDINGS, "uv.lock is out of date; run `uv lock`", "failed")]));
    assert_eq!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked, "never rewritten");
    assert_eq!(x.status(), "");
}

/// Locks `dir` with the test index, and commits the lock.
fn lock_and_commit(x: &Indexed, dir: &str) -> String {
    let lock = support::command(support::tool("uv"))
        .arg("lock")
        .current_dir(x.s.root().join(dir))
        .env("UV_DEFAULT_INDEX", x.env())
        .output()
        .unwrap();
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));
    support::commit_all(&x.s.root(), &format!("Lock {dir} (#910)"));
    x.s.read(&format!("{dir}/uv.lock"))
}

#[test]
fn a_package_bumped_without_relocking_is_tested_with_a_fresh_lock_and_its_lock_put_back() {
    let x = Indexed::new();
    let locked = lock_and_commit(&x, EMBEDDINGS);
    // A version bump without `uv lock`, as in the real monorepo's commits: the lock records the
    // package's own version, so `uv sync --locked` refuses it.
    let pyproject = x.s.read(&format!("{EMBEDDINGS}/pyproject.toml"));
    let line = pyproject.lines().find(|l| l.starts_with("version = ")).unwrap().to_string();
    x.s.write(&format!("{EMBEDDINGS}/pyproject.toml"), &pyproject.replacen(&line, "version = \"9.9.9\"", 1));
    support::commit_all(&x.s.root(), "Bump the embeddings without locking (#911)");

    let out = x.test(&[EMBEDDINGS, "--json"]).ok();
    assert_eq!(results(&out.stdout), triples(&[(EMBEDDINGS, "passed", "passed")]), "{}", out.stderr);
    let row = &packages(&out.stdout)[0];
    assert_eq!(
        row["stale_lock"],
        serde_json::json!({"file": format!("{EMBEDDINGS}/uv.lock"), "fix": "uv lock", "directory": EMBEDDINGS})
    );
    let warning = format!(
        "`{EMBEDDINGS}/uv.lock` is out of date: tested with a fresh lock, the tree's put back as it was; run `uv lock` in `{EMBEDDINGS}`"
    );
    assert_eq!(row["warnings"], serde_json::json!([warning]));
    assert!(out.stderr.contains(&format!("warning: {warning}")), "{}", out.stderr);
    assert_eq!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked, "the tree's lock, byte for byte");
    assert_eq!(x.status(), "", "the tree ends as it began");
    let time = out.stderr.lines().find(|l| l.starts_with("time: ")).unwrap();
    assert!(time.contains("; with uv ") && time.contains("(bootstrapped;"), "which uv ran: {time}");
    assert_eq!(packages(&out.stdout).len(), 1);

    // The table and the step summary say it too, with the command that fixes it.
    let summary = x.s.dir.path().join("summary.md");
    let out = x.s.xtask_env(
        &["test", EMBEDDINGS],
        &[("UV_DEFAULT_INDEX", &x.env()), ("GITHUB_STEP_SUMMARY", &summary.display().to_string())],
    );
    let out = out.ok();
    assert!(out.stdout.contains("passed (stale uv.lock)"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("  cd {EMBEDDINGS} && uv lock\n")), "{}", out.stdout);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains(&format!("- `cd {EMBEDDINGS} && uv lock`")), "{md}");
    assert_eq!(x.status(), "");

    // --strict-locks fails it untested, as before.
    let out = x.test(&[EMBEDDINGS, "--json", "--strict-locks"]).fails_with(1);
    assert_eq!(results(&out.stdout), triples(&[(EMBEDDINGS, "uv.lock is out of date; run `uv lock`", "failed")]));
    assert_eq!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked);
    assert_eq!(x.status(), "");
}

/// Starts `cargo xtask test DIR` on `x`, and returns it once `DIR`'s lock differs from `locked`
/// (the run has relocked it).
fn start_until_relocked(x: &Indexed, dir: &str, locked: &str) -> std::process::Child {
    let mut child = support::command(support::xtask_bin())
        .arg("--root")
        .arg(x.s.root())
        .args(["test", dir])
        .env("NO_COLOR", "1")
        .env("UV_DEFAULT_INDEX", x.env())
        .env("GITHUB_STEP_SUMMARY", "")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lock = x.s.root().join(dir).join("uv.lock");
    while std::fs::read_to_string(&lock).is_ok_and(|now| now == locked) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it relocked `{dir}`");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

#[test]
fn an_interrupted_run_puts_the_lock_back_and_a_killed_ones_is_put_back_by_the_next() {
    let x = Indexed::new();
    let locked = lock_and_commit(&x, EMBEDDINGS);
    let pyproject = x.s.read(&format!("{EMBEDDINGS}/pyproject.toml"));
    let line = pyproject.lines().find(|l| l.starts_with("version = ")).unwrap().to_string();
    x.s.write(&format!("{EMBEDDINGS}/pyproject.toml"), &pyproject.replacen(&line, "version = \"9.9.9\"", 1));
    support::commit_all(&x.s.root(), "Bump the embeddings without locking (#914)");

    // SIGTERM (as a CI runner's cancel sends): the run starts nothing new, puts the lock back
    // and says it was interrupted.
    let child = start_until_relocked(&x, EMBEDDINGS, &locked);
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let out: Run = child.wait_with_output().unwrap().into();
    let out = out.fails_with(1);
    assert!(out.stderr.contains("error: interrupted after 1 of 1 package(s)"), "{}", out.stderr);
    assert_eq!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked, "put back before the run ended");
    assert_eq!(x.status(), "");

    // SIGKILL leaves the fresh lock in the tree; the next run puts it back first, and says so.
    let mut child = start_until_relocked(&x, EMBEDDINGS, &locked);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked);
    let out = x.test(&[EMBEDDINGS, "--dry-run"]).ok();
    assert_ne!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked, "a dry run writes nothing: {}", out.stderr);
    let out = x.test(&[EMBEDDINGS]).ok();
    let put_back =
        format!("warning: put back `{EMBEDDINGS}/uv.lock`, which an interrupted `cargo xtask test` had locked afresh");
    assert!(out.stderr.contains(&put_back), "{}", out.stderr);
    assert_eq!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked);
    assert_eq!(x.status(), "");
}

#[test]
fn a_stale_lock_that_cannot_be_resolved_is_its_own_failure_without_a_rerun_against_the_base() {
    let x = Indexed::new();
    let locked = lock_and_commit(&x, EMBEDDINGS);
    // A requirement nothing satisfies, committed without locking, before the base: the
    // embeddings are a dependant of the change to core below, not changed themselves.
    let pyproject =
        x.s.read(&format!("{EMBEDDINGS}/pyproject.toml"))
            .replace("dependencies = [\n", "dependencies = [\n    \"iniconfig>=999\",\n");
    x.s.write(&format!("{EMBEDDINGS}/pyproject.toml"), &pyproject);
    support::commit_all(&x.s.root(), "Require what does not exist (#912)");
    x.s.git(&["tag", "base"]);
    x.break_core();
    support::commit_all(&x.s.root(), "Change how core chunks text (#913)");

    let out = x.test(&["--base-ref", "base", "llama-index-core", EMBEDDINGS, "--json"]).ok();
    let unresolvable = "the stale lock cannot be resolved; run `uv lock` to see why";
    assert_eq!(
        results(&out.stdout),
        triples(&[("llama-index-core", "passed", "passed"), (EMBEDDINGS, unresolvable, "already failing")]),
        "{}",
        out.stderr
    );
    let row = packages(&out.stdout).into_iter().find(|p| p["path"] == EMBEDDINGS).unwrap();
    assert_eq!(row["baseline"], Value::Null, "no rerun against the base: it could not lock either");
    assert!(out.stderr.contains("No solution found"), "its log says why: {}", out.stderr);
    assert!(!out.stderr.contains("again against the index's versions"), "{}", out.stderr);
    assert_eq!(x.s.read(&format!("{EMBEDDINGS}/uv.lock")), locked);
    assert_eq!(x.status(), "");
    // Changed itself, it fails the run.
    let out = x.test(&[EMBEDDINGS, "--json"]).fails_with(1);
    assert_eq!(results(&out.stdout), triples(&[(EMBEDDINGS, unresolvable, "failed")]));
    assert_eq!(x.status(), "");
}

#[test]
fn diff_coverage_fails_packages_whose_changed_lines_are_not_covered() {
    let x = Indexed::new();
    x.s.git(&["tag", "base"]);
    // Core gains a function no test calls: 1 of its 4 changed lines runs (the `def`).
    let base = x.s.read("llama-index-core/llama_index/core/base.py");
    x.s.write(
        "llama-index-core/llama_index/core/base.py",
        &format!("{base}\n\ndef unused(x):\n    y = x + 1\n    z = y * 2\n    return z\n"),
    );
    // The llm gains a tested function: every changed line runs.
    x.s.write(&format!("{OPENAI}/llama_index/llms/openai/util.py"), "def double(x):\n    return 2 * x\n");
    x.s.write(
        &format!("{OPENAI}/tests/test_util.py"),
        "from llama_index.llms.openai.util import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
    );
    support::commit_all(&x.s.root(), "A tested helper and an untested one (#905)");
    let out = x
        .test(&["--base-ref", "base", "llama-index-core", OPENAI, "--cov", "--cov-fail-under", "50", "--json"])
        .fails_with(1);
    let got = packages(&out.stdout);
    let core = &got[0];
    assert_eq!(core["result"], "changed lines 25% covered", "{}", out.stderr);
    assert_eq!(core["coverage"]["diff"], 25.0);
    assert!(core["coverage"]["total"].as_f64().unwrap() > 50.0, "total coverage is reported too: {core}");
    assert_eq!(got[1]["result"], "passed", "{}", out.stderr);
    assert_eq!(got[1]["coverage"]["diff"], 100.0);
    assert_eq!(x.status(), "", "coverage data stays out of the tree");

    let out = x.test(&["--base-ref", "base", OPENAI, "--cov"]).ok();
    assert!(out.stdout.contains("Coverage"), "the table shows total coverage: {}", out.stdout);
}

#[test]
fn outcomes_are_counted_for_what_they_are() {
    let x = Indexed::new();
    let s = &x.s;
    // The openai llm fails its tests; cli cannot install; finetuning hangs; experimental needs a
    // Python nobody has; instrumentation needs a newer one than --python asks for.
    s.write(&format!("{OPENAI}/tests/test_fail.py"), "def test_fails():\n    assert 1 == 2\n");
    let cli = s
        .read("llama-index-cli/pyproject.toml")
        .replace("dependencies = [\n", "dependencies = [\n    \"no-such-package-xtask-test>=99\",\n");
    s.write("llama-index-cli/pyproject.toml", &cli);
    s.write("llama-index-finetuning/tests/test_slow.py", "import time\n\ndef test_slow():\n    time.sleep(120)\n");
    let exp = s.read("llama-index-experimental/pyproject.toml").replace(">=3.9,<4.0", ">=3.99");
    s.write("llama-index-experimental/pyproject.toml", &exp);
    let ins = s.read("llama-index-instrumentation/pyproject.toml").replace(">=3.9,<4.0", ">=3.12");
    s.write("llama-index-instrumentation/pyproject.toml", &ins);

    let paths =
        ["llama-index-core", OPENAI, "llama-index-cli", "llama-index-experimental", "llama-index-instrumentation"];
    let mut args = paths.to_vec();
    args.extend(["--python", "3.11", "--json"]);
    let out = x.test(&args).fails_with(1);
    assert_eq!(
        results(&out.stdout),
        triples(&[
            ("llama-index-cli", "install failed", "failed"),
            ("llama-index-core", "passed", "passed"),
            ("llama-index-experimental", "skipped: needs Python >=3.99", "skipped"),
            ("llama-index-instrumentation", "skipped: needs Python >=3.12", "skipped"),
            (OPENAI, "failed", "failed"),
        ]),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("2 of 5 packages failed"), "{}", out.stderr);
    assert!(out.stderr.contains("assert 1 == 2"), "the failing test's log is shown: {}", out.stderr);

    // The limit is every package's (its install and its tests); finetuning's hanging test runs
    // out of a short one, in a run of its own so that the others keep the default limit.
    let out = x.test(&["llama-index-finetuning", "--timeout", "3", "--json"]).fails_with(1);
    assert_eq!(results(&out.stdout), triples(&[("llama-index-finetuning", "timed out", "failed")]), "{}", out.stderr);
    assert!(out.stderr.contains("1 of 1 packages failed"), "{}", out.stderr);
    assert!(out.stderr.contains("the time limit (--timeout) ran out"), "{}", out.stderr);

    // A Python that uv cannot find here is an error that names it.
    let out = x.test(&["llama-index-core", "--python", "3.99"]).fails_with(1);
    assert!(out.stderr.contains("uv finds no Python `3.99`"), "{}", out.stderr);
}

#[test]
fn base_ref_selects_changes_and_dependants_and_fail_fast_stops() {
    let x = Indexed::new();
    x.s.write("llama-index-core/tests/test_fail.py", "def test_fails():\n    assert False\n");
    support::commit_all(&x.s.root(), "Break core (#900)");
    // Every package depends on core. With one job and --fail-fast, the runs go in directory
    // order (no timings): the umbrella has no tests, cli passes with the local core, core fails,
    // and the rest never start.
    let out = x.test(&["--base-ref", "v0.14.12", "-j", "1", "--fail-fast", "--json"]).fails_with(1);
    let got = results(&out.stdout);
    assert!(got.len() > 10, "core's dependants are selected: {got:?}");
    assert_eq!(
        got[..3],
        triples(&[
            (".", "skipped: no tests", "skipped"),
            ("llama-index-cli", "passed", "passed"),
            ("llama-index-core", "failed", "failed"),
        ])
    );
    assert!(got[3..].iter().all(|(_, r, _)| r == "not run (--fail-fast)"), "{got:?}");
}

#[test]
fn progress_lines_off_a_terminal() {
    let s = Sample::new(20, 0);
    let all: Value = serde_json::from_str(&s.xtask(&["pkg", "info", "--all", "--json"]).ok().stdout).unwrap();
    // Twelve packages without tests finish at once: a progress line after the 10th.
    let dirs: Vec<String> =
        all.as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap().to_string()).skip(1).take(12).collect();
    for d in &dirs {
        std::fs::remove_dir_all(s.root().join(d).join("tests")).ok();
    }
    let mut args = vec!["test"];
    args.extend(dirs.iter().map(String::as_str));
    let out = s.xtask(&args).ok();
    assert!(out.stderr.contains("progress: 10/12 done, 0 passed, 0 failed, 10 skipped; running"), "{}", out.stderr);
}

fn dry_run(s: &Sample, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["test", "--base-ref", "v0.14.12", "--dry-run", "--json"];
    args.extend_from_slice(extra);
    packages(&s.xtask(&args).ok().stdout)
}

#[test]
fn shards_split_the_dry_run_selection_disjointly_deterministically_and_in_balance() {
    let s = Sample::new(60, 0);
    s.write("llama-index-core/llama_index/core/base.py", "# A change to core.\n");
    let all = dry_run(&s, &[]);
    assert!(all.len() > 50, "core's dependants: {}", all.len());
    let first = &all[0];
    let keys: BTreeSet<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["path", "name", "reason", "local_packages", "expected_seconds"]));
    let core = all.iter().find(|p| p["path"] == "llama-index-core").unwrap();
    assert_eq!(core["reason"], "changed");
    assert!(all.iter().filter(|p| p["reason"] == "dependant").all(|p| p["local_packages"][0] == "llama-index-core"));

    // Known timings: a few slow packages, many quick ones; a third have none (the median).
    let timings = s.dir.path().join("timings.json");
    let known: serde_json::Map<String, Value> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(i, p)| (p["path"].as_str().unwrap().to_string(), Value::from([300.0, 40.0, 12.0, 6.0][i % 4])))
        .collect();
    std::fs::write(&timings, serde_json::json!({ "packages": known }).to_string()).unwrap();
    let t = timings.display().to_string();
    // CI computes the selection once and gives the file to every shard.
    let selection = s.dir.path().join("selection.json");
    let plan = s.xtask(&["test", "--base-ref", "v0.14.12", "--dry-run", "--json", "--timings", &t]).ok().stdout;
    std::fs::write(&selection, plan).unwrap();
    let selection = selection.display().to_string();
    let mut seen = BTreeSet::new();
    let mut loads = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let part = dry_run(&s, &["--shard", &shard, "--timings", &t]);
        assert_eq!(part, dry_run(&s, &["--shard", &shard, "--timings", &t]), "the same shard every time");
        assert_eq!(part, dry_run(&s, &["--shard", &shard, "--selection", &selection]), "the same from the file");
        for p in &part {
            assert!(seen.insert(p["path"].as_str().unwrap().to_string()), "{} is in two shards", p["path"]);
        }
        loads.push(part.iter().map(|p| p["expected_seconds"].as_f64().unwrap()).sum::<f64>());
    }
    let every: BTreeSet<String> = all.iter().map(|p| p["path"].as_str().unwrap().to_string()).collect();
    assert_eq!(seen, every, "the shards together are the selection");
    let ideal = loads.iter().sum::<f64>() / 3.0;
    assert!(loads.iter().all(|&l| l <= ideal * 1.25), "shards' seconds {loads:?} against the ideal {ideal}");
}

#[test]
fn bad_input_is_a_usage_error_that_names_the_value() {
    let s = Sample::new(20, 0);
    for (args, needle) in [
        (vec!["-j", "0", "llama-index-core"], "can't parse `-j`, `0` would run nothing"),
        (vec!["--timeout", "0", "llama-index-core"], "`--timeout 0`"),
        (vec!["--shard", "0/3", "llama-index-core"], "`--shard 0/3`"),
        (vec!["--shard", "4/3", "llama-index-core"], "`--shard 4/3`"),
        (vec!["--shard", "x", "llama-index-core"], "`--shard x`"),
        (vec!["llama-index-nope"], "llama-index-nope"),
        (vec!["--cov-fail-under", "50", "llama-index-core"], "--cov-fail-under needs --cov"),
        (vec!["--cov", "--cov-fail-under", "50", "llama-index-core"], "give --base-ref too"),
        (vec![], "--base-ref REF"),
    ] {
        let mut all = vec!["test"];
        all.extend(args.iter().copied());
        let out = s.xtask(&all).fails_with(2);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn merge_joins_shards_results_into_one_summary_and_updates_timings() {
    let s = Sample::new(20, 0);
    let dir = s.dir.path();
    let shard =
        |python: &str, rows: &str| format!("{{\"python\": \"{python}\", \"shard\": \"1/2\", \"packages\": [{rows}]}}");
    let row = |path: &str, verdict: &str, fails: bool, secs: f64| {
        format!(
            "{{\"path\": \"{path}\", \"name\": \"{path}\", \"reason\": \"dependant\", \"local_packages\": [\"llama-index-core\"], \
             \"result\": \"{}\", \"baseline\": null, \"verdict\": \"{verdict}\", \"fails_run\": {fails}, \"seconds\": {secs}, \
             \"coverage\": {{\"total\": null, \"diff\": null}}}}",
            if verdict == "passed" { "passed" } else { "failed" }
        )
    };
    std::fs::write(dir.join("a.json"), shard("3.9.18", &row("b-pkg", "passed", false, 4.0))).unwrap();
    std::fs::write(dir.join("b.json"), shard("3.9.18", &row("a-pkg", "already failing", false, 2.0))).unwrap();
    std::fs::write(dir.join("c.json"), shard("3.12.1", &row("a-pkg", "regression", true, 3.0))).unwrap();
    let summary = dir.join("summary.md");
    let timings = dir.join("timings.json");
    let (a, b, c) = (dir.join("a.json"), dir.join("b.json"), dir.join("c.json"));
    let args: Vec<String> = ["test", "--merge", &a.display().to_string(), "--merge", &b.display().to_string()]
        .into_iter()
        .map(String::from)
        .chain(["--merge".into(), c.display().to_string(), "--timings".into(), timings.display().to_string()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary_path = summary.display().to_string();
    let out = s.xtask_env(&args, &[("GITHUB_STEP_SUMMARY", &summary_path)]).fails_with(1);
    assert!(out.stderr.contains("1 of 3 packages failed: a-pkg"), "{}", out.stderr);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### Tests, Python 3.9.18") && md.contains("### Tests, Python 3.12.1"), "{md}");
    assert!(md.contains("1 passed, 0 failed, 0 regressions, 1 already failing"), "{md}");
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&timings).unwrap()).unwrap();
    assert_eq!(t["packages"]["a-pkg"], 3.0, "the slowest Python's time: {t}");
    assert_eq!(t["packages"]["b-pkg"], 4.0);
}

#[test]
fn the_plan_and_json_say_which_uv_runs_and_how_it_was_chosen() {
    let s = Sample::new(20, 0);
    let uv = support::tool("uv");
    let version = std::process::Command::new(&uv).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).split_whitespace().nth(1).unwrap().to_string();
    // The xtask prints the tools' directory without the harness's `xtask/..`.
    let tools = std::fs::canonicalize(uv.parent().unwrap()).unwrap();
    let placeholders =
        |text: &str| text.replace(&tools.display().to_string(), "[TOOLS]").replace(&version, "[VERSION]");
    // Bootstrapped first.
    let out = s.xtask(&["test", "llama-index-core", "--dry-run"]).ok();
    let note = out.stderr.lines().find(|l| l.starts_with("would test")).unwrap();
    expect_test::expect!["would test 1 package(s), about 1s of work, with uv [VERSION] at [TOOLS]/uv (bootstrapped; `XTASK_UV` chooses another)"]
        .assert_eq(&placeholders(note));
    let out = s.xtask(&["test", "llama-index-core", "--dry-run", "--json"]).ok();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        placeholders(&doc["tools"].to_string()),
        r#"{"uv":{"from":"bootstrapped","path":"[TOOLS]/uv","version":"[VERSION]"}}"#
    );
    // XTASK_UV chooses another: a path, or a name on PATH.
    let out =
        s.xtask_env(&["test", "llama-index-core", "--dry-run", "--json"], &[("XTASK_UV", &uv.display().to_string())]);
    let doc: Value = serde_json::from_str(&out.ok().stdout).unwrap();
    assert_eq!(doc["tools"]["uv"]["from"], "XTASK_UV");
    let out = s.xtask_env(&["test", "llama-index-core"], &[("XTASK_UV", "no-such-uv")]).fails_with(1);
    expect_test::expect!["error: `XTASK_UV` names `no-such-uv` for `uv`, which is not a program here: give a path to it, or a name on PATH"]
        .assert_eq(out.stderr.trim_end());
}
