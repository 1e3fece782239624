//! `release publish`: on the release commit, check before core, the gate, the install check
//! (built files plus the index, before any upload), publish core, wait until the index serves
//! it, publish the umbrella and the changed packages in dependency order, the install proof,
//! tag the release commit itself, push the tag once, and create the GitHub release from the
//! changelog.
//!
//! Look ([`World::look`]), plan ([`plan`]: the steps, each with its [`Action`] when there is
//! something to do, and the problems that stop the release), then execute ([`act`]).

use std::{collections::BTreeSet, time::Duration};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{
    held,
    install::{self, Holds, Scope},
    prepare::first_line,
    render, Report, State, Step,
};
use crate::scratch::Scratch;
use crate::time;
use crate::{
    changelog, check,
    config::Destination,
    flags, git, github,
    index::{self, Index, Project},
    monorepo::Monorepo,
    output, publish, verify,
    version::Version,
};

/// What a step of this phase does, once the plan says it is to be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Gate,
    InstallCheck,
    PublishCore,
    WaitForCore,
    PublishPackages,
    Prove,
    Tag,
    PushTag,
    GithubRelease,
    Assets,
}

/// The world as this run found it, before doing anything.
struct World {
    repo: Monorepo,
    version: Version,
    tag: String,
    /// The commit being released: HEAD.
    sha: String,
    index: Index,
    index_url: String,
    /// The one index read and uploaded to, chosen as `publish` chooses it.
    destination: Destination,
    wait: Duration,
    /// The previous release's tag: where "changed packages" and the changelog's section start.
    previous: String,
    core: usize,
    core_project: Option<Project>,
    /// The umbrella and the packages whose version changed since `previous`, core excluded.
    rest: BTreeSet<usize>,
    /// Those of `rest` whose version is not on the index yet.
    missing: Vec<usize>,
    /// The release's packages (core and `rest`) as they install together.
    members: verify::Members,
    /// What this run uploads and proves.
    scope: Scope,
    /// What is held back: from the start `--hold` and unsatisfiable requirements, then what the
    /// install check finds.
    holds: Holds,
    rerun: held::Rerun,
    /// Where the release tag points locally, and whether that is an ancestor of HEAD.
    tag_at: Option<(String, bool)>,
    /// `None` without an `origin`; else where origin's tag points, or why it did not answer.
    origin_tag: Option<Result<Option<String>, String>>,
    /// `None` when offline; else the GitHub release's URL, or why GitHub did not answer.
    github: Option<Result<Option<String>, String>>,
    /// The assets the GitHub release has (name, size), when it exists and GitHub answered.
    assets_there: Option<Result<Vec<(String, u64)>, String>>,
    problems: Vec<String>,
}

