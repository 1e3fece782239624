//! `release prepare PATH… --bump K`: a release of named packages, each with its own tag and
//! notes: the bump (with the wave), each package's notes into its changelog file where it has
//! one, the release commit `release(<package>): <version>`, its branch and the pull request
//! whose body lists each package's notes (kept under GitHub's limit: the rest goes to a file).
//!
//! Look, plan, act, as the umbrella's release, whose prepare hooks, commit, branch and pull
//! request steps it shares (`propose.rs`): a bump already made (the package is ahead of its last
//! tag) is not made again, notes already written are not written again, hooks that ran are
//! recorded (`state.rs`), and what they changed joins the release commit.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::propose::{self, Act, Proposal};
use super::{render, state, Report, Step};
use crate::{
    changelog::{self, package::PackageNotes},
    changeset::{Changeset, FileChange},
    flags, git,
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
    /// The hooks, the commit, the push and the pull request.
    Propose(Act),
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
    /// The release commit, its branch and pull request as found.
    proposal: Proposal,
    /// What an earlier run of this release recorded, if anything.
    marker: Option<state::Marker>,
    marker_path: std::path::PathBuf,
    /// Dirty files that are neither the release's nor changed since it began.
    unrelated: Vec<String>,
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
    let edits = [Action::Bump, Action::Notes, Action::Propose(Act::Hooks), Action::Propose(Act::Commit)];
    if steps.iter().any(|s| s.action.is_some_and(|a| edits.contains(&a))) {
        propose::record(&mut w.marker, &w.marker_path, &w.proposal.title, &w.unrelated)?;
    }
    let result = super::execute(&mut steps, |&action| act(sh, &mut w, flags, action));
    report.set("prepare", &version, &steps);
    output::github_summary(&super::summary(&heading, &steps));
    result?;
    if propose::commits(flags) {
        state::remove(&w.marker_path)?;
    }
    Ok(moves(&w))
}

fn moves(w: &World) -> Vec<(String, Version)> {
    w.targets.iter().map(|t| (t.dir.clone(), t.new.clone())).collect()
}

fn look(sh: &Shell, flags: &flags::Release) -> Result<World> {
    // `git status` reads the whole tree (a second for 2,000 packages on a busy machine): it runs
    // beside the reading of the packages and their history, which needs no status.
    let root = sh.current_dir();
    let (dirty, w) = crate::parallel::join(move || dirty_in(&root), || look_release(sh, flags));
    let mut w = w?;
    // A dirty tree is refused unless it is this release, half-finished: its own files, and
    // what its hooks changed once it recorded itself.
    let mine = release_files(&w);
    let since_began = |f: &String| w.marker.as_ref().is_some_and(|m| !m.before.contains(f));
    w.unrelated = dirty?.into_iter().filter(|f| !mine.contains(f) && !since_began(f)).collect();
    w.problems = checks(sh, flags, &w)?;
    Ok(w)
}

/// [`git::dirty_files`] of the checkout at `root`, from a thread of its own.
fn dirty_in(root: &std::path::Path) -> Result<Vec<String>> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    git::dirty_files(&sh)
}

/// Everything [`look`] finds but the tree's state.
fn look_release(sh: &Shell, flags: &flags::Release) -> Result<World> {
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
    let branch = format!("release/{}", branch_name(&repo, &targets));
    let proposal = Proposal::look(sh, flags, &repo, branch, title(&repo, &targets))?;
    let marker_path = state::path(sh)?;
    let marker = state::load(&marker_path, &proposal.title);
    Ok(World {
        repo,
        targets,
        bump,
        notes,
        note_changes,
        body,
        overflow,
        proposal,
        marker,
        marker_path,
        unrelated: Vec::new(),
        problems: Vec::new(),
    })
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
    let edits_done = w.bump.is_none() && w.note_changes.is_empty();
    let rest = w.proposal.plan(flags, &w.repo, w.marker.as_ref(), edits_done, "", &mut w.problems);
    steps.extend(rest.into_iter().map(|s| s.map(Action::Propose)));
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
        Action::Propose(Act::Hooks) => {
            // Each hook sees the files changed so far, those of the hooks before it included.
            let so_far = || changed_files(sh, w);
            let mut marker = w.marker.clone();
            propose::run_hooks(sh, &w.repo, &so_far, &mut marker, &w.marker_path)?;
            w.marker = marker;
        }
        Action::Propose(Act::Commit) => commit(sh, w, flags)?,
        Action::Propose(Act::PushBranch) => w.proposal.push(sh)?,
        Action::Propose(Act::OpenPr) => w.proposal.open_pr(sh, &w.repo, &w.body)?,
    }
    Ok(())
}

/// The files the release changed so far: its own that are dirty (the bump's, the notes', the
/// overflow file, the locks), and what its hooks changed since it began.
fn changed_files(sh: &Shell, w: &World) -> Result<Vec<String>> {
    let mine = release_files(w);
    let since_began = |f: &String| w.marker.as_ref().is_some_and(|m| !m.before.contains(f));
    Ok(git::dirty_files(sh)?.into_iter().filter(|f| mine.contains(f) || since_began(f)).collect())
}

/// Commits exactly the release's files and what its hooks changed, never other changes.
fn commit(sh: &Shell, w: &World, flags: &flags::Release) -> Result<()> {
    w.proposal.switch_to_branch(sh, flags)?;
    if let Some(full) = &w.overflow {
        crate::changeset::write_atomic(&w.repo.root.join(NOTES_FILE), full)?;
    }
    let files = changed_files(sh, w)?;
    if files.is_empty() {
        bail!("the release has no changed file to commit; was it committed already under another title?");
    }
    let title = &w.proposal.title;
    git::commit_paths(sh, &files, title)?;
    state::remove(&w.marker_path)?;
    output::status("committed", &format!("{title} ({})", files.join(", ")));
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
    if !flags.allow_dirty && !w.unrelated.is_empty() {
        problems.push(format!(
            "the working tree has uncommitted changes that are not this release's ({}); commit or stash them, or pass --allow-dirty",
            w.unrelated.join(", ")
        ));
    }
    problems.extend(w.proposal.problems(sh, flags, &w.repo, "")?);
    Ok(problems)
}
