//! Executing a publish plan: every package that needs it built once (hooks first), in
//! parallel; every build compared with its previous release; then uploads, each package as soon
//! as its dependencies are visible, with transient failures retried, "file exists"
//! answers checked against the index, and the dependants of a failure blocked. Every step prints
//! a progress line on stderr. `describe.rs` says the same things ahead of time, for the plan.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Condvar, Mutex,
    },
    time::Duration,
};

use anyhow::Result;

use super::{
    archive, artifact, batch,
    build::Build,
    cutoff,
    describe::{deferred_text, elsewhere_and_closed, interrupted_and_closed, stop_text},
    plan::{self, Item, Plan, State},
    remote::{self, Cache},
    report::Outcome,
    timing::{Part, Phases, Timing},
    upload::{self, Credentials, Failure},
    Options,
};
use crate::time;
use crate::{
    backoff::{self, Attempt, Backoff, Limit},
    index::{self, DistFile, Index},
    monorepo::{Monorepo, Package},
    output, parallel,
};

/// Everything a step of the run reads.
pub struct Ctx<'a> {
    pub repo: &'a Monorepo,
    pub plan: &'a Plan,
    pub options: &'a Options,
    pub index: &'a Index,
    pub cache: Cache,
    pub credentials: &'a Credentials,
    pub timing: Timing,
}

impl Ctx<'_> {
    pub(super) fn accepted(&self, p: &Package) -> bool {
        self.options
            .accept_changes
            .iter()
            .any(|a| crate::requirement::PackageName::new(a) == p.name || a.trim_end_matches('/') == p.dir)
    }
}

/// The artifact check of `build` against the previous release, when there is one.
pub(super) fn artifact_check(ctx: &Ctx, item: &Item, build: &Build) -> Result<Option<artifact::Check>> {
    let Some((version, files)) = &item.previous else { return Ok(None) };
    let mut theirs = Vec::new();
    for kind in plan::KINDS {
        // One file per kind: the first wheel (pure wheels have one) and the sdist.
        if let Some(f) = files.iter().find(|f| artifact::kind_of(&f.filename) == Some(kind)) {
            let (_, bytes) = remote::fetch(ctx.index, f, &ctx.cache)?;
            theirs.push((f.filename.clone(), bytes.len() as u64, archive::read(&f.filename, &bytes)?));
        }
    }
    let mut ours = Vec::new();
    for f in &build.manifest.files {
        let path = build.path(&f.filename);
        let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        ours.push((f.filename.clone(), f.size, archive::read(&f.filename, &bytes)?));
    }
    Ok(Some(artifact::compare(&version.to_string(), &sides(&ours), &sides(&theirs))))
}

fn sides(v: &[(String, u64, archive::Contents)]) -> Vec<artifact::Side<'_>> {
    v.iter().map(|(f, size, c)| artifact::Side { filename: f, size: *size, contents: c }).collect()
}

fn local(b: &Build) -> Vec<(String, String)> {
    b.manifest.files.iter().map(|f| (f.filename.clone(), f.sha256.clone())).collect()
}

pub(super) fn label(p: &Package) -> String {
    format!("{} {}", p.display_name, p.version)
}

/// What a real run did: each package's outcome, the artifact checks, and the builds.
pub struct Done {
    pub outcomes: BTreeMap<usize, Outcome>,
    pub checks: BTreeMap<usize, artifact::Check>,
    pub builds: BTreeMap<usize, Build>,
}

