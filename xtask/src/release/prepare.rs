//! `release prepare`: checks, version bumps, the changelog and the prepare hooks, then
//! optionally the release commit, its branch and the release pull request.
//!
//! Look ([`World::look`]: what an earlier run already did, recognised by its record in the git
//! directory), plan ([`plan`]: the steps with their [`Action`]s), then execute ([`act`]).

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{hooks, render, state, Report, Step};
use crate::scratch::Scratch;
use crate::time;
use crate::usage::usage;
use crate::{
    changelog,
    changeset::Changeset,
    exec, flags, git, github,
    index::Index,
    monorepo::{Monorepo, Package},
    output, prepare,
    version::Version,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Bump,
    Changelog,
    Hooks,
    Commit,
    PushBranch,
    OpenPr,
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
    /// Whether HEAD is the release commit.
    committed: bool,
    head_subject: String,
    branch: String,
    title: String,
    /// `None` without an `origin`; else whether origin has the branch, or why it did not answer.
    origin_branch: Option<Result<bool, String>>,
    /// `None` offline; else the open pull request, or why GitHub did not answer.
    pr: Option<Result<Option<github::Pr>, String>>,
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
        let marker = state::load(&marker_path, &version);
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
        let title = format!("Release {version}");
        let head_subject = git::head_subject(sh)?;
        let committed = head_subject == title || head_subject.starts_with(&format!("{title} (#"));
        let (origin_branch, pr) = if flags.pr {
            let origin = git::remote_url(sh, "origin")?.map(|_| {
                git::remote_ref(sh, "origin", &format!("refs/heads/{branch}"))
                    .map(|r| r.is_some())
                    .map_err(|e| first_line(&e))
            });
            let pr = (!flags.offline)
                .then(|| github::open_pr(sh, &repo.config.repository, &branch).map_err(|e| first_line(&e)));
            (origin, pr)
        } else {
            (None, None)
        };
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
            committed,
            head_subject,
            branch,
            title,
            origin_branch,
            pr,
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
    let edits = [Action::Bump, Action::Changelog, Action::Hooks, Action::Commit];
    if steps.iter().any(|s| s.action.is_some_and(|a| edits.contains(&a))) && w.marker.is_none() {
        let marker = state::Marker { version: w.version.clone(), before: w.unrelated.clone(), hooks_done: false };
        state::save(&w.marker_path, &marker)?;
        w.marker = Some(marker);
    }
    let result = super::execute(&mut steps, |&action| act(sh, &mut w, flags, action));
    report.set("prepare", &w.version, &steps);
    output::github_summary(&super::summary(&heading, &steps));
    result?;
    if flags.commit || flags.pr || flags.phase.is_none() {
        // Committed: the tree is clean again, and nothing is half-finished.
        state::remove(&w.marker_path)?;
    }
    Ok(w.version)
}

/// The steps, from what was found.
fn plan(w: &mut World, flags: &flags::Release) -> Vec<Step<Action>> {
    let commit = flags.commit || flags.pr || flags.phase.is_none();
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
    steps.push(hooks_step(w, commit));
    let (title, branch) = (&w.title, &w.branch);
    steps.push(match (commit, w.committed) {
        (false, _) => Step::skipped("release commit", "pass --commit or --pr to commit the release"),
        (true, true) => Step::done("release commit", format!("HEAD is `{}`", w.head_subject)),
        (true, false) => {
            let on = if flags.pr { format!("a new branch `{branch}`") } else { "the current branch".to_string() };
            let what = format!("commit `{title}` on {on}: the release's files and what the hooks changed");
            Step::todo("release commit", what, Action::Commit)
        }
    });
    if !flags.pr {
        return steps;
    }
    let push = format!("push `{branch}` to origin");
    steps.push(match &w.origin_branch {
        None => {
            w.problems.push(
                "there is no `origin` remote to push the release branch to; add one (`git remote add origin URL`)"
                    .into(),
            );
            Step::todo("push branch", push, Action::PushBranch)
        }
        Some(Ok(true)) if w.committed => Step::done("push branch", format!("origin has `{branch}`")),
        Some(Ok(_)) => Step::todo("push branch", push, Action::PushBranch),
        // A remote that does not answer now is the push's problem, when it runs.
        Some(Err(e)) => {
            Step::unknown("push branch", format!("{push} (origin did not answer: {e})"), Action::PushBranch)
        }
    });
    let open = format!("open `{title}` from `{branch}` into `{}`", w.repo.config.branch);
    steps.push(match &w.pr {
        None => Step::skipped("pull request", "--offline"),
        Some(Ok(Some(pr))) => Step::done("pull request", format!("#{} is open: {}", pr.number, pr.url)),
        Some(Ok(None)) => Step::todo("pull request", open, Action::OpenPr),
        Some(Err(e)) => Step::unknown("pull request", format!("{open} (GitHub did not answer: {e})"), Action::OpenPr),
    });
    steps
}

