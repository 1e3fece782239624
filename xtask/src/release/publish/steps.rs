//! The publish phase's plan: its steps in the order they run ([`Stage`]), made by one function,
//! [`plan`], from what was seen ([`Seen`]): the world at the release commit ([`World`], here),
//! or, in a one-go dry run before prepare has made that commit, what can be said ahead of it
//! (`ahead::Ahead`). Pure: the looking is done.

use super::{before_core, World};
use crate::release::Step;
use crate::{config::Destination, publish, time};

/// A step of the publish phase, in the order they run; a step to do carries its stage, which
/// `act` carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Looked at while planning: only the one-go dry run, which carries out nothing, has it to do.
    CheckBeforeCore,
    Gate,
    InstallCheck,
    PublishCore,
    WaitForCore,
    PublishPackages,
    Prove,
    Tag,
    PushTag,
    GithubRelease,
    Assets,
}

impl Stage {
    /// Every stage, in the order the steps run.
    const ALL: [Stage; 11] = [
        Stage::CheckBeforeCore,
        Stage::Gate,
        Stage::InstallCheck,
        Stage::PublishCore,
        Stage::WaitForCore,
        Stage::PublishPackages,
        Stage::Prove,
        Stage::Tag,
        Stage::PushTag,
        Stage::GithubRelease,
        Stage::Assets,
    ];

    /// The step's name, as the plan, the JSON and the step summary show it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Stage::CheckBeforeCore => "check before core",
            Stage::Gate => "gate",
            Stage::InstallCheck => "install check",
            Stage::PublishCore => "publish core",
            Stage::WaitForCore => "wait for core",
            Stage::PublishPackages => "publish packages",
            Stage::Prove => "install proof",
            Stage::Tag => "tag",
            Stage::PushTag => "push tag",
            Stage::GithubRelease => "GitHub release",
            Stage::Assets => "assets",
        }
    }
}

/// What a plan is made from.
pub(super) trait Seen {
    /// The step of `stage`, from what was seen; `None` leaves it out of the plan.
    fn step(&mut self, stage: Stage) -> Option<Step<Stage>>;
    /// A problem that stops the release, found while planning.
    fn problem(&mut self, problem: String);
    /// Where the uploads go.
    fn destination(&self) -> &Destination;
}

/// The steps, in the order they run, with the problems found on the way.
pub(super) fn plan(seen: &mut impl Seen) -> Vec<Step<Stage>> {
    let mut steps = Vec::new();
    for stage in Stage::ALL {
        steps.extend(seen.step(stage));
        if stage == Stage::PublishPackages {
            // Every upload is planned by now: a run that uploads needs credentials, dry runs too.
            let uploads = steps.iter().any(|s| matches!(s.action, Some(Stage::PublishCore | Stage::PublishPackages)));
            if let Some(problem) = uploads.then(|| publish::credentials_problem(seen.destination())).flatten() {
                seen.problem(problem);
            }
        }
    }
    steps
}

impl Seen for World {
    fn step(&mut self, stage: Stage) -> Option<Step<Stage>> {
        let name = stage.name();
        let core = &self.repo.packages[self.core];
        let (core_name, version) = (core.name.as_str(), &core.version);
        let core_there = self.core_there();
        Some(match stage {
            Stage::CheckBeforeCore if core_there => {
                Step::done(name, format!("`{core_name}` {version} is on the index: published by an earlier run"))
            }
            Stage::CheckBeforeCore => {
                let verdict = before_core(self.hotfix, core_name, version, self.core_project.as_ref(), &self.index_url);
                if !verdict.ok {
                    self.problems.push(verdict.message.clone());
                }
                Step::done(name, verdict.message)
            }
            Stage::Gate => gate_step(self, core_there),
            Stage::InstallCheck => install_check_step(self),
            Stage::PublishCore if core_there => Step::done(name, format!("`{core_name}` {version} is on the index")),
            Stage::PublishCore => {
                let to = upload_destination(&self.destination);
                Step::todo(name, format!("build and upload `{core_name}` {version} {to}"), stage)
            }
            Stage::WaitForCore if core_there => Step::done(name, "the index serves it"),
            Stage::WaitForCore => {
                let at_most = time::human(self.wait);
                let poll = format!("poll the index until it serves `{core_name}` {version} (at most {at_most})");
                Step::todo(name, poll, stage)
            }
            Stage::PublishPackages => packages_step(self),
            Stage::Prove => prove_step(self),
            Stage::Tag => tag_step(self),
            Stage::PushTag => push_tag_step(self),
            Stage::GithubRelease => github_step(self),
            Stage::Assets => assets_step(self),
        })
    }

    fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }

    fn destination(&self) -> &Destination {
        &self.destination
    }
}