pub fn execute(ctx: &Ctx, tool: &Path) -> Done {
    let (repo, plan, options) = (ctx.repo, ctx.plan, ctx.options);
    let outcomes = Mutex::new(BTreeMap::new());
    let finished = Condvar::new();
    let finish = |i: usize, outcome: Outcome| {
        let p = &repo.packages[i];
        let line = match &outcome {
            Outcome::Published { uploaded, .. } => format!("{} ({})", label(p), uploaded.join(", ")),
            Outcome::AlreadyPublished { .. } => format!("{}: already on the index", label(p)),
            Outcome::BuiltElsewhere { uploaded, .. } if uploaded.is_empty() => {
                format!("{}: built elsewhere, already on the index", label(p))
            }
            Outcome::BuiltElsewhere { uploaded, .. } => {
                format!("{}: built elsewhere; uploaded ours: {}", label(p), uploaded.join(", "))
            }
            Outcome::Failed(why) | Outcome::Blocked(why) | Outcome::Deferred(why) | Outcome::Stopped(why) => {
                format!("{}: {why}", label(p))
            }
            Outcome::Planned(_) => String::new(),
        };
        output::status(outcome.verb(), &line);
        outcomes.lock().expect("no panics under the lock").insert(i, outcome);
        finished.notify_all();
    };
    for (&i, item) in &plan.items {
        if let Some(why) = &item.blocked {
            finish(i, Outcome::Blocked(why.clone()));
        } else if item.deferred {
            finish(i, Outcome::Deferred(deferred_text(options)));
        } else if item.state == State::OnIndex {
            finish(i, Outcome::AlreadyPublished { files: item.on_index.iter().map(|f| f.filename.clone()).collect() });
        }
    }

    // Build everything first: a broken build shows before anything is uploaded.
    let started = std::time::Instant::now();
    let to_build: Vec<usize> = plan.waves.iter().flatten().copied().filter(|i| plan.items[i].builds()).collect();
    let builds = batch::build_all(ctx, tool, &to_build, &finish);
    let built = started.elapsed();

    // Then compare every build with its previous release, still before any upload.
    let started = std::time::Instant::now();
    let checks = if options.artifact_check { check_all(ctx, &builds, &finish) } else { BTreeMap::new() };
    let checking = started.elapsed();

    let started = std::time::Instant::now();
    // Uploads mostly wait on the network and on visibility, not on the cores: run more of them.
    let upload_jobs = (options.jobs * 4).min(16);
    let quota_hit = AtomicBool::new(false);
    // Not wave by wave: each package as soon as its own dependencies are done (the order of the
    // waves puts them earlier in the queue, so a worker only ever waits for started packages).
    let ready: Vec<usize> = {
        let done = outcomes.lock().expect("no panics under the lock");
        plan.waves.iter().flatten().copied().filter(|i| builds.contains_key(i) && !done.contains_key(i)).collect()
    };
    parallel::map(&ready, upload_jobs, |&i| {
        let deps: Vec<usize> = plan.items[&i].needs.iter().filter(|n| n.selected).map(|n| n.dep).collect();
        let done = {
            let mut done = outcomes.lock().expect("no panics under the lock");
            while !deps.iter().all(|d| done.contains_key(d)) {
                done = finished.wait(done).expect("no panics under the lock");
            }
            done.clone()
        };
        let outcome = publish_one(ctx, tool, i, &builds[&i], &done, &quota_hit);
        finish(i, outcome);
    });
    let line = ctx.timing.line(&Phases {
        packages: builds.len(),
        fresh: builds.values().filter(|b| !b.reused).count(),
        jobs: options.jobs,
        building: built,
        checking,
        waves: plan.waves.len(),
        uploading: started.elapsed(),
    });
    output::note(&format!("{line}; with {}", crate::exec::tools_line(&[&options.backend.to_string()])));
    Done { outcomes: outcomes.into_inner().expect("threads are done"), checks, builds }
}

/// The artifact check of every build; a build that fails it is stopped (`finish`).
fn check_all(
    ctx: &Ctx,
    builds: &BTreeMap<usize, Build>,
    finish: &(impl Fn(usize, Outcome) + Sync),
) -> BTreeMap<usize, artifact::Check> {
    let checks = Mutex::new(BTreeMap::new());
    let checked: Vec<usize> = builds.keys().copied().collect();
    parallel::map(&checked, ctx.options.jobs.max(4), |&i| {
        let p = &ctx.repo.packages[i];
        match artifact_check(ctx, &ctx.plan.items[&i], &builds[&i]) {
            Ok(None) => {}
            Ok(Some(check)) => {
                output::status("checked", &format!("{} {}", label(p), check.line()));
                if !check.stop_reasons().is_empty() && !ctx.accepted(p) {
                    finish(i, Outcome::Stopped(stop_text(p, &check)));
                }
                checks.lock().expect("no panics under the lock").insert(i, check);
            }
            Err(e) => finish(i, Outcome::Failed(format!("artifact check: {e:#}"))),
        }
    });
    checks.into_inner().expect("threads are done")
}

