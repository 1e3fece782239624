//! What a publish will do to each package, said ahead of time for the plan and the dry run's
//! exit code, and the texts the run says the same things with: per file against the index,
//! with the artifact check where an earlier build can stand in for the one the run would make.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{
    artifact,
    build::{self, Build},
    frontend, hooks,
    plan::{self, Item, State},
    report::{self, Planned},
    run::{artifact_check, compare, Compared, Ctx},
    Options,
};
use crate::{monorepo::Package, parallel};

/// What will happen to each package, for the plan (and the dry run's exit code): decided per
/// file and checked against the previous release where an earlier build can stand in for the
/// one the run would make.
pub fn describe(ctx: &Ctx) -> Result<BTreeMap<usize, Planned>> {
    // In parallel: the artifact checks download and read the previous releases' files.
    let items: Vec<(&usize, &Item)> = ctx.plan.items.iter().collect();
    // As `build_all` decides: a shared environment, and frontends in it, for more than one build.
    let fresh = items
        .iter()
        .filter(|(&i, item)| {
            item.builds() && build::reusable(&ctx.repo.root, &ctx.repo.packages[i], ctx.options.backend).is_none()
        })
        .count();
    let shared = fresh > 1;
    parallel::map(&items, ctx.options.jobs.max(8), |&(&i, item)| Ok((i, describe_one(ctx, i, item, shared)?)))
        .into_iter()
        .collect()
}

fn describe_one(ctx: &Ctx, i: usize, item: &Item, shared: bool) -> Result<Planned> {
    let p = &ctx.repo.packages[i];
    let options = ctx.options;
    let mut planned = Planned::default();
    if let Some(why) = &item.blocked {
        planned.what = format!("blocked: {why}");
        planned.fails = true;
        return Ok(planned);
    }
    if item.deferred {
        planned.what = deferred_text(options);
        planned.fails = true;
        return Ok(planned);
    }
    let reused = build::reusable(&ctx.repo.root, p, options.backend);
    planned.what = match &item.state {
        State::OnIndex => {
            format!("already on the index ({}): nothing to build", report::count(item.on_index.len(), "file"))
        }
        State::Partial { missing, closed: Some(closed) } => {
            let (text, fails) = describe_closed(ctx, p, item, missing, closed, reused.as_ref())?;
            planned.fails = fails;
            text
        }
        State::Partial { missing, closed: None } => match &reused {
            Some(b) => match compare(ctx, p, b, &item.on_index)? {
                Compared::Ours(d) if d.upload.is_empty() => "already on the index, as built by us".into(),
                Compared::Ours(d) => format!("our upload was interrupted: upload {}", d.upload.join(", ")),
                Compared::CutOff(d, cuts) => {
                    planned.fails = true;
                    let rest =
                        if d.upload.is_empty() { String::new() } else { format!("upload {}; ", d.upload.join(", ")) };
                    format!("our upload was interrupted: {rest}fails: {}", super::cutoff::text(&cuts))
                }
                Compared::Elsewhere if options.complete => {
                    format!("built elsewhere, without its {}: upload ours (--complete)", missing.join(" and "))
                }
                Compared::Elsewhere => format!(
                    "built elsewhere, without its {}: upload nothing (warned; `--complete` uploads ours)",
                    missing.join(" and ")
                ),
            },
            None => format!(
                "on the index without its {}: build, then upload the rest if the files there are ours",
                missing.join(" and ")
            ),
        },
        State::New if item.new_project => "new project: build and upload".into(),
        State::New => "build and upload".into(),
        State::Yanked => unreachable!("yanked versions are blocked by the plan"),
    };
    if !item.builds() {
        return Ok(planned);
    }
    let hooks = hooks::of(&options.hooks, p);
    if !hooks.is_empty() {
        planned.notes.push(match reused {
            Some(_) => "hooks: not run, the last build is of the same sources".into(),
            None => {
                format!(
                    "before the build: {}",
                    hooks.iter().map(|h| hooks::shown(&h.run)).collect::<Vec<_>>().join("; ")
                )
            }
        });
    }
    if reused.is_none() {
        planned.notes.push(
            frontend::way(&ctx.repo.root, p, options.backend, shared, options.build_frontend).note(options.backend),
        );
    }
    match (&item.previous, &reused) {
        _ if !options.artifact_check => planned.notes.push("artifact check: skipped (--no-artifact-check)".into()),
        (None, _) => planned.notes.push("artifact check: no earlier release on the index".into()),
        (Some((v, _)), None) => planned
            .notes
            .push(format!("artifact check against {v} after the build (a dry run cannot know what building reveals)")),
        (Some(_), Some(b)) => {
            let check = artifact_check(ctx, item, b)?.expect("a previous release is there");
            planned.notes.push(format!("artifact check {}", check.line()));
            if !check.stop_reasons().is_empty() && !ctx.accepted(p) {
                planned.what = stop_text(p, &check);
                planned.fails = true;
            }
            planned.check = Some(check.to_json());
        }
    }
    Ok(planned)
}

