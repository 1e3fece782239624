//! The end of `release prepare`, one way for the group's release (`prepare.rs`) and the named
//! packages' (`packages.rs`): the prepare hooks, the release commit, its branch and the release
//! pull request. Each phase's look finds a [`Proposal`], its plan takes these steps from it
//! ([`Proposal::plan`], with the actions of [`Act`]), and its executor carries them out through the functions here.

use std::path::Path;

use anyhow::{Context, Result};
use xshell::Shell;

use super::{hooks, prepare::first_line, state, Step};
use crate::{exec, flags, git, github, monorepo::Monorepo, output, scratch::Scratch};

/// The actions of these steps; each phase's own action type wraps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Hooks,
    Commit,
    PushBranch,
    OpenPr,
}

/// What was found of the release's commit, its branch and its pull request.
pub struct Proposal {
    pub branch: String,
    pub title: String,
    pub head_subject: String,
    /// Whether HEAD is the release commit.
    pub committed: bool,
    /// `None` without an `origin` (or without --pr); else whether origin has the branch, or why
    /// it did not answer.
    origin_branch: Option<Result<bool, String>>,
    /// `None` offline (or without --pr); else the open pull request, or why GitHub did not answer.
    pr: Option<Result<Option<github::Pr>, String>>,
}

/// Whether the run ends with the release commit: `--commit`, `--pr`, or both phases at once.
pub fn commits(flags: &flags::Release) -> bool {
    flags.commit || flags.pr || flags.phase.is_none()
}

impl Proposal {
    /// Looks at HEAD, and with `--pr` at origin's branch and GitHub's open pull request.
    pub fn look(sh: &Shell, flags: &flags::Release, repo: &Monorepo, branch: String, title: String) -> Result<Self> {
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
        Ok(Proposal { branch, title, head_subject, committed, origin_branch, pr })
    }

    /// The end of a prepare's plan: the prepare hooks' step, then the release commit's, the
    /// push's and the pull request's. `marker` is what an earlier run recorded; `edits_done`: this
    /// run has no edit of its own left to make (so hooks that ran saw the release's edits);
    /// `holds` says what the commit takes besides its title. A missing `origin` is a problem.
    pub fn plan(
        &self,
        flags: &flags::Release,
        repo: &Monorepo,
        marker: Option<&state::Marker>,
        edits_done: bool,
        holds: &str,
        problems: &mut Vec<String>,
    ) -> Vec<Step<Act>> {
        let committed = self.committed && commits(flags);
        let ran = marker.is_some_and(|m| m.hooks_done) && edits_done;
        let mut steps = vec![hooks_step(repo, committed, ran)];
        steps.extend(self.steps(flags, repo, holds, problems));
        steps
    }

    /// The release commit's, the push's and the pull request's steps.
    fn steps(
        &self,
        flags: &flags::Release,
        repo: &Monorepo,
        holds: &str,
        problems: &mut Vec<String>,
    ) -> Vec<Step<Act>> {
        let (title, branch) = (&self.title, &self.branch);
        let mut steps = vec![match (commits(flags), self.committed) {
            (false, _) => Step::skipped("release commit", "pass --commit or --pr to commit the release"),
            (true, true) => Step::done("release commit", format!("HEAD is `{}`", self.head_subject)),
            (true, false) => {
                let on = if flags.pr { format!("a new branch `{branch}`") } else { "the current branch".to_string() };
                Step::todo("release commit", format!("commit `{title}` on {on}{holds}"), Act::Commit)
            }
        }];
        if !flags.pr {
            return steps;
        }
        let push = format!("push `{branch}` to origin");
        steps.push(match &self.origin_branch {
            None => {
                problems.push(
                    "there is no `origin` remote to push the release branch to; add one (`git remote add origin URL`)"
                        .into(),
                );
                Step::todo("push branch", push, Act::PushBranch)
            }
            Some(Ok(true)) if self.committed => Step::done("push branch", format!("origin has `{branch}`")),
            Some(Ok(_)) => Step::todo("push branch", push, Act::PushBranch),
            // A remote that does not answer now is the push's problem, when it runs.
            Some(Err(e)) => {
                Step::unknown("push branch", format!("{push} (origin did not answer: {e})"), Act::PushBranch)
            }
        });
        let open = format!("open `{title}` from `{branch}` into `{}`", repo.config.branch);
        steps.push(match &self.pr {
            None => Step::skipped("pull request", "--offline"),
            Some(Ok(Some(pr))) => Step::done("pull request", format!("#{} is open: {}", pr.number, pr.url)),
            Some(Ok(None)) => Step::todo("pull request", open, Act::OpenPr),
            Some(Err(e)) => Step::unknown("pull request", format!("{open} (GitHub did not answer: {e})"), Act::OpenPr),
        });
        steps
    }