/// Builds the packages of a plan that the index lacks, deferred ones included (a later run
/// uploads them), and uploads nothing; every failing build is in the error. A package's hooks
/// may fill files that a package holding it takes in (core's NLTK data, inside the umbrella's
/// sdist): `batch` builds such a package after those hooks.
pub fn build_only(ctx: &Ctx, tool: &Path) -> (BTreeMap<usize, Build>, BTreeMap<usize, String>) {
    let plan = ctx.plan;
    let failed = Mutex::new(BTreeMap::new());
    let finish = |i: usize, outcome: Outcome| {
        let p = &ctx.repo.packages[i];
        let why = match outcome {
            Outcome::Failed(why) => why,
            other => other.label().to_string(),
        };
        output::status("failed", &format!("{}: {why}", label(p)));
        failed.lock().expect("no panics under the lock").insert(i, why);
    };
    let to_build: Vec<usize> = plan
        .waves
        .iter()
        .flatten()
        .copied()
        .filter(|i| {
            let item = &plan.items[i];
            item.blocked.is_none() && matches!(item.state, State::New | State::Partial { .. })
        })
        .collect();
    let builds = batch::build_all(ctx, tool, &to_build, &finish);
    (builds, failed.into_inner().expect("threads are done"))
}

/// Our build against the index's files of its version.
pub(super) enum Compared {
    /// Every file there is one of ours, byte for byte: upload the rest.
    Ours(plan::FileDecision),
    /// Some file there is not ours: another build published this version.
    Elsewhere,
    /// Every file there is ours, but some only cut off (`cutoff.rs`): upload the rest, then fail.
    CutOff(plan::FileDecision, Vec<cutoff::Cut>),
}

pub(super) fn compare(ctx: &Ctx, p: &Package, build: &Build, on_index: &[DistFile]) -> Result<Compared> {
    let remote = remote::files_with_digests(ctx.index, &p.name, &p.version, on_index, &ctx.cache)?;
    let decision = plan::decide(&local(build), &remote);
    let foreign = remote.iter().any(|(f, _)| !build.manifest.files.iter().any(|b| &b.filename == f));
    if foreign {
        return Ok(Compared::Elsewhere);
    }
    if decision.conflicts.is_empty() {
        return Ok(Compared::Ours(decision));
    }
    Ok(match cutoff::find(ctx, build, on_index, &decision)? {
        Some(cuts) => Compared::CutOff(decision, cuts),
        None => Compared::Elsewhere,
    })
}

