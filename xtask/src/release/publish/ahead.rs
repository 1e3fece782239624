//! The publish phase of a one-go dry run (`release --dry-run`): prepare has not made the
//! release commit, so the world at it cannot be looked at. [`Ahead`] says what can be said
//! before, and the plan is made by the same [`plan`] as the real run's, step for step.

use anyhow::{bail, Result};
use xshell::Shell;

use super::{
    previous_tag,
    steps::{plan, upload_destination, Seen, Stage},
};
use crate::release::{render, Report, Step};
use crate::{config::Destination, flags, git, monorepo::Monorepo, output, version::Version};

/// What the publish phase will find once prepare has committed `version`.
struct Ahead<'a> {
    repo: Monorepo,
    version: &'a Version,
    tag: String,
    /// The previous release's tag: where "changed packages" start.
    previous: String,
    destination: Destination,
    umbrella: String,
    origin: bool,
    offline: bool,
    hold: &'a [String],
    problems: Vec<String>,
}

impl Seen for Ahead<'_> {
    fn step(&mut self, stage: Stage) -> Option<Step<Stage>> {
        let (name, version, tag, umbrella) = (stage.name(), self.version, &self.tag, &self.umbrella);
        let core = self.repo.core().expect("looked at").name.as_str();
        let text = match stage {
            Stage::CheckBeforeCore => format!("`{core}` {version} must be newer than every version on the index"),
            Stage::Gate => {
                let gate = &self.repo.config.release_hooks.gate;
                if gate.is_empty() {
                    return None;
                }
                let (c, u) = (self.repo.config.core.display().to_string(), self.repo.config.umbrella.display().to_string());
                let shown = crate::release::hooks::describe(&self.repo.root, gate, &c, &u);
                format!("{shown}; if it fails, nothing is published")
            }
            Stage::InstallCheck => format!(
                "before any upload, build the release's packages, then install `{umbrella}=={version}` and every package of the release from those builds plus the index in a fresh environment, and import each one"
            ),
            Stage::PublishCore => {
                format!("build and upload `{core}` {version} {}", upload_destination(&self.destination))
            }
            Stage::WaitForCore => format!("poll the index until it serves `{core}` {version}"),
            Stage::PublishPackages => format!(
                "the umbrella and every package whose version changed since `{}`, in dependency order{}",
                self.previous,
                held_on_purpose(self.hold)
            ),
            Stage::Prove => format!(
                "install `{umbrella}=={version}` and every package of the release in a fresh environment, and import each one"
            ),
            Stage::Tag => format!("tag the release commit as `{tag}`"),
            Stage::PushTag if !self.origin => return Some(Step::skipped(name, "no `origin` remote")),
            Stage::PushTag => format!("push `{tag}` to origin, once"),
            Stage::GithubRelease if self.offline => return Some(Step::skipped(name, "--offline")),
            Stage::GithubRelease => format!("create `{tag}` at the release commit with the changelog's notes"),
            Stage::Assets => {
                let assets = &self.repo.config.release_hooks.assets;
                if self.offline || assets.is_empty() {
                    return None;
                }
                let names: Vec<String> = assets.iter().map(|a| format!("`{a}`")).collect();
                format!("attach the sdist of {} to the GitHub release", names.join(", "))
            }
        };
        Some(Step::todo(name, text, stage))
    }

    fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }

    fn destination(&self) -> &Destination {
        &self.destination
    }
}

/// `, except what --hold leaves out (…)`: which packages that is shows once the release
/// commit can be looked at.
fn held_on_purpose(hold: &[String]) -> String {
    match hold {
        [] => String::new(),
        _ => format!(
            ", except what `--hold` leaves out ({}) and what requires it",
            hold.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The publish phase of a one-go dry run: what it will do once prepare has made the release
/// commit of `version`. Fails as the real run would when nothing could be uploaded.
pub fn planned(sh: &Shell, flags: &flags::Release, version: &Version, report: &mut Report) -> Result<()> {
    let repo = Monorepo::load(&sh.current_dir())?;
    repo.core()?;
    let tag = repo.config.tag_for(version);
    let previous = flags.from_tag.clone().map_or_else(|| previous_tag(sh, &repo, version), Ok)?;
    let destination = flags.destination(&repo.config)?;
    let umbrella = repo.umbrella()?.name.to_string();
    let origin = git::remote_url(sh, "origin")?.is_some();
    let (offline, hold) = (flags.offline, flags.hold.as_slice());
    let mut ahead =
        Ahead { repo, version, tag, previous, destination, umbrella, origin, offline, hold, problems: Vec::new() };
    let steps = plan(&mut ahead);
    let heading = format!("Release {version}: publish, after prepare's release commit");
    if flags.json {
        output::note(&render(&heading, &steps, true));
    } else {
        output::data(&render(&heading, &steps, true));
    }
    report.set("publish", version, &steps);
    // The new version's core is always uploaded: without credentials the real run fails there.
    if !ahead.problems.is_empty() {
        bail!("the release cannot be published:\n  {}", ahead.problems.join("\n  "));
    }
    Ok(())
}
