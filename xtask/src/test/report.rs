//! What a test run says: each package's verdict (a regression or an old failure, for
//! dependants), the table, `--json`, the step summary, and the merge of shards' JSON results.

use serde_json::{json, Value};

use super::run::{Outcome, Report, StaleLock};
use super::selection::Selected;
use crate::{monorepo::Package, output};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Skipped,
    Failed,
    /// A dependant that fails with the change and passes against the index's versions.
    Regression,
    /// A dependant that fails against the index's versions too: not this change's doing.
    AlreadyFailing,
    NotRun,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Skipped => "skipped",
            Verdict::Failed => "failed",
            Verdict::Regression => "regression",
            Verdict::AlreadyFailing => "already failing",
            Verdict::NotRun => "not run",
        }
    }
    pub fn fails_run(self, strict: bool) -> bool {
        match self {
            Verdict::Failed | Verdict::Regression | Verdict::NotRun => true,
            Verdict::AlreadyFailing => strict,
            Verdict::Passed | Verdict::Skipped => false,
        }
    }
}

/// A changed package's failures are its own. A dependant's are a regression only when it passes
/// against the base; run without local packages, it already was the base.
pub fn verdict(outcome: &Outcome, baseline: Option<&Outcome>, changed: bool) -> Verdict {
    match outcome {
        Outcome::NotRun => Verdict::NotRun,
        // A stale lock under --strict-locks is the tree's fault, whatever the change.
        Outcome::LockOutdated => Verdict::Failed,
        o if !o.is_failure() && *o != Outcome::Passed => Verdict::Skipped,
        Outcome::Passed => Verdict::Passed,
        _ if changed => Verdict::Failed,
        _ => match baseline {
            Some(b) if !b.is_failure() => Verdict::Regression,
            _ => Verdict::AlreadyFailing,
        },
    }
}

/// One package's result, as printed and as in `--json` (which `--merge` reads back).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub path: String,
    pub name: String,
    pub reason: String,
    pub local: Vec<String>,
    pub result: String,
    pub baseline: Option<String>,
    pub verdict: String,
    pub fails_run: bool,
    pub seconds: f64,
    pub total: Option<f64>,
    pub diff: Option<f64>,
    /// The tree's lock was stale; the package was tested with a fresh one.
    pub stale_lock: Option<Stale>,
    pub log: String,
}

/// A stale lock as reported: the file, relative to the root, and the command that updates it,
/// run in the package's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub file: String,
    pub fix: String,
}

impl Stale {
    fn new(dir: &str, lock: StaleLock) -> Stale {
        let file = if dir == "." { lock.file.to_string() } else { format!("{dir}/{}", lock.file) };
        Stale { file, fix: lock.fix.to_string() }
    }

    /// The lock's name, for the table's cell.
    fn name(&self) -> &str {
        self.file.rsplit('/').next().unwrap_or(&self.file)
    }

    /// The warning, naming the fix.
    pub fn warning(&self, dir: &str) -> String {
        format!(
            "`{}` is out of date: tested with a fresh lock, the tree's put back as it was; run `{}` in `{dir}`",
            self.file, self.fix
        )
    }
}

impl Row {
    pub fn new(packages: &[Package], sel: &Selected, r: &Report, strict: bool) -> Row {
        let v = verdict(&r.outcome, r.baseline.as_ref(), sel.is_changed());
        Row {
            path: packages[sel.package].dir.clone(),
            name: packages[sel.package].display_name.clone(),
            reason: sel.reason.label().into(),
            local: sel.local.iter().map(|&i| packages[i].display_name.clone()).collect(),
            result: r.outcome.label(),
            baseline: r.baseline.as_ref().map(Outcome::label),
            verdict: v.label().into(),
            fails_run: v.fails_run(strict),
            seconds: r.seconds,
            total: r.coverage.total,
            diff: r.coverage.diff,
            stale_lock: r.stale_lock.map(|l| Stale::new(&packages[sel.package].dir, l)),
            log: r.log.clone(),
        }
    }

