//! `release publish` in a monorepo of independent packages (no umbrella and core): every package
//! whose version the index lacks goes through the install check first (built, installed with
//! what it requires from those builds plus the index, imported: `install::check`, the group
//! release's), then is uploaded in dependency order (`publish`); a package that fails either,
//! or that `--hold` names, holds back only itself and its dependants (`held.rs` says which, why,
//! and the command that releases each). Then each released package gets its own tag on the
//! release commit, pushed, and its own GitHub release with its notes.
//!
//! A package is this release's when the index lacks its version, or when it is ahead of its last
//! tag (published by an earlier run that stopped before tagging): so a rerun finishes the job.

use std::{collections::BTreeSet, time::Duration};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{
    held,
    install::{self, Holds, Scope},
    render, Report, Step,
};
use crate::{changelog, flags, git, github, index::Index, monorepo::Monorepo, output, publish, verify};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    InstallCheck,
    Publish,
    Tag,
    PushTags,
    GithubReleases,
}

/// One package this release tags.
struct Released {
    index: usize,
    tag: String,
    /// Its notes, from the tag before (computed before any tag is made).
    notes: String,
    /// Whether the tag exists locally, on origin (`None`: no origin, or it did not answer), and
    /// whether its GitHub release does (`None` offline).
    tagged: bool,
    pushed: Option<bool>,
    github: Option<Result<bool, String>>,
}

struct World {
    repo: Monorepo,
    sha: String,
    /// The packages whose version the index lacks.
    missing: BTreeSet<usize>,
    released: Vec<Released>,
    origin: bool,
    wait: Duration,
    destination: crate::config::Destination,
    /// How the missing packages install together, what the install check proves, and what is
    /// held back (planned: `--hold` and unsatisfiable requirements; the check adds failures).
    members: verify::Members,
    scope: Scope,
    holds: Holds,
    rerun: held::Rerun,
}

/// Whether `release publish` takes this path: a monorepo without the umbrella and core's group.
pub fn applies(repo: &Monorepo) -> bool {
    repo.lockstep().is_empty()
}

pub fn run(sh: &Shell, flags: &flags::Release, report: &mut Report) -> Result<()> {
    let mut w = look(sh, flags)?;
    let mut steps = plan(&w, flags);
    let short = &w.sha[..w.sha.len().min(10)];
    let heading = format!(
        "Release of {} package{}: publish at {short}",
        w.released.len(),
        crate::output::plural(w.released.len())
    );
    let show = |text: &str| if flags.json { output::note(text) } else { output::data(text) };
    // stdout carries the one JSON document of the run with --json; the plan goes to stderr.
    show(&(render(&heading, &steps, flags.dry_run) + &held_text(&w)));
    let version = w
        .released
        .first()
        .map_or_else(crate::version::Version::placeholder, |r| w.repo.packages[r.index].version.clone());
    report.set("publish", &version, &steps);
    report.held(held::json(&w.repo.packages, &w.scope, &w.holds, &w.rerun));
    w.members.warn_apart();
    if flags.dry_run {
        if steps.iter().any(|s| s.action == Some(Action::InstallCheck)) {
            output::note("dry run: the install check needs the builds, so what building and installing reveal shows only in the real run");
        }
        super::publish::dry_run_verdict(&steps, "nothing was built, uploaded, tagged or created")?;
        return held::verdict(&w.repo.packages, &w.scope, &w.holds, true);
    }
    let options = publish::Options::for_release(&w.repo, w.destination.clone(), w.wait, flags.jobs.map(|n| n.0))?;
    let mut failed: Vec<String> = Vec::new();
    let result = super::execute(&mut steps, |&action| act(sh, &mut w, &options, action, &mut failed));
    report.set("publish", &version, &steps);
    report.held(held::json(&w.repo.packages, &w.scope, &w.holds, &w.rerun));
    let md = held::markdown(&w.repo.packages, &w.scope, &w.holds, &w.rerun);
    output::github_summary(&(super::summary(&heading, &steps) + &md));
    result?;
    let text = held_text(&w);
    if !text.is_empty() {
        show(&text);
    }
    if !failed.is_empty() {
        bail!("held back (not tagged, not released; the others went out):\n  {}", failed.join("\n  "));
    }
    held::verdict(&w.repo.packages, &w.scope, &w.holds, false)?;
    output::status("finished", &heading);
    Ok(())
}

/// The packages held back from the uploads, each with why and the command that releases it.
fn held_text(w: &World) -> String {
    held::shown(&w.repo.packages, &w.scope, &w.holds, &w.rerun)
}

