//! `release prepare`: checks, version bumps and the changelog in one all-or-nothing edit, then
//! optionally the release commit, its branch and the release pull request.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{render, Step};
use crate::{
    changelog,
    changeset::Changeset,
    exec, flags, git, github,
    index::Index,
    monorepo::{Monorepo, Package},
    output, prepare,
    version::Version,
};

/// Where the release stands before this run.
struct World {
    repo: Monorepo,
    /// The last release's tag (or --from-tag) and its version.
    since: (String, Version),
    /// The version being prepared.
    version: Version,
    /// Set when the umbrella is already ahead of the last release: prepared by an earlier run.
    bumped: bool,
}

/// Returns the version being released.
pub fn run(sh: &Shell, flags: &flags::Release) -> Result<Version> {
    git::ensure_repo(sh)?;
    let one_go = flags.phase.is_none();
    if one_go && flags.pr {
        return Err(flags::usage(
            "`--pr` waits for a review: run `release prepare --pr`, then `release publish` once it is merged",
        ));
    }
    let commit = flags.commit || flags.pr || one_go;
    let world = look(sh, flags)?;
    let repo = &world.repo;
    let branch = format!("release/{}", repo.config.tag_for(&world.version));
    let title = format!("Release {}", world.version);

    let mut problems = checks(sh, flags, repo, &branch)?;
    // The edits: the bump (unless an earlier run made it) and the changelog of the bumped model.
    let (bump, bumped_repo) = if world.bumped {
        (None, None)
    } else {
        let plan = prepare::plan(repo, flags.kind())?;
        let model = with_versions(repo, &plan.moves())?;
        (Some(plan), Some(model))
    };
    let date = match &flags.date {
        Some(d) => changelog::parse_date(d)?,
        None => changelog::today_utc(),
    };
    let mut generated =
        changelog::generate(sh, bumped_repo.as_ref().unwrap_or(repo), Some(&world.since.0), date, flags.offline)?;
    if let Some(plan) = &bump {
        changelog::append_block(&mut generated, repo, prepare::WAVE_HEADING, &plan.wave_notes())?;
    }
    // The section without its date line: an earlier run on another day wrote the same one.
    let body = generated.section.split_once('\n').map_or("", |(_, rest)| rest).trim();
    let changelog_done = !body.is_empty() && generated.change.old.contains(body);

    let mut steps = vec![Step::done("checks", checks_summary(flags, repo))];
    steps.push(match &bump {
        None => Step::done(
            "bump versions",
            format!("the umbrella is at {}, ahead of the last release `{}`", world.version, world.since.0),
        ),
        Some(plan) => Step::todo(
            "bump versions",
            format!(
                "{} {} → {}, {} {} → {}, requirement `{}`{}",
                plan.umbrella.name,
                plan.umbrella.old,
                plan.umbrella.new,
                plan.core.name,
                plan.core.old,
                plan.core.new,
                plan.requirement.1,
                plan.wave_summary() + if flags.lock { ", then `uv lock` in each package" } else { "" }
            ),
        ),
    });
    steps.push(if changelog_done {
        Step::done("changelog", format!("{} has this release's section", generated.change.display))
    } else {
        Step::todo(
            "changelog",
            format!(
                "{} pull requests in {} sections since `{}` into {}",
                generated.prs, generated.sections, generated.since, generated.change.display
            ),
        )
    });
    let head_subject = git::head_subject(sh)?;
    let committed = head_subject == title || head_subject.starts_with(&format!("{title} (#"));
    steps.push(match (commit, committed) {
        (false, _) => Step::skipped("release commit", "pass --commit or --pr to commit the release"),
        (true, true) => Step::done("release commit", format!("HEAD is `{head_subject}`")),
        (true, false) if flags.pr => {
            Step::todo("release commit", format!("commit `{title}` on a new branch `{branch}`"))
        }
        (true, false) => Step::todo("release commit", format!("commit `{title}` on the current branch")),
    });
    if flags.pr {
        let remote = git::remote_url(sh, "origin")?;
        steps.push(match remote {
            None => {
                problems.push(
                    "there is no `origin` remote to push the release branch to; add one (`git remote add origin URL`)"
                        .into(),
                );
                Step::todo("push branch", format!("push `{branch}` to origin"))
            }
            // A remote that does not answer now is the push's problem, when it runs.
            Some(_) => match git::remote_ref(sh, "origin", &format!("refs/heads/{branch}")) {
                Ok(Some(_)) if committed => Step::done("push branch", format!("origin has `{branch}`")),
                Ok(_) => Step::todo("push branch", format!("push `{branch}` to origin")),
                Err(e) => Step::todo(
                    "push branch",
                    format!("push `{branch}` to origin (origin did not answer: {})", first_line(&e)),
                ),
            },
        });
        steps.push(if flags.offline {
            Step::skipped("pull request", "--offline")
        } else {
            let open = format!("open `{title}` from `{branch}` into `{}`", repo.config.branch);
            match github::open_pr(sh, &repo.config.repository, &branch) {
                Ok(Some(pr)) => Step::done("pull request", format!("#{} is open: {}", pr.number, pr.url)),
                Ok(None) => Step::todo("pull request", open),
                Err(e) => Step::todo("pull request", format!("{open} (GitHub did not answer: {})", first_line(&e))),
            }
        });
    }
    if !problems.is_empty() {
        bail!("the release cannot be prepared:\n  {}", problems.join("\n  "));
    }

    let heading = format!("Release {}: prepare", world.version);
    if flags.json {
        // The plan of a real run goes to stderr; stdout gets the steps as they end.
        if flags.dry_run {
            output::json(&super::steps_json("prepare", &world.version, &steps));
        } else {
            output::note(&render(&heading, &steps, false));
        }
    } else {
        output::data(&render(&heading, &steps, flags.dry_run));
        if let Some(plan) = &bump {
            output::data(&plan.diff());
        }
        if !changelog_done {
            output::data(&generated.section);
        }
    }
    output::note(&generated.audit);
    if flags.dry_run {
        output::note("dry run: nothing was changed");
        return Ok(world.version);
    }

    // The version bumps and the changelog: one all-or-nothing edit of every file.
    let mut edits = Changeset::default();
    // The wave's files too; on a rerun after the edits, the packages' edited pyproject files.
    let wave_files = match &bump {
        Some(plan) => plan.changes.changes.iter().map(|c| c.display.clone()).collect(),
        None => prepare::edited_pyprojects(sh, repo)?,
    };
    if let Some(plan) = bump {
        edits.changes.extend(plan.changes.changes);
    }
    if !changelog_done {
        edits.push(generated.change.clone());
    }
    let files: Vec<String> = edits.changes.iter().map(|c| c.display.clone()).collect();
    edits.apply()?;
    let locks = if flags.lock && !wave_files.is_empty() { prepare::lock_files(sh, repo, &wave_files)? } else { vec![] };
    if !files.is_empty() {
        output::status("prepared", &format!("{} ({})", world.version, files.join(", ")));
    }
    if commit && !committed {
        if flags.pr && git::current_branch(sh)?.as_deref() != Some(branch.as_str()) {
            git::create_branch(sh, &branch).with_context(|| {
                format!("cannot create the branch `{branch}`; delete a stale one (`git branch -D {branch}`) and rerun")
            })?;
        }
        // Exactly the files a release edits, never other changes (--allow-dirty may leave some).
        let mut release_files = vec![
            repo.umbrella()?.pyproject_display(),
            repo.core()?.pyproject_display(),
            generated.change.display.clone(),
        ];
        release_files.extend(locks);
        release_files.extend(wave_files);
        git::commit_paths(sh, &release_files, &title)?;
        output::status("committed", &title);
    }
    if flags.pr {
        git::push(sh, "origin", &branch).with_context(|| format!("cannot push `{branch}`"))?;
        output::status("pushed", &branch);
        if !flags.offline && github::open_pr(sh, &repo.config.repository, &branch)?.is_none() {
            let body = std::env::temp_dir().join(format!("xtask-release-pr-{}.md", std::process::id()));
            std::fs::write(&body, &generated.section).context("cannot write the pull request's body")?;
            let pr = github::create_pr(sh, &repo.config.repository, &repo.config.branch, &branch, &title, &body);
            let _ = std::fs::remove_file(&body);
            let pr = pr?;
            output::status("opened", &format!("#{} {title}: {}", pr.number, pr.url));
        }
    }
    let steps = super::finished(&steps);
    if flags.json {
        output::json(&super::steps_json("prepare", &world.version, &steps));
    }
    output::github_summary(&super::summary(&heading, &steps));
    Ok(world.version)
}