    pub fn to_json(&self) -> Value {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        json!({
            "path": self.path, "name": self.name, "reason": self.reason, "local_packages": self.local,
            "result": self.result, "baseline": self.baseline, "verdict": self.verdict, "fails_run": self.fails_run,
            "seconds": round(self.seconds),
            "coverage": {"total": self.total.map(round), "diff": self.diff.map(round)},
            "stale_lock": self.stale_lock.as_ref().map(|l| json!({"file": l.file, "fix": l.fix, "directory": self.path})),
            "warnings": self.stale_lock.iter().map(|l| l.warning(&self.path)).collect::<Vec<_>>(),
        })
    }

    pub fn from_json(v: &Value) -> Option<Row> {
        let s = |k: &str| v[k].as_str().map(str::to_string);
        Some(Row {
            path: s("path")?,
            name: s("name")?,
            reason: s("reason")?,
            local: v["local_packages"].as_array()?.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            result: s("result")?,
            baseline: s("baseline"),
            verdict: s("verdict")?,
            fails_run: v["fails_run"].as_bool()?,
            seconds: v["seconds"].as_f64()?,
            total: v["coverage"]["total"].as_f64(),
            diff: v["coverage"]["diff"].as_f64(),
            stale_lock: v["stale_lock"]["file"].as_str().map(|file| Stale {
                file: file.into(),
                fix: v["stale_lock"]["fix"].as_str().unwrap_or("uv lock").into(),
            }),
            log: String::new(),
        })
    }

    fn coverage(&self) -> String {
        match (self.total, self.diff) {
            (Some(t), Some(d)) => format!("{t:.0}% (changed lines {d:.0}%)"),
            (Some(t), None) => format!("{t:.0}%"),
            (None, Some(d)) => format!("changed lines {d:.0}%"),
            (None, None) => String::new(),
        }
    }

    fn cells(&self, with_coverage: bool) -> Vec<String> {
        let mut notes = Vec::new();
        if self.verdict == Verdict::Regression.label() || self.verdict == Verdict::AlreadyFailing.label() {
            notes.push(self.verdict.clone());
        }
        if let Some(lock) = &self.stale_lock {
            notes.push(format!("stale {}", lock.name()));
        }
        let result =
            if notes.is_empty() { self.result.clone() } else { format!("{} ({})", self.result, notes.join("; ")) };
        let mut cells = vec![self.path.clone(), result, self.local.join(", ")];
        if with_coverage {
            cells.push(self.coverage());
        }
        cells.push(format!("{:.2}s", self.seconds));
        cells
    }
}

/// The results as a JSON document: `{"python", "shard", "packages": [...]}`.
pub fn document(rows: &[Row], python: &str, shard: Option<String>) -> Value {
    json!({"python": python, "shard": shard, "packages": rows.iter().map(Row::to_json).collect::<Vec<_>>()})
}

/// The table, then the regressions and the old failures, each in a section of its own.
pub fn render(rows: &[Row]) -> String {
    let with_coverage = rows.iter().any(|r| r.total.is_some() || r.diff.is_some());
    let mut header = vec!["Package", "Result", "Local packages"];
    if with_coverage {
        header.push("Coverage");
    }
    header.push("Time");
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(with_coverage)).collect();
    let mut out = output::table(&header, &cells);
    for (verdict, title) in [
        (Verdict::Regression, "Regressions: they fail with the change and pass against the index's versions"),
        (
            Verdict::AlreadyFailing,
            "Already failing: they fail against the index's versions too (not counted; --strict counts them)",
        ),
    ] {
        let these: Vec<&Row> = rows.iter().filter(|r| r.verdict == verdict.label()).collect();
        if !these.is_empty() {
            out += &format!("\n{title}:\n");
            for r in these {
                out += &format!(
                    "  {} ({}; against the base: {})\n",
                    r.path,
                    r.result,
                    r.baseline.as_deref().unwrap_or(&r.result)
                );
            }
        }
    }
    out + &stale_locks(rows, false)
}