fn publish_one(
    ctx: &Ctx,
    tool: &Path,
    i: usize,
    build: &Build,
    done: &BTreeMap<usize, Outcome>,
    quota_hit: &AtomicBool,
) -> Outcome {
    let (repo, plan, options, index) = (ctx.repo, ctx.plan, ctx.options, ctx.index);
    let p = &repo.packages[i];
    let item = &plan.items[&i];
    // Dependencies of this run first: a failed one blocks, a finished one must be visible.
    for need in &item.needs {
        let dep = &repo.packages[need.dep];
        if need.selected && !done.get(&need.dep).is_some_and(Outcome::is_done) {
            return Outcome::Blocked(format!("its dependency `{}` was not published", dep.display_name));
        }
        let want = need.exact.as_ref().map_or(need.requirement.to_string(), |v| format!("{} {v}", dep.display_name));
        let started = std::time::Instant::now();
        let seen =
            index::wait_for(&format!("`{want}` on the index (needed by {})", p.display_name), options.wait, || {
                let Some(project) = poll(index, &dep.name)? else { return Ok(None) };
                Ok(need.satisfied_by(project.as_ref()).then_some(()))
            });
        ctx.timing.add(Part::Wait, started.elapsed());
        if let Err(e) = seen {
            return Outcome::Blocked(format!("{e:#}"));
        }
    }
    if item.new_project && quota_hit.load(Ordering::SeqCst) {
        return Outcome::Deferred(format!("{} (the index refused an earlier new project)", deferred_text(options)));
    }
    let mut on_index = item.on_index.clone();
    let mut uploaded = Vec::new();
    // Each "file exists" answer rereads the index; a few are enough for any race.
    for _ in 0..3 {
        let decision = match compare(ctx, p, build, &on_index) {
            Ok(Compared::Ours(d)) => d,
            Ok(Compared::Elsewhere) => return elsewhere(ctx, tool, p, item, build, &on_index, uploaded),
            Ok(Compared::CutOff(d, cuts)) => return cut_off(ctx, tool, p, item, build, d.upload, &cuts),
            Err(e) => return Outcome::Failed(format!("{e:#}")),
        };
        if decision.upload.is_empty() && uploaded.is_empty() {
            return Outcome::AlreadyPublished { files: decision.same };
        }
        // Never attempted: the index would refuse every file.
        if let State::Partial { missing, closed: Some(closed) } = &item.state {
            return Outcome::Failed(interrupted_and_closed(p, &missing.join(" and "), closed));
        }
        let started = std::time::Instant::now();
        let sent = upload_files(ctx, tool, p, build, decision.upload);
        ctx.timing.add(Part::Upload, started.elapsed());
        match sent {
            Ok(mut sent) => {
                uploaded.append(&mut sent);
                let started = std::time::Instant::now();
                let outcome = visible(ctx, p, build, uploaded, decision.same);
                ctx.timing.add(Part::Wait, started.elapsed());
                return outcome;
            }
            Err((mut sent, Failure::Quota(why))) => {
                uploaded.append(&mut sent);
                quota_hit.store(true, Ordering::SeqCst);
                return Outcome::Deferred(format!(
                    "the index refused to create the project (new-project quota): {why}"
                ));
            }
            Err((mut sent, Failure::Exists(why))) => {
                uploaded.append(&mut sent);
                output::status("rechecking", &format!("{}: the index says a file exists: {why}", label(p)));
                on_index = match index.project(&p.name) {
                    Ok(project) => project.and_then(|pr| pr.releases.get(&p.version).cloned()).unwrap_or_default(),
                    Err(e) => return Outcome::Failed(format!("{e:#}")),
                };
            }
            Err((_, failure)) => return Outcome::Failed(failure.message().to_string()),
        }
    }
    Outcome::Failed("the index kept answering that files exist which it does not list; check the index".into())
}

/// Some of our files are cut off on the index: the others go up (unless the version is closed),
/// and the package fails, naming what to delete.
fn cut_off(
    ctx: &Ctx,
    tool: &Path,
    p: &Package,
    item: &Item,
    build: &Build,
    rest: Vec<String>,
    cuts: &[cutoff::Cut],
) -> Outcome {
    let text = cutoff::text(cuts);
    if rest.is_empty() || matches!(item.state, State::Partial { closed: Some(_), .. }) {
        return Outcome::Failed(text);
    }
    match upload_files(ctx, tool, p, build, rest) {
        Ok(sent) => Outcome::Failed(format!("{text} (uploaded the rest: {})", sent.join(", "))),
        Err((_, failure)) => Outcome::Failed(format!("{text}; and {}", failure.message())),
    }
}

/// The version is on the index from another build: published. A missing kind is warned
/// about, and uploaded from our build only with `--complete`, which a closed version refuses.
fn elsewhere(
    ctx: &Ctx,
    tool: &Path,
    p: &Package,
    item: &Item,
    build: &Build,
    on_index: &[DistFile],
    uploaded: Vec<String>,
) -> Outcome {
    let missing = plan::missing_kinds(on_index);
    if missing.is_empty() || !uploaded.is_empty() {
        return Outcome::BuiltElsewhere { missing: Vec::new(), uploaded };
    }
    if let State::Partial { closed: Some(closed), .. } = &item.state {
        let text = elsewhere_and_closed(&missing.join(" and "), closed, ctx.options.complete);
        if ctx.options.complete {
            return Outcome::Failed(text);
        }
        output::warn(&format!("{}: {text}", label(p)));
        return Outcome::BuiltElsewhere { missing: missing.iter().map(|s| s.to_string()).collect(), uploaded };
    }
    if !ctx.options.complete {
        output::warn(&format!(
            "{} is on the index from another build, without its {}; nothing uploaded (pass `--complete` to upload the {} of our build)",
            label(p),
            missing.join(" and "),
            missing.join(" and ")
        ));
        return Outcome::BuiltElsewhere { missing: missing.iter().map(|s| s.to_string()).collect(), uploaded };
    }
    let files: Vec<String> = build
        .manifest
        .files
        .iter()
        .filter(|f| artifact::kind_of(&f.filename).is_some_and(|k| missing.contains(&k)))
        .map(|f| f.filename.clone())
        .collect();
    match upload_files(ctx, tool, p, build, files) {
        Ok(sent) => Outcome::BuiltElsewhere { missing: Vec::new(), uploaded: sent },
        Err((_, failure)) => Outcome::Failed(failure.message().to_string()),
    }
}

