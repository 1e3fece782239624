//! The compatibility wave: the packages whose internal requirements exclude a version this
//! release makes (core 0.13.6 → 0.14.0 against `llama-index-core>=0.13.0,<0.14`), their widened
//! requirements and their bumps, which may in turn exclude further versions, until nothing moves.
//! `members` decides on the model alone; `edit` computes one package's file.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use anyhow::{bail, Result};

use crate::{
    changeset::FileChange,
    monorepo::{Monorepo, Package},
    pyproject::{self, Pyproject, VersionSource, Widened},
    requirement::PackageName,
    version::{Bump, Version},
};

/// One package the wave rewrites.
#[derive(Debug, Clone)]
pub struct Member {
    /// The position in `Monorepo::packages`.
    pub index: usize,
    /// `project.name` as written, and the directory.
    pub name: String,
    pub dir: String,
    pub old: Version,
    /// The version after the wave's bump (`old` when the wave bumps nothing, or when the package
    /// already moves with the release, as the umbrella and core do).
    pub new: Version,
    /// The dependencies whose new versions its requirements must admit, sorted by name.
    pub admits: Vec<(PackageName, Version)>,
    /// Filled by [`edit`]: the requirements as written before and after.
    pub widened: Vec<Widened>,
}

impl Member {
    /// The changelog's line: `Allow llama-index-core 0.15`, the series of each new version.
    pub fn note(&self) -> String {
        let series = |v: &Version| {
            let r = v.release();
            format!("{}.{}", r.first().copied().unwrap_or(0), r.get(1).copied().unwrap_or(0))
        };
        let allowed: Vec<String> = self.admits.iter().map(|(name, v)| format!("{name} {}", series(v))).collect();
        format!("Allow {}", allowed.join(" and "))
    }
}

/// The packages whose requirements admit a package's current version but exclude its new one
/// in `moves` (name → new version), directly or because the wave's own bump (`bump`, none when
/// `None`) of a dependency excludes it. Packages in `moves` already are not bumped again. Returns the members by directory and
/// every move, the release's and the wave's.
pub fn members(
    repo: &Monorepo,
    moves: &HashMap<PackageName, Version>,
    bump: Option<Bump>,
) -> Result<(Vec<Member>, HashMap<PackageName, Version>)> {
    let index: HashMap<&PackageName, usize> = repo.packages.iter().enumerate().map(|(i, p)| (&p.name, i)).collect();
    // dependants[d]: (package, requirement) pairs that name package d.
    let mut dependants: Vec<Vec<(usize, usize)>> = vec![Vec::new(); repo.packages.len()];
    for (i, p) in repo.packages.iter().enumerate() {
        for (k, r) in p.dependencies.iter().enumerate() {
            if let Some(&d) = index.get(&r.name).filter(|&&d| d != i) {
                dependants[d].push((i, k));
            }
        }
    }
    let mut moves = moves.clone();
    let mut queue: Vec<PackageName> = moves.keys().cloned().collect();
    queue.sort();
    let mut found: BTreeMap<usize, Member> = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some(name) = queue.pop() {
        let (Some(&d), Some(new)) = (index.get(&name), moves.get(&name).cloned()) else { continue };
        for &(i, k) in &dependants[d] {
            let p = &repo.packages[i];
            // Only what this release breaks: a requirement that excluded the old version too
            // was never this release's doing (`check --bumps` reports it).
            let req = &p.dependencies[k];
            match req.allows(&new).and_then(|n| req.allows(&repo.packages[d].version).map(|o| (n, o))) {
                Ok((true, _) | (false, false)) => continue,
                Ok((false, true)) => {}
                Err(e) => {
                    errors.push(format!("{}: the requirement on `{name}`: {e}", p.pyproject_display()));
                    continue;
                }
            }
            let moved = moves.get(&p.name).cloned();
            let member = found.entry(i).or_insert_with(|| Member {
                index: i,
                name: p.display_name.clone(),
                dir: p.dir.clone(),
                old: p.version.clone(),
                new: moved.clone().unwrap_or_else(|| p.version.clone()),
                admits: Vec::new(),
                widened: Vec::new(),
            });
            if !member.admits.iter().any(|(n, _)| *n == name) {
                member.admits.push((name.clone(), new.clone()));
                member.admits.sort();
            }
            if let (None, Some(kind)) = (moved, bump) {
                match p.version.bump(kind) {
                    Ok(v) => {
                        member.new = v.clone();
                        moves.insert(p.name.clone(), v);
                        queue.push(p.name.clone());
                    }
                    Err(e) => errors.push(format!("{}: {e}", p.pyproject_display())),
                }
            }
        }
    }
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        bail!("the compatibility wave cannot be planned; nothing was changed, because:\n  {}", errors.join("\n  "));
    }
    let mut members: Vec<Member> = found.into_values().collect();
    members.sort_by(|a, b| repo.packages[a.index].dir.cmp(&repo.packages[b.index].dir));
    Ok((members, moves))
}

