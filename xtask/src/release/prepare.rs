//! `release prepare`: checks, version bumps, the changelog and the prepare hooks, then
//! optionally the release commit, its branch and the release pull request.
//!
//! Look ([`World::look`]: what an earlier run already did, recognised by its record in the git
//! directory), plan ([`plan`]: the steps with their [`Action`]s), then execute ([`act`]).

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::propose::{self, Act, Proposal};
use super::{render, state, Report, Step};
use crate::time;
use crate::usage::usage;
use crate::{
    changelog,
    changeset::Changeset,
    flags, git,
    index::Index,
    monorepo::{Monorepo, Package},
    output, prepare,
    version::Version,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Bump,
    Changelog,
    /// The hooks, the commit, the push and the pull request.
    Propose(Act),
}

/// Where the release stands before this run.
struct World {
    repo: Monorepo,
    /// The last release's tag (or --from-tag).
    since: String,
    /// The version being prepared.
    version: Version,
    /// The bump still to make; `None` when the umbrella is already ahead of the last release.
    bump: Option<prepare::Plan>,
    changelog: changelog::Generated,
    changelog_done: bool,
    /// Why the titles could not be fetched from GitHub, when they could not.
    titles_unknown: Option<String>,
    /// The model the changelog reads (the versions after the bump), and its date.
    changelog_model: Monorepo,
    date: String,
    /// What an earlier run of this release recorded, if anything.
    marker: Option<state::Marker>,
    marker_path: std::path::PathBuf,
    /// Dirty files that are not the release's own.
    unrelated: Vec<String>,
    /// The release commit, its branch and pull request as found.
    proposal: Proposal,
    problems: Vec<String>,
}

impl World {
    fn look(sh: &Shell, flags: &flags::Release) -> Result<World> {
        let repo = Monorepo::load(&sh.current_dir())?;
        for w in &repo.warnings {
            output::warn(w);
        }
        let since = since(sh, flags, &repo)?;
        let last = repo.config.version_of_tag(&since).with_context(|| {
            format!("`{since}` does not match the tag pattern `{}`, so it names no released version", repo.config.tag)
        })?;
        let bumped = repo.umbrella()?.version > last;
        let kind = flags.kind()?;
        let bump = if bumped { rest_of_bump(&repo, &last, kind)? } else { Some(prepare::plan(&repo, kind)?) };
        let version =
            bump.as_ref().map_or_else(|| repo.umbrella().map(|u| u.version.clone()), |p| Ok(p.umbrella.new.clone()))?;
        let date = match &flags.date {
            Some(d) => time::parse_date(d)?,
            None => time::today_utc(),
        };
        // The changelog of the bumped model: headings show the new versions.
        let bumped_repo = match &bump {
            Some(plan) => Some(with_versions(&repo, &plan.moves())?),
            None => None,
        };
        let date_of_changelog = date.clone();
        let model = bumped_repo.as_ref().unwrap_or(&repo);
        let (generated, titles_unknown) =
            match changelog::generate(sh, model, Some(&since), date.clone(), flags.offline) {
                Ok(g) => (g, None),
                // GitHub did not answer for the titles: the plan shows the section with the squash
                // subjects, and the real run asks again.
                Err(e) if !flags.offline => match changelog::generate(sh, model, Some(&since), date, true) {
                    Ok(g) => (g, Some(first_line(&e))),
                    Err(_) => return Err(e),
                },
                Err(e) => return Err(e),
            };
        let mut generated = generated;
        if let Some(plan) = &bump {
            changelog::append_block(&mut generated, &repo, prepare::WAVE_HEADING, &plan.wave_notes())?;
        }
        let changelog_done = changelog::has_section(&generated);
        let marker_path = state::path(sh)?;
        let marker = state::load(&marker_path, &version.to_string());
        // A dirty tree is refused unless it is this release, half-finished: its own files once
        // the bump is there, and what its hooks changed once it recorded itself.
        let own = release_files(&repo)?;
        let resuming = bumped || marker.is_some();
        let unrelated: Vec<String> = git::dirty_files(sh)?
            .into_iter()
            .filter(|f| {
                let the_release_s = resuming && own.contains(f);
                let after_it_began = marker.as_ref().is_some_and(|m| !m.before.contains(f));
                !the_release_s && !after_it_began
            })
            .collect();
        let branch = format!("release/{}", repo.config.tag_for(&version));
        let proposal = Proposal::look(sh, flags, &repo, branch, format!("Release {version}"))?;
        let mut w = World {
            since,
            version,
            bump,
            changelog: generated,
            changelog_done,
            titles_unknown,
            changelog_model: match bumped_repo {
                Some(m) => m,
                None => with_versions(&repo, &[])?,
            },
            date: date_of_changelog,
            marker,
            marker_path,
            unrelated,
            proposal,
            problems: Vec::new(),
            repo,
        };
        w.problems = checks(sh, flags, &w)?;
        Ok(w)
    }
}

