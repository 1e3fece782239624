//! Executing a publish plan: every package built once, in parallel; then uploads wave by wave,
//! each package after its dependencies are visible, with transient failures retried and the
//! dependants of a failure blocked. Every step prints a progress line on stderr.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use anyhow::Result;

use super::{
    build::{self, Build},
    buildenv,
    plan::{self, Plan},
    remote,
    report::{self, Outcome},
    upload::{self, Credentials, Failure},
    Options,
};
use crate::{
    backoff::Backoff,
    config::Backend,
    index::{self, Index},
    monorepo::{Monorepo, Package},
    output, parallel,
};

/// What will happen to each package, for the plan: decided per file where an earlier build
/// can be compared with the index without building anything.
pub fn describe(repo: &Monorepo, plan: &Plan, options: &Options, index: &Index) -> Result<BTreeMap<usize, String>> {
    let mut what = BTreeMap::new();
    for (&i, item) in &plan.items {
        let p = &repo.packages[i];
        let text = if let Some(why) = &item.blocked {
            format!("blocked: {why}")
        } else if item.on_index.is_empty() {
            "not on the index: build and upload".to_string()
        } else {
            let n = report::count(item.on_index.len(), "file");
            match build::reusable(&repo.root, p, options.backend) {
                Some(b) => {
                    let remote = remote::files_with_digests(index, &p.name, &p.version, &item.on_index)?;
                    let d = plan::decide(&local(&b), &remote);
                    if !d.conflicts.is_empty() {
                        format!(
                            "conflict: {} on the index with other content",
                            d.conflicts.iter().map(|c| format!("`{}`", c.0)).collect::<Vec<_>>().join(", ")
                        )
                    } else if d.upload.is_empty() {
                        format!("already published ({n} on the index, same sha256 as the last build)")
                    } else {
                        format!("{n} on the index; upload {}", d.upload.join(", "))
                    }
                }
                None => format!("{n} of this version on the index: build, skip identical files, upload the rest"),
            }
        };
        what.insert(i, text);
    }
    Ok(what)
}

fn local(b: &Build) -> Vec<(String, String)> {
    b.manifest.files.iter().map(|f| (f.filename.clone(), f.sha256.clone())).collect()
}

fn label(p: &Package) -> String {
    format!("{} {}", p.display_name, p.version)
}