impl World {
    fn look(sh: &Shell, flags: &flags::Release) -> Result<World> {
        git::ensure_repo(sh)?;
        let repo = Monorepo::load(&sh.current_dir())?;
        for w in &repo.warnings {
            output::warn(w);
        }
        let config = &repo.config;
        let (umbrella, core) = (repo.umbrella()?, repo.core()?);
        let version = umbrella.version.clone();
        let tag = config.tag_for(&version);
        let sha = git::head(sh)?;
        let destination = flags.destination(config)?;
        let index_url = destination.url.clone();
        let index = Index::new(&index_url);
        let wait = flags
            .wait
            .as_deref()
            .map(time::parse_duration)
            .transpose()
            .map_err(flags::usage)?
            .unwrap_or(Duration::from_secs(300));
        let previous = match &flags.from_tag {
            Some(t) => t.clone(),
            None => previous_tag(sh, &repo, &version)?,
        };
        let problems = problems(sh, flags, &repo, &previous)?;
        let core_project = index.project(&core.name)?;
        let mut rest: BTreeSet<usize> = publish::changed_since(sh, &repo, &previous)?;
        rest.insert(repo.index_of(umbrella));
        rest.remove(&repo.index_of(core));
        let projects = publish::projects(&index, &repo, &rest)?;
        let missing: Vec<usize> = rest
            .iter()
            .copied()
            .filter(|&i| !has_version(projects.get(&i).and_then(Option::as_ref), &repo.packages[i].version))
            .collect();
        let mut release = rest.clone();
        release.insert(repo.index_of(core));
        let members = verify::members_of(&repo, &index, &release)?;
        let mut problems = problems;
        let core_there = has_version(core_project.as_ref(), &core.version);
        let (core, umbrella) = (repo.index_of(core), repo.index_of(umbrella));
        let scope = Scope::new(&repo.packages, (core, umbrella), release, &missing, core_there, &members);
        let on_purpose = held::asked(&repo, &scope, &flags.hold)?;
        let ids: Vec<usize> = on_purpose.iter().map(|(i, _)| *i).collect();
        let (holds, more) = install::planned(&repo.packages, &scope, &members, &ids);
        problems.extend(more);
        let rerun = held::Rerun::new(flags, Some(&previous), &sha[..sha.len().min(10)], on_purpose);
        let tag_at = match git::tag_commit(sh, &tag)? {
            Some(at) => {
                let behind = at != sha && git::is_ancestor(sh, &at, "HEAD")?;
                Some((at, behind))
            }
            None => None,
        };
        let origin_tag = git::remote_url(sh, "origin")?
            .map(|_| git::remote_ref(sh, "origin", &format!("refs/tags/{tag}")).map_err(|e| first_line(&e)));
        let github = (!flags.offline).then(|| {
            github::release(sh, &config.repository, &tag).map(|r| r.map(|r| r.url)).map_err(|e| first_line(&e))
        });
        let assets_there = match &github {
            Some(Ok(Some(_))) => Some(github::release_assets(sh, &config.repository, &tag).map_err(|e| first_line(&e))),
            _ => None,
        };
        Ok(World {
            version,
            tag,
            sha,
            index,
            index_url,
            destination,
            wait,
            previous,
            core,
            core_project,
            rest,
            missing,
            members,
            scope,
            holds,
            rerun,
            tag_at,
            origin_tag,
            github,
            assets_there,
            problems,
            repo,
        })
    }

    fn short(&self) -> &str {
        &self.sha[..self.sha.len().min(10)]
    }

    fn core_there(&self) -> bool {
        has_version(self.core_project.as_ref(), &self.repo.packages[self.core].version)
    }
}

/// What must hold before anything is published; every problem is reported at once.
fn problems(sh: &Shell, flags: &flags::Release, repo: &Monorepo, previous: &str) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let dirty = if flags.allow_dirty { None } else { git::uncommitted_changes(sh)? };
    if let Some(dirty) = dirty {
        problems.push(format!("{dirty}, which would be built into the packages; commit or stash them"));
    }
    if flags.from_tag.is_none() {
        let verdict = check::branch_verdict(&check::head(sh, &repo.config.branch)?, &repo.config.branch);
        if !verdict.ok {
            problems.push(verdict.message);
        }
    } else if !git::is_ancestor(sh, previous, "HEAD")? {
        problems.push(format!("HEAD does not descend from `{previous}`, the release this hotfix follows"));
    }
    if !flags.offline && !flags.dry_run && github::token_variable().is_none() {
        problems.push(
            "no GitHub token (GH_TOKEN or GITHUB_TOKEN) for the GitHub release; set one, or pass --offline".into(),
        );
    }
    Ok(problems)
}