/// With the umbrella already ahead of the last release: what a run killed half-way through the
/// bump left to do (core's version, the requirement), planned as if the umbrella were still at
/// the last release. `None` when nothing is left, or when the umbrella was moved by hand to
/// another version than this bump gives.
fn rest_of_bump(repo: &Monorepo, last: &Version, kind: crate::version::Bump) -> Result<Option<prepare::Plan>> {
    let umbrella = repo.umbrella()?;
    let model = with_versions(repo, &[(umbrella.dir.clone(), last.clone())])?;
    let Ok(mut plan) = prepare::plan(&model, kind) else { return Ok(None) };
    if plan.umbrella.new != umbrella.version {
        return Ok(None);
    }
    plan.changes.changes.retain(|c| c.old != c.new);
    Ok((!plan.changes.changes.is_empty()).then_some(plan))
}

/// The last release's tag: --from-tag (a hotfix), or the highest release tag below HEAD.
fn since(sh: &Shell, flags: &flags::Release, repo: &Monorepo) -> Result<String> {
    match &flags.from_tag {
        Some(tag) => {
            git::ensure_commit(sh, tag)?;
            if !git::is_ancestor(sh, tag, "HEAD")? {
                bail!("HEAD does not descend from `{tag}`; a hotfix branch starts at the tag: `git switch -c hotfix/{tag} {tag}`");
            }
            Ok(tag.clone())
        }
        None => changelog::latest_tag(sh, repo),
    }
}

/// The files every release edits, relative to the root.
fn release_files(repo: &Monorepo) -> Result<Vec<String>> {
    Ok(vec![
        repo.umbrella()?.pyproject_display(),
        repo.core()?.pyproject_display(),
        repo.config.changelog.display().to_string(),
    ])
}

/// Returns the version being released.
pub fn run(sh: &Shell, flags: &flags::Release, report: &mut Report) -> Result<Version> {
    git::ensure_repo(sh)?;
    if flags.phase.is_none() && flags.pr {
        return Err(usage(
            "`--pr` waits for a review: run `release prepare --pr`, then `release publish` once it is merged",
        ));
    }
    let mut w = World::look(sh, flags)?;
    let mut steps = plan(&mut w, flags);
    let heading = format!("Release {}: prepare", w.version);
    if flags.json {
        // stdout carries the one JSON document of the run; the plan goes to stderr.
        output::note(&render(&heading, &steps, flags.dry_run));
    } else {
        output::data(&render(&heading, &steps, flags.dry_run));
        if let Some(plan) = &w.bump {
            output::data(&plan.diff());
        }
        if !w.changelog_done {
            output::data(&w.changelog.section);
        }
    }
    output::note(&w.changelog.audit);
    report.set("prepare", &w.version, &steps);
    if !w.problems.is_empty() {
        bail!("the release cannot be prepared:\n  {}", w.problems.join("\n  "));
    }
    if flags.dry_run {
        super::publish::dry_run_verdict(&steps, "nothing was changed")?;
        return Ok(w.version);
    }
    let edits = [Action::Bump, Action::Changelog, Action::Propose(Act::Hooks), Action::Propose(Act::Commit)];
    if steps.iter().any(|s| s.action.is_some_and(|a| edits.contains(&a))) {
        propose::record(&mut w.marker, &w.marker_path, &w.version.to_string(), &w.unrelated)?;
    }
    let result = super::execute(&mut steps, |&action| act(sh, &mut w, flags, action));
    report.set("prepare", &w.version, &steps);
    output::github_summary(&super::summary(&heading, &steps));
    result?;
    if propose::commits(flags) {
        // Committed: the tree is clean again, and nothing is half-finished.
        state::remove(&w.marker_path)?;
    }
    Ok(w.version)
}