/// The section on stale locks: each package was tested with a fresh lock, and each line is the
/// command that brings the tree's up to date.
fn stale_locks(rows: &[Row], markdown: bool) -> String {
    let stale: Vec<(&Row, &Stale)> = rows.iter().filter_map(|r| Some((r, r.stale_lock.as_ref()?))).collect();
    if stale.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\nStale locks: tested with a fresh lock, the tree's put back as it was (--strict-locks fails them); \
         to bring them up to date:\n",
    );
    for (r, lock) in stale {
        out += &if markdown {
            format!("- `cd {} && {}`\n", r.path, lock.fix)
        } else {
            format!("  cd {} && {}\n", r.path, lock.fix)
        };
    }
    out
}

/// The step summary: one Markdown table, the sections, and the counts.
pub fn markdown(rows: &[Row]) -> String {
    let mut md =
        String::from("| Package | Result | Local packages | Coverage | Time |\n| --- | --- | --- | --- | --- |\n");
    for r in rows {
        let c = r.cells(true);
        md += &format!("| {} |\n", c.join(" | "));
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v.label()).count();
    md += &format!(
        "\n{} passed, {} failed, {} regressions, {} already failing, {} skipped, {} not run\n",
        count(Verdict::Passed),
        count(Verdict::Failed),
        count(Verdict::Regression),
        count(Verdict::AlreadyFailing),
        count(Verdict::Skipped),
        count(Verdict::NotRun)
    );
    md + &stale_locks(rows, true)
}