/// The steps, from what was found: pure.
fn plan(w: &mut World, hotfix: bool) -> Vec<Step<Action>> {
    let core = &w.repo.packages[w.core];
    let (name, version) = (core.name.as_str(), &core.version);
    let mut steps = Vec::new();
    if w.core_there() {
        steps.push(Step::done(
            "check before core",
            format!("`{name}` {version} is on the index: published by an earlier run"),
        ));
        steps.push(Step::done("publish core", format!("`{name}` {version} is on the index")));
        steps.push(Step::done("wait for core", "the index serves it"));
        steps.insert(1, gate_step(w, true));
        steps.insert(2, install_check_step(w));
    } else {
        let verdict = before_core(hotfix, name, version, w.core_project.as_ref(), &w.index_url);
        if !verdict.ok {
            w.problems.push(verdict.message.clone());
        }
        steps.push(Step::done("check before core", verdict.message));
        steps.push(gate_step(w, false));
        steps.push(install_check_step(w));
        let to = upload_destination(&w.destination);
        steps.push(Step::todo(
            "publish core",
            format!("build and upload `{name}` {version} {to}"),
            Action::PublishCore,
        ));
        let poll = format!("poll the index until it serves `{name}` {version} (at most {})", time::human(w.wait));
        steps.push(Step::todo("wait for core", poll, Action::WaitForCore));
    }
    steps.push(packages_step(w));
    let uploads = steps.iter().any(|s| matches!(s.action, Some(Action::PublishCore | Action::PublishPackages)));
    if let Some(problem) = uploads.then(|| publish::credentials_problem(&w.destination)).flatten() {
        w.problems.push(problem);
    }
    steps.push(prove_step(w));
    let (tag, short) = (w.tag.clone(), w.short().to_string());
    steps.push(match &w.tag_at {
        Some((at, _)) if *at == w.sha => Step::done("tag", format!("`{tag}` is at the release commit {short}")),
        Some((at, true)) => {
            w.problems.push(format!(
                "{} was released at {} (`{tag}`), and nothing since bumped the version; run `cargo xtask release prepare` first",
                w.version,
                &at[..at.len().min(10)]
            ));
            Step::done("tag", format!("`{tag}` is at an earlier commit"))
        }
        Some((at, false)) => {
            w.problems.push(format!("the tag `{tag}` already exists at {at}, not at the release commit {}; a released version is never re-tagged", w.sha));
            Step::done("tag", format!("`{tag}` is at another commit"))
        }
        None => Step::todo("tag", format!("tag the release commit {short} as `{tag}`"), Action::Tag),
    });
    // A remote that does not answer now is the step's problem when it runs, after the steps
    // before it are done.
    let push = format!("push `{tag}` to origin, once");
    steps.push(match &w.origin_tag {
        None => Step::skipped("push tag", "no `origin` remote"),
        Some(Ok(Some(at))) if *at == w.sha => Step::done("push tag", format!("origin has `{tag}`")),
        Some(Ok(Some(at))) => {
            w.problems.push(format!("origin has the tag `{tag}` at {at}, not at the release commit {}", w.sha));
            Step::done("push tag", "origin has it at another commit")
        }
        Some(Ok(None)) => Step::todo("push tag", push, Action::PushTag),
        Some(Err(e)) => Step::unknown("push tag", format!("{push} (origin did not answer: {e})"), Action::PushTag),
    });
    let create = format!("create `{tag}` at {short} with the changelog's notes");
    steps.push(match &w.github {
        None => Step::skipped("GitHub release", "--offline"),
        Some(Ok(Some(url))) => Step::done("GitHub release", format!("`{tag}` exists: {url}")),
        Some(Ok(None)) => Step::todo("GitHub release", create, Action::GithubRelease),
        Some(Err(e)) => {
            Step::unknown("GitHub release", format!("{create} (GitHub did not answer: {e})"), Action::GithubRelease)
        }
    });
    steps.push(assets_step(w));
    steps
}

fn gate_step(w: &World, core_there: bool) -> Step<Action> {
    let gate = &w.repo.config.release_hooks.gate;
    if gate.is_empty() {
        return Step::skipped("gate", "none configured (`release.gate`)");
    }
    if core_there {
        return Step::done("gate", "core is on the index: the gate passed before it was published");
    }
    let (core, umbrella) = (w.repo.config.core.display().to_string(), w.repo.config.umbrella.display().to_string());
    let shown = super::hooks::describe(&w.repo.root, gate, &core, &umbrella);
    Step::todo("gate", format!("{shown}; if it fails, nothing is published"), Action::Gate)
}

/// The files to attach: each configured package's sdist, by name and size when it is built.
fn wanted_assets(w: &World) -> Vec<(String, Option<u64>)> {
    let mut wanted = Vec::new();
    for dir in &w.repo.config.release_hooks.assets {
        let Some(p) = w.repo.at_dir(dir) else { continue };
        let sdist = |name: &str| name.ends_with(".tar.gz");
        match publish::built_files(&w.repo.root, p) {
            Some(files) => wanted.extend(files.into_iter().filter(|f| sdist(&f.0)).map(|f| (f.0, Some(f.1)))),
            None => {
                let base = p.name.as_str().replace('-', "_");
                wanted.push((format!("{base}-{}.tar.gz", p.version), None));
            }
        }
    }
    wanted
}

