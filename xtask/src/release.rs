//! `cargo xtask release`: the release checklist as typed, resumable steps.
//!
//! Each phase first looks at the world and builds its list of [`Step`]s, each either already
//! done (with what was found) or to do (with what it will do). The list is the plan: a dry run
//! prints it and stops; a real run prints it, then carries out the steps to do in order, and
//! each step checks its effect once more right before acting. A release that failed half-way
//! is finished by running the same command again.

mod held;
mod hooks;
mod install;
mod packages;
mod prepare;
mod propose;
mod publish;
mod state;
mod tagged;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use xshell::Shell;

use crate::usage::usage;
use crate::{
    flags::{self, Phase},
    output,
    version::Version,
};

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Its effect is already there: what was found.
    Done(String),
    /// To do: what it will do.
    Todo(String),
    /// Could not be looked at (a service did not answer): what it will try. A real run tries,
    /// and looks once more right before acting; a dry run cannot say, and fails.
    Unknown(String),
    /// Not part of this run: why.
    Skipped(String),
}

/// One step of a phase's plan: what was found, and what to do about it. `A` is the phase's
/// action type; only steps to do (or unknown) carry one, and the executor runs exactly those.
#[derive(Debug)]
pub struct Step<A> {
    pub name: &'static str,
    pub state: State,
    pub action: Option<A>,
}

impl<A> Step<A> {
    pub fn done(name: &'static str, found: impl Into<String>) -> Step<A> {
        Step { name, state: State::Done(found.into()), action: None }
    }
    pub fn todo(name: &'static str, what: impl Into<String>, action: A) -> Step<A> {
        Step { name, state: State::Todo(what.into()), action: Some(action) }
    }
    pub fn unknown(name: &'static str, what: impl Into<String>, action: A) -> Step<A> {
        Step { name, state: State::Unknown(what.into()), action: Some(action) }
    }
    pub fn skipped(name: &'static str, why: impl Into<String>) -> Step<A> {
        Step { name, state: State::Skipped(why.into()), action: None }
    }
    /// The same step with its action wrapped in a phase's own action type.
    pub fn map<B>(self, f: impl FnOnce(A) -> B) -> Step<B> {
        Step { name: self.name, state: self.state, action: self.action.map(f) }
    }
    fn json(&self, phase: &str) -> Value {
        let (state, detail) = match &self.state {
            State::Done(d) => ("done", d),
            State::Todo(d) => ("todo", d),
            State::Unknown(d) => ("unknown", d),
            State::Skipped(d) => ("skipped", d),
        };
        json!({"phase": phase, "step": self.name, "state": state, "detail": detail})
    }
}

/// The plan of a phase, as a person reads it.
pub fn render<A>(title: &str, steps: &[Step<A>], dry_run: bool) -> String {
    let mut out = format!("{title}\n");
    let width = steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for (n, step) in steps.iter().enumerate() {
        let (label, detail) = match &step.state {
            State::Done(d) => ("done", d.as_str()),
            State::Todo(d) if dry_run => ("would", d.as_str()),
            State::Todo(d) => ("todo", d.as_str()),
            State::Unknown(d) => ("?", d.as_str()),
            State::Skipped(d) => ("skip", d.as_str()),
        };
        out += &format!("  {}. {:<width$}  {label:<5}  {detail}\n", n + 1, step.name);
    }
    out
}

/// Carries out the steps that have an action, in order, each marked done once it succeeded.
/// The first failure stops the run: the steps after it stay as they were, for a rerun.
pub fn execute<A>(steps: &mut [Step<A>], mut act: impl FnMut(&A) -> Result<()>) -> Result<()> {
    for step in steps.iter_mut() {
        let Some(action) = step.action.take() else { continue };
        act(&action).with_context(|| format!("the step `{}` failed", step.name))?;
        let what = match &step.state {
            State::Todo(d) | State::Unknown(d) => d.clone(),
            State::Done(d) | State::Skipped(d) => d.clone(),
        };
        step.state = State::Done(format!("done by this run: {what}"));
    }
    Ok(())
}

/// What `--json` prints once for the whole run, whichever phases ran: every step with its phase.
#[derive(Default)]
pub struct Report {
    phases: Vec<&'static str>,
    version: Option<Version>,
    steps: Vec<Value>,
    tools: Vec<&'static str>,
    /// The packages `release publish` held back (absent from the JSON when none).
    held: Vec<Value>,
}