/// The first line of an error, for a step's one-line detail.
pub fn first_line(e: &anyhow::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// The last release, the version being prepared, and whether an earlier run bumped already.
fn look(sh: &Shell, flags: &flags::Release) -> Result<World> {
    let repo = Monorepo::load(&sh.current_dir())?;
    for w in &repo.warnings {
        output::warn(w);
    }
    let since = match &flags.from_tag {
        Some(tag) => {
            git::ensure_commit(sh, tag)?;
            if !git::is_ancestor(sh, tag, "HEAD")? {
                bail!("HEAD does not descend from `{tag}`; a hotfix branch starts at the tag: `git switch -c hotfix/{tag} {tag}`");
            }
            tag.clone()
        }
        None => changelog::latest_tag(sh, &repo)?,
    };
    let last = repo.config.version_of_tag(&since).with_context(|| {
        format!("`{since}` does not match the tag pattern `{}`, so it names no released version", repo.config.tag)
    })?;
    let umbrella = repo.umbrella()?;
    let bumped = umbrella.version > last;
    let version = if bumped { umbrella.version.clone() } else { prepare::plan(&repo, flags.kind())?.umbrella.new };
    Ok(World { since: (since, last), version, bumped, repo })
}

/// What must hold before anything changes; every problem is reported at once.
fn checks(sh: &Shell, flags: &flags::Release, repo: &Monorepo, release_pr_branch: &str) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    if !flags.allow_dirty {
        if let Some(dirty) = git::uncommitted_changes(sh)? {
            problems.push(format!("{dirty}; commit or stash them, or pass --allow-dirty"));
        }
    }
    if flags.from_tag.is_none() {
        let branch = git::current_branch(sh)?;
        // The release's own pull request branch is where a rerun of `--pr` resumes.
        let resuming = flags.pr && branch.as_deref() == Some(release_pr_branch);
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
        let url = flags.index_url.clone().map_or_else(|| repo.config.index_url.clone(), |u| u.0);
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