fn assets_step(w: &World) -> Step<Action> {
    let config = &w.repo.config.release_hooks;
    if config.assets.is_empty() {
        return Step::skipped("assets", "none configured (`release.assets`)");
    }
    if w.github.is_none() {
        return Step::skipped("assets", "--offline");
    }
    let wanted = wanted_assets(w);
    let names: Vec<String> = wanted.iter().map(|(n, _)| format!("`{n}`")).collect();
    let attach = format!("attach {} to the GitHub release (same name and size: skipped)", names.join(", "));
    match &w.assets_there {
        Some(Ok(there)) => {
            let missing =
                wanted.iter().any(|(n, size)| !there.iter().any(|(m, s)| m == n && size.is_none_or(|z| z == *s)));
            if missing {
                Step::todo("assets", attach, Action::Assets)
            } else {
                Step::done("assets", format!("the GitHub release has {}", names.join(", ")))
            }
        }
        Some(Err(e)) => Step::unknown("assets", format!("{attach} (GitHub did not answer: {e})"), Action::Assets),
        None => Step::todo("assets", attach, Action::Assets),
    }
}

/// Would what this run uploads install? Before its first upload: built, then installed with
/// the umbrella from the builds plus the index. Once everything is on the index (or held back)
/// there is nothing left to check before an upload; the install proof after the uploads covers
/// it.
fn install_check_step(w: &World) -> Step<Action> {
    let packages = &w.repo.packages;
    let uploading = w.scope.uploading(&w.holds);
    let held = held_note(w);
    if uploading.is_empty() {
        return Step::done(
            "install check",
            format!("every package of the release is on the index: nothing left to upload{held}"),
        );
    }
    // Core first, as it is published first.
    let order = uploading.iter().filter(|&&i| i == w.core).chain(uploading.iter().filter(|&&i| i != w.core));
    let names: Vec<String> =
        order.take(4).map(|&i| format!("{} {}", packages[i].display_name, packages[i].version)).collect();
    let more = if uploading.len() > 4 { format!(" and {} more", uploading.len() - 4) } else { String::new() };
    let umbrella = &w.repo.umbrella().expect("looked at").name;
    let installed = w.scope.installed(&w.scope.proven(&w.holds));
    Step::todo(
        "install check",
        format!(
            "before any upload, build {}{more}, then in a fresh environment outside the monorepo install `{umbrella}=={}` and {} more packages of the release from those builds plus {}, and import each package it uploads; a package that fails is held back with what requires it, and if core or the umbrella fails, nothing is uploaded{held}",
            names.join(", "),
            w.version,
            installed.len().saturating_sub(1),
            crate::verify::simple_url(&w.index_url),
        ),
        Action::InstallCheck,
    )
}

/// `; 2 held back (listed below)` when the plan holds packages back.
fn held_note(w: &World) -> String {
    match w.holds.held.keys().filter(|i| w.scope.uploads.contains(i)).count() {
        0 => String::new(),
        n => format!("; {n} held back (listed below)"),
    }
}

fn prove_step(w: &World) -> Step<Action> {
    // The tag is made only after the proof passed, so a tag at the release commit says it did.
    if w.tag_at.as_ref().is_some_and(|(at, _)| *at == w.sha) {
        return Step::done("install proof", format!("`{}` is tagged, which follows the proof", w.tag));
    }
    let simple = crate::verify::simple_url(&w.index_url);
    Step::todo(
        "install proof",
        format!(
            "in a fresh environment outside the monorepo, install `{}=={}` with the packages this run uploads and what they require from the release, from {simple}, and import each uploaded one (retried for at most {})",
            w.repo.packages[w.repo.index_of(w.repo.umbrella().expect("looked at"))].name,
            w.version,
            time::human(w.wait)
        ),
        Action::Prove,
    )
}

fn packages_step(w: &World) -> Step<Action> {
    let packages = &w.repo.packages;
    if w.missing.is_empty() {
        let others = w.rest.len().saturating_sub(1);
        return Step::done(
            "publish packages",
            match w.rest.len() {
                0 => "no package besides core".to_string(),
                _ => format!("the umbrella and {others} changed packages are on the index"),
            },
        );
    }
    let uploading: Vec<usize> = w.missing.iter().copied().filter(|&i| !w.holds.contains(i)).collect();
    let held = held_note(w);
    if uploading.is_empty() {
        return Step::skipped("publish packages", format!("nothing but what is held back{held}"));
    }
    let names: Vec<String> =
        uploading.iter().take(6).map(|&i| format!("{} {}", packages[i].display_name, packages[i].version)).collect();
    let more = if uploading.len() > 6 { format!(" and {} more", uploading.len() - 6) } else { String::new() };
    Step::todo(
        "publish packages",
        format!(
            "{} in dependency order: {}{more}; {}{held}",
            uploading.len(),
            names.join(", "),
            upload_destination(&w.destination)
        ),
        Action::PublishPackages,
    )
}

