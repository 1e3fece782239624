//! `cargo xtask check`: may the release go ahead? The release branch must be checked out (or
//! its tip, detached, as CI checks out a merged pull request), and the package index must agree
//! with core's local version: not there yet and newer than everything (`--before-core`), or
//! there exactly and not behind (`--after-core`). One verdict line per check.

mod bumps;

use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::json;
use xshell::Shell;

use crate::{
    flags, git,
    index::{self, Index, Project, Unreachable},
    monorepo::Monorepo,
    output,
    usage::usage,
    version::Version,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    BeforeCore,
    AfterCore,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub check: &'static str,
    pub ok: bool,
    pub message: String,
}

/// What HEAD is, for the branch rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    Branch(String),
    /// Detached at `commit`; `tips` are the release branch's local and remote-tracking refs
    /// that exist, with their commits.
    Detached {
        commit: String,
        tips: Vec<(String, String)>,
    },
}

impl flags::Check {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.bumps {
            if self.before_core || self.after_core || self.wait.is_some() {
                return Err(usage("`--bumps` is the pull request check; `--before-core`, `--after-core` and `--wait` are the release's"));
            }
            return bumps::run(sh, &self);
        }
        if self.base_ref.is_some() || self.index || !self.paths.is_empty() {
            return Err(usage(
                "`--base-ref`, `--index` and package paths go with `--bumps`: `cargo xtask check --bumps --base-ref origin/main`",
            ));
        }
        let mode = match (self.before_core, self.after_core) {
            (true, true) => return Err(usage("give `--before-core` or `--after-core`, not both")),
            (true, false) => Mode::BeforeCore,
            (false, _) => Mode::AfterCore,
        };
        let wait = self.wait.map(|w| w.0);
        if wait.is_some() && mode == Mode::BeforeCore {
            return Err(usage("`--wait` waits for core to appear on the index: use it with `--after-core`"));
        }
        git::ensure_repo(sh)?;
        let repo = Monorepo::load(&sh.current_dir())?;
        for w in &repo.warnings {
            output::warn(w);
        }
        // Both were checked by `url::check`: the flag while parsing, the setting by `Config::load`.
        let url = self.index_url.map_or_else(|| repo.config.index_url.clone(), |u| u.0);
        let core = repo.core()?;
        let release_branch = &repo.config.branch;
        let head = head(sh, release_branch)?;
        let branch = branch_verdict(&head, release_branch);
        if branch.ok && matches!(head, Head::Detached { .. }) {
            output::note(&format!("note: HEAD is detached; accepted because it is the tip of `{release_branch}`"));
        }
        let index = Index::new(&url);
        let probe = || match index.project(&core.name) {
            Ok(project) => index_verdict(mode, core.name.as_str(), &core.version, project.as_ref(), index.base_url()),
            Err(e) => (
                Verdict { check: "index", ok: false, message: format!("{e:#}") },
                e.downcast_ref::<Unreachable>().is_some(),
            ),
        };
        let registry = match wait {
            // Waiting cannot fix the branch: report at once instead.
            Some(timeout) if branch.ok => {
                wait_verdict(&format!("`{}` {} on the index", core.name, core.version), timeout, probe)
            }
            _ => probe().0,
        };
        let verdicts = [branch, registry];
        report(&verdicts, self.json, mode, &url, core.name.as_str(), &core.version);
        let failed: Vec<&str> = verdicts.iter().filter(|v| !v.ok).map(|v| v.check).collect();
        if !failed.is_empty() {
            bail!(
                "{} of {} checks failed ({}); see the verdicts above",
                failed.len(),
                verdicts.len(),
                failed.join(", ")
            );
        }
        Ok(())
    }
}

/// Polls `probe` until it passes or says waiting cannot help, or `timeout` is up.
fn wait_verdict(what: &str, timeout: Duration, mut probe: impl FnMut() -> (Verdict, bool)) -> Verdict {
    let mut last = None;
    let found = index::wait_for(what, timeout, || {
        let (verdict, may_pass_later) = probe();
        if verdict.ok || !may_pass_later {
            return Ok(Some(verdict));
        }
        last = Some(verdict);
        Ok(None)
    });
    match found {
        Ok(verdict) => verdict,
        Err(e) => {
            let last = last.expect("a probe ran before giving up");
            Verdict { message: format!("{}; {e}", last.message), ..last }
        }
    }
}