fn tag_step(w: &mut World) -> Step<Stage> {
    let (name, tag, short) = (Stage::Tag.name(), w.tag.clone(), w.short().to_string());
    match &w.tag_at {
        Some((at, _)) if *at == w.sha => Step::done(name, format!("`{tag}` is at the release commit {short}")),
        Some((at, true)) => {
            w.problems.push(format!(
                "{} was released at {} (`{tag}`), and nothing since bumped the version; run `cargo xtask release prepare` first",
                w.version,
                &at[..at.len().min(10)]
            ));
            Step::done(name, format!("`{tag}` is at an earlier commit"))
        }
        Some((at, false)) => {
            w.problems.push(format!("the tag `{tag}` already exists at {at}, not at the release commit {}; a released version is never re-tagged", w.sha));
            Step::done(name, format!("`{tag}` is at another commit"))
        }
        None => Step::todo(name, format!("tag the release commit {short} as `{tag}`"), Stage::Tag),
    }
}

/// A remote that does not answer now is the step's problem when it runs, after the steps
/// before it are done.
fn push_tag_step(w: &mut World) -> Step<Stage> {
    let (name, tag) = (Stage::PushTag.name(), &w.tag);
    let push = format!("push `{tag}` to origin, once");
    match &w.origin_tag {
        None => Step::skipped(name, "no `origin` remote"),
        Some(Ok(Some(at))) if *at == w.sha => Step::done(name, format!("origin has `{tag}`")),
        Some(Ok(Some(at))) => {
            let problem = format!("origin has the tag `{tag}` at {at}, not at the release commit {}", w.sha);
            w.problems.push(problem);
            Step::done(name, "origin has it at another commit")
        }
        Some(Ok(None)) => Step::todo(name, push, Stage::PushTag),
        Some(Err(e)) => Step::unknown(name, format!("{push} (origin did not answer: {e})"), Stage::PushTag),
    }
}

fn github_step(w: &World) -> Step<Stage> {
    let name = Stage::GithubRelease.name();
    let create = format!("create `{}` at {} with the changelog's notes", w.tag, w.short());
    match &w.github {
        None => Step::skipped(name, "--offline"),
        Some(Ok(Some(url))) => Step::done(name, format!("`{}` exists: {url}", w.tag)),
        Some(Ok(None)) => Step::todo(name, create, Stage::GithubRelease),
        Some(Err(e)) => Step::unknown(name, format!("{create} (GitHub did not answer: {e})"), Stage::GithubRelease),
    }
}

fn gate_step(w: &World, core_there: bool) -> Step<Stage> {
    let gate = &w.repo.config.release_hooks.gate;
    if gate.is_empty() {
        return Step::skipped(Stage::Gate.name(), "none configured (`release.gate`)");
    }
    if core_there {
        return Step::done(Stage::Gate.name(), "core is on the index: the gate passed before it was published");
    }
    let (core, umbrella) = (w.repo.config.core.display().to_string(), w.repo.config.umbrella.display().to_string());
    let shown = crate::release::hooks::describe(&w.repo.root, gate, &core, &umbrella);
    Step::todo(Stage::Gate.name(), format!("{shown}; if it fails, nothing is published"), Stage::Gate)
}

/// The files to attach: each configured package's sdist, by name and size when it is built.
fn wanted_assets(w: &World) -> Vec<(String, Option<u64>)> {
    let mut wanted = Vec::new();
    for dir in &w.repo.config.release_hooks.assets {
        let Some(p) = w.repo.at_dir(dir) else { continue };
        let sdist = |name: &str| name.ends_with(".tar.gz");
        match publish::built_files(&w.repo.root, p) {
            Some(files) => wanted.extend(files.into_iter().filter(|f| sdist(&f.0)).map(|f| (f.0, Some(f.1)))),
            None => {
                let base = p.name.as_str().replace('-', "_");
                wanted.push((format!("{base}-{}.tar.gz", p.version), None));
            }
        }
    }
    wanted
}

fn assets_step(w: &World) -> Step<Stage> {
    let config = &w.repo.config.release_hooks;
    if config.assets.is_empty() {
        return Step::skipped(Stage::Assets.name(), "none configured (`release.assets`)");
    }
    if w.github.is_none() {
        return Step::skipped(Stage::Assets.name(), "--offline");
    }
    let wanted = wanted_assets(w);
    let names: Vec<String> = wanted.iter().map(|(n, _)| format!("`{n}`")).collect();
    let attach = format!("attach {} to the GitHub release (same name and size: skipped)", names.join(", "));
    match &w.assets_there {
        Some(Ok(there)) => {
            let missing =
                wanted.iter().any(|(n, size)| !there.iter().any(|(m, s)| m == n && size.is_none_or(|z| z == *s)));
            if missing {
                Step::todo(Stage::Assets.name(), attach, Stage::Assets)
            } else {
                Step::done(Stage::Assets.name(), format!("the GitHub release has {}", names.join(", ")))
            }
        }
        Some(Err(e)) => {
            Step::unknown(Stage::Assets.name(), format!("{attach} (GitHub did not answer: {e})"), Stage::Assets)
        }
        None => Step::todo(Stage::Assets.name(), attach, Stage::Assets),
    }
}