impl Report {
    /// Sets the steps of `phase`: its plan first, then the steps as they ended.
    pub fn set<A>(&mut self, phase: &'static str, version: &Version, steps: &[Step<A>]) {
        self.steps.retain(|s| s["phase"] != phase);
        if !self.phases.contains(&phase) {
            self.phases.push(phase);
        }
        self.version = Some(version.clone());
        self.steps.extend(steps.iter().map(|s| s.json(phase)));
    }
    /// Sets the packages held back from the release.
    pub fn held(&mut self, held: Vec<Value>) {
        self.held = held;
    }
    fn json(&self) -> Value {
        let phase = match self.phases.as_slice() {
            [one] => *one,
            _ => "both",
        };
        let mut doc = json!({"phase": phase, "version": self.version.as_ref().map(Version::to_string),
                             "steps": self.steps, "tools": crate::exec::tools_json(&self.tools)});
        if !self.held.is_empty() {
            doc["held"] = json!(self.held);
        }
        doc
    }
}

/// The programs a release runs: uv (builds, the install check), gh (the pull request, the GitHub
/// release), and poetry when `release.toml` publishes with it.
fn tools(config: &crate::config::Config) -> Vec<&'static str> {
    if config.backend == crate::config::Backend::Poetry {
        vec!["uv", "gh", "poetry"]
    } else {
        vec!["uv", "gh"]
    }
}

/// The GitHub Actions step summary of a phase.
pub fn summary<A>(title: &str, steps: &[Step<A>]) -> String {
    let mut out = format!("### {title}\n\n| Step | State | Detail |\n| --- | --- | --- |\n");
    for step in steps {
        let (state, detail) = match &step.state {
            State::Done(d) => ("✅ done", d),
            State::Todo(d) => ("⏳ to do", d),
            State::Unknown(d) => ("❔ unknown", d),
            State::Skipped(d) => ("⏭️ skipped", d),
        };
        out += &format!("| {} | {state} | {} |\n", step.name, detail.replace('|', "\\|"));
    }
    out
}