    /// What must hold for these steps: the release branch checked out (or the release's own
    /// pull request branch, where a rerun of `--pr` resumes; `instead` says what else may do),
    /// and for a pull request, `gh` and a token.
    pub fn problems(&self, sh: &Shell, flags: &flags::Release, repo: &Monorepo, instead: &str) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        if flags.from_tag.is_none() {
            let branch = git::current_branch(sh)?;
            let resuming = flags.pr && branch.as_deref() == Some(self.branch.as_str());
            if branch.as_deref() != Some(repo.config.branch.as_str()) && !resuming {
                problems.push(format!(
                    "the release branch `{}` is not checked out (HEAD: `{}`); check it out{instead}",
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
        Ok(problems)
    }

    /// With `--pr`, the release commit goes on a branch of its own.
    pub fn switch_to_branch(&self, sh: &Shell, flags: &flags::Release) -> Result<()> {
        let branch = &self.branch;
        if flags.pr && git::current_branch(sh)?.as_deref() != Some(branch.as_str()) {
            git::create_branch(sh, branch).with_context(|| {
                format!("cannot create the branch `{branch}`; delete a stale one (`git branch -D {branch}`) and rerun")
            })?;
        }
        Ok(())
    }

    pub fn push(&self, sh: &Shell) -> Result<()> {
        let branch = &self.branch;
        git::push(sh, "origin", branch).with_context(|| format!("cannot push `{branch}`"))?;
        output::status("pushed", branch);
        Ok(())
    }

    /// Opens the pull request with `body`, unless one is open already.
    pub fn open_pr(&self, sh: &Shell, repo: &Monorepo, body: &str) -> Result<()> {
        let config = &repo.config;
        if github::open_pr(sh, &config.repository, &self.branch)?.is_some() {
            return Ok(());
        }
        let scratch = Scratch::new("release-pr")?;
        let file = scratch.join("body.md");
        std::fs::write(&file, body).context("cannot write the pull request's body")?;
        let pr = github::create_pr(sh, &config.repository, &config.branch, &self.branch, &self.title, &file)?;
        output::status("opened", &format!("#{} {}: {}", pr.number, self.title, pr.url));
        Ok(())
    }
}

/// The prepare hooks' step. `committed`: the release commit is made (and this run commits);
/// `ran`: an earlier run ran them on this release's edits, and no edit is left to make.
fn hooks_step(repo: &Monorepo, committed: bool, ran: bool) -> Step<Act> {
    let config = &repo.config;
    if config.release_hooks.prepare.is_empty() {
        return Step::skipped("prepare hooks", "none configured (`release.prepare-hooks`)");
    }
    if committed {
        return Step::done("prepare hooks", "ran before the release commit");
    }
    if ran {
        return Step::done("prepare hooks", "ran on this release's edits");
    }
    let (core, umbrella) = dirs(repo);
    let shown = hooks::describe(&repo.root, &config.release_hooks.prepare, &core, &umbrella);
    if !hooks::any_applies(&repo.root, &config.release_hooks.prepare) {
        return Step::skipped("prepare hooks", shown);
    }
    Step::todo("prepare hooks", format!("{shown}; the files they change join the release"), Act::Hooks)
}

fn dirs(repo: &Monorepo) -> (String, String) {
    (repo.config.core.display().to_string(), repo.config.umbrella.display().to_string())
}

/// Runs the prepare hooks; `changed` gives the files the release changed so far (each hook sees
/// those of the hooks before it). Once they ran, the release's record says so.
pub fn run_hooks(
    sh: &Shell,
    repo: &Monorepo,
    changed: &dyn Fn() -> Result<Vec<String>>,
    marker: &mut Option<state::Marker>,
    marker_path: &Path,
) -> Result<()> {
    let (core, umbrella) = dirs(repo);
    let files = changed()?;
    hooks::run_all(sh, &repo.root, &repo.config.release_hooks.prepare, &core, &umbrella, changed)
        .context("a prepare hook failed; fix it and rerun the same command: what is done stays done")?;
    if let Some(m) = marker {
        m.hooks_done = true;
        state::save(marker_path, m)?;
    }
    let after = changed()?;
    let joined: Vec<&str> = after.iter().filter(|f| !files.contains(f)).map(String::as_str).collect();
    if !joined.is_empty() {
        output::status("hooks", &format!("changed {}; they join the release", joined.join(", ")));
    }
    Ok(())
}

/// Records the release before its first edit (which files were dirty before it began), unless
/// an earlier run did: `release` names it (the group's version, or the named packages' title).
pub fn record(marker: &mut Option<state::Marker>, path: &Path, release: &str, before: &[String]) -> Result<()> {
    if marker.is_none() {
        let m = state::Marker { release: release.to_string(), before: before.to_vec(), hooks_done: false };
        state::save(path, &m)?;
        *marker = Some(m);
    }
    Ok(())
}