/// What the plan says of a version the index closed, and whether the run fails on it. Nothing
/// is uploaded to it: our own interrupted upload fails (a new version is the way out), another
/// build's version stands as it is, and `--complete` is refused. Without a build of ours, the
/// dry run cannot tell the two apart.
fn describe_closed(
    ctx: &Ctx,
    p: &Package,
    item: &Item,
    missing: &[&str],
    closed: &plan::Closed,
    reused: Option<&Build>,
) -> Result<(String, bool)> {
    let without = missing.join(" and ");
    let complete = ctx.options.complete;
    Ok(match reused.map(|b| compare(ctx, p, b, &item.on_index)).transpose()? {
        Some(Compared::Ours(d)) if d.upload.is_empty() => ("already on the index, as built by us".into(), false),
        Some(Compared::Ours(_)) => (interrupted_and_closed(p, &without, closed), true),
        Some(Compared::CutOff(_, cuts)) => {
            (format!("{}; {}", interrupted_and_closed(p, &without, closed), super::cutoff::text(&cuts)), true)
        }
        Some(Compared::Elsewhere) => (elsewhere_and_closed(&without, closed, complete), complete),
        None => (
            format!(
                "on the index without its {without}, {}: build, then upload nothing; fails if the files there are ours (release a new version){}",
                closed.reason(),
                if complete { "; `--complete` is refused" } else { "" }
            ),
            complete,
        ),
    })
}

/// Our own upload of a version stopped half-way, and the index closed the version since.
pub(super) fn interrupted_and_closed(p: &Package, without: &str, closed: &plan::Closed) -> String {
    format!(
        "our upload was interrupted and the version is {}; it stays without its {without}: release a new version (`cargo xtask pkg bump {} --bump patch`, then publish it)",
        closed.reason(),
        p.dir
    )
}

pub(super) fn elsewhere_and_closed(without: &str, closed: &plan::Closed, complete: bool) -> String {
    if complete {
        format!("built elsewhere, without its {without}: `--complete` refused: {}", closed.reason())
    } else {
        format!("built elsewhere, without its {without}: upload nothing, {}", closed.reason())
    }
}

pub(super) fn deferred_text(options: &Options) -> String {
    let limit = options.destination.new_projects_per_day.map_or(String::new(), |n| format!(" of {n} per 24 hours"));
    format!("deferred (new-project quota{limit} on the index `{}`)", options.destination.name)
}

/// The reasons on the first line (the summary's Detail), the lost files and the way out below.
pub(super) fn stop_text(p: &Package, check: &artifact::Check) -> String {
    let mut text = format!("stopped by the artifact check: {}", check.stop_reasons().join("; "));
    for lost in check.lost() {
        text += &format!("\n  lost from the {lost}");
    }
    text += &format!(
        "\n  if that is intended, pass `--accept-changes {}` (or list it in `publish.accept-changes` in release.toml)",
        p.name
    );
    text
}