/// Uploads `pending`, retrying transient failures; returns the files sent, and on failure
/// the files that went through before it.
fn upload_files(
    ctx: &Ctx,
    tool: &Path,
    p: &Package,
    build: &Build,
    mut pending: Vec<String>,
) -> Result<Vec<String>, (Vec<String>, Failure)> {
    let options = ctx.options;
    let mut uploaded = Vec::new();
    if pending.is_empty() {
        return Ok(uploaded);
    }
    let attempt = |_| {
        output::status("uploading", &format!("{}: {}", label(p), pending.join(", ")));
        let paths: Vec<PathBuf> = pending.iter().map(|f| build.path(f)).collect();
        let dir = ctx.repo.root.join(&p.dir);
        let (sent, result) =
            upload::upload(tool, options.backend, &options.destination.publish_url, &dir, &paths, ctx.credentials);
        // What went through before a failure is not sent again.
        pending.retain(|f| !sent.contains(f));
        uploaded.extend(sent);
        match result {
            Ok(()) => Ok(Attempt::Done(())),
            Err(Failure::Transient(why)) => Ok(Attempt::Again(why, None)),
            Err(failure) => Err(failure),
        }
    };
    let status = |why: &String, pause: &backoff::Pause| {
        let last = why.lines().last().unwrap_or("").trim();
        output::status("retrying", &format!("{} in {}: {last}", label(p), time::human(pause.pause)));
    };
    match backoff::retry(UPLOAD_BACKOFF, Limit::Retries(options.retries), attempt, status) {
        Ok(Ok(())) => Ok(uploaded),
        Ok(Err(gave_up)) => {
            let why = format!("{}\n(gave up after {} attempts)", gave_up.last, gave_up.attempts);
            Err((uploaded, Failure::Permanent(why)))
        }
        Err(failure) => Err((uploaded, failure)),
    }
}

/// Published means visible: dependants in the next wave may be installed against it.
fn visible(ctx: &Ctx, p: &Package, build: &Build, uploaded: Vec<String>, skipped: Vec<String>) -> Outcome {
    let names: Vec<&str> = build.manifest.files.iter().map(|f| f.filename.as_str()).collect();
    output::status("waiting", &format!("for {} to be visible on the index", label(p)));
    let visible = index::wait_for(&format!("{} to be visible on the index", label(p)), ctx.options.wait, || {
        let Some(project) = poll(ctx.index, &p.name)? else { return Ok(None) };
        let files = project.as_ref().and_then(|pr| pr.releases.get(&p.version));
        Ok(files.is_some_and(|fs| names.iter().all(|n| fs.iter().any(|f| f.filename == *n))).then_some(()))
    });
    match visible {
        Ok(()) => Outcome::Published { uploaded, skipped },
        Err(e) => Outcome::Failed(format!("uploaded, but {e:#}")),
    }
}

/// One look at a project while waiting for it: an index that stayed unreachable through the
/// client's retries is waited out like a project not visible yet (`None`), until the wait ends;
/// a wrong answer ends the wait at once.
fn poll(index: &Index, name: &crate::requirement::PackageName) -> Result<Option<Option<crate::index::Project>>> {
    match index.project(name) {
        Ok(project) => Ok(Some(project)),
        Err(e) if e.downcast_ref::<index::Unreachable>().is_some() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The pauses between upload attempts: 1 s, 2 s, 4 s… capped at 30 s (the tools name no delay).
const UPLOAD_BACKOFF: Backoff = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30), jitter: true };