fn hooks_step(w: &World, commit: bool) -> Step<Action> {
    let config = &w.repo.config;
    if config.release_hooks.prepare.is_empty() {
        return Step::skipped("prepare hooks", "none configured (`release.prepare-hooks`)");
    }
    if w.committed && commit {
        return Step::done("prepare hooks", "ran before the release commit");
    }
    if w.marker.as_ref().is_some_and(|m| m.hooks_done) && w.bump.is_none() && w.changelog_done {
        return Step::done("prepare hooks", "ran on this release's edits");
    }
    let (core, umbrella) = dirs(&w.repo);
    let shown = hooks::describe(&w.repo.root, &config.release_hooks.prepare, &core, &umbrella);
    if !hooks::any_applies(&w.repo.root, &config.release_hooks.prepare) {
        return Step::skipped("prepare hooks", shown);
    }
    Step::todo("prepare hooks", format!("{shown}; the files they change join the release"), Action::Hooks)
}

fn dirs(repo: &Monorepo) -> (String, String) {
    (repo.config.core.display().to_string(), repo.config.umbrella.display().to_string())
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
        Action::Hooks => {
            let (core, umbrella) = dirs(&w.repo);
            let files = changed_files(sh, w)?;
            // Each hook sees the files changed so far, those of the hooks before it included.
            let so_far = || changed_files(sh, w);
            hooks::run_all(sh, &w.repo.root, &w.repo.config.release_hooks.prepare, &core, &umbrella, &so_far)
                .context("a prepare hook failed; fix it and rerun the same command: what is done stays done")?;
            if let Some(m) = &mut w.marker {
                m.hooks_done = true;
                state::save(&w.marker_path, m)?;
            }
            let after = changed_files(sh, w)?;
            let joined: Vec<&String> = after.iter().filter(|f| !files.contains(f)).collect();
            if !joined.is_empty() {
                let list = joined.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ");
                output::status("hooks", &format!("changed {list}; they join the release"));
            }
        }
        Action::Commit => commit(sh, w, flags)?,
        Action::PushBranch => {
            let branch = &w.branch;
            git::push(sh, "origin", branch).with_context(|| format!("cannot push `{branch}`"))?;
            output::status("pushed", branch);
        }
        Action::OpenPr => {
            let config = &w.repo.config;
            if github::open_pr(sh, &config.repository, &w.branch)?.is_some() {
                return Ok(());
            }
            let scratch = Scratch::new("release-pr")?;
            let body = scratch.join("body.md");
            std::fs::write(&body, &w.changelog.section).context("cannot write the pull request's body")?;
            let pr = github::create_pr(sh, &config.repository, &config.branch, &w.branch, &w.title, &body)?;
            output::status("opened", &format!("#{} {}: {}", pr.number, w.title, pr.url));
        }
    }
    Ok(())
}

/// The files this release changed so far: its own, and every dirty file that was not dirty
/// before it began.
fn changed_files(sh: &Shell, w: &World) -> Result<Vec<String>> {
    let before = w.marker.as_ref().map(|m| m.before.as_slice()).unwrap_or_default();
    let mut files: Vec<String> = git::dirty_files(sh)?.into_iter().filter(|f| !before.contains(f)).collect();
    for f in release_files(&w.repo)? {
        if !files.contains(&f) && w.repo.root.join(&f).exists() {
            files.push(f);
        }
    }
    files.sort();
    Ok(files)
}

fn commit(sh: &Shell, w: &World, flags: &flags::Release) -> Result<()> {
    let branch = &w.branch;
    if flags.pr && git::current_branch(sh)?.as_deref() != Some(branch.as_str()) {
        git::create_branch(sh, branch).with_context(|| {
            format!("cannot create the branch `{branch}`; delete a stale one (`git branch -D {branch}`) and rerun")
        })?;
    }
    // Exactly the release's files and what its hooks changed, never other changes.
    let files = changed_files(sh, w)?;
    let title = &w.title;
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
    if flags.from_tag.is_none() {
        let branch = git::current_branch(sh)?;
        // The release's own pull request branch is where a rerun of `--pr` resumes.
        let resuming = flags.pr && branch.as_deref() == Some(w.branch.as_str());
        if branch.as_deref() != Some(repo.config.branch.as_str()) && !resuming {
            problems.push(format!(
                "the release branch `{}` is not checked out (HEAD: `{}`); check it out, or pass --from-tag for a hotfix",
                repo.config.branch,
                branch.as_deref().unwrap_or("detached")
            ));
        }
    }
    if flags.pr && !flags.offline {
        if let Err(e) = exec::require("gh", "to open the release pull request") {
            problems.push(e.to_string());
        }
        if github::token_variable().is_none() {
            problems.push("no GitHub token (GH_TOKEN or GITHUB_TOKEN) to open the release pull request; set one, or pass --offline".into());
        }
    }
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
