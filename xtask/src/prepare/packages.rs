//! `prepare PATH… --bump K`: release named packages on their own. Each moves with its release
//! group (a package released on its own is a group of one), its version written wherever it
//! keeps it (`bump.rs`), and the compatibility wave follows every move, not only core's.
//! `--bump auto` reads the conventional commits since each package's last tag.

use std::collections::HashMap;

use anyhow::{bail, Result};
use serde_json::json;
use xshell::Shell;

use crate::{
    changeset::{unified_diff, Changeset, FileChange},
    conventional, git,
    monorepo::Monorepo,
    requirement::PackageName,
    version::{Bump, BumpChoice, Version},
};

use super::wave;

/// One named package's move, and why it moves as it does.
#[derive(Debug, Clone)]
pub struct Target {
    pub index: usize,
    pub name: String,
    pub dir: String,
    pub old: Version,
    pub new: Version,
    pub bump: Bump,
    /// `--bump auto`'s reason, or `None` for a bump given on the command line.
    pub why: Option<String>,
    /// The last release's tag, where there is one.
    pub since: Option<String>,
}

/// Every edit of a release of named packages, computed and verified, nothing written.
#[derive(Debug)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub wave: Vec<wave::Member>,
    pub left_excluding: Vec<String>,
    pub changes: Changeset,
}

/// The packages `paths` name, by position, refusing the umbrella and core (they release together,
/// through `prepare` without paths).
pub fn resolve(repo: &Monorepo, paths: &[String]) -> Result<Vec<usize>> {
    let selected = repo.select(paths, false)?;
    let lockstep = repo.lockstep();
    let indices: Vec<usize> = selected.iter().map(|p| repo.index_of(p)).collect();
    if let Some(&i) = indices.iter().find(|i| lockstep.contains(i)) {
        bail!(
            "`{}` releases together with its group (the umbrella and core, tagged `{}`); run `cargo xtask prepare --bump KIND` without paths for them",
            repo.packages[i].dir,
            repo.config.tag
        );
    }
    repo.require_versions(&selected)?;
    Ok(indices)
}

/// The bump of each package: the one given, or `auto`'s from its commits since its last tag.
pub fn choose(sh: &Shell, repo: &Monorepo, indices: &[usize], choice: BumpChoice) -> Result<Vec<Target>> {
    let tags = repo.merged_tags()?;
    let mut targets = Vec::new();
    for &i in indices {
        let p = &repo.packages[i];
        let since = repo.last_release(i, tags).map(|(tag, _)| tag);
        let (bump, why) = match choice {
            BumpChoice::Kind(kind) => (kind, None),
            BumpChoice::Auto => {
                let range = since.as_ref().map_or_else(|| "HEAD".to_string(), |t| format!("{t}..HEAD"));
                let commits = git::messages(sh, &range, &p.dir)?;
                let (bump, why) = conventional::bump(&p.version, &commits);
                let from =
                    since.as_ref().map_or_else(|| "all history (no tag yet)".to_string(), |t| format!("since `{t}`"));
                (bump, Some(format!("{why}, {from}")))
            }
        };
        let new = p.version.bump(bump).map_err(|e| anyhow::anyhow!("{}: {e}", p.pyproject_display()))?;
        targets.push(Target {
            index: i,
            name: p.display_name.clone(),
            dir: p.dir.clone(),
            old: p.version.clone(),
            new,
            bump,
            why,
            since,
        });
    }
    Ok(targets)
}

/// Computes and validates every edit: the targets' versions, and the wave for every move.
pub fn plan(repo: &Monorepo, targets: Vec<Target>) -> Result<Plan> {
    let release_moves: HashMap<PackageName, Version> =
        targets.iter().map(|t| (repo.packages[t.index].name.clone(), t.new.clone())).collect();
    let (mut members, mut moves) = wave::members(repo, &release_moves, repo.config.wave_bump)?;
    let mut left_excluding = Vec::new();
    if !repo.config.wave_widen {
        left_excluding = members.drain(..).map(|m| format!("{} ({}): {}", m.name, m.dir, m.note())).collect();
        moves = release_moves.clone();
    }
    let is_target = |i: usize| targets.iter().any(|t| t.index == i);
    let (mut widened_targets, mut others): (Vec<_>, Vec<_>) = members.into_iter().partition(|m| is_target(m.index));
    let mut errors = Vec::new();
    let mut changes = Changeset::default();
    for t in &targets {
        let member = widened_targets.iter_mut().find(|m| m.index == t.index);
        match edit_target(repo, t, member, &moves) {
            Ok(edits) => changes.extend(edits),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    for edit in wave::edit_all(repo, &mut others, &moves) {
        match edit {
            Ok(edits) => changes.extend(edits),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!("nothing was changed, because:\n  {}", errors.join("\n  "));
    }
    let mut wave = widened_targets;
    wave.append(&mut others);
    wave.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(Plan { targets, wave, left_excluding, changes })
}

/// A target's files: its version set where it is kept, and its own requirements widened when
/// another target's move excludes them (`member`).
fn edit_target(
    repo: &Monorepo,
    t: &Target,
    member: Option<&mut wave::Member>,
    moves: &HashMap<PackageName, Version>,
) -> Result<Vec<FileChange>> {
    let p = &repo.packages[t.index];
    let mut version = crate::bump::version_edit(&repo.root, p, &t.new)?;
    let Some(member) = member else { return Ok(version.into_iter().collect()) };
    // The pyproject.toml: the one the version edit made, or the file as it is.
    let display = p.pyproject_display();
    let pyproject = match version.take_if(|c| c.display == display) {
        Some(c) => c,
        None => {
            let path = p.pyproject_path(&repo.root);
            let old = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {display}: {e}"))?;
            FileChange { path, display, new: old.clone(), old }
        }
    };
    let (text, widened) = wave::widen(p, &pyproject.new, moves)?;
    member.widened = widened;
    Ok([FileChange { new: text, ..pyproject }].into_iter().chain(version).collect())
}

/// How many of the wave's diffs the text shows.
const WAVE_DIFFS: usize = 3;

impl Plan {
    /// What would change (`dry_run`) or changes: a line per package, `auto`'s reasons, the wave, diffs.
    pub fn render(&self, dry_run: bool) -> String {
        let bump = if dry_run { "Would bump" } else { "Bump" };
        let mut text = String::new();
        for t in &self.targets {
            text += &format!("{bump} {} ({}) from {} to {}\n", t.name, t.dir, t.old, t.new);
            if let Some(why) = &t.why {
                text += &format!("  --bump auto chose {}: {why}\n", t.bump);
            }
        }
        text += &super::render_wave(&self.wave, dry_run);
        let shown = self.targets.len() + WAVE_DIFFS;
        for c in self.changes.changes.iter().take(shown) {
            text += &unified_diff(&c.display, &c.old, &c.new);
        }
        if self.changes.changes.len() > shown {
            text += &format!("… and {} more files like these\n", self.changes.changes.len() - shown);
        }
        text
    }

    pub fn json(&self, dry_run: bool) -> serde_json::Value {
        let targets: Vec<_> = self
            .targets
            .iter()
            .map(|t| {
                json!({
                    "name": t.name, "path": t.dir, "old": t.old.to_string(), "new": t.new.to_string(),
                    "bump": t.bump.to_string(), "why": t.why, "since": t.since,
                })
            })
            .collect();
        json!({
            "dry_run": dry_run,
            "packages": targets,
            "wave": self.wave.iter().map(super::wave_json).collect::<Vec<_>>(),
            "files": self.changes.changes.iter().map(|c| c.display.clone()).collect::<Vec<_>>(),
        })
    }
}
