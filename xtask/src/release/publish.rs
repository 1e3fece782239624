//! `release publish`: on the release commit, check before core, publish core, wait until the
//! index serves it, publish the umbrella and the changed packages in dependency order, tag the
//! release commit itself, push the tag once, and create the GitHub release from the changelog.

use std::{collections::BTreeSet, time::Duration};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{prepare::first_line, render, State, Step};
use crate::{
    changelog, check, flags, git, github,
    index::{self, Index, Project},
    monorepo::Monorepo,
    output, publish,
    version::Version,
};

pub fn run(sh: &Shell, flags: &flags::Release) -> Result<()> {
    git::ensure_repo(sh)?;
    let repo = Monorepo::load(&sh.current_dir())?;
    for w in &repo.warnings {
        output::warn(w);
    }
    let config = &repo.config;
    let umbrella = repo.umbrella()?;
    let core = repo.core()?;
    let version = umbrella.version.clone();
    let tag = config.tag_for(&version);
    let sha = git::head(sh)?;
    let short = &sha[..sha.len().min(10)];
    let index_url = flags.index_url.clone().map_or_else(|| config.index_url.clone(), |u| u.0);
    let index = Index::new(&index_url);
    let wait = flags
        .wait
        .as_deref()
        .map(index::parse_duration)
        .transpose()
        .map_err(flags::usage)?
        .unwrap_or(Duration::from_secs(300));

    // The previous release: where "changed packages" start.
    let previous = match &flags.from_tag {
        Some(t) => t.clone(),
        None => previous_tag(sh, &repo, &version)?,
    };
    let mut problems = Vec::new();
    let dirty = if flags.allow_dirty { None } else { git::uncommitted_changes(sh)? };
    if let Some(dirty) = dirty {
        problems.push(format!("{dirty}, which would be built into the packages; commit or stash them"));
    }
    let head = check::head(sh, &config.branch)?;
    if flags.from_tag.is_none() {
        let verdict = check::branch_verdict(&head, &config.branch);
        if !verdict.ok {
            problems.push(verdict.message);
        }
    } else if !git::is_ancestor(sh, &previous, "HEAD")? {
        problems.push(format!("HEAD does not descend from `{previous}`, the release this hotfix follows"));
    }
    if !flags.offline && !flags.dry_run && github::token_variable().is_none() {
        problems.push(
            "no GitHub token (GH_TOKEN or GITHUB_TOKEN) for the GitHub release; set one, or pass --offline".into(),
        );
    }

    let core_project = index.project(&core.name)?;
    let core_there = has_version(core_project.as_ref(), &core.version);
    let mut steps = Vec::new();
    steps.push(if core_there {
        Step::done(
            "check before core",
            format!("`{}` {} is on the index: published by an earlier run", core.name, core.version),
        )
    } else {
        let verdict =
            before_core(flags.from_tag.is_some(), core.name.as_str(), &core.version, core_project.as_ref(), &index_url);
        if !verdict.ok {
            problems.push(verdict.message.clone());
        }
        Step::done("check before core", verdict.message)
    });
    steps.push(if core_there {
        Step::done("publish core", format!("`{}` {} is on the index", core.name, core.version))
    } else {
        Step::todo("publish core", format!("build and upload `{}` {}", core.name, core.version))
    });
    steps.push(if core_there {
        Step::done("wait for core", "the index serves it")
    } else {
        Step::todo(
            "wait for core",
            format!("poll the index until it serves `{}` {} (at most {})", core.name, core.version, index::human(wait)),
        )
    });

    let mut rest: BTreeSet<usize> = publish::changed_since(sh, &repo, &previous)?;
    rest.insert(repo.index_of(umbrella));
    rest.remove(&repo.index_of(core));
    let projects = publish::projects(&index, &repo, &rest)?;
    let missing: Vec<usize> = rest
        .iter()
        .copied()
        .filter(|&i| !has_version(projects.get(&i).and_then(Option::as_ref), &repo.packages[i].version))
        .collect();
    steps.push(if missing.is_empty() {
        Step::done("publish packages", format!("the umbrella and {} changed packages are on the index", rest.len() - 1))
    } else {
        let names: Vec<String> = missing
            .iter()
            .take(6)
            .map(|&i| format!("{} {}", repo.packages[i].display_name, repo.packages[i].version))
            .collect();
        let more = if missing.len() > 6 { format!(" and {} more", missing.len() - 6) } else { String::new() };
        Step::todo("publish packages", format!("{} in dependency order: {}{more}", missing.len(), names.join(", ")))
    });

    steps.push(match git::tag_commit(sh, &tag)? {
        Some(at) if at == sha => Step::done("tag", format!("`{tag}` is at the release commit {short}")),
        Some(at) if git::is_ancestor(sh, &at, "HEAD")? => {
            problems.push(format!(
                "{version} was released at {} (`{tag}`), and nothing since bumped the version; run `cargo xtask release prepare` first",
                &at[..at.len().min(10)]
            ));
            Step::done("tag", format!("`{tag}` is at an earlier commit"))
        }
        Some(at) => {
            problems.push(format!("the tag `{tag}` already exists at {at}, not at the release commit {sha}; a released version is never re-tagged"));
            Step::done("tag", format!("`{tag}` is at another commit"))
        }
        None => Step::todo("tag", format!("tag the release commit {short} as `{tag}`")),
    });
    // A remote that does not answer now is the step's problem when it runs, after the steps
    // before it are done.
    steps.push(match git::remote_url(sh, "origin")? {
        None => Step::skipped("push tag", "no `origin` remote"),
        Some(_) => match git::remote_ref(sh, "origin", &format!("refs/tags/{tag}")) {
            Ok(Some(at)) if at == sha => Step::done("push tag", format!("origin has `{tag}`")),
            Ok(Some(at)) => {
                problems.push(format!("origin has the tag `{tag}` at {at}, not at the release commit {sha}"));
                Step::done("push tag", "origin has it at another commit")
            }
            Ok(None) => Step::todo("push tag", format!("push `{tag}` to origin, once")),
            Err(e) => Step::todo(
                "push tag",
                format!("push `{tag}` to origin, once (origin did not answer: {})", first_line(&e)),
            ),
        },
    });
    let create = format!("create `{tag}` at {short} with the changelog's notes");
    steps.push(if flags.offline {
        Step::skipped("GitHub release", "--offline")
    } else {
        match github::release(sh, &config.repository, &tag) {
            Ok(Some(r)) => Step::done("GitHub release", format!("`{tag}` exists: {}", r.url)),
            Ok(None) => Step::todo("GitHub release", create),
            Err(e) => Step::todo("GitHub release", format!("{create} (GitHub did not answer: {})", first_line(&e))),
        }
    });

    let heading = format!("Release {version}: publish at {short}");
    match (flags.json, flags.dry_run) {
        (true, true) => output::json(&super::steps_json("publish", &version, &steps)),
        // The plan of a real run goes to stderr; stdout gets the steps as they end.
        (true, false) => output::note(&render(&heading, &steps, false)),
        (false, _) => output::data(&render(&heading, &steps, flags.dry_run)),
    }
    if !problems.is_empty() {
        bail!("the release cannot be published:\n  {}", problems.join("\n  "));
    }
    if flags.dry_run {
        output::note("dry run: nothing was built, uploaded, tagged or created");
        return Ok(());
    }

    let options = publish::Options::for_release(
        &repo,
        None,
        flags.index_url.clone().map(|u| u.0),
        flags.publish_url.clone().map(|u| u.0),
        wait,
        flags.jobs.map(|n| n.0),
    )?;
    let todo = |name: &str| steps.iter().any(|s| s.name == name && matches!(s.state, State::Todo(_)));
    if todo("publish core") {
        publish::publish(sh, &repo, &BTreeSet::from([repo.index_of(core)]), &options)?;
    }
    if todo("wait for core") {
        index::wait_for(&format!("`{}` {} on the index", core.name, core.version), wait, || {
            Ok(has_version(index.project(&core.name)?.as_ref(), &core.version).then_some(()))
        })?;
    }
    if todo("publish packages") {
        publish::publish(sh, &repo, &rest, &options)?;
    }
    if todo("tag") {
        git::tag(sh, &tag, &sha)?;
        output::status("tagged", &format!("{short} as `{tag}`"));
    }
    if todo("push tag") {
        let refspec = format!("refs/tags/{tag}");
        git::push(sh, "origin", &refspec).with_context(|| format!("cannot push the tag `{tag}`"))?;
        output::status("pushed", &tag);
    }
    if todo("GitHub release") && github::release(sh, &config.repository, &tag)?.is_none() {
        let notes = changelog::notes(&repo, &version)?;
        let file = std::env::temp_dir().join(format!("xtask-release-notes-{}.md", std::process::id()));
        std::fs::write(&file, &notes).context("cannot write the release notes")?;
        let created = github::create_release(sh, &config.repository, &tag, &sha, &tag, &file);
        let _ = std::fs::remove_file(&file);
        output::status("released", &format!("`{tag}` on GitHub: {}", created?.url));
    }
    let steps = super::finished(&steps);
    if flags.json {
        output::json(&super::steps_json("publish", &version, &steps));
    }
    output::github_summary(&super::summary(&heading, &steps));
    output::status("finished", &format!("release {version}"));
    Ok(())
}

