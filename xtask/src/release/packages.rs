//! `release prepare PATH… --bump K`: a release of named packages, each with its own tag and
//! notes: the bump (with the wave), each package's notes into its changelog file where it has
//! one, the release commit `release(<package>): <version>`, its branch and the pull request
//! whose body lists each package's notes (kept under GitHub's limit: the rest goes to a file).
//!
//! Look, plan, act, as the umbrella's release: a bump already made (the package is ahead of its
//! last tag) is not made again, notes already written are not written again.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{render, Report, Step};
use crate::{
    changelog::{self, package::PackageNotes},
    changeset::{Changeset, FileChange},
    exec, flags, git, github,
    monorepo::{Monorepo, Package},
    output,
    prepare::packages::{self as plan_packages, Target},
    version::Version,
};

/// GitHub refuses bodies over 65,536 characters; past this, the body is the summary only.
pub const BODY_LIMIT: usize = 60_000;
/// The file that holds the notes of a release too long for the pull request's body.
pub const NOTES_FILE: &str = "RELEASE_NOTES.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Bump,
    Notes,
    Commit,
    PushBranch,
    OpenPr,
}

struct World {
    repo: Monorepo,
    /// The packages being released, at their new versions.
    targets: Vec<Target>,
    /// The bump still to make; `None` when every named package is ahead of its last tag already.
    bump: Option<plan_packages::Plan>,
    notes: Vec<PackageNotes>,
    /// The notes' edits still to write.
    note_changes: Vec<FileChange>,
    body: String,
    /// The full notes, when the body had to be cut: committed as [`NOTES_FILE`].
    overflow: Option<String>,
    committed: bool,
    head_subject: String,
    branch: String,
    title: String,
    origin_branch: Option<Result<bool, String>>,
    pr: Option<Result<Option<github::Pr>, String>>,
    problems: Vec<String>,
}

/// `release prepare PATH…`. Returns the packages released and their versions.
pub fn run(sh: &Shell, flags: &flags::Release, report: &mut Report) -> Result<Vec<(String, Version)>> {
    git::ensure_repo(sh)?;
    let mut w = look(sh, flags)?;
    let mut steps = plan(&mut w, flags);
    let released: Vec<String> = w.targets.iter().map(|t| format!("{} {}", t.name, t.new)).collect();
    let heading = format!("Release {}: prepare", released.join(", "));
    let version = w.targets.first().map(|t| t.new.clone()).context("no package to release")?;
    if flags.json {
        output::note(&render(&heading, &steps, flags.dry_run));
    } else {
        output::data(&render(&heading, &steps, flags.dry_run));
        if let Some(plan) = &w.bump {
            output::data(&plan.render(flags.dry_run));
        }
        output::data(&w.body);
    }
    report.set("prepare", &version, &steps);
    if !w.problems.is_empty() {
        bail!("the release cannot be prepared:\n  {}", w.problems.join("\n  "));
    }
    if flags.dry_run {
        super::publish::dry_run_verdict(&steps, "nothing was changed")?;
        return Ok(moves(&w));
    }
    let result = super::execute(&mut steps, |&action| act(sh, &mut w, flags, action));
    report.set("prepare", &version, &steps);
    output::github_summary(&super::summary(&heading, &steps));
    result?;
    Ok(moves(&w))
}

fn moves(w: &World) -> Vec<(String, Version)> {
    w.targets.iter().map(|t| (t.dir.clone(), t.new.clone())).collect()
}

fn look(sh: &Shell, flags: &flags::Release) -> Result<World> {
    let repo = Monorepo::load(&sh.current_dir())?;
    for w in &repo.warnings {
        output::warn(w);
    }
    let indices = plan_packages::resolve(&repo, &flags.paths)?;
    let tags = repo.merged_tags()?;
    // A package ahead of its last tag is bumped already (by an earlier run, or by hand).
    let ahead = |i: usize| repo.last_release(i, tags).is_some_and(|(_, v)| repo.packages[i].version > v);
    let to_bump: Vec<usize> = indices.iter().copied().filter(|&i| !ahead(i)).collect();
    let mut targets = plan_packages::choose(sh, &repo, &to_bump, flags.choice()?)?;
    let bump = if targets.is_empty() { None } else { Some(plan_packages::plan(&repo, targets.clone())?) };
    for &i in indices.iter().filter(|&&i| ahead(i)) {
        let p = &repo.packages[i];
        let since = repo.last_release(i, tags).map(|(t, _)| t);
        targets.push(Target {
            index: i,
            name: p.display_name.clone(),
            dir: p.dir.clone(),
            old: p.version.clone(),
            new: p.version.clone(),
            bump: crate::version::Bump::Patch,
            why: Some("bumped already: ahead of its last tag".into()),
            since,
        });
    }
    targets.sort_by(|a, b| a.dir.cmp(&b.dir));
    let date = match &flags.date {
        Some(d) => crate::time::parse_date(d)?,
        None => crate::time::today_utc(),
    };
    let mut notes = Vec::new();
    for t in &targets {
        notes.push(changelog::package::notes(sh, &repo, t.index, &t.new, &date, flags.offline)?);
    }
    let note_changes: Vec<FileChange> =
        notes.iter().filter_map(|n| n.change.clone().filter(|c| !c.old.contains(n.text.trim()))).collect();
    let (body, overflow) = body(&notes);
    let title = title(&repo, &targets);
    let branch = format!("release/{}", branch_name(&repo, &targets));
    let head_subject = git::head_subject(sh)?;
    let committed = head_subject == title || head_subject.starts_with(&format!("{title} (#"));
    let (origin_branch, pr) = if flags.pr {
        let origin = git::remote_url(sh, "origin")?.map(|_| {
            git::remote_ref(sh, "origin", &format!("refs/heads/{branch}"))
                .map(|r| r.is_some())
                .map_err(|e| super::prepare::first_line(&e))
        });
        let pr = (!flags.offline)
            .then(|| github::open_pr(sh, &repo.config.repository, &branch).map_err(|e| super::prepare::first_line(&e)));
        (origin, pr)
    } else {
        (None, None)
    };
    let mut w = World {
        repo,
        targets,
        bump,
        notes,
        note_changes,
        body,
        overflow,
        committed,
        head_subject,
        branch,
        title,
        origin_branch,
        pr,
        problems: Vec::new(),
    };
    w.problems = checks(sh, flags, &w)?;
    Ok(w)
}