pub fn execute(
    repo: &Monorepo,
    plan: &Plan,
    options: &Options,
    index: &Index,
    tool: &Path,
    credentials: &Credentials,
) -> BTreeMap<usize, Outcome> {
    let outcomes = Mutex::new(BTreeMap::new());
    let builds = Mutex::new(BTreeMap::new());
    let finish = |i: usize, outcome: Outcome| {
        let p = &repo.packages[i];
        match &outcome {
            Outcome::Failed(why) => output::status("failed", &format!("{}: {why}", label(p))),
            Outcome::Blocked(why) => output::status("blocked", &format!("{}: {why}", label(p))),
            Outcome::AlreadyPublished { .. } => {
                output::status("skipped", &format!("{}: already on the index", label(p)))
            }
            Outcome::Published { uploaded, .. } => {
                output::status("published", &format!("{} ({})", label(p), uploaded.join(", ")))
            }
            Outcome::Planned(_) => {}
        }
        outcomes.lock().expect("no panics under the lock").insert(i, outcome);
    };

    // Build everything first: a broken build shows before anything is uploaded.
    let started = std::time::Instant::now();
    let to_build: Vec<usize> =
        plan.waves.iter().flatten().copied().filter(|i| plan.items[i].blocked.is_none()).collect();
    for (&i, item) in &plan.items {
        if let Some(why) = &item.blocked {
            finish(i, Outcome::Blocked(why.clone()));
        }
    }
    let fresh: Vec<&Package> = to_build
        .iter()
        .map(|&i| &repo.packages[i])
        .filter(|p| build::reusable(&repo.root, p, options.backend).is_none())
        .collect();
    let shared_env = match options.backend {
        Backend::Uv if fresh.len() > 1 => buildenv::create(&repo.root, tool, &fresh),
        _ => None,
    };
    parallel::map(&to_build, options.jobs, |&i| {
        let p = &repo.packages[i];
        output::status("building", &format!("{} ({})", label(p), p.dir));
        match build::build(
            &repo.root,
            p,
            options.backend,
            tool,
            credentials,
            shared_env.as_ref().map(buildenv::BuildEnv::path),
        ) {
            Ok(b) => {
                let files = b.manifest.files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>().join(", ");
                output::status(
                    "built",
                    &format!(
                        "{}{}: {files}",
                        label(p),
                        if b.reused { " (unchanged since the last build)" } else { "" }
                    ),
                );
                builds.lock().expect("no panics under the lock").insert(i, b);
            }
            Err(e) => finish(i, Outcome::Failed(format!("{e:#}"))),
        }
    });
    let builds = builds.into_inner().expect("threads are done");

    let built = started.elapsed();
    let started = std::time::Instant::now();
    // Uploads mostly wait on the network and on visibility, not on the cores: run more of them.
    let upload_jobs = (options.jobs * 4).min(16);
    for wave in &plan.waves {
        let ready: Vec<usize> = wave.iter().copied().filter(|i| builds.contains_key(i)).collect();
        parallel::map(&ready, upload_jobs, |&i| {
            let done = outcomes.lock().expect("no panics under the lock").clone();
            let outcome = publish_one(repo, plan, options, index, tool, credentials, i, &builds[&i], &done);
            finish(i, outcome);
        });
    }
    let fresh = builds.values().filter(|b| !b.reused).count();
    output::note(&format!(
        "time: building {} ({fresh} fresh, {} at once) {:.1}s; uploading and waiting for visibility in {} {:.1}s",
        report::count(builds.len(), "package"),
        options.jobs,
        built.as_secs_f64(),
        report::count(plan.waves.len(), "wave"),
        started.elapsed().as_secs_f64()
    ));
    outcomes.into_inner().expect("threads are done")
}

