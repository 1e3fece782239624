//! `cargo xtask prepare`: begin a release. Bumps the umbrella's version, moves core to the same
//! version (never backwards), and rewrites the umbrella's requirement on core to
//! `>=NEW,<NEXT_MINOR`, keeping its extras and markers. Plans every edit, prints it, then
//! applies it all-or-nothing.

mod lock;
pub mod packages;
pub mod unnamed;
pub mod wave;

use std::{collections::HashMap, path::Path};

use anyhow::{bail, Context, Result};
use serde_json::json;
use toml_edit::{DocumentMut, Item, Value};
use xshell::Shell;

use crate::{
    changeset::{unified_diff, Changeset, FileChange},
    flags, git,
    monorepo::{Monorepo, Package},
    output, parallel,
    pyproject::{self, Pyproject, Table},
    requirement::PackageName,
    version::{Bump, BumpChoice, Version},
};

impl flags::Prepare {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let choice = flags::bump_kind(self.bump, self.version_type)?;
        if !self.paths.is_empty() {
            return self.run_packages(sh, choice);
        }
        if let Some(repo) = unnamed::applies(sh)? {
            return Err(unnamed::error(sh, &repo, "prepare", choice)?);
        }
        let kind = choice.kind().map_err(crate::usage::usage)?;
        git::ensure_repo(sh)?;
        let root = sh.current_dir();
        // `git status` walks the whole tree; reading and planning need not wait for it.
        let (planned, dirty) = parallel::join(
            || Monorepo::load(&root).map(|repo| (plan(&repo, kind), repo)),
            || if self.allow_dirty { Ok(None) } else { git::uncommitted_changes(sh) },
        );
        let (plan, repo) = planned?;
        for w in &repo.warnings {
            output::warn(w);
        }
        if let Some(dirty) = dirty? {
            bail!("{dirty}; commit or stash them, or pass `--allow-dirty`");
        }
        let plan = plan?;
        if let Some(skipped) = &plan.core_skips {
            output::warn(skipped);
        }
        for left in &plan.left_excluding {
            output::warn(&format!("`wave.widen` is off, so this package stays unable to install the release: {left}"));
        }
        if self.json {
            let moved =
                |m: &Move| json!({"name": m.name, "path": m.path, "old": m.old.to_string(), "new": m.new.to_string()});
            output::json(&json!({
                "dry_run": self.dry_run,
                "bump": kind.to_string(),
                "umbrella": moved(&plan.umbrella),
                "core": moved(&plan.core),
                "requirement": {"old": plan.requirement.0, "new": plan.requirement.1},
                "wave": plan.wave.iter().map(wave_json).collect::<Vec<_>>(),
                "files": plan.changes.changes.iter().map(|c| c.display.clone()).collect::<Vec<_>>(),
            }));
        } else {
            output::data(&plan.render(self.dry_run));
        }
        if self.dry_run {
            if self.lock {
                output::note(&format!("dry run: would run `uv lock` in {} packages", plan.changes.changes.len()));
            }
            output::note("dry run: no file was changed");
            return Ok(());
        }
        plan.changes.apply()?;
        output::status(
            "prepared",
            &format!("release {} ({} files changed)", plan.umbrella.new, plan.changes.changes.len()),
        );
        if self.lock {
            let files: Vec<String> = plan.changes.changes.iter().map(|c| c.display.clone()).collect();
            lock_files(sh, &repo, &files)?;
        }
        output::github_summary(&format!("Prepared release `{}`: core `{}`", plan.umbrella.new, plan.core.new));
        Ok(())
    }
}