/// Where the release's files go, stated before anything happens, as `publish` states it.
fn upload_destination(d: &Destination) -> String {
    format!(
        "to {} (index `{}`, read from {}) with {}",
        crate::url::shown(&d.publish_url),
        d.name,
        crate::url::shown(&d.url),
        publish::credentials()
    )
}

pub fn run(sh: &Shell, flags: &flags::Release, report: &mut Report) -> Result<()> {
    let mut w = World::look(sh, flags)?;
    let mut steps = plan(&mut w, flags.from_tag.is_some());
    let heading = format!("Release {}: publish at {}", w.version, w.short());
    let show = |text: &str| if flags.json { output::note(text) } else { output::data(text) };
    // stdout carries the one JSON document of the run with --json; the plan goes to stderr.
    show(&(render(&heading, &steps, flags.dry_run) + &held::shown(&w.repo.packages, &w.scope, &w.holds, &w.rerun)));
    report.set("publish", &w.version, &steps);
    report.held(held::json(&w.repo.packages, &w.scope, &w.holds, &w.rerun));
    if !w.problems.is_empty() {
        bail!("the release cannot be published:\n  {}", w.problems.join("\n  "));
    }
    w.members.warn_apart();
    if flags.dry_run {
        if steps.iter().any(|s| s.action == Some(Action::InstallCheck)) {
            output::note("dry run: the install check needs the builds, so what building and installing reveal shows only in the real run");
        }
        dry_run_verdict(&steps, "nothing was built, uploaded, tagged or created")?;
        return held::verdict(&w.repo.packages, &w.scope, &w.holds, true);
    }
    let options = publish::Options::for_release(&w.repo, w.destination.clone(), w.wait, flags.jobs.map(|n| n.0))?;
    let mut holds = std::mem::take(&mut w.holds);
    let result = super::execute(&mut steps, |&action| act(sh, &w, &mut holds, &options, action));
    w.holds = holds;
    report.set("publish", &w.version, &steps);
    report.held(held::json(&w.repo.packages, &w.scope, &w.holds, &w.rerun));
    let md = held::markdown(&w.repo.packages, &w.scope, &w.holds, &w.rerun);
    output::github_summary(&(super::summary(&heading, &steps) + &md));
    result?;
    let text = held::shown(&w.repo.packages, &w.scope, &w.holds, &w.rerun);
    if !text.is_empty() {
        show(&text);
    }
    held::verdict(&w.repo.packages, &w.scope, &w.holds, false)?;
    output::status("finished", &format!("release {}", w.version));
    Ok(())
}

/// A dry run that could not look at everything cannot say what the real run would do: it shows
/// the whole plan, then fails.
pub fn dry_run_verdict<A>(steps: &[Step<A>], nothing: &str) -> Result<()> {
    let unknown: Vec<&str> = steps.iter().filter(|s| matches!(s.state, State::Unknown(_))).map(|s| s.name).collect();
    if !unknown.is_empty() {
        bail!(
            "dry run: {nothing}, but it cannot say what the real run would do at {}, which could not be looked at; see the steps marked `?`",
            unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        );
    }
    output::note(&format!("dry run: {nothing}"));
    Ok(())
}