fn report(verdicts: &[Verdict], json: bool, mode: Mode, url: &str, name: &str, version: &Version) {
    let mode = match mode {
        Mode::BeforeCore => "before-core",
        Mode::AfterCore => "after-core",
    };
    if json {
        let checks: Vec<_> =
            verdicts.iter().map(|v| json!({"check": v.check, "ok": v.ok, "message": v.message})).collect();
        output::json(&json!({
            "ok": verdicts.iter().all(|v| v.ok),
            "mode": mode,
            "index_url": url,
            "package": name,
            "version": version.to_string(),
            "checks": checks,
        }));
    } else {
        let lines: Vec<String> = verdicts
            .iter()
            .map(|v| format!("{:<6} {}: {}", if v.ok { "ok" } else { "FAILED" }, v.check, v.message))
            .collect();
        output::data(&lines.join("\n"));
    }
    let summary: Vec<String> =
        verdicts.iter().map(|v| format!("- {} {}: {}", if v.ok { "✅" } else { "❌" }, v.check, v.message)).collect();
    output::github_summary(&format!("### Release check ({mode})\n\n{}\n", summary.join("\n")));
}

/// Reads HEAD, and when it is detached, the release branch's tips to compare it with.
pub fn head(sh: &Shell, release_branch: &str) -> Result<Head> {
    if let Some(branch) = git::current_branch(sh)? {
        return Ok(Head::Branch(branch));
    }
    let commit = git::commit_of(sh, "HEAD")?.unwrap_or_default();
    let mut tips = Vec::new();
    for r in [format!("refs/heads/{release_branch}"), format!("refs/remotes/origin/{release_branch}")] {
        if let Some(sha) = git::commit_of(sh, &r)? {
            tips.push((r, sha));
        }
    }
    Ok(Head::Detached { commit, tips })
}

pub fn branch_verdict(head: &Head, release_branch: &str) -> Verdict {
    let short = |sha: &str| sha.chars().take(10).collect::<String>();
    let (ok, message) = match head {
        Head::Branch(b) if b == release_branch => (true, format!("on `{b}`, the release branch")),
        Head::Branch(b) => (false, format!("on `{b}`, not the release branch `{release_branch}`; check it out (`git checkout {release_branch}`)")),
        Head::Detached { commit, tips } => match tips.iter().find(|(_, sha)| sha == commit) {
            Some((r, _)) => (true, format!("detached HEAD at `{}`, the tip of `{r}`", short(commit))),
            None if tips.is_empty() => (
                false,
                format!(
                    "detached HEAD at `{}`, and no `{release_branch}` branch to compare it with; fetch it (`git fetch origin {release_branch}`) or check it out",
                    short(commit)
                ),
            ),
            None => (
                false,
                format!(
                    "detached HEAD at `{}`, which is not the tip of `{release_branch}` (`{}`); check out `{release_branch}` (`git checkout {release_branch}`)",
                    short(commit),
                    short(&tips[0].1)
                ),
            ),
        },
    };
    Verdict { check: "branch", ok, message }
}