/// Widens `text` (the file of package `p`, perhaps already edited by the release) for `moves`.
pub fn widen(p: &Package, text: &str, moves: &HashMap<PackageName, Version>) -> Result<(String, Vec<Widened>)> {
    pyproject::widen_requirements(Path::new(&p.pyproject_display()), text, moves, None)
}

/// The edited files of a member that does not move with the release (widened, bumped,
/// verified: its pyproject.toml, and a dynamic version's own file), and what was widened.
pub fn edit(
    repo: &Monorepo,
    member: &Member,
    moves: &HashMap<PackageName, Version>,
) -> Result<(Vec<FileChange>, Vec<Widened>)> {
    let p = &repo.packages[member.index];
    let display = p.pyproject_display();
    let path = p.pyproject_path(&repo.root);
    let old = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {display}: {e}"))?;
    let in_pyproject = p.source == VersionSource::Static;
    let bump = (member.new != member.old && in_pyproject).then_some(&member.new);
    let (text, widened) = pyproject::widen_requirements(Path::new(&display), &old, moves, bump)?;
    verify(p, &old, &text, member, widened.len())?;
    let mut changes = vec![FileChange { path, display, old, new: text }];
    if member.new != member.old && !in_pyproject {
        changes.extend(crate::bump::version_edit(&repo.root, p, &member.new)?);
    }
    Ok((changes, widened))
}

/// [`edit`] of every member, on all cores: a minor release edits nearly every package.
pub fn edit_all(
    repo: &Monorepo,
    members: &mut [Member],
    moves: &HashMap<PackageName, Version>,
) -> Vec<Result<Vec<FileChange>>> {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let edits = crate::parallel::map(members, jobs, |m| edit(repo, m, moves));
    members
        .iter_mut()
        .zip(edits)
        .map(|(m, edit)| {
            edit.map(|(change, widened)| {
                m.widened = widened;
                change
            })
        })
        .collect()
}

/// Proves a member's edit: the file parses, has the new version, admits every new version it
/// must, and no more lines changed than the edits made.
pub fn verify(p: &Package, old: &str, text: &str, member: &Member, widened: usize) -> Result<()> {
    let display = p.pyproject_display();
    let parsed = Pyproject::parse(Path::new(&display), text)?;
    let admits = member
        .admits
        .iter()
        .all(|(name, v)| parsed.dependencies.iter().filter(|r| &r.name == name).all(|r| r.allows(v).unwrap_or(false)));
    // A dynamic version is written in its own file, not here.
    let in_pyproject = p.source == VersionSource::Static;
    let edits = widened + usize::from(member.new != member.old && in_pyproject);
    let changed = old.lines().zip(text.lines()).filter(|(a, b)| a != b).count();
    if !admits
        || widened == 0
        || in_pyproject && parsed.version != member.new
        || old.lines().count() != text.lines().count()
        || changed > edits
    {
        bail!(
            "{display}: the compatibility wave's edit did not come out as planned (it must admit {}); nothing was \
             changed, please report this",
            member.admits.iter().map(|(n, v)| format!("`{n}` `{v}`")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
