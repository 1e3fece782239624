//! What `publish` tells people: the plan, the outcome of every package as a table, as JSON and
//! as a GitHub Actions step summary. Pure text building; printing is the caller's.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::plan::{Plan, State};
use crate::{monorepo::Package, output};

/// How one selected package ended (or, in a dry run, what would happen to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Published {
        uploaded: Vec<String>,
        skipped: Vec<String>,
    },
    /// The version was on the index before the run (or its files, ours, were).
    AlreadyPublished {
        files: Vec<String>,
    },
    /// The version is on the index from another build: published. `missing`: kinds it lacks
    /// that were not uploaded (warned); `uploaded`: our files sent with `--complete`.
    BuiltElsewhere {
        missing: Vec<String>,
        uploaded: Vec<String>,
    },
    Failed(String),
    Blocked(String),
    /// A new project past the index's quota: for a later run.
    Deferred(String),
    /// The artifact check stopped it before any upload.
    Stopped(String),
    Planned(Planned),
}

/// What a dry run says about one package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Planned {
    pub what: String,
    /// Lines under the package: its hooks, its artifact check.
    pub notes: Vec<String>,
    /// The real run would leave it unpublished (blocked, deferred, stopped).
    pub fails: bool,
    /// The artifact check, as JSON, when a dry run could make it.
    pub check: Option<Value>,
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Published { .. } => "published",
            Outcome::AlreadyPublished { .. } => "already published",
            Outcome::BuiltElsewhere { .. } => "built elsewhere",
            Outcome::Failed(_) => "failed",
            Outcome::Blocked(_) => "blocked",
            Outcome::Deferred(_) => "deferred",
            Outcome::Stopped(_) => "stopped",
            Outcome::Planned(_) => "planned",
        }
    }

    /// The progress line's first word.
    pub fn verb(&self) -> &'static str {
        match self {
            Outcome::AlreadyPublished { .. } | Outcome::BuiltElsewhere { .. } => "skipped",
            other => other.label(),
        }
    }

    /// Whether the package is on the index now, as the run wanted.
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Published { .. } | Outcome::AlreadyPublished { .. } | Outcome::BuiltElsewhere { .. })
    }

    fn detail(&self) -> String {
        match self {
            Outcome::Published { uploaded, skipped } if skipped.is_empty() => {
                format!("{} uploaded", count(uploaded.len(), "file"))
            }
            Outcome::Published { uploaded, skipped } => {
                format!("{} uploaded, {} already there", count(uploaded.len(), "file"), skipped.len())
            }
            Outcome::AlreadyPublished { files } => format!("already on the index ({})", count(files.len(), "file")),
            Outcome::BuiltElsewhere { missing, uploaded } if missing.is_empty() && uploaded.is_empty() => {
                "built elsewhere, already on the index".into()
            }
            Outcome::BuiltElsewhere { uploaded, .. } if !uploaded.is_empty() => {
                format!("built elsewhere; uploaded ours: {}", uploaded.join(", "))
            }
            Outcome::BuiltElsewhere { missing, .. } => {
                format!("built elsewhere, without its {} (warned)", missing.join(" and "))
            }
            Outcome::Failed(why) | Outcome::Blocked(why) | Outcome::Deferred(why) | Outcome::Stopped(why) => {
                why.lines().next().unwrap_or("").to_string()
            }
            Outcome::Planned(p) => p.what.clone(),
        }
    }
}

pub fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

pub use crate::url::shown as shown_url;