#[allow(clippy::too_many_arguments)]
fn publish_one(
    repo: &Monorepo,
    plan: &Plan,
    options: &Options,
    index: &Index,
    tool: &Path,
    credentials: &Credentials,
    i: usize,
    build: &Build,
    done: &BTreeMap<usize, Outcome>,
) -> Outcome {
    let p = &repo.packages[i];
    let item = &plan.items[&i];
    // Dependencies of this run first: a failed one blocks, a finished one must be visible.
    for need in &item.needs {
        let dep = &repo.packages[need.dep];
        if need.selected && !done.get(&need.dep).is_some_and(Outcome::is_done) {
            return Outcome::Blocked(format!("its dependency `{}` was not published", dep.display_name));
        }
        let want = need.exact.as_ref().map_or(need.requirement.to_string(), |v| format!("{} {v}", dep.display_name));
        let seen =
            index::wait_for(&format!("`{want}` on the index (needed by {})", p.display_name), options.wait, || {
                Ok(need.satisfied_by(index.project(&dep.name)?.as_ref()).then_some(()))
            });
        if let Err(e) = seen {
            return Outcome::Blocked(format!("{e:#}"));
        }
    }
    let decision = match decide_now(index, p, build, &item.on_index) {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    if decision.upload.is_empty() {
        return Outcome::AlreadyPublished { files: decision.same };
    }
    let mut skipped = decision.same;
    let mut pending = decision.upload;
    let mut uploaded = Vec::new();
    let mut attempt = 0;
    let mut rechecked = false;
    while !pending.is_empty() {
        output::status("uploading", &format!("{}: {}", label(p), pending.join(", ")));
        let paths: Vec<PathBuf> = pending.iter().map(|f| build.path(f)).collect();
        match upload::upload(tool, options.backend, &options.publish_url, &repo.root.join(&p.dir), &paths, credentials)
        {
            Ok(()) => uploaded.append(&mut pending),
            Err(Failure::Transient(why)) if attempt < options.retries => {
                attempt += 1;
                // uv names each file as it starts it and stops at the first failure: the files
                // it started before the failed one went through, so only the rest go again.
                if let Some(failed) = pending.iter().find(|f| why.contains(&format!("/{f}`"))).cloned() {
                    let done: Vec<String> = pending
                        .iter()
                        .filter(|f| **f != failed && why.contains(&format!("Uploading {f} ")))
                        .cloned()
                        .collect();
                    pending.retain(|f| !done.contains(f));
                    uploaded.extend(done);
                }
                let pause = UPLOAD_BACKOFF.pause(attempt - 1, None);
                output::status(
                    "retrying",
                    &format!("{} in {}: {}", label(p), index::human(pause), why.lines().last().unwrap_or("").trim()),
                );
                std::thread::sleep(pause);
            }
            Err(Failure::Transient(why)) => {
                return Outcome::Failed(format!("{why}\n(gave up after {} attempts)", attempt + 1))
            }
            // An upload whose answer was lost may have landed: the index says "exists". Look
            // once: the same bytes there are a success, other bytes a conflict.
            Err(Failure::Permanent(why))
                if !rechecked && (attempt > 0 || !uploaded.is_empty()) && mentions_existing(&why) =>
            {
                rechecked = true;
                let on_index = match index.project(&p.name) {
                    Ok(project) => project.and_then(|pr| pr.releases.get(&p.version).cloned()).unwrap_or_default(),
                    Err(e) => return Outcome::Failed(format!("{e:#}")),
                };
                let decision = match decide_now(index, p, build, &on_index) {
                    Ok(d) => d,
                    Err(outcome) => return outcome,
                };
                uploaded.extend(pending.iter().filter(|f| decision.same.contains(f)).cloned());
                pending = decision.upload;
                skipped.retain(|f| !uploaded.contains(f));
            }
            Err(Failure::Permanent(why)) => return Outcome::Failed(why),
        }
    }
    // Published means visible: dependants in the next wave may be installed against it.
    let names: Vec<&str> = build.manifest.files.iter().map(|f| f.filename.as_str()).collect();
    output::status("waiting", &format!("for {} to be visible on the index", label(p)));
    let visible = index::wait_for(&format!("{} to be visible on the index", label(p)), options.wait, || {
        let project = index.project(&p.name)?;
        let files = project.as_ref().and_then(|pr| pr.releases.get(&p.version));
        Ok(files.is_some_and(|fs| names.iter().all(|n| fs.iter().any(|f| f.filename == *n))).then_some(()))
    });
    match visible {
        Ok(()) => Outcome::Published { uploaded, skipped },
        Err(e) => Outcome::Failed(format!("uploaded, but {e:#}")),
    }
}

/// Compares the build with the index's files of its version: the files to upload, or the
/// failure when some differ (the version is burned).
fn decide_now(
    index: &Index,
    p: &Package,
    build: &Build,
    on_index: &[crate::index::DistFile],
) -> Result<plan::FileDecision, Outcome> {
    let remote = remote::files_with_digests(index, &p.name, &p.version, on_index)
        .map_err(|e| Outcome::Failed(format!("{e:#}")))?;
    let decision = plan::decide(&local(build), &remote);
    if decision.conflicts.is_empty() {
        return Ok(decision);
    }
    let short = |s: &str| s[..12.min(s.len())].to_string();
    let list: Vec<String> = decision
        .conflicts
        .iter()
        .map(|(f, ours, theirs)| format!("`{f}` (ours {}…, the index's {}…)", short(ours), short(theirs)))
        .collect();
    Err(Outcome::Failed(format!(
        "{} already on the index with other content: version {} of `{}` is burned; bump it (`cargo xtask pkg bump {}`) and publish the new version",
        list.join(", "),
        p.version,
        p.display_name,
        p.dir
    )))
}

fn mentions_existing(why: &str) -> bool {
    let lower = why.to_lowercase();
    lower.contains("exist") || lower.contains("409")
}

/// The pauses between upload attempts: 1 s, 2 s, 4 s… capped at 30 s (the tools name no delay).
const UPLOAD_BACKOFF: Backoff = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30) };
