//! `cargo xtask prepare`: begin a release. Bumps the umbrella's version, moves core to the same
//! version (never backwards), and rewrites the umbrella's requirement on core to
//! `>=NEW,<NEXT_MINOR`, keeping its extras and markers. Plans every edit, prints it, then
//! applies it all-or-nothing.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;
use toml_edit::{DocumentMut, Item, Value};
use xshell::Shell;

use crate::{
    changeset::{Changeset, FileChange},
    flags::{self, usage},
    git,
    monorepo::{Monorepo, Package},
    output,
    pyproject::{self, Pyproject, Table},
    requirement::PackageName,
    version::{Bump, Version},
};

impl flags::Prepare {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let kind = match (self.bump, self.version_type) {
            (Some(_), Some(_)) => {
                return Err(usage("give the bump kind once: `--bump` and `--version-type` are the same flag"))
            }
            (a, b) => a.or(b).unwrap_or(Bump::Patch),
        };
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
        let plan = plan(&repo, kind)?;
        if let Some(skipped) = &plan.core_skips {
            output::warn(skipped);
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
                "files": plan.changes.changes.iter().map(|c| c.display.clone()).collect::<Vec<_>>(),
            }));
        } else {
            output::data(&plan.render(self.dry_run));
        }
        if self.dry_run {
            output::note("dry run: no file was changed");
            return Ok(());
        }
        plan.changes.apply()?;
        output::status(
            "prepared",
            &format!("release {} ({} files changed)", plan.umbrella.new, plan.changes.changes.len()),
        );
        output::github_summary(&format!("Prepared release `{}`: core `{}`", plan.umbrella.new, plan.core.new));
        Ok(())
    }
}

/// One package's version change.
#[derive(Debug)]
pub struct Move {
    pub name: String,
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
    pub changes: Changeset,
}

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
        text + &self.changes.diff()
    }
}

/// Computes and validates every edit of a `kind` release, reading files but writing none.
pub fn plan(repo: &Monorepo, kind: Bump) -> Result<Plan> {
    let umbrella = repo.umbrella()?;
    let core = repo.core()?;
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

    let umbrella_edit = edit_umbrella(repo, umbrella, &core.name, &new, &specifiers);
    let core_edit = read(repo, core).and_then(|old| {
        let text = pyproject::set_version(Path::new(&core.pyproject_display()), &old, &new)?;
        verify(core, &old, &text, &new, 1)?;
        Ok(FileChange { path: core.pyproject_path(&repo.root), display: core.pyproject_display(), old, new: text })
    });
    // Both files are tried, so that one run reports every problem.
    let ((umbrella_change, requirement), core_change) = match (umbrella_edit, core_edit) {
        (Ok(u), Ok(c)) => (u, c),
        (u, c) => {
            let errors: Vec<String> = [u.err(), c.err()].into_iter().flatten().map(|e| format!("{e:#}")).collect();
            bail!("nothing was changed, because:\n  {}", errors.join("\n  "));
        }
    };
    let mut changes = Changeset::default();
    changes.push(umbrella_change);
    changes.push(core_change);
    let moved = |p: &Package| Move {
        name: p.display_name.clone(),
        path: p.pyproject_display(),
        old: p.version.clone(),
        new: new.clone(),
    };
    Ok(Plan { umbrella: moved(umbrella), core: moved(core), requirement, core_skips, changes })
}

fn read(repo: &Monorepo, p: &Package) -> Result<String> {
    let path = p.pyproject_path(&repo.root);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", p.pyproject_display()))
}

/// The umbrella's edited file, and its requirement on core before and after.
type UmbrellaEdit = (FileChange, (String, String));

fn edit_umbrella(
    repo: &Monorepo,
    umbrella: &Package,
    core: &PackageName,
    new: &Version,
    specifiers: &str,
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
    verify(umbrella, &old, &text, new, 1 + usize::from(before != after))?;
    let change = FileChange { path: umbrella.pyproject_path(&repo.root), display, old, new: text };
    Ok((change, (before, after)))
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