impl flags::Release {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let phase = self.phase;
        let prepare_only =
            self.bump.is_some() || self.version_type.is_some() || self.commit || self.pr || self.date.is_some();
        let publish_only =
            self.publish_url.is_some() || self.wait.is_some() || self.jobs.is_some() || !self.hold.is_empty();
        match phase {
            Some(Phase::Publish) if prepare_only => {
                return Err(usage("--bump, --commit, --pr and --date belong to `release prepare`"));
            }
            Some(Phase::Prepare) if publish_only => {
                return Err(usage("--publish-url, --wait, --jobs and --hold belong to `release publish`"));
            }
            _ => {}
        }
        // Given once; `auto` is checked where it applies (only with package paths).
        self.choice()?;
        // The index is chosen before anything runs: a publish that would read one index and
        // upload to another is a usage error, as in `publish`.
        let config = crate::config::Config::load(&sh.current_dir())?;
        match phase {
            Some(Phase::Prepare) => drop(self.read_url(&config)?),
            _ => drop(self.destination(&config)?),
        }
        // Which programs the steps run, before the plans: the bootstrapped ones win over PATH's.
        let mut report = Report { tools: tools(&config), ..Report::default() };
        output::note(&format!("tools: {}", crate::exec::tools_line(&report.tools)));
        if self.paths.is_empty() && phase != Some(Phase::Publish) {
            // Without a group, nothing is released by default: say what to name.
            if let Some(repo) = crate::prepare::unnamed::applies(sh)? {
                return Err(crate::prepare::unnamed::error(sh, &repo, "release prepare", self.choice()?)?);
            }
        }
        if !self.paths.is_empty() {
            let result = self.run_packages(sh, &mut report);
            if self.json && !report.steps.is_empty() {
                output::json(&report.json());
            }
            return result;
        }
        let result = match phase {
            Some(Phase::Prepare) => prepare::run(sh, &self, &mut report).map(drop),
            // A monorepo of independent packages: each package its own tag and GitHub release.
            Some(Phase::Publish) if tagged::applies(&crate::monorepo::Monorepo::load(&sh.current_dir())?) => {
                tagged::run(sh, &self, &mut report)
            }
            Some(Phase::Publish) => publish::run(sh, &self, &mut report),
            None => (|| {
                // Locally, both in one go: prepare commits the release on the current branch,
                // so that publish has a release commit to tag.
                let version = prepare::run(sh, &self, &mut report)?;
                if self.dry_run {
                    return publish::planned(sh, &self, &version, &mut report);
                }
                publish::run(sh, &self, &mut report)
            })(),
        };
        // One document for the whole run, also when it failed part-way: the steps as they ended.
        if self.json && !report.steps.is_empty() {
            output::json(&report.json());
        }
        result
    }

    /// A release of named packages: each with its own tag, notes and GitHub release.
    fn run_packages(&self, sh: &Shell, report: &mut Report) -> Result<()> {
        if self.from_tag.is_some() {
            return Err(usage("--from-tag is for the umbrella and core's hotfixes, not for named packages"));
        }
        match self.phase {
            Some(Phase::Prepare) => packages::run(sh, self, report).map(drop),
            Some(Phase::Publish) => {
                Err(usage("`release publish` takes no paths: it publishes every package whose version the index lacks"))
            }
            None => {
                Err(usage("name the phase: `release prepare PATH…`, then `release publish` once the release is merged"))
            }
        }
    }

    /// The bump of `prepare`: --bump, its old name, or patch.
    fn choice(&self) -> Result<crate::version::BumpChoice> {
        flags::bump_kind(self.bump, self.version_type)
    }

    /// The bump kind of the umbrella and core's `prepare`, where `auto` is not possible.
    fn kind(&self) -> Result<crate::version::Bump> {
        self.choice()?.kind().map_err(usage)
    }

    /// Where `release publish` reads and uploads: chosen exactly as `publish` chooses it
    /// (`--index NAME`, or `--index-url` with `--publish-url`, or `[index]`).
    fn destination(&self, config: &crate::config::Config) -> Result<crate::config::Destination> {
        let (url, publish_url) = (self.index_url.clone().map(|u| u.0), self.publish_url.clone().map(|u| u.0));
        crate::publish::destination(config, self.index.as_deref(), &url, &publish_url)
    }

    /// The index `release prepare` reads (it uploads nothing): `--index-url`, the URL of
    /// `--index NAME`, or `index.url`.
    fn read_url(&self, config: &crate::config::Config) -> Result<String> {
        match (&self.index, &self.index_url) {
            (Some(_), Some(_)) => Err(usage("give `--index NAME` or `--index-url`, not both")),
            (Some(name), None) => Ok(config.destination(Some(name)).map_err(usage)?.url),
            (None, Some(url)) => Ok(url.0.clone()),
            (None, None) => Ok(config.index_url.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_read_as_a_checklist() {
        let steps = [
            Step::done("check before core", "`llama-index-core` 0.14.13 is already on the index"),
            Step::todo("publish packages", "llama-index and 3 changed packages, in 2 waves", ()),
            Step::unknown("GitHub release", "create `v0.14.13` (GitHub did not answer: 502)", ()),
            Step::skipped("assets", "--offline"),
        ];
        expect_test::expect![[r#"
            Release 0.14.13: publish
              1. check before core  done   `llama-index-core` 0.14.13 is already on the index
              2. publish packages   would  llama-index and 3 changed packages, in 2 waves
              3. GitHub release     ?      create `v0.14.13` (GitHub did not answer: 502)
              4. assets             skip   --offline
        "#]]
        .assert_eq(&render("Release 0.14.13: publish", &steps, true));
        assert!(summary("t", &steps).contains("| assets | ⏭️ skipped | --offline |"));
    }

    #[test]
    fn the_executor_runs_the_actions_in_order_and_stops_at_the_first_failure() {
        let mut steps = vec![
            Step::done("a", "found"),
            Step::todo("b", "do b", 1),
            Step::todo("c", "do c", 2),
            Step::todo("d", "do d", 3),
        ];
        let mut ran = Vec::new();
        let err = execute(&mut steps, |&n| {
            ran.push(n);
            if n == 2 {
                anyhow::bail!("broken")
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(ran, [1, 2]);
        assert_eq!(format!("{err:#}"), "the step `c` failed: broken");
        assert_eq!(steps[1].state, State::Done("done by this run: do b".into()));
        assert_eq!(steps[3].state, State::Todo("do d".into()));
    }
}