fn look(sh: &Shell, flags: &flags::Release) -> Result<World> {
    git::ensure_repo(sh)?;
    let repo = Monorepo::load(&sh.current_dir())?;
    for w in &repo.warnings {
        output::warn(w);
    }
    // What is published is what is committed: the release commit, tagged.
    if !flags.allow_dirty {
        if let Some(dirty) = git::uncommitted_changes(sh)? {
            bail!("{dirty}; the release publishes the release commit: commit or stash them, or pass `--allow-dirty`");
        }
    }
    // Where it reads and uploads: chosen as `publish` chooses it.
    let destination = flags.destination(&repo.config)?;
    let index = Index::new(&destination.url);
    let jobs = flags.jobs.map_or(16, |n| n.0);
    let projects = crate::parallel::map(&repo.packages, jobs, |p| index.project(&p.name));
    let mut missing = BTreeSet::new();
    for (i, project) in projects.into_iter().enumerate() {
        let p = &repo.packages[i];
        let on_index = project?.is_some_and(|proj| proj.releases.contains_key(&p.version));
        if !on_index && p.version_error.is_none() {
            missing.insert(i);
        }
    }
    let sha = git::head(sh)?;
    // What the install check proves and holds back: the packages the index lacks are the release.
    let members = verify::members_of(&repo, &index, &missing)?;
    let scope = Scope::independent(&repo.packages, missing.clone(), &members);
    let on_purpose = held::asked(&repo, &scope, &flags.hold)?;
    let ids: Vec<usize> = on_purpose.iter().map(|(i, _)| *i).collect();
    // No package is the release itself here, so nothing held back stops the others.
    let (holds, _) = install::planned(&repo.packages, &scope, &members, &ids);
    let rerun = held::Rerun::new(flags, None, &sha[..sha.len().min(10)], on_purpose);
    let tags = git::merged_tags(sh)?;
    let origin = git::remote_url(sh, "origin")?.is_some();
    let date = crate::time::today_utc();
    let mut released = Vec::new();
    let at_head = git::tags_at(sh, "HEAD")?;
    for (i, p) in repo.packages.iter().enumerate() {
        let tag = repo.tag_for(i, &p.version);
        let tagged = tags.contains(&tag);
        // Its notes start at the tag before this version's.
        let before: Vec<String> = tags.iter().filter(|t| **t != tag).cloned().collect();
        // Published by an earlier run that stopped before tagging: ahead of its last tag.
        let ahead = repo.last_release(i, &before).is_some_and(|(_, v)| p.version > v);
        let mine = missing.contains(&i) || at_head.contains(&tag) || (!tagged && ahead);
        if !mine || p.version_error.is_some() || holds.contains(i) {
            continue;
        }
        let notes = changelog::package::notes_since(sh, &repo, i, &p.version, &date, flags.offline, &before)?;
        let pushed = if origin {
            git::remote_ref(sh, "origin", &format!("refs/tags/{tag}")).ok().map(|r| r.is_some())
        } else {
            None
        };
        let github = (!flags.offline).then(|| {
            github::release(sh, &repo.config.repository, &tag)
                .map(|r| r.is_some())
                .map_err(|e| super::prepare::first_line(&e))
        });
        released.push(Released { index: i, tag, notes: notes.text, tagged, pushed, github });
    }
    let wait = flags::Wait::or(flags.wait, Duration::from_secs(300));
    Ok(World { repo, sha, missing, released, origin, wait, destination, members, scope, holds, rerun })
}

fn plan(w: &World, flags: &flags::Release) -> Vec<Step<Action>> {
    let name = |i: usize| format!("{} {}", w.repo.packages[i].display_name, w.repo.packages[i].version);
    let uploading = w.scope.uploading(&w.holds);
    let mut steps = vec![install_check_step(w, &uploading)];
    steps.push(if w.missing.is_empty() {
        Step::done("publish", "the index has every package's version")
    } else if uploading.is_empty() {
        Step::done("publish", format!("nothing left to upload{}", held_note(w)))
    } else {
        let list: Vec<String> = uploading.iter().map(|&i| name(i)).collect();
        let what = format!("{} the index lacks: {}{}", uploading.len(), list.join(", "), held_note(w));
        Step::todo("publish", what, Action::Publish)
    });
    let untagged: Vec<&str> = w.released.iter().filter(|r| !r.tagged).map(|r| r.tag.as_str()).collect();
    let short = &w.sha[..w.sha.len().min(10)];
    steps.push(match untagged.len() {
        0 => Step::done("tags", "every released package is tagged"),
        _ => Step::todo(
            "tags",
            format!("tag {short} as `{}`, each once its package is on the index", untagged.join("`, `")),
            Action::Tag,
        ),
    });
    let unpushed = w.released.iter().filter(|r| r.pushed != Some(true)).count();
    steps.push(match (w.origin, unpushed) {
        (false, _) => Step::skipped("push tags", "no `origin` remote"),
        (true, 0) => Step::done("push tags", "origin has every tag"),
        (true, n) => {
            Step::todo("push tags", format!("push {n} tag{} to origin", crate::output::plural(n)), Action::PushTags)
        }
    });
    if flags.offline {
        steps.push(Step::skipped("GitHub releases", "--offline"));
        return steps;
    }
    let unknown = w.released.iter().find_map(|r| r.github.as_ref().and_then(|g| g.as_ref().err()));
    let to_create = w.released.iter().filter(|r| !matches!(r.github, Some(Ok(true)))).count();
    steps.push(match (to_create, unknown) {
        (0, _) => Step::done("GitHub releases", "every tag has its GitHub release"),
        (n, None) => {
            Step::todo("GitHub releases", format!("create {n}, each with its package's notes"), Action::GithubReleases)
        }
        (n, Some(e)) => {
            Step::unknown("GitHub releases", format!("create {n} (GitHub did not answer: {e})"), Action::GithubReleases)
        }
    });
    steps
}