/// The steps, from what was found.
fn plan(w: &mut World, flags: &flags::Release) -> Vec<Step<Action>> {
    let mut steps = vec![Step::done("checks", checks_summary(flags, &w.repo))];
    steps.push(match &w.bump {
        None => Step::done(
            "bump versions",
            format!("the umbrella is at {}, ahead of the last release `{}`", w.version, w.since),
        ),
        Some(p) => Step::todo(
            "bump versions",
            format!(
                "{} {} → {}, {} {} → {}, requirement `{}`{}",
                p.umbrella.name,
                p.umbrella.old,
                p.umbrella.new,
                p.core.name,
                p.core.old,
                p.core.new,
                p.requirement.1,
                p.wave_summary() + if flags.lock { ", then `uv lock` in each package" } else { "" }
            ),
            Action::Bump,
        ),
    });
    let g = &w.changelog;
    steps.push(if w.changelog_done {
        Step::done("changelog", format!("{} has this release's section", g.change.display))
    } else {
        let what =
            format!("{} pull requests in {} sections since `{}` into {}", g.prs, g.sections, g.since, g.change.display);
        match &w.titles_unknown {
            None => Step::todo("changelog", what, Action::Changelog),
            Some(e) => Step::unknown(
                "changelog",
                format!("{what}, titles from GitHub (GitHub did not answer: {e}; shown with the squash subjects)"),
                Action::Changelog,
            ),
        }
    });
    let edits_done = w.bump.is_none() && w.changelog_done;
    let holds = ": the release's files and what the hooks changed";
    let rest = w.proposal.plan(flags, &w.repo, w.marker.as_ref(), edits_done, holds, &mut w.problems);
    steps.extend(rest.into_iter().map(|s| s.map(Action::Propose)));
    steps
}

/// Carries out one step.
fn act(sh: &Shell, w: &mut World, flags: &flags::Release, action: Action) -> Result<()> {
    match action {
        Action::Bump => {
            let plan = w.bump.as_ref().context("the plan has a bump to make")?;
            Changeset { changes: plan.changes.changes.clone() }.apply()?;
            let files: Vec<String> = plan.changes.changes.iter().map(|c| c.display.clone()).collect();
            output::status("bumped", &files.join(", "));
            if flags.lock {
                // The lock files join the release commit with every other file the release changed.
                prepare::lock_files(sh, &w.repo, &files)?;
            }
        }
        Action::Changelog => {
            if w.titles_unknown.is_some() {
                let since = w.since.clone();
                w.changelog = changelog::generate(sh, &w.changelog_model, Some(&since), w.date.clone(), false)?;
                if let Some(plan) = &w.bump {
                    changelog::append_block(&mut w.changelog, &w.repo, prepare::WAVE_HEADING, &plan.wave_notes())?;
                }
            }
            Changeset { changes: vec![w.changelog.change.clone()] }.apply()?;
            output::status(
                "wrote",
                &format!("the changelog section of {} into {}", w.version, w.changelog.change.display),
            );
        }
        Action::Propose(Act::Hooks) => {
            // Each hook sees the files changed so far, those of the hooks before it included.
            let (before, files) =
                (w.marker.as_ref().map(|m| m.before.clone()).unwrap_or_default(), release_files(&w.repo)?);
            let so_far = || changed_files(sh, &w.repo.root, &before, &files);
            propose::run_hooks(sh, &w.repo, &so_far, &mut w.marker, &w.marker_path)?;
        }
        Action::Propose(Act::Commit) => commit(sh, w, flags)?,
        Action::Propose(Act::PushBranch) => w.proposal.push(sh)?,
        Action::Propose(Act::OpenPr) => w.proposal.open_pr(sh, &w.repo, &w.changelog.section)?,
    }
    Ok(())
}