/// The registry rule for `mode`, and whether waiting could turn a failure into a pass (the
/// version is simply not there yet).
pub fn index_verdict(
    mode: Mode,
    name: &str,
    local: &Version,
    project: Option<&Project>,
    base: &str,
) -> (Verdict, bool) {
    let verdict = |ok, message| Verdict { check: "index", ok, message };
    let releases = project.map(|p| &p.releases).filter(|r| !r.is_empty());
    // The latest real release: final, with a file that is not yanked.
    let latest = releases.and_then(|r| {
        r.iter().filter(|(v, files)| !v.is_prerelease() && files.iter().any(|f| !f.yanked)).map(|(v, _)| v).next_back()
    });
    match (mode, releases) {
        (Mode::BeforeCore, None) => (verdict(true, format!("`{name}` is not on the index yet, so `{local}` is new")), false),
        (Mode::BeforeCore, Some(r)) => {
            let (highest, files) = r.iter().next_back().expect("not empty");
            let yanked = if !files.is_empty() && files.iter().all(|f| f.yanked) { " (yanked)" } else { "" };
            if local > highest {
                (verdict(true, format!("`{local}` is newer than every version of `{name}` on the index (highest: `{highest}`{yanked})")), false)
            } else if r.contains_key(local) {
                (verdict(false, format!("`{name}` `{local}` is already on the index; bump core's version (`cargo xtask prepare`)")), false)
            } else {
                let message = format!(
                    "`{local}` is not newer than `{highest}`{yanked}, the highest version of `{name}` on the index (prereleases and \
                     yanked versions count: a file name can never be reused); bump core's version past it"
                );
                (verdict(false, message), false)
            }
        }
        (Mode::AfterCore, None) => (
            verdict(
                false,
                format!(
                    "`{name}` is not on the index at {base} (not published yet); publish core first, wait with `--wait 5m`, \
                     or check `--index-url`"
                ),
            ),
            true,
        ),
        (Mode::AfterCore, Some(r)) => {
            let files = r.get(local).map(Vec::as_slice).unwrap_or_default();
            let usable = files.iter().filter(|f| !f.yanked).count();
            match latest.filter(|l| *l > local) {
                Some(l) => {
                    let there = if files.is_empty() { "is not on the index" } else { "is on the index" };
                    let message = format!(
                        "`{name}` `{local}` {there}, but older than `{l}`, the latest release there: the checkout is behind; \
                         pull the release branch and run `cargo xtask prepare`"
                    );
                    (verdict(false, message), false)
                }
                None if usable > 0 => (
                    verdict(true, format!("`{name}` `{local}` is on the index ({usable} file{})", if usable == 1 { "" } else { "s" })),
                    false,
                ),
                None if !files.is_empty() => (
                    verdict(false, format!("`{name}` `{local}` is on the index, but every file of it is yanked; release a new version")),
                    false,
                ),
                None => {
                    let highest = project.and_then(Project::highest).expect("not empty");
                    let message = format!(
                        "`{name}` `{local}` is not on the index yet (highest there: `{highest}`); publish core first, or wait with `--wait 5m`"
                    );
                    (verdict(false, message), true)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::DistFile;
    use expect_test::{expect, Expect};

    /// `releases` as `version[:y]` words, `:y` marking a release whose only file is yanked and
    /// `:0` one without files.
    fn project(releases: &str) -> Project {
        let mut p = Project { name: "llama-index-core".into(), releases: Default::default() };
        for word in releases.split_whitespace() {
            let (v, flag) = word.split_once(':').unwrap_or((word, ""));
            let files = match flag {
                "0" => vec![],
                f => vec![DistFile {
                    filename: format!("x-{v}.tar.gz"),
                    sha256: None,
                    yanked: f == "y",
                    url: None,
                    uploaded: None,
                }],
            };
            p.releases.insert(v.parse().unwrap(), files);
        }
        p
    }

    fn check(mode: Mode, local: &str, index: Option<&str>, want: Expect) {
        let project = index.map(project);
        let (v, may_pass_later) =
            index_verdict(mode, "llama-index-core", &local.parse().unwrap(), project.as_ref(), "[SERVER]");
        want.assert_eq(&format!("{} wait={may_pass_later} {}", if v.ok { "ok" } else { "FAILED" }, v.message));
    }

    #[test]
    fn before_core_needs_a_version_newer_than_everything() {
        use Mode::BeforeCore as B;
        check(
            B,
            "0.14.13",
            None,
            expect!["ok wait=false `llama-index-core` is not on the index yet, so `0.14.13` is new"],
        );
        check(B, "0.14.13", Some("0.14.11 0.14.12"), expect!["ok wait=false `0.14.13` is newer than every version of `llama-index-core` on the index (highest: `0.14.12`)"]);
        check(B, "0.14.13", Some("0.14.12 0.14.13rc1"), expect!["ok wait=false `0.14.13` is newer than every version of `llama-index-core` on the index (highest: `0.14.13rc1`)"]);
        check(B, "0.14.13", Some("0.14.12 0.14.13"), expect!["FAILED wait=false `llama-index-core` `0.14.13` is already on the index; bump core's version (`cargo xtask prepare`)"]);
        // A prerelease or a yanked release above ours still owns its file names.
        check(B, "0.14.13", Some("0.14.12 0.15.0rc1"), expect!["FAILED wait=false `0.14.13` is not newer than `0.15.0rc1`, the highest version of `llama-index-core` on the index (prereleases and yanked versions count: a file name can never be reused); bump core's version past it"]);
        check(B, "0.14.13", Some("0.14.12 0.14.14:y"), expect!["FAILED wait=false `0.14.13` is not newer than `0.14.14` (yanked), the highest version of `llama-index-core` on the index (prereleases and yanked versions count: a file name can never be reused); bump core's version past it"]);
        // The original's defect 11 in reverse: 0.14.14 against 0.14.25 is not "newer".
        check(B, "0.14.14", Some("0.14.25"), expect!["FAILED wait=false `0.14.14` is not newer than `0.14.25`, the highest version of `llama-index-core` on the index (prereleases and yanked versions count: a file name can never be reused); bump core's version past it"]);
    }

    #[test]
    fn after_core_needs_the_exact_version_and_not_behind() {
        use Mode::AfterCore as A;
        check(
            A,
            "0.14.13",
            Some("0.14.12 0.14.13"),
            expect!["ok wait=false `llama-index-core` `0.14.13` is on the index (1 file)"],
        );
        check(
            A,
            "0.14.13",
            Some("0.14.13 0.15.0rc1"),
            expect!["ok wait=false `llama-index-core` `0.14.13` is on the index (1 file)"],
        );
        check(A, "0.14.13", None, expect!["FAILED wait=true `llama-index-core` is not on the index at [SERVER] (not published yet); publish core first, wait with `--wait 5m`, or check `--index-url`"]);
        check(A, "0.14.13", Some("0.14.12"), expect!["FAILED wait=true `llama-index-core` `0.14.13` is not on the index yet (highest there: `0.14.12`); publish core first, or wait with `--wait 5m`"]);
        check(A, "0.14.13", Some("0.14.12 0.14.13:0"), expect!["FAILED wait=true `llama-index-core` `0.14.13` is not on the index yet (highest there: `0.14.13`); publish core first, or wait with `--wait 5m`"]);
        check(A, "0.14.13", Some("0.14.13:y"), expect!["FAILED wait=false `llama-index-core` `0.14.13` is on the index, but every file of it is yanked; release a new version"]);
        // Defect 11: the original printed "is the latest" for 0.14.14 against 0.14.25.
        check(A, "0.14.14", Some("0.14.14 0.14.25"), expect!["FAILED wait=false `llama-index-core` `0.14.14` is on the index, but older than `0.14.25`, the latest release there: the checkout is behind; pull the release branch and run `cargo xtask prepare`"]);
        check(A, "0.14.13", Some("0.14.25"), expect!["FAILED wait=false `llama-index-core` `0.14.13` is not on the index, but older than `0.14.25`, the latest release there: the checkout is behind; pull the release branch and run `cargo xtask prepare`"]);
        // PEP 440 equality, not string equality.
        check(A, "1.0", Some("1.0.0"), expect!["ok wait=false `llama-index-core` `1.0` is on the index (1 file)"]);
    }

    #[test]
    fn branch_rule_accepts_the_release_branch_tip_when_detached() {
        let check = |head: Head, want: Expect| {
            let v = branch_verdict(&head, "main");
            want.assert_eq(&format!("{} {}", if v.ok { "ok" } else { "FAILED" }, v.message));
        };
        let detached = |commit: &str, tips: &[(&str, &str)]| Head::Detached {
            commit: commit.into(),
            tips: tips.iter().map(|(r, s)| (r.to_string(), s.to_string())).collect(),
        };
        check(Head::Branch("main".into()), expect!["ok on `main`, the release branch"]);
        check(
            Head::Branch("feature".into()),
            expect!["FAILED on `feature`, not the release branch `main`; check it out (`git checkout main`)"],
        );
        check(
            detached("aaaa", &[("refs/remotes/origin/main", "aaaa")]),
            expect!["ok detached HEAD at `aaaa`, the tip of `refs/remotes/origin/main`"],
        );
        check(detached("aaaa", &[("refs/heads/main", "bbbb")]), expect!["FAILED detached HEAD at `aaaa`, which is not the tip of `main` (`bbbb`); check out `main` (`git checkout main`)"]);
        check(detached("aaaa", &[]), expect!["FAILED detached HEAD at `aaaa`, and no `main` branch to compare it with; fetch it (`git fetch origin main`) or check it out"]);
    }
}