/// Carries out one step; each looks once more right before acting where another run may have
/// done it meanwhile.
fn act(sh: &Shell, w: &World, holds: &mut Holds, options: &publish::Options, action: Action) -> Result<()> {
    let (repo, tag, sha) = (&w.repo, &w.tag, &w.sha);
    let core = &repo.packages[w.core];
    match action {
        Action::Gate => {
            let (c, u) = (repo.config.core.display().to_string(), repo.config.umbrella.display().to_string());
            super::hooks::run_gate(sh, &repo.root, &repo.config.release_hooks.gate, &c, &u)
                .context("the gate before core failed, so nothing was published; fix it and rerun")
        }
        Action::Assets => attach_assets(sh, w),
        Action::PublishCore => publish::publish(sh, repo, &BTreeSet::from([w.core]), options),
        Action::WaitForCore => {
            index::wait_for(&format!("`{}` {} on the index", core.name, core.version), w.wait, || {
                Ok(has_version(w.index.project(&core.name)?.as_ref(), &core.version).then_some(()))
            })
        }
        Action::InstallCheck => {
            // Before core, no run of this release has uploaded anything, and what the index holds
            // has long been served; after it, an earlier run's uploads may still be on their way
            // to the simple pages.
            let wait = if w.core_there() { w.wait } else { Duration::ZERO };
            let simple = verify::simple_url(&w.index_url);
            install::check(sh, repo, &w.scope, holds, options, &install::Source { simple: &simple, wait })
        }
        Action::PublishPackages => {
            let rest: BTreeSet<usize> = w.rest.iter().copied().filter(|&i| !holds.contains(i)).collect();
            publish::publish(sh, repo, &rest, options)
        }
        Action::Prove => {
            let scratch = Scratch::new("verify")?;
            let simple = verify::simple_url(&w.index_url);
            let from = verify::Sources { simple: &simple, built: &[] };
            let proven = w.scope.proven(holds);
            let pins = w.scope.pins(&w.repo.packages, &w.scope.installed(&proven));
            let dists = w.scope.dists(&w.repo.packages, &proven);
            verify::prove(scratch.path(), &from, &pins, &dists, w.wait)
                .context("the release is published but does not install; its files stay on the index")
        }
        Action::Tag => {
            git::tag(sh, tag, sha)?;
            output::status("tagged", &format!("{} as `{tag}`", w.short()));
            Ok(())
        }
        Action::PushTag => {
            let refspec = format!("refs/tags/{tag}");
            git::push(sh, "origin", &refspec).with_context(|| format!("cannot push the tag `{tag}`"))?;
            output::status("pushed", tag);
            Ok(())
        }
        Action::GithubRelease => {
            if github::release(sh, &repo.config.repository, tag)?.is_some() {
                return Ok(());
            }
            let notes = changelog::notes(sh, repo, &w.version, Some(&w.previous))?;
            let scratch = Scratch::new("release-notes")?;
            let file = scratch.join("notes.md");
            std::fs::write(&file, &notes).context("cannot write the release notes")?;
            let created = github::create_release(sh, &repo.config.repository, tag, sha, tag, &file);
            output::status("released", &format!("`{tag}` on GitHub: {}", created?.url));
            Ok(())
        }
    }
}

/// Attaches each wanted asset that the release lacks; the same name with another size stops.
fn attach_assets(sh: &Shell, w: &World) -> Result<()> {
    let repository = &w.repo.config.repository;
    let there = github::release_assets(sh, repository, &w.tag)?;
    for dir in &w.repo.config.release_hooks.assets {
        let p = w.repo.at_dir(dir).with_context(|| format!("`release.assets` names `{dir}`, which is no package"))?;
        let files = publish::built_files(&w.repo.root, p).with_context(|| {
            format!("`{}` {} is not built in target/publish; run `cargo xtask publish {dir}` (it skips what the index has) and rerun", p.name, p.version)
        })?;
        for (name, size, path) in files.into_iter().filter(|f| f.0.ends_with(".tar.gz")) {
            match there.iter().find(|(n, _)| *n == name) {
                Some((_, s)) if *s == size => output::status("skipped", &format!("`{name}`: the GitHub release has it")),
                Some((_, s)) => bail!(
                    "the GitHub release `{}` has an asset `{name}` of {s} bytes, not the {size} bytes built; delete it on GitHub if it is wrong, and rerun",
                    w.tag
                ),
                None => {
                    github::upload_asset(sh, repository, &w.tag, &path)?;
                    output::status("attached", &format!("`{name}` to the GitHub release `{}`", w.tag));
                }
            }
        }
    }
    Ok(())
}