/// The plan's header: how many packages are uploaded, and what the others are.
pub fn header(plan: &Plan, dry_run: bool, rest: &str) -> String {
    let items = plan.items.values();
    let uploads = items.clone().filter(|it| it.may_upload()).count();
    // On the index whole, or partly where the index accepts no more files for the version.
    let on_index = items.clone().filter(|it| it.blocked.is_none() && !it.deferred && !it.may_upload()).count();
    let blocked = items.clone().filter(|it| it.blocked.is_some()).count();
    let deferred = items.filter(|it| it.blocked.is_none() && it.deferred).count();
    let others: Vec<String> = [(on_index, "already on the index"), (blocked, "blocked"), (deferred, "deferred")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    let others = if others.is_empty() { String::new() } else { format!(" ({})", others.join(", ")) };
    let verb = if dry_run { "Would upload" } else { "Uploading" };
    format!("{verb} {}{others} {rest}", count(uploads, "package"))
}

/// The plan as text: one block per wave, one line per package with what will happen to it.
pub fn plan_text(packages: &[Package], plan: &Plan, what: &BTreeMap<usize, Planned>, header: &str) -> String {
    let mut out = format!("{header}\n");
    for (w, wave) in plan.waves.iter().enumerate() {
        out += &format!("wave {} ({}):\n", w + 1, count(wave.len(), "package"));
        for i in wave {
            let p = &packages[*i];
            let text = what.get(i).map_or("", |w| w.what.as_str()).replace('\n', "\n    ");
            out += &format!("  {} {} ({}): {text}\n", p.display_name, p.version, p.dir);
            for note in what.get(i).map_or(&[][..], |w| w.notes.as_slice()) {
                out += &format!("    {note}\n");
            }
            let item = &plan.items[i];
            // The requirement as written; where this run uploads the dependency, also the
            // version it waits for.
            let after: Vec<String> = item
                .needs
                .iter()
                .map(|n| match (&n.exact, plan.items.get(&n.dep)) {
                    (Some(v), Some(dep)) if dep.builds() => format!("{} (this run's {v})", n.requirement),
                    _ => n.requirement.to_string(),
                })
                .collect();
            if !after.is_empty() && item.blocked.is_none() {
                out += &format!(
                    "    after {} {} visible on the index\n",
                    after.join(", "),
                    if after.len() == 1 { "is" } else { "are" }
                );
            }
        }
    }
    out
}

/// One row per selected package, in plan order.
fn rows(plan: &Plan, outcomes: &BTreeMap<usize, Outcome>) -> Vec<(usize, usize, &'static str, String)> {
    let mut rows = Vec::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        for &i in wave {
            let o = outcomes.get(&i).cloned().unwrap_or(Outcome::Failed("not attempted".into()));
            rows.push((i, w + 1, o.label(), o.detail()));
        }
    }
    rows
}

pub fn summary_table(packages: &[Package], plan: &Plan, outcomes: &BTreeMap<usize, Outcome>) -> String {
    let table: Vec<Vec<String>> = rows(plan, outcomes)
        .into_iter()
        .map(|(i, w, label, detail)| {
            vec![
                packages[i].display_name.clone(),
                packages[i].version.to_string(),
                w.to_string(),
                label.to_string(),
                detail,
            ]
        })
        .collect();
    output::table(&["Package", "Version", "Wave", "Result", "Detail"], &table)
}

pub fn github_markdown(packages: &[Package], plan: &Plan, outcomes: &BTreeMap<usize, Outcome>) -> String {
    let rows = rows(plan, outcomes);
    let done = rows.iter().filter(|r| matches!(r.2, "published" | "already published" | "built elsewhere")).count();
    let mut md = format!("### Publish: {done} of {} done\n\n| Package | Version | Wave | Result | Detail |\n| --- | --- | --- | --- | --- |\n", count(rows.len(), "package"));
    for (i, w, label, detail) in rows {
        let cell = |s: &str| s.replace('|', "\\|");
        md += &format!(
            "| `{}` | {} | {w} | {label} | {} |\n",
            packages[i].display_name,
            packages[i].version,
            cell(&detail)
        );
    }
    md
}