/// `release(acme-store): 5.0.0`, or `release: acme-store 5.0.0, acme-client 0.5.0`.
fn title(repo: &Monorepo, targets: &[Target]) -> String {
    match targets {
        [one] => format!("release({}): {}", repo.packages[one.index].display_name, one.new),
        many => {
            let list: Vec<String> = many.iter().map(|t| format!("{} {}", t.name, t.new)).collect();
            format!("release: {}", list.join(", "))
        }
    }
}

/// The first package's tag, and how many more.
fn branch_name(repo: &Monorepo, targets: &[Target]) -> String {
    let first = targets.first().map(|t| repo.tag_for(t.index, &t.new)).unwrap_or_default();
    match targets.len() {
        0 | 1 => first,
        n => format!("{first}-and-{}-more", n - 1),
    }
}

/// The pull request's body: each package's notes; past [`BODY_LIMIT`], a line per package and
/// the full notes in [`NOTES_FILE`].
fn body(notes: &[PackageNotes]) -> (String, Option<String>) {
    let full: String = notes.iter().map(|n| format!("{}\n", n.text)).collect();
    if full.len() <= BODY_LIMIT {
        return (full, None);
    }
    let mut short = format!("The notes of every package are in `{NOTES_FILE}` (too long for this description).\n\n");
    for n in notes {
        let heading = n.text.lines().next().unwrap_or_default().trim_start_matches("## ");
        short += &format!("- {heading}: {} pull request{}\n", n.prs, if n.prs == 1 { "" } else { "s" });
    }
    if short.len() > BODY_LIMIT {
        short.truncate(short[..BODY_LIMIT].rfind('\n').unwrap_or(0));
        short += "\n- … and more, in the file\n";
    }
    (short, Some(full))
}

