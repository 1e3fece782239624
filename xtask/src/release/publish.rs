//! `release publish`: on the release commit, check before core, the gate, the install check
//! (built files plus the index, before any upload), publish core, wait until the index serves
//! it, publish the umbrella and the changed packages in dependency order, the install proof,
//! tag the release commit itself, push the tag once, and create the GitHub release from the
//! changelog.
//!
//! Look ([`World::look`]), plan (`steps::plan`: the steps, each with its `steps::Stage` when
//! there is something to do, and the problems that stop the release), then execute ([`act`]).
//! The one-go dry run, before the release commit exists, plans from what can be said ahead of
//! it (`ahead`), by the same `plan`.

mod ahead;
mod steps;

use std::{collections::BTreeSet, time::Duration};

use anyhow::{bail, Context, Result};
use xshell::Shell;

pub use ahead::planned;
use steps::Stage;

use super::{
    held,
    install::{self, Holds, Scope},
    prepare::first_line,
    render, Report, State, Step,
};
use crate::scratch::Scratch;
use crate::{
    changelog, check,
    config::Destination,
    flags, git, github,
    index::{self, Index, Project},
    monorepo::Monorepo,
    output, publish, verify,
    version::Version,
};

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
    /// A hotfix of an older series (`--from-tag`): core only has to be newer than its series.
    hotfix: bool,
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
        let wait = flags::Wait::or(flags.wait, Duration::from_secs(300));
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
            hotfix: flags.from_tag.is_some(),
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

pub fn run(sh: &Shell, flags: &flags::Release, report: &mut Report) -> Result<()> {
    let mut w = World::look(sh, flags)?;
    let mut steps = steps::plan(&mut w);
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
        if steps.iter().any(|s| s.action == Some(Stage::InstallCheck)) {
            output::note("dry run: the install check needs the builds, so what building and installing reveal shows only in the real run");
        }
        dry_run_verdict(&steps, "nothing was built, uploaded, tagged or created")?;
        return held::verdict(&w.repo.packages, &w.scope, &w.holds, true);
    }
    let options = publish::Options::for_release(&w.repo, w.destination.clone(), w.wait, flags.jobs.map(|n| n.0))?;
    let mut holds = std::mem::take(&mut w.holds);
    let result = super::execute(&mut steps, |&stage| act(sh, &w, &mut holds, &options, stage));
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
fn act(sh: &Shell, w: &World, holds: &mut Holds, options: &publish::Options, stage: Stage) -> Result<()> {
    let (repo, tag, sha) = (&w.repo, &w.tag, &w.sha);
    let core = &repo.packages[w.core];
    match stage {
        // Looked at while planning: never to do in a run that carries steps out.
        Stage::CheckBeforeCore => Ok(()),
        Stage::Gate => {
            let (c, u) = (repo.config.core.display().to_string(), repo.config.umbrella.display().to_string());
            super::hooks::run_gate(sh, &repo.root, &repo.config.release_hooks.gate, &c, &u)
                .context("the gate before core failed, so nothing was published; fix it and rerun")
        }
        Stage::Assets => attach_assets(sh, w),
        Stage::PublishCore => publish::publish(sh, repo, &BTreeSet::from([w.core]), options),
        Stage::WaitForCore => {
            index::wait_for(&format!("`{}` {} on the index", core.name, core.version), w.wait, || {
                Ok(has_version(w.index.project(&core.name)?.as_ref(), &core.version).then_some(()))
            })
        }
        Stage::InstallCheck => {
            // Before core, no run of this release has uploaded anything, and what the index holds
            // has long been served; after it, an earlier run's uploads may still be on their way
            // to the simple pages.
            let wait = if w.core_there() { w.wait } else { Duration::ZERO };
            let simple = verify::simple_url(&w.index_url);
            install::check(sh, repo, &w.scope, holds, options, &install::Source { simple: &simple, wait })
        }
        Stage::PublishPackages => {
            let rest: BTreeSet<usize> = w.rest.iter().copied().filter(|&i| !holds.contains(i)).collect();
            publish::publish(sh, repo, &rest, options)
        }
        Stage::Prove => {
            let scratch = Scratch::new("verify")?;
            let simple = verify::simple_url(&w.index_url);
            let from = verify::Sources { simple: &simple, built: &[] };
            let proven = w.scope.proven(holds);
            let pins = w.scope.pins(&w.repo.packages, &w.scope.installed(&proven));
            let dists = w.scope.dists(&w.repo.packages, &proven);
            verify::prove(scratch.path(), &from, &pins, &dists, w.wait)
                .context("the release is published but does not install; its files stay on the index")
        }
        Stage::Tag => {
            git::tag(sh, tag, sha)?;
            output::status("tagged", &format!("{} as `{tag}`", w.short()));
            Ok(())
        }
        Stage::PushTag => {
            let refspec = format!("refs/tags/{tag}");
            git::push(sh, "origin", &refspec).with_context(|| format!("cannot push the tag `{tag}`"))?;
            output::status("pushed", tag);
            Ok(())
        }
        Stage::GithubRelease => {
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