/// The files this release changed so far: its own (`own`), and every dirty file that was not
/// dirty before it began.
fn changed_files(sh: &Shell, root: &std::path::Path, before: &[String], own: &[String]) -> Result<Vec<String>> {
    let mut files: Vec<String> = git::dirty_files(sh)?.into_iter().filter(|f| !before.contains(f)).collect();
    for f in own {
        if !files.contains(f) && root.join(f).exists() {
            files.push(f.clone());
        }
    }
    files.sort();
    Ok(files)
}

fn commit(sh: &Shell, w: &World, flags: &flags::Release) -> Result<()> {
    w.proposal.switch_to_branch(sh, flags)?;
    // Exactly the release's files and what its hooks changed, never other changes.
    let before = w.marker.as_ref().map(|m| m.before.as_slice()).unwrap_or_default();
    let files = changed_files(sh, &w.repo.root, before, &release_files(&w.repo)?)?;
    let title = &w.proposal.title;
    git::commit_paths(sh, &files, title)?;
    state::remove(&w.marker_path)?;
    output::status("committed", &format!("{title} ({})", files.join(", ")));
    Ok(())
}

/// The first line of an error, for a step's one-line detail.
pub fn first_line(e: &anyhow::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// What must hold before anything changes; every problem is reported at once.
fn checks(sh: &Shell, flags: &flags::Release, w: &World) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    if !flags.allow_dirty && !w.unrelated.is_empty() {
        problems.push(format!(
            "the working tree has uncommitted changes that are not this release's ({}); commit or stash them, or pass --allow-dirty",
            w.unrelated.join(", ")
        ));
    }
    let repo = &w.repo;
    problems.extend(w.proposal.problems(sh, flags, repo, ", or pass --from-tag for a hotfix")?);
    if !flags.offline {
        let url = flags.read_url(&repo.config)?;
        if let Err(e) = Index::new(&url).project(&repo.core()?.name) {
            problems.push(format!(
                "the package index does not answer: {e:#}; pass --index-url, or --offline to prepare without it"
            ));
        }
    }
    Ok(problems)
}

fn checks_summary(flags: &flags::Release, repo: &Monorepo) -> String {
    let mut said =
        vec![if flags.allow_dirty { "tree not checked (--allow-dirty)".to_string() } else { "clean tree".to_string() }];
    said.push(match &flags.from_tag {
        Some(tag) => format!("hotfix from `{tag}`"),
        None => format!("on `{}`", repo.config.branch),
    });
    if !flags.offline {
        said.push("index reachable".into());
    }
    said.join(", ")
}

/// The model with some packages at other versions: what the changelog reads after the bump.
fn with_versions(repo: &Monorepo, versions: &[(String, Version)]) -> Result<Monorepo> {
    let packages: Vec<Package> = repo
        .packages
        .iter()
        .map(|p| match versions.iter().find(|(dir, _)| *dir == p.dir) {
            Some((_, v)) => Package { version: v.clone(), ..p.clone() },
            None => p.clone(),
        })
        .collect();
    Monorepo::new(repo.root.clone(), repo.config.clone(), packages, Vec::new())
}