/// The last `n` lines of a log.
pub fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        use Outcome::*;
        let check = |o: Outcome, b: Option<Outcome>, changed, want: Verdict| {
            assert_eq!(verdict(&o, b.as_ref(), changed), want, "{o:?} {b:?} changed={changed}");
        };
        check(Passed, None, true, Verdict::Passed);
        check(NoTests, None, false, Verdict::Skipped);
        check(UnsupportedPython(">=3.12".into()), None, false, Verdict::Skipped);
        check(Failed, None, true, Verdict::Failed);
        check(InstallFailed, Some(Passed), true, Verdict::Failed);
        check(Failed, Some(Passed), false, Verdict::Regression);
        check(InstallFailed, Some(Passed), false, Verdict::Regression);
        check(Failed, Some(Failed), false, Verdict::AlreadyFailing);
        check(TimedOut, Some(InstallFailed), false, Verdict::AlreadyFailing);
        check(Failed, None, false, Verdict::AlreadyFailing);
        check(NotRun, None, false, Verdict::NotRun);
        // --strict-locks: the tree's stale lock fails, changed or not; an unresolvable one fails
        // a dependant at the base too (no rerun: locking never sees the local packages).
        check(LockOutdated, None, true, Verdict::Failed);
        check(LockOutdated, None, false, Verdict::Failed);
        check(LockUnresolvable, None, true, Verdict::Failed);
        check(LockUnresolvable, None, false, Verdict::AlreadyFailing);
        assert!(!Verdict::AlreadyFailing.fails_run(false));
        assert!(Verdict::AlreadyFailing.fails_run(true));
        assert!(Verdict::Regression.fails_run(false));
    }

    #[test]
    fn rows_survive_json_and_render_sections() {
        let row = |path: &str, result: &str, baseline: Option<&str>, verdict: Verdict| Row {
            path: path.into(),
            name: path.into(),
            reason: "dependant".into(),
            local: vec!["llama-index-core".into()],
            result: result.into(),
            baseline: baseline.map(str::to_string),
            verdict: verdict.label().into(),
            fails_run: verdict.fails_run(false),
            seconds: 1.5,
            total: Some(80.0),
            diff: None,
            stale_lock: None,
            log: String::new(),
        };
        let rows = vec![
            row("a", "passed", None, Verdict::Passed),
            row("b", "failed", Some("passed"), Verdict::Regression),
            row("c", "install failed", Some("install failed"), Verdict::AlreadyFailing),
        ];
        for r in &rows {
            assert_eq!(Row::from_json(&r.to_json()).as_ref(), Some(r));
        }
        expect_test::expect![[r#"
            Package  Result                            Local packages    Coverage  Time
            a        passed                            llama-index-core  80%       1.50s
            b        failed (regression)               llama-index-core  80%       1.50s
            c        install failed (already failing)  llama-index-core  80%       1.50s

            Regressions: they fail with the change and pass against the index's versions:
              b (failed; against the base: passed)

            Already failing: they fail against the index's versions too (not counted; --strict counts them):
              c (install failed; against the base: install failed)
        "#]]
        .assert_eq(&render(&rows));
    }

    #[test]
    fn stale_locks_are_warnings_that_name_the_fix() {
        let row = |path: &str, result: &str, verdict: Verdict, stale: bool| Row {
            path: path.into(),
            name: path.into(),
            reason: "changed".into(),
            local: vec![],
            result: result.into(),
            baseline: None,
            verdict: verdict.label().into(),
            fails_run: verdict.fails_run(false),
            seconds: 2.0,
            total: None,
            diff: None,
            stale_lock: stale.then(|| Stale { file: format!("{path}/uv.lock"), fix: "uv lock".into() }),
            log: String::new(),
        };
        let rows = vec![
            row("llama-index-core", "passed", Verdict::Passed, false),
            row("llms/openai", "passed", Verdict::Passed, true),
            row("llms/mistral", "failed", Verdict::Failed, true),
            row("llms/cohere", "the stale lock cannot be resolved; run `uv lock` to see why", Verdict::Failed, false),
        ];
        for r in &rows {
            assert_eq!(Row::from_json(&r.to_json()).as_ref(), Some(r));
        }
        expect_test::expect![[r#"
            Package           Result                                                       Local packages  Time
            llama-index-core  passed                                                                       2.00s
            llms/openai       passed (stale uv.lock)                                                       2.00s
            llms/mistral      failed (stale uv.lock)                                                       2.00s
            llms/cohere       the stale lock cannot be resolved; run `uv lock` to see why                  2.00s

            Stale locks: tested with a fresh lock, the tree's put back as it was (--strict-locks fails them); to bring them up to date:
              cd llms/openai && uv lock
              cd llms/mistral && uv lock
        "#]]
        .assert_eq(&render(&rows));
        expect_test::expect![[r#"
            | Package | Result | Local packages | Coverage | Time |
            | --- | --- | --- | --- | --- |
            | llama-index-core | passed |  |  | 2.00s |
            | llms/openai | passed (stale uv.lock) |  |  | 2.00s |
            | llms/mistral | failed (stale uv.lock) |  |  | 2.00s |
            | llms/cohere | the stale lock cannot be resolved; run `uv lock` to see why |  |  | 2.00s |

            2 passed, 2 failed, 0 regressions, 0 already failing, 0 skipped, 0 not run

            Stale locks: tested with a fresh lock, the tree's put back as it was (--strict-locks fails them); to bring them up to date:
            - `cd llms/openai && uv lock`
            - `cd llms/mistral && uv lock`
        "#]]
        .assert_eq(&markdown(&rows));
        expect_test::expect![[r#"{"directory":"llms/openai","file":"llms/openai/uv.lock","fix":"uv lock"} ["`llms/openai/uv.lock` is out of date: tested with a fresh lock, the tree's put back as it was; run `uv lock` in `llms/openai`"]"#]]
        .assert_eq(&format!("{} {}", rows[1].to_json()["stale_lock"], rows[1].to_json()["warnings"]));
        assert_eq!(rows[0].to_json()["warnings"], json!([]));
    }
}