/// `; 2 held back (listed below)` when packages are held back.
fn held_note(w: &World) -> String {
    match w.holds.held.keys().filter(|i| w.scope.uploads.contains(i)).count() {
        0 => String::new(),
        n => format!("; {n} held back (listed below)"),
    }
}

/// Would what this run uploads install? Before the first upload: built, then installed with
/// what it requires from the builds plus the index, and imported.
fn install_check_step(w: &World, uploading: &BTreeSet<usize>) -> Step<Action> {
    if uploading.is_empty() {
        let why =
            if w.missing.is_empty() { "the index has every package's version" } else { "every upload is held back" };
        return Step::done("install check", format!("nothing to upload: {why}{}", held_note(w)));
    }
    let packages = &w.repo.packages;
    let names: Vec<String> =
        uploading.iter().take(4).map(|&i| format!("{} {}", packages[i].display_name, packages[i].version)).collect();
    let more = if uploading.len() > 4 { format!(" and {} more", uploading.len() - 4) } else { String::new() };
    Step::todo(
        "install check",
        format!(
            "before any upload, build {}{more}, then in a fresh environment outside the monorepo install them with what they require from those builds plus {}, and import each; a package that fails is held back with what requires it{}",
            names.join(", "),
            verify::simple_url(&w.destination.url),
            held_note(w)
        ),
        Action::InstallCheck,
    )
}

fn act(sh: &Shell, w: &mut World, options: &publish::Options, action: Action, held: &mut Vec<String>) -> Result<()> {
    match action {
        Action::InstallCheck => {
            // An earlier run's uploads may still be on their way to the simple pages.
            let earlier = w.released.iter().any(|r| !w.missing.contains(&r.index));
            let wait = if earlier { w.wait } else { Duration::ZERO };
            let simple = verify::simple_url(&w.destination.url);
            install::check(sh, &w.repo, &w.scope, &mut w.holds, options, &install::Source { simple: &simple, wait })?;
            let holds = &w.holds;
            w.released.retain(|r| !holds.contains(r.index));
            Ok(())
        }
        Action::Publish => {
            // Registry truth decides what went out: what the index still lacks failed (its
            // reason is in publish's summary), and holds back what requires it
            // (`Graph::held_back`, the install check's rule); the others are tagged and released.
            let uploading = w.scope.uploading(&w.holds);
            let published = publish::publish(sh, &w.repo, &uploading, options);
            let index = Index::new(&options.destination.url);
            let mut failed = BTreeSet::new();
            for &i in &uploading {
                let p = &w.repo.packages[i];
                if !index.project(&p.name)?.is_some_and(|proj| proj.releases.contains_key(&p.version)) {
                    failed.insert(i);
                }
            }
            let graph = crate::graph::Graph::new(&w.repo.packages);
            for (i, causes) in graph.held_back(&uploading, &failed) {
                let p = &w.repo.packages[i];
                let why = if causes.contains(&i) {
                    "not published (the summary above says why)".to_string()
                } else {
                    let names: Vec<&str> = causes.iter().map(|&c| w.repo.packages[c].display_name.as_str()).collect();
                    format!("requires {}, which was not published", names.join(", "))
                };
                held.push(format!("{} {}: {why}", p.display_name, p.version));
                w.released.retain(|r| r.index != i);
            }
            match published {
                Err(e) if held.is_empty() => Err(e),
                _ => Ok(()),
            }
        }
        Action::Tag => {
            for r in w.released.iter_mut().filter(|r| !r.tagged) {
                git::tag(sh, &r.tag, &w.sha)?;
                r.tagged = true;
                output::status("tagged", &format!("{} as `{}`", &w.sha[..w.sha.len().min(10)], r.tag));
            }
            Ok(())
        }
        Action::PushTags => {
            for r in w.released.iter().filter(|r| r.pushed != Some(true)) {
                git::push(sh, "origin", &format!("refs/tags/{}", r.tag))
                    .with_context(|| format!("cannot push the tag `{}`", r.tag))?;
                output::status("pushed", &r.tag);
            }
            Ok(())
        }
        Action::GithubReleases => {
            let repository = w.repo.config.repository.clone();
            for r in w.released.iter().filter(|r| !matches!(r.github, Some(Ok(true)))) {
                if github::release(sh, &repository, &r.tag)?.is_some() {
                    continue;
                }
                let scratch = crate::scratch::Scratch::new("release-notes")?;
                let file = scratch.join("notes.md");
                std::fs::write(&file, &r.notes).context("cannot write the release notes")?;
                let created = github::create_release(sh, &repository, &r.tag, &w.sha, &r.tag, &file)?;
                output::status("released", &format!("`{}` on GitHub: {}", r.tag, created.url));
            }
            Ok(())
        }
    }
}