impl flags::Prepare {
    /// `prepare PATH…`: the named packages, each with its group, and the wave.
    fn run_packages(&self, sh: &Shell, choice: BumpChoice) -> Result<()> {
        git::ensure_repo(sh)?;
        let repo = Monorepo::load(&sh.current_dir())?;
        for w in &repo.warnings {
            output::warn(w);
        }
        if !self.allow_dirty {
            if let Some(dirty) = git::uncommitted_changes(sh)? {
                bail!("{dirty}; commit or stash them, or pass `--allow-dirty`");
            }
        }
        let indices = packages::resolve(&repo, &self.paths)?;
        let plan = packages::plan(&repo, packages::choose(sh, &repo, &indices, choice)?)?;
        for left in &plan.left_excluding {
            output::warn(&format!("`wave.widen` is off, so this package stays unable to install the release: {left}"));
        }
        if self.json {
            output::json(&plan.json(self.dry_run));
        } else {
            output::data(&plan.render(self.dry_run));
        }
        if self.dry_run {
            output::note("dry run: no file was changed");
            return Ok(());
        }
        plan.changes.apply()?;
        let moved: Vec<String> = plan.targets.iter().map(|t| format!("{} {}", t.name, t.new)).collect();
        output::status("prepared", &format!("{} ({} files changed)", moved.join(", "), plan.changes.changes.len()));
        if self.lock {
            let files: Vec<String> = plan
                .changes
                .changes
                .iter()
                .map(|c| c.display.clone())
                .filter(|f| f.ends_with("pyproject.toml"))
                .collect();
            lock_files(sh, &repo, &files)?;
        }
        Ok(())
    }
}

fn wave_json(m: &wave::Member) -> serde_json::Value {
    let requirements: Vec<_> = m.widened.iter().map(|w| json!({"old": w.before, "new": w.after})).collect();
    json!({
        "name": m.name,
        "path": m.dir,
        "old": m.old.to_string(),
        "new": m.new.to_string(),
        "requirements": requirements,
        "changelog": m.note(),
    })
}

/// One package's version change.
#[derive(Debug)]
pub struct Move {
    pub name: String,
    pub dir: String,
    pub path: String,
    pub old: Version,
    pub new: Version,
}

#[derive(Debug)]
pub struct Plan {
    pub umbrella: Move,
    pub core: Move,
    /// The umbrella's requirement on core, before and after.
    pub requirement: (String, String),
    /// Set when core jumps over versions to stay in step with the umbrella.
    pub core_skips: Option<String>,
    /// The compatibility wave: the other packages whose requirements this release widens, by
    /// directory. Empty when `wave.widen` is off.
    pub wave: Vec<wave::Member>,
    /// With `wave.widen` off: the packages left excluding a new version, as warnings.
    pub left_excluding: Vec<String>,
    pub changes: Changeset,
}

/// The changelog's heading of the wave's lines.
pub const WAVE_HEADING: &str = "Compatibility";

/// `uv lock` in the packages of `pyprojects` (their `pyproject.toml` paths), and the lock files
/// that a commit can take (those git does not ignore).
pub fn lock_files(sh: &Shell, repo: &Monorepo, pyprojects: &[String]) -> Result<Vec<String>> {
    let dirs: Vec<String> = pyprojects
        .iter()
        .map(|f| f.strip_suffix("pyproject.toml").unwrap_or(f).trim_end_matches('/'))
        .map(|d| if d.is_empty() { ".".to_string() } else { d.to_string() })
        .collect();
    lock::lock_all(&repo.root, &dirs)?;
    let locks = pyprojects.iter().map(|f| format!("{}uv.lock", f.strip_suffix("pyproject.toml").unwrap_or(f)));
    Ok(locks.filter(|l| repo.root.join(l).is_file() && !git::is_ignored(sh, l)).collect())
}

/// How many of the wave's packages the plan's text shows (`--json` has them all).
const WAVE_SHOWN: usize = 5;
/// How many of the wave's diffs it shows.
const WAVE_DIFFS: usize = 3;