fn plan(w: &mut World, flags: &flags::Release) -> Vec<Step<Action>> {
    let commit = flags.commit || flags.pr || flags.phase.is_none();
    let mut steps =
        vec![Step::done("checks", if flags.allow_dirty { "tree not checked (--allow-dirty)" } else { "clean tree" })];
    steps.push(match &w.bump {
        None => Step::done("bump versions", "every package is ahead of its last tag"),
        Some(p) => {
            let moved: Vec<String> = p.targets.iter().map(|t| format!("{} {} → {}", t.name, t.old, t.new)).collect();
            let wave = match p.wave.len() {
                0 => String::new(),
                n => format!(", and the compatibility wave in {n} package{}", if n == 1 { "" } else { "s" }),
            };
            Step::todo("bump versions", format!("{}{wave}", moved.join(", ")), Action::Bump)
        }
    });
    let files = w.notes.iter().filter(|n| n.change.is_some()).count();
    steps.push(match (w.note_changes.len(), files) {
        (_, 0) => Step::skipped(
            "notes",
            "no package has a changelog file (`changelog.package-file`); the notes go to the pull request",
        ),
        (0, _) => Step::done("notes", "every changelog file has its package's notes"),
        (n, _) => {
            let list: Vec<&str> = w.note_changes.iter().map(|c| c.display.as_str()).collect();
            Step::todo(
                "notes",
                format!("{n} changelog file{}: {}", if n == 1 { "" } else { "s" }, list.join(", ")),
                Action::Notes,
            )
        }
    });
    let (title, branch) = (&w.title, &w.branch);
    steps.push(match (commit, w.committed) {
        (false, _) => Step::skipped("release commit", "pass --commit or --pr to commit the release"),
        (true, true) => Step::done("release commit", format!("HEAD is `{}`", w.head_subject)),
        (true, false) => {
            let on = if flags.pr { format!("a new branch `{branch}`") } else { "the current branch".to_string() };
            Step::todo("release commit", format!("commit `{title}` on {on}"), Action::Commit)
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

fn act(sh: &Shell, w: &mut World, flags: &flags::Release, action: Action) -> Result<()> {
    match action {
        Action::Bump => {
            let plan = w.bump.as_ref().context("the plan has a bump to make")?;
            plan.changes.apply()?;
            let files: Vec<String> = plan.changes.changes.iter().map(|c| c.display.clone()).collect();
            output::status("bumped", &files.join(", "));
            if flags.lock {
                let pyprojects: Vec<String> = files.iter().filter(|f| f.ends_with("pyproject.toml")).cloned().collect();
                crate::prepare::lock_files(sh, &w.repo, &pyprojects)?;
            }
        }
        Action::Notes => {
            Changeset { changes: w.note_changes.clone() }.apply()?;
            let list: Vec<&str> = w.note_changes.iter().map(|c| c.display.as_str()).collect();
            output::status("wrote", &format!("the notes into {}", list.join(", ")));
        }
        Action::Commit => commit(sh, w, flags)?,
        Action::PushBranch => {
            git::push(sh, "origin", &w.branch).with_context(|| format!("cannot push `{}`", w.branch))?;
            output::status("pushed", &w.branch);
        }
        Action::OpenPr => {
            let config = &w.repo.config;
            if github::open_pr(sh, &config.repository, &w.branch)?.is_some() {
                return Ok(());
            }
            let scratch = crate::scratch::Scratch::new("release-pr")?;
            let file = scratch.join("body.md");
            std::fs::write(&file, &w.body).context("cannot write the pull request's body")?;
            let pr = github::create_pr(sh, &config.repository, &config.branch, &w.branch, &w.title, &file)?;
            output::status("opened", &format!("#{} {}: {}", pr.number, w.title, pr.url));
        }
    }
    Ok(())
}

/// Commits exactly the release's files: the bump's, the notes', the overflow file and the locks.
fn commit(sh: &Shell, w: &World, flags: &flags::Release) -> Result<()> {
    let branch = &w.branch;
    if flags.pr && git::current_branch(sh)?.as_deref() != Some(branch.as_str()) {
        git::create_branch(sh, branch).with_context(|| {
            format!("cannot create the branch `{branch}`; delete a stale one (`git branch -D {branch}`) and rerun")
        })?;
    }
    if let Some(full) = &w.overflow {
        crate::changeset::write_atomic(&w.repo.root.join(NOTES_FILE), full)?;
    }
    let mine = release_files(w);
    let files: Vec<String> = git::dirty_files(sh)?.into_iter().filter(|f| mine.contains(f)).collect();
    if files.is_empty() {
        bail!("the release has no changed file to commit; was it committed already under another title?");
    }
    git::commit_paths(sh, &files, &w.title)?;
    output::status("committed", &format!("{} ({})", w.title, files.join(", ")));
    Ok(())
}

/// Every file the release may change: the bump's, the notes', the locks of the rewritten
/// packages, and the overflow file.
fn release_files(w: &World) -> Vec<String> {
    let mut files: Vec<String> = w.notes.iter().filter_map(|n| n.change.as_ref().map(|c| c.display.clone())).collect();
    let root = &w.repo.root;
    let moved: Vec<&Package> = w.targets.iter().map(|t| &w.repo.packages[t.index]).collect();
    let wave: Vec<&Package> = w.bump.iter().flat_map(|p| p.wave.iter().map(|m| &w.repo.packages[m.index])).collect();
    for p in moved.into_iter().chain(wave) {
        files.push(p.pyproject_display());
        files.extend(p.version_file(root));
        files.push(p.join("uv.lock"));
    }
    if let Some(plan) = &w.bump {
        files.extend(plan.changes.changes.iter().map(|c| c.display.clone()));
    }
    files.push(NOTES_FILE.to_string());
    files.sort();
    files.dedup();
    files
}

fn checks(sh: &Shell, flags: &flags::Release, w: &World) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mine = release_files(w);
    let unrelated: Vec<String> = git::dirty_files(sh)?.into_iter().filter(|f| !mine.contains(f)).collect();
    if !flags.allow_dirty && !unrelated.is_empty() {
        problems.push(format!(
            "the working tree has uncommitted changes that are not this release's ({}); commit or stash them, or pass --allow-dirty",
            unrelated.join(", ")
        ));
    }
    let branch = git::current_branch(sh)?;
    let resuming = flags.pr && branch.as_deref() == Some(w.branch.as_str());
    if branch.as_deref() != Some(w.repo.config.branch.as_str()) && !resuming {
        problems.push(format!(
            "the release branch `{}` is not checked out (HEAD: `{}`); check it out",
            w.repo.config.branch,
            branch.as_deref().unwrap_or("detached")
        ));
    }
    if flags.pr && !flags.offline {
        if let Err(e) = exec::require("gh", "to open the release pull request") {
            problems.push(e.to_string());
        }
        if github::token_variable().is_none() {
            problems.push("no GitHub token (GH_TOKEN or GITHUB_TOKEN) to open the release pull request; set one, or pass --offline".into());
        }
    }
    Ok(problems)
}