/// The publish phase of a one-go dry run: what it will do once prepare has made the release
/// commit of `version` (the world cannot be looked at for a commit that does not exist yet).
pub fn planned(sh: &Shell, flags: &flags::Release, version: &Version, report: &mut Report) -> Result<()> {
    let repo = Monorepo::load(&sh.current_dir())?;
    let core = repo.core()?;
    let tag = repo.config.tag_for(version);
    let previous = flags.from_tag.clone().map_or_else(|| previous_tag(sh, &repo, version), Ok)?;
    let destination = flags.destination(&repo.config)?;
    let mut steps: Vec<Step<()>> = vec![
        Step::todo(
            "check before core",
            format!("`{}` {version} must be newer than every version on the index", core.name),
            (),
        ),
        Step::todo(
            "install check",
            format!(
                "before any upload, build the release's packages, then install `{}=={version}` and every package of the release from those builds plus the index in a fresh environment, and import each one",
                repo.umbrella()?.name
            ),
            (),
        ),
        Step::todo(
            "publish core",
            format!("build and upload `{}` {version} {}", core.name, upload_destination(&destination)),
            (),
        ),
        Step::todo("wait for core", format!("poll the index until it serves `{}` {version}", core.name), ()),
        Step::todo(
            "publish packages",
            format!(
                "the umbrella and every package whose version changed since `{previous}`, in dependency order{}",
                held_on_purpose(&flags.hold)
            ),
            (),
        ),
        Step::todo(
            "install proof",
            format!(
                "install `{}=={version}` and every package of the release in a fresh environment, and import each one",
                repo.umbrella()?.name
            ),
            (),
        ),
        Step::todo("tag", format!("tag the release commit as `{tag}`"), ()),
    ];
    steps.push(match git::remote_url(sh, "origin")? {
        Some(_) => Step::todo("push tag", format!("push `{tag}` to origin, once"), ()),
        None => Step::skipped("push tag", "no `origin` remote"),
    });
    steps.push(if flags.offline {
        Step::skipped("GitHub release", "--offline")
    } else {
        Step::todo("GitHub release", format!("create `{tag}` at the release commit with the changelog's notes"), ())
    });
    let assets = &repo.config.release_hooks.assets;
    if !flags.offline && !assets.is_empty() {
        let what = format!(
            "attach the sdist of {} to the GitHub release",
            assets.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
        );
        steps.push(Step::todo("assets", what, ()));
    }
    if !repo.config.release_hooks.gate.is_empty() {
        let (c, u) = (repo.config.core.display().to_string(), repo.config.umbrella.display().to_string());
        let gate = super::hooks::describe(&repo.root, &repo.config.release_hooks.gate, &c, &u);
        steps.insert(1, Step::todo("gate", format!("{gate}; if it fails, nothing is published"), ()));
    }
    let heading = format!("Release {version}: publish, after prepare's release commit");
    if flags.json {
        output::note(&render(&heading, &steps, true));
    } else {
        output::data(&render(&heading, &steps, true));
    }
    report.set("publish", version, &steps);
    // The new version's core is always uploaded: without credentials the real run fails there.
    match publish::credentials_problem(&destination) {
        Some(problem) => bail!("the release cannot be published:\n  {problem}"),
        None => Ok(()),
    }
}

/// `, except what --hold leaves out (…)` for the one-go dry run, which cannot look yet.
fn held_on_purpose(hold: &[String]) -> String {
    match hold {
        [] => String::new(),
        _ => format!(
            ", except what `--hold` leaves out ({}) and what requires it",
            hold.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The highest release tag below `version` that is an ancestor of HEAD.
fn previous_tag(sh: &Shell, repo: &Monorepo, version: &Version) -> Result<String> {
    let tags = git::merged_tags(sh)?;
    let below = tags.iter().map(String::as_str).filter(|t| repo.config.version_of_tag(t).is_some_and(|v| v < *version));
    changelog::history::latest_tag(&repo.config, below)
        .map(|(tag, _)| tag)
        .with_context(|| {
            format!("no release tag below {version} is an ancestor of HEAD, so nothing says what changed; pass --from-tag with the previous release")
        })
}

fn has_version(project: Option<&Project>, version: &Version) -> bool {
    project.is_some_and(|p| p.releases.get(version).is_some_and(|files| !files.is_empty()))
}

/// Before core: new to the index. A hotfix of an older series only has to be newer than
/// everything of its own `major.minor`.
fn before_core(hotfix: bool, name: &str, local: &Version, project: Option<&Project>, url: &str) -> check::Verdict {
    if !hotfix {
        return check::index_verdict(check::Mode::BeforeCore, name, local, project, url).0;
    }
    let series =
        |v: &Version| (v.epoch(), v.release().first().copied().unwrap_or(0), v.release().get(1).copied().unwrap_or(0));
    let highest = project.and_then(|p| p.releases.keys().filter(|v| series(v) == series(local)).max());
    match highest {
        Some(h) if h >= local => check::Verdict {
            check: "index",
            ok: false,
            message: format!("`{local}` is not newer than `{h}`, already on the index in the same series; bump the hotfix's version past it"),
        },
        _ => check::Verdict { check: "index", ok: true, message: format!("`{local}` is newer than everything of its series on the index") },
    }
}