/// Would what this run uploads install? Before its first upload: built, then installed with
/// the umbrella from the builds plus the index. Once everything is on the index (or held back)
/// there is nothing left to check before an upload; the install proof after the uploads covers
/// it.
fn install_check_step(w: &World) -> Step<Stage> {
    let packages = &w.repo.packages;
    let uploading = w.scope.uploading(&w.holds);
    let held = held_note(w);
    if uploading.is_empty() {
        return Step::done(
            Stage::InstallCheck.name(),
            format!("every package of the release is on the index: nothing left to upload{held}"),
        );
    }
    // Core first, as it is published first.
    let order = uploading.iter().filter(|&&i| i == w.core).chain(uploading.iter().filter(|&&i| i != w.core));
    let names: Vec<String> =
        order.take(4).map(|&i| format!("{} {}", packages[i].display_name, packages[i].version)).collect();
    let more = if uploading.len() > 4 { format!(" and {} more", uploading.len() - 4) } else { String::new() };
    let umbrella = &w.repo.umbrella().expect("looked at").name;
    let installed = w.scope.installed(&w.scope.proven(&w.holds));
    Step::todo(
        Stage::InstallCheck.name(),
        format!(
            "before any upload, build {}{more}, then in a fresh environment outside the monorepo install `{umbrella}=={}` and {} more packages of the release from those builds plus {}, and import each package it uploads; a package that fails is held back with what requires it, and if core or the umbrella fails, nothing is uploaded{held}",
            names.join(", "),
            w.version,
            installed.len().saturating_sub(1),
            crate::verify::simple_url(&w.index_url),
        ),
        Stage::InstallCheck,
    )
}

/// `; 2 held back (listed below)` when the plan holds packages back.
fn held_note(w: &World) -> String {
    match w.holds.held.keys().filter(|i| w.scope.uploads.contains(i)).count() {
        0 => String::new(),
        n => format!("; {n} held back (listed below)"),
    }
}

fn prove_step(w: &World) -> Step<Stage> {
    // The tag is made only after the proof passed, so a tag at the release commit says it did.
    if w.tag_at.as_ref().is_some_and(|(at, _)| *at == w.sha) {
        return Step::done(Stage::Prove.name(), format!("`{}` is tagged, which follows the proof", w.tag));
    }
    let simple = crate::verify::simple_url(&w.index_url);
    Step::todo(
        Stage::Prove.name(),
        format!(
            "in a fresh environment outside the monorepo, install `{}=={}` with the packages this run uploads and what they require from the release, from {simple}, and import each uploaded one (retried for at most {})",
            w.repo.packages[w.repo.index_of(w.repo.umbrella().expect("looked at"))].name,
            w.version,
            time::human(w.wait)
        ),
        Stage::Prove,
    )
}

fn packages_step(w: &World) -> Step<Stage> {
    let packages = &w.repo.packages;
    if w.missing.is_empty() {
        let others = w.rest.len().saturating_sub(1);
        return Step::done(
            Stage::PublishPackages.name(),
            match w.rest.len() {
                0 => "no package besides core".to_string(),
                _ => format!("the umbrella and {others} changed packages are on the index"),
            },
        );
    }
    let uploading: Vec<usize> = w.missing.iter().copied().filter(|&i| !w.holds.contains(i)).collect();
    let held = held_note(w);
    if uploading.is_empty() {
        return Step::skipped(Stage::PublishPackages.name(), format!("nothing but what is held back{held}"));
    }
    let names: Vec<String> =
        uploading.iter().take(6).map(|&i| format!("{} {}", packages[i].display_name, packages[i].version)).collect();
    let more = if uploading.len() > 6 { format!(" and {} more", uploading.len() - 6) } else { String::new() };
    Step::todo(
        Stage::PublishPackages.name(),
        format!(
            "{} in dependency order: {}{more}; {}{held}",
            uploading.len(),
            names.join(", "),
            upload_destination(&w.destination)
        ),
        Stage::PublishPackages,
    )
}

/// Where the release's files go, stated before anything happens, as `publish` states it.
pub(super) fn upload_destination(d: &Destination) -> String {
    format!(
        "to {} (index `{}`, read from {}) with {}",
        crate::url::shown(&d.publish_url),
        d.name,
        crate::url::shown(&d.url),
        publish::credentials()
    )
}