impl Plan {
    /// What would change (`dry_run`) or changes: one line per decision, then the diffs.
    pub fn render(&self, dry_run: bool) -> String {
        let (bump, keep, require) =
            if dry_run { ("Would bump", "Would keep", "Would require") } else { ("Bump", "Keep", "Require") };
        let mut text = String::new();
        for m in [&self.umbrella, &self.core] {
            if m.old == m.new {
                text += &format!("{keep} {} ({}) at {}\n", m.name, m.path, m.new);
            } else {
                text += &format!("{bump} {} ({}) from {} to {}\n", m.name, m.path, m.old, m.new);
            }
        }
        text +=
            &format!("{require} `{}` in {} (was `{}`)\n", self.requirement.1, self.umbrella.name, self.requirement.0);
        text += &self.render_wave(dry_run);
        text + &self.diff()
    }

    /// The wave's count and its first packages, one line each.
    fn render_wave(&self, dry_run: bool) -> String {
        render_wave(&self.wave, dry_run)
    }

    /// The diffs of the umbrella, core and the wave's first packages; the rest are counted.
    pub fn diff(&self) -> String {
        let shown = 2 + WAVE_DIFFS;
        let mut text: String =
            self.changes.changes.iter().take(shown).map(|c| unified_diff(&c.display, &c.old, &c.new)).collect();
        if self.changes.changes.len() > shown {
            text += &format!("… and {} more files like these\n", self.changes.changes.len() - shown);
        }
        text
    }

    /// Every package's new version: the release's and the wave's, by directory.
    pub fn moves(&self) -> Vec<(String, Version)> {
        let mut moves = vec![
            (self.umbrella.dir.clone(), self.umbrella.new.clone()),
            (self.core.dir.clone(), self.core.new.clone()),
        ];
        moves.extend(self.wave.iter().map(|m| (m.dir.clone(), m.new.clone())));
        moves
    }

    /// The changelog's lines of the wave: `llama-index-llms-openai [0.8.6]: Allow llama-index-core 0.15`.
    pub fn wave_notes(&self) -> Vec<String> {
        self.wave.iter().map(|m| format!("{} [{}]: {}", m.name, m.new, m.note())).collect()
    }

    /// `, and the compatibility wave in N packages`, or nothing, for one-line summaries.
    pub fn wave_summary(&self) -> String {
        match self.wave.len() {
            0 => String::new(),
            n => format!(", and the compatibility wave in {n} package{}", if n == 1 { "" } else { "s" }),
        }
    }
}

/// The wave's count and its first packages, one line each (`wave` sorted by directory).
fn render_wave(wave: &[wave::Member], dry_run: bool) -> String {
    if wave.is_empty() {
        return String::new();
    }
    let n = wave.len();
    let verb = if dry_run { "Would widen" } else { "Widen" };
    let mut text = format!(
        "{verb} the requirements of {n} package{} that exclude the new versions (the compatibility wave):\n",
        if n == 1 { "" } else { "s" }
    );
    for m in wave.iter().take(WAVE_SHOWN) {
        let versions = if m.old == m.new { format!("at {}", m.new) } else { format!("{} → {}", m.old, m.new) };
        let reqs: Vec<String> = m.widened.iter().map(|w| format!("`{}` → `{}`", w.before, w.after)).collect();
        text += &format!("  {} {versions}: {}\n", m.dir, reqs.join(", "));
    }
    if n > WAVE_SHOWN {
        text += &format!("  … and {} more (`--json` lists every one)\n", n - WAVE_SHOWN);
    }
    text
}