/// The whole run as JSON; `extra` adds per-package fields (the artifact check, the files).
pub fn json_report(
    packages: &[Package],
    plan: &Plan,
    outcomes: &BTreeMap<usize, Outcome>,
    settings: Value,
    extra: &BTreeMap<usize, Value>,
) -> Value {
    let waves: Vec<Value> =
        plan.waves.iter().map(|w| Value::Array(w.iter().map(|&i| json!(packages[i].display_name)).collect())).collect();
    let list: Vec<Value> = rows(plan, outcomes)
        .into_iter()
        .map(|(i, w, label, _)| {
            let p = &packages[i];
            let item = &plan.items[&i];
            let mut v = json!({"name": p.display_name, "version": p.version.to_string(), "path": p.dir, "wave": w,
                               "result": label, "new_project": item.new_project});
            // Only where it matters: a version with a kind missing that the index closed.
            if let State::Partial { closed: Some(closed), .. } = &item.state {
                v["closed"] = json!(closed.reason());
            }
            match outcomes.get(&i) {
                Some(Outcome::Published { uploaded, skipped }) => {
                    v["uploaded"] = json!(uploaded);
                    v["skipped"] = json!(skipped);
                }
                Some(Outcome::AlreadyPublished { files }) => v["skipped"] = json!(files),
                Some(Outcome::BuiltElsewhere { missing, uploaded }) => {
                    v["missing"] = json!(missing);
                    v["uploaded"] = json!(uploaded);
                }
                Some(Outcome::Failed(why) | Outcome::Blocked(why) | Outcome::Deferred(why) | Outcome::Stopped(why)) => {
                    v["error"] = json!(why)
                }
                Some(Outcome::Planned(planned)) => {
                    v["plan"] = json!(planned.what);
                    v["notes"] = json!(planned.notes);
                    v["fails"] = json!(planned.fails);
                    if let Some(check) = &planned.check {
                        v["artifact_check"] = check.clone();
                    }
                }
                None => v["error"] = json!("not attempted"),
            }
            if let Some(Value::Object(more)) = extra.get(&i) {
                for (k, x) in more {
                    v[k] = x.clone();
                }
            }
            v
        })
        .collect();
    let mut report = settings;
    report["waves"] = Value::Array(waves);
    report["packages"] = Value::Array(list);
    report
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::{
        graph::Graph,
        index::{DistFile, Project},
        monorepo::Package,
    };

    /// Release 0.14.13 as the real one went: core and the umbrella uploaded, the changed
    /// integrations already on the index (published on merge).
    #[test]
    fn the_header_counts_uploads_and_dependency_lines_show_requirements() {
        let pkg = |dir: &str, name: &str, version: &str, deps: &[&str]| Package::sample(dir, name, version, deps);
        let packages = vec![
            pkg("llama-index-core", "llama-index-core", "0.14.13", &[]),
            pkg(
                ".",
                "llama-index",
                "0.14.13",
                &["llama-index-core>=0.14.13,<0.15", "llama-index-llms-openai>=0.6.0,<0.7"],
            ),
            pkg("llms/openai", "llama-index-llms-openai", "0.6.13", &["llama-index-core>=0.14.5,<0.15"]),
            pkg("vs/chroma", "llama-index-vector-stores-chroma", "0.5.5", &["llama-index-core>=0.14,<0.15"]),
        ];
        let project = |name: &str, versions: &[&str]| {
            let file = |v: &str| DistFile {
                filename: format!("{}-{v}.tar.gz", name.replace('-', "_")),
                sha256: None,
                yanked: false,
                url: None,
                uploaded: None,
            };
            let wheel =
                |v: &str| DistFile { filename: format!("{}-{v}-py3-none-any.whl", name.replace('-', "_")), ..file(v) };
            Some(Project {
                name: name.to_string(),
                releases: versions.iter().map(|v| (v.parse().unwrap(), vec![file(v), wheel(v)])).collect(),
            })
        };
        let remote: BTreeMap<usize, Option<Project>> = [
            (0, project("llama-index-core", &["0.14.12"])),
            (1, project("llama-index", &["0.14.12"])),
            (2, project("llama-index-llms-openai", &["0.6.12", "0.6.13"])),
            (3, project("llama-index-vector-stores-chroma", &["0.5.5"])),
        ]
        .into_iter()
        .collect();
        let graph = Graph::new(&packages);
        let selected: BTreeSet<usize> = (0..4).collect();
        let limits = super::super::plan::Limits {
            new_projects: None,
            closed_after: None,
            now: std::time::SystemTime::UNIX_EPOCH,
        };
        let plan = super::super::plan::plan(&packages, &graph, &selected, &remote, &limits).unwrap();
        let header = super::header(&plan, false, "to [SERVER]/ (…):");
        let text = super::plan_text(&packages, &plan, &BTreeMap::new(), &header);
        expect_test::expect![[r#"
            Uploading 2 packages (2 already on the index) to [SERVER]/ (…):
            wave 1 (1 package):
              llama-index-core 0.14.13 (llama-index-core): 
            wave 2 (2 packages):
              llama-index-llms-openai 0.6.13 (llms/openai): 
                after llama-index-core>=0.14.5,<0.15 (this run's 0.14.13) is visible on the index
              llama-index-vector-stores-chroma 0.5.5 (vs/chroma): 
                after llama-index-core>=0.14,<0.15 (this run's 0.14.13) is visible on the index
            wave 3 (1 package):
              llama-index 0.14.13 (.): 
                after llama-index-core>=0.14.13,<0.15 (this run's 0.14.13), llama-index-llms-openai>=0.6.0,<0.7 are visible on the index
        "#]]
        .assert_eq(&text);
        let dry = super::header(&plan, true, "to …");
        assert_eq!(dry, "Would upload 2 packages (2 already on the index) to …");
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(super::shown_url("https://user:pw@example.com/legacy/"), "https://[REDACTED]@example.com/legacy/");
        assert_eq!(super::shown_url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/");
    }
}
