//! `cargo xtask release`: the release checklist as typed, resumable steps.
//!
//! Each phase first looks at the world and builds its list of [`Step`]s, each either already
//! done (with what was found) or to do (with what it will do). The list is the plan: a dry run
//! prints it and stops; a real run prints it, then carries out the steps to do in order, and
//! each step checks its effect once more right before acting. A release that failed half-way
//! is finished by running the same command again.

mod prepare;
mod publish;

use anyhow::Result;
use serde_json::{json, Value};
use xshell::Shell;

use crate::{
    flags::{self, Phase},
    index,
    version::Version,
};

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Its effect is already there: what was found.
    Done(String),
    /// To do: what it will do.
    Todo(String),
    /// Not part of this run: why.
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub state: State,
}

impl Step {
    pub fn done(name: &'static str, found: impl Into<String>) -> Step {
        Step { name, state: State::Done(found.into()) }
    }
    pub fn todo(name: &'static str, what: impl Into<String>) -> Step {
        Step { name, state: State::Todo(what.into()) }
    }
    pub fn skipped(name: &'static str, why: impl Into<String>) -> Step {
        Step { name, state: State::Skipped(why.into()) }
    }
    fn json(&self) -> Value {
        let (state, detail) = match &self.state {
            State::Done(d) => ("done", d),
            State::Todo(d) => ("todo", d),
            State::Skipped(d) => ("skipped", d),
        };
        json!({"step": self.name, "state": state, "detail": detail})
    }
}

/// The plan of a phase, as a person reads it.
pub fn render(title: &str, steps: &[Step], dry_run: bool) -> String {
    let mut out = format!("{title}\n");
    let width = steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for (n, step) in steps.iter().enumerate() {
        let (label, detail) = match &step.state {
            State::Done(d) => ("done", d.as_str()),
            State::Todo(d) if dry_run => ("would", d.as_str()),
            State::Todo(d) => ("todo", d.as_str()),
            State::Skipped(d) => ("skip", d.as_str()),
        };
        out += &format!("  {}. {:<width$}  {label:<5}  {detail}\n", n + 1, step.name);
    }
    out
}

pub fn steps_json(phase: &str, version: &Version, steps: &[Step]) -> Value {
    json!({"phase": phase, "version": version.to_string(), "steps": steps.iter().map(Step::json).collect::<Vec<_>>()})
}

/// The steps once a run carried out the ones to do: for `--json` and the step summary.
pub fn finished(steps: &[Step]) -> Vec<Step> {
    steps
        .iter()
        .map(|s| match &s.state {
            State::Todo(d) => Step::done(s.name, format!("done by this run: {d}")),
            _ => s.clone(),
        })
        .collect()
}

/// The GitHub Actions step summary of a phase.
pub fn summary(title: &str, steps: &[Step]) -> String {
    let mut out = format!("### {title}\n\n| Step | State | Detail |\n| --- | --- | --- |\n");
    for step in steps {
        let (state, detail) = match &step.state {
            State::Done(d) => ("✅ done", d),
            State::Todo(d) => ("⏳ to do", d),
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
        let publish_only = self.publish_url.is_some() || self.wait.is_some() || self.jobs.is_some();
        match phase {
            Some(Phase::Publish) if prepare_only => {
                return Err(flags::usage("--bump, --commit, --pr and --date belong to `release prepare`"));
            }
            Some(Phase::Prepare) if publish_only => {
                return Err(flags::usage("--publish-url, --wait and --jobs belong to `release publish`"));
            }
            _ => {}
        }
        if self.bump.is_some() && self.version_type.is_some() {
            return Err(flags::usage("give the bump kind once: `--bump` and `--version-type` are the same flag"));
        }
        if let Some(wait) = &self.wait {
            index::parse_duration(wait).map_err(|e| flags::usage(format!("--wait: {e}")))?;
        }
        match phase {
            Some(Phase::Prepare) => prepare::run(sh, &self).map(drop),
            Some(Phase::Publish) => publish::run(sh, &self),
            None => {
                // Locally, both in one go: prepare commits the release on the current branch,
                // so that publish has a release commit to tag.
                let version = prepare::run(sh, &self)?;
                if self.dry_run {
                    return publish::planned(sh, &self, &version);
                }
                publish::run(sh, &self)
            }
        }
    }

    /// The bump kind of `prepare`: --bump, its old name, or patch.
    fn kind(&self) -> crate::version::Bump {
        self.bump.or(self.version_type).unwrap_or(crate::version::Bump::Patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_read_as_a_checklist() {
        let steps = [
            Step::done("check before core", "`llama-index-core` 0.14.13 is already on the index"),
            Step::todo("publish packages", "llama-index and 3 changed packages, in 2 waves"),
            Step::skipped("GitHub release", "--offline"),
        ];
        expect_test::expect![[r#"
            Release 0.14.13: publish
              1. check before core  done   `llama-index-core` 0.14.13 is already on the index
              2. publish packages   would  llama-index and 3 changed packages, in 2 waves
              3. GitHub release     skip   --offline
        "#]]
        .assert_eq(&render("Release 0.14.13: publish", &steps, true));
        assert!(summary("t", &steps).contains("| GitHub release | ⏭️ skipped | --offline |"));
    }
}