/// Computes and validates every edit of a `kind` release, reading files but writing none.
pub fn plan(repo: &Monorepo, kind: Bump) -> Result<Plan> {
    let umbrella = repo.umbrella()?;
    let core = repo.core()?;
    repo.require_versions(&[umbrella, core])?;
    if umbrella.dir == core.dir {
        bail!(
            "the umbrella and the core package are both `{}`; set `packages.core` in release.toml to core's directory",
            core.dir
        );
    }
    let new = umbrella.version.bump(kind).map_err(|e| anyhow::anyhow!("{}: {e}", umbrella.pyproject_display()))?;
    if new < core.version {
        bail!(
            "the umbrella's next version `{new}` is lower than core's current version `{}` ({}), and core never moves \
             backwards; bump further (`--bump minor` or `--bump major`), or set the umbrella's version in {} first",
            core.version,
            core.pyproject_display(),
            umbrella.pyproject_display()
        );
    }
    // Lockstep may make core jump over versions of its own (0.14.10 → 0.14.12 happened): allowed,
    // but said out loud.
    let natural = [Bump::Patch, Bump::Minor, Bump::Major].map(|b| core.version.bump(b).ok());
    let core_skips = (new > core.version && !natural.contains(&Some(new.clone()))).then(|| {
        format!(
            "core moves from `{}` to `{new}` to stay in step with the umbrella, skipping the versions between",
            core.version
        )
    });
    let specifiers = format!(">={new},<{}", new.next_minor());
    let release_moves: HashMap<PackageName, Version> =
        [(umbrella.name.clone(), new.clone()), (core.name.clone(), new.clone())].into();
    let (mut members, mut moves) = wave::members(repo, &release_moves, repo.config.wave_bump)?;
    // The umbrella's requirement on core is the release's own rewrite, not the wave's.
    let umbrella_index = repo.index_of(umbrella);
    for m in members.iter_mut().filter(|m| m.index == umbrella_index) {
        m.admits.retain(|(name, _)| *name != core.name);
    }
    members.retain(|m| !m.admits.is_empty());
    let mut left_excluding = Vec::new();
    if !repo.config.wave_widen {
        left_excluding = members.drain(..).map(|m| format!("{} ({}): {}", m.name, m.dir, m.note())).collect();
        moves = release_moves;
    }

    let umbrella_edit = edit_umbrella(repo, umbrella, &core.name, &new, &specifiers, &moves);
    let core_edit = read(repo, core).and_then(|old| {
        let bumped = pyproject::set_version(Path::new(&core.pyproject_display()), &old, &new)?;
        let (text, widened) = wave::widen(core, &bumped, &moves)?;
        verify(core, &old, &text, &new, 1 + widened.len())?;
        let path = core.pyproject_path(&repo.root);
        Ok((FileChange { path, display: core.pyproject_display(), old, new: text }, widened))
    });
    // The umbrella and core are edited above; the wave's other members sort after them.
    let core_index = repo.index_of(core);
    let (mut release_members, mut others): (Vec<_>, Vec<_>) =
        members.into_iter().partition(|m| m.index == umbrella_index || m.index == core_index);
    let mut errors = Vec::new();
    let mut wave_changes = Vec::new();
    for edit in wave::edit_all(repo, &mut others, &moves) {
        match edit {
            Ok(changes) => wave_changes.extend(changes),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    // Every file is tried, so that one run reports every problem.
    let ((umbrella_change, requirement, umbrella_widened), (core_change, core_widened)) =
        match (umbrella_edit, core_edit) {
            (Ok(u), Ok(c)) if errors.is_empty() => (u, c),
            (u, c) => {
                errors.splice(0..0, [u.err(), c.err()].into_iter().flatten().map(|e| format!("{e:#}")));
                bail!("nothing was changed, because:\n  {}", errors.join("\n  "));
            }
        };
    for m in &mut release_members {
        m.widened = if m.index == umbrella_index { umbrella_widened.clone() } else { core_widened.clone() };
    }
    release_members.append(&mut others);
    let mut members = release_members;
    members.sort_by(|a, b| repo.packages[a.index].dir.cmp(&repo.packages[b.index].dir));
    let mut changes = Changeset::default();
    changes.push(umbrella_change);
    changes.push(core_change);
    for change in wave_changes {
        changes.push(change);
    }
    let moved = |p: &Package| Move {
        name: p.display_name.clone(),
        dir: p.dir.clone(),
        path: p.pyproject_display(),
        old: p.version.clone(),
        new: new.clone(),
    };
    Ok(Plan {
        umbrella: moved(umbrella),
        core: moved(core),
        requirement,
        core_skips,
        wave: members,
        left_excluding,
        changes,
    })
}

fn read(repo: &Monorepo, p: &Package) -> Result<String> {
    let path = p.pyproject_path(&repo.root);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", p.pyproject_display()))
}

/// The umbrella's edited file, its requirement on core before and after, and what the wave
/// widened in it.
type UmbrellaEdit = (FileChange, (String, String), Vec<pyproject::Widened>);

fn edit_umbrella(
    repo: &Monorepo,
    umbrella: &Package,
    core: &PackageName,
    new: &Version,
    specifiers: &str,
    moves: &HashMap<PackageName, Version>,
) -> Result<UmbrellaEdit> {
    let display = umbrella.pyproject_display();
    let path = Path::new(&display);
    let old = read(repo, umbrella)?;
    let bumped = pyproject::set_version(path, &old, new)?;
    let (text, before, after) = match umbrella.table {
        Table::Project => {
            let (text, before, after) =
                pyproject::rewrite_dependency(path, &bumped, core, |r| r.with_specifiers(specifiers))?;
            (text, before.to_string(), after.to_string())
        }
        Table::Poetry => rewrite_poetry_dependency(path, &bumped, core, specifiers)?,
    };
    let (text, widened) = wave::widen(umbrella, &text, moves)?;
    verify(umbrella, &old, &text, new, 1 + usize::from(before != after) + widened.len())?;
    let change = FileChange { path: umbrella.pyproject_path(&repo.root), display, old, new: text };
    Ok((change, (before, after), widened))
}

/// `[tool.poetry.dependencies]`: the constraint of the one entry for `name`, as a string or as
/// the `version` of an inline table (whose `markers` and `extras` stay).
fn rewrite_poetry_dependency(
    path: &Path,
    text: &str,
    name: &PackageName,
    specifiers: &str,
) -> Result<(String, String, String)> {
    let p = path.display();
    let mut doc: DocumentMut = text.parse().with_context(|| format!("{p}: invalid TOML"))?;
    let deps = doc
        .get_mut("tool")
        .and_then(|t| t.get_mut("poetry"))
        .and_then(|t| t.get_mut("dependencies"))
        .and_then(Item::as_table_like_mut)
        .with_context(|| format!("{p}: no `[tool.poetry.dependencies]` table; the umbrella must depend on `{name}`"))?;
    let keys: Vec<String> = deps.iter().map(|(k, _)| k.to_string()).filter(|k| &PackageName::new(k) == name).collect();
    let key = match keys.as_slice() {
        [one] => one.clone(),
        [] => bail!(
            "{p}: `[tool.poetry.dependencies]` has no entry for `{name}`; add one such as `{name} = \">=1.0,<1.1\"`"
        ),
        _ => bail!("{p}: `[tool.poetry.dependencies]` has {} entries for `{name}`; keep exactly one", keys.len()),
    };
    let item = deps.get_mut(&key).expect("key from iteration");
    let target = match item {
        Item::Value(Value::InlineTable(t)) => t.get_mut("version"),
        Item::Table(t) => t.get_mut("version").and_then(Item::as_value_mut),
        other => other.as_value_mut(),
    };
    let Some(value @ Value::String(_)) = target else {
        bail!("{p}: the constraint of `{key}` in `[tool.poetry.dependencies]` is not a string; write it as `{key} = \"{specifiers}\"`");
    };
    let before = format!("{key} {}", value.as_str().unwrap_or_default());
    pyproject::replace_string_value(value, specifiers);
    Ok((doc.to_string(), before, format!("{key} {specifiers}")))
}

/// Proves an edit touched only its targets: the file still parses with the new version, and
/// at most `edits` lines changed (a stray match elsewhere would change more).
fn verify(p: &Package, old: &str, new_text: &str, version: &Version, edits: usize) -> Result<()> {
    let display = p.pyproject_display();
    let parsed = Pyproject::parse(Path::new(&display), new_text)?;
    let changed = old.lines().zip(new_text.lines()).filter(|(a, b)| a != b).count();
    if parsed.version != *version || old.lines().count() != new_text.lines().count() || changed > edits {
        bail!("{display}: the edit changed more than its {edits} target value(s); nothing was changed, please report this");
    }
    Ok(())
}