/// The publish phase of a one-go dry run: what it will do once prepare has made the release
/// commit of `version` (the world cannot be looked at for a commit that does not exist yet).
pub fn planned(sh: &Shell, flags: &flags::Release, version: &Version) -> Result<()> {
    let repo = Monorepo::load(&sh.current_dir())?;
    let core = repo.core()?;
    let tag = repo.config.tag_for(version);
    let previous = flags.from_tag.clone().map_or_else(|| previous_tag(sh, &repo, version), Ok)?;
    let mut steps = vec![
        Step::todo(
            "check before core",
            format!("`{}` {version} must be newer than every version on the index", core.name),
        ),
        Step::todo("publish core", format!("build and upload `{}` {version}", core.name)),
        Step::todo("wait for core", format!("poll the index until it serves `{}` {version}", core.name)),
        Step::todo(
            "publish packages",
            format!("the umbrella and every package whose version changed since `{previous}`, in dependency order"),
        ),
        Step::todo("tag", format!("tag the release commit as `{tag}`")),
    ];
    steps.push(match git::remote_url(sh, "origin")? {
        Some(_) => Step::todo("push tag", format!("push `{tag}` to origin, once")),
        None => Step::skipped("push tag", "no `origin` remote"),
    });
    steps.push(if flags.offline {
        Step::skipped("GitHub release", "--offline")
    } else {
        Step::todo("GitHub release", format!("create `{tag}` at the release commit with the changelog's notes"))
    });
    let heading = format!("Release {version}: publish, after prepare's release commit");
    if flags.json {
        output::json(&super::steps_json("publish", version, &steps));
    } else {
        output::data(&render(&heading, &steps, true));
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
