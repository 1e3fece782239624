//! `check --bumps --base-ref REF`, the pull request check: every package whose shipped files
//! changed since the merge base has a new version, no version went down or skipped a release,
//! no new version is on the index already, and no internal requirement excludes the working
//! tree's version of its dependency. The edges (git, the index) are in `run`; `findings` is pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{bail, Result};
use serde_json::json;
use xshell::Shell;

use crate::usage::usage;
use crate::{
    config::Severity,
    flags, git,
    index::Index,
    monorepo::Monorepo,
    output, parallel,
    shipped::{Class, Shipped},
    version::Version,
};

/// What changed in one package since the merge base.
#[derive(Debug, Clone)]
pub struct Change {
    /// The position in `Monorepo::packages`.
    pub index: usize,
    /// Changed files that ship (relative to the root), and how many changed files do not.
    pub shipped: Vec<String>,
    pub unshipped: usize,
    /// The version at the merge base; `None` for a package that is new since.
    pub base: Option<Version>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Shipped files changed, the version did not.
    Unbumped,
    Down,
    /// Over a release: 0.1.0 → 0.3.0.
    Jump,
    /// The new version is on the index already.
    Published,
    /// An internal requirement excludes its dependency's working-tree version.
    Excludes,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Unbumped => "unbumped",
            Kind::Down => "down",
            Kind::Jump => "jump",
            Kind::Published => "published",
            Kind::Excludes => "excludes",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub index: usize,
    pub kind: Kind,
    pub severity: Severity,
    pub message: String,
}

/// How a version moved between the merge base and the working tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Same,
    /// To the next patch, minor or major release, or within one release (pre → final, post).
    Next,
    Down,
    Jump,
}

pub fn step(old: &Version, new: &Version) -> Step {
    if new == old {
        return Step::Same;
    }
    if new < old {
        return Step::Down;
    }
    let triple = |v: &Version| {
        let r = v.release();
        (r.first().copied().unwrap_or(0), r.get(1).copied().unwrap_or(0), r.get(2).copied().unwrap_or(0))
    };
    let ((a, b, c), n) = (triple(old), triple(new));
    let next = [(a, b, c), (a, b, c + 1), (a, b + 1, 0), (a + 1, 0, 0)];
    if old.epoch() == new.epoch() && next.contains(&n) {
        Step::Next
    } else {
        Step::Jump
    }
}

/// Every finding about `changes`: unbumped shipped changes, versions that went down or jumped
/// (with the configured severities), versions in `published`, and excluding requirements of
/// the changed packages and of the dependants of packages whose version moved.
pub fn findings(
    repo: &Monorepo,
    changes: &[Change],
    published: &BTreeSet<usize>,
    severities: (Severity, Severity),
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |index, kind, severity, message| out.push(Finding { index, kind, severity, message });
    let mut moved = BTreeSet::new();
    for c in changes {
        let p = &repo.packages[c.index];
        let Some(base) = &c.base else {
            moved.insert(c.index);
            continue;
        };
        match step(base, &p.version) {
            Step::Same if !c.shipped.is_empty() => {
                let n = c.shipped.len();
                let inner = |f: &String| f.strip_prefix(&format!("{}/", p.dir)).unwrap_or(f).to_string();
                let shown: Vec<String> = c.shipped.iter().take(3).map(inner).collect();
                let more = if n > 3 { format!(" and {} more", n - 3) } else { String::new() };
                let message = format!(
                    "{n} shipped file{} changed since the merge base ({}{more}), but the version is still `{}`; bump \
                     it: `cargo xtask pkg bump {} --bump patch`",
                    if n == 1 { "" } else { "s" },
                    shown.join(", "),
                    p.version,
                    p.dir
                );
                push(c.index, Kind::Unbumped, Severity::Fail, message);
            }
            Step::Same | Step::Next => {}
            Step::Down => push(
                c.index,
                Kind::Down,
                severities.0,
                format!(
                    "the version went down from `{base}` to `{}`; versions only move forward (`bumps.down`)",
                    p.version
                ),
            ),
            Step::Jump => push(
                c.index,
                Kind::Jump,
                severities.1,
                format!(
                    "the version jumped from `{base}` to `{}`, over a release; the next ones are `{}`, `{}` or `{}` \
                     (`bumps.jump`)",
                    p.version,
                    bump_or(base, crate::version::Bump::Patch),
                    bump_or(base, crate::version::Bump::Minor),
                    bump_or(base, crate::version::Bump::Major)
                ),
            ),
        }
        if step(base, &p.version) != Step::Same {
            moved.insert(c.index);
        }
    }
    for &i in published {
        let p = &repo.packages[i];
        push(
            i,
            Kind::Published,
            Severity::Fail,
            format!(
                "`{}` `{}` is on the index already, and its file names can never be uploaded again; bump it past the \
                 index: `cargo xtask pkg bump {} --bump patch`",
                p.display_name, p.version, p.dir
            ),
        );
    }
    let changed: BTreeSet<usize> = changes.iter().map(|c| c.index).collect();
    out.extend(excluding(repo, &changed, &moved));
    out.sort_by_key(|f| (repo.packages[f.index].dir.clone(), f.kind));
    out
}

fn bump_or(v: &Version, kind: crate::version::Bump) -> String {
    v.bump(kind).map_or_else(|_| "?".into(), |v| v.to_string())
}

/// The internal requirements of `changed` packages, and those on `moved` ones, that exclude
/// the dependency's working-tree version (or cannot be read).
fn excluding(repo: &Monorepo, changed: &BTreeSet<usize>, moved: &BTreeSet<usize>) -> Vec<Finding> {
    let index: HashMap<_, _> = repo.packages.iter().enumerate().map(|(i, p)| (&p.name, i)).collect();
    let mut out = Vec::new();
    for (i, p) in repo.packages.iter().enumerate() {
        for r in &p.dependencies {
            let Some(&d) = index.get(&r.name).filter(|&&d| d != i) else { continue };
            if !changed.contains(&i) && !moved.contains(&d) {
                continue;
            }
            let dep = &repo.packages[d];
            let message = match r.allows(&dep.version) {
                Ok(true) => continue,
                Ok(false) => format!(
                    "requires `{r}`, which excludes `{}` `{}` in this tree; widen the requirement to admit it",
                    dep.display_name, dep.version
                ),
                Err(e) => format!("the requirement `{r}` cannot be read: {e}; fix it in {}", p.pyproject_display()),
            };
            out.push(Finding { index: i, kind: Kind::Excludes, severity: Severity::Fail, message });
        }
    }
    out
}

/// Everything `run` found, ready to print.
struct Report<'a> {
    repo: &'a Monorepo,
    base_ref: &'a str,
    merge_base: &'a str,
    changes: &'a [Change],
    findings: &'a [Finding],
}

pub fn run(sh: &Shell, flags: &flags::Check) -> Result<()> {
    let Some(base_ref) = flags.base_ref.as_deref() else {
        return Err(usage("`--bumps` compares with a base: pass `--base-ref REF` (for example `origin/main`)"));
    };
    git::ensure_repo(sh)?;
    let root = sh.current_dir();
    // Reading 2,000 pyproject files and asking git run side by side.
    let (repo, diff) = parallel::join(
        || Monorepo::load(&root),
        || {
            git::merge_base(sh, base_ref)
                .and_then(|merge_base| git::changed_since(sh, &merge_base).map(|files| (merge_base, files)))
        },
    );
    let repo = repo?;
    for w in &repo.warnings {
        output::warn(w);
    }
    let only: Option<BTreeSet<usize>> = match flags.paths.is_empty() {
        true => None,
        false => Some(repo.select(&flags.paths, false)?.into_iter().map(|p| repo.index_of(p)).collect()),
    };
    let (merge_base, files) = diff?;
    let changes = changes(sh, &repo, &merge_base, &files, only.as_ref())?;
    let url = flags.index_url.clone().map(|u| u.0).or_else(|| flags.index.then(|| repo.config.index_url.clone()));
    let published = match &url {
        Some(url) => published(&Index::new(url), &repo, &changes)?,
        None => BTreeSet::new(),
    };
    let findings = findings(&repo, &changes, &published, (repo.config.bumps_down, repo.config.bumps_jump));
    let report = Report { repo: &repo, base_ref, merge_base: &merge_base, changes: &changes, findings: &findings };
    report.print(flags.json);
    let failed: BTreeSet<usize> = findings.iter().filter(|f| f.severity == Severity::Fail).map(|f| f.index).collect();
    if !failed.is_empty() {
        bail!("{} package{} failed the bump check; see above", failed.len(), if failed.len() == 1 { "" } else { "s" });
    }
    Ok(())
}

/// The changed packages since `merge_base`, with their shipped files and their base versions.
fn changes(
    sh: &Shell,
    repo: &Monorepo,
    merge_base: &str,
    files: &[String],
    only: Option<&BTreeSet<usize>>,
) -> Result<Vec<Change>> {
    let shipped = Shipped::new(repo);
    let mut by_package: BTreeMap<usize, Change> = BTreeMap::new();
    let mut touched = Vec::new();
    for file in files {
        let (i, ships) = match shipped.classify(file) {
            Class::Shipped(i) => (i, true),
            Class::Unshipped(i) => (i, false),
            Class::Nobody => continue,
        };
        if only.is_some_and(|o| !o.contains(&i)) {
            continue;
        }
        let p = &repo.packages[i];
        // A version from tags has nothing to bump in the tree: its release is its next tag.
        if matches!(p.source, crate::pyproject::VersionSource::Vcs { .. }) {
            continue;
        }
        let c = by_package.entry(i).or_insert_with(|| Change {
            index: i,
            shipped: Vec::new(),
            unshipped: 0,
            base: Some(p.version.clone()),
        });
        // The file that holds the version: pyproject.toml, or a dynamic version's file.
        if file.ends_with("pyproject.toml") && *file == p.pyproject_display()
            || !matches!(p.source, crate::pyproject::VersionSource::Static)
                && p.version_file(&repo.root).as_ref() == Some(file)
        {
            touched.push(i);
        }
        if ships {
            c.shipped.push(file.clone());
        } else {
            c.unshipped += 1;
        }
    }
    // The base versions of the packages whose pyproject.toml changed, in one `git cat-file`.
    touched.sort_unstable();
    touched.dedup();
    let paths: Vec<String> =
        touched.iter().map(|&i| repo.packages[i].version_file(&repo.root).unwrap_or_default()).collect();
    let texts = git::files_at(sh, merge_base, &paths)?;
    for ((i, path), text) in touched.iter().zip(&paths).zip(texts) {
        let base = match text {
            None => None,
            Some(text) => {
                let shown = format!("{path} at the merge base");
                Some(crate::bump::version_in(&repo.packages[*i], &shown, &text)?)
            }
        };
        by_package.get_mut(i).expect("touched is a subset").base = base;
    }
    Ok(by_package.into_values().collect())
}

/// The changed packages whose working-tree version the index has already.
fn published(index: &Index, repo: &Monorepo, changes: &[Change]) -> Result<BTreeSet<usize>> {
    let mut out = BTreeSet::new();
    for c in changes.iter().filter(|c| c.base.as_ref() != Some(&repo.packages[c.index].version)) {
        let p = &repo.packages[c.index];
        if index.project(&p.name)?.is_some_and(|project| project.releases.contains_key(&p.version)) {
            out.insert(c.index);
        }
    }
    Ok(out)
}

impl Report<'_> {
    fn print(&self, json: bool) {
        if json {
            output::json(&self.to_json());
        } else {
            output::data(&self.text());
        }
        if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
            self.annotate(json);
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let Report { repo, base_ref, merge_base, changes, findings } = self;
        let finding = |f: &Finding| {
            let p = &repo.packages[f.index];
            json!({"name": p.display_name, "path": p.dir, "kind": f.kind.as_str(), "severity": severity(f.severity), "message": f.message})
        };
        let packages: Vec<_> = changes
            .iter()
            .map(|c| {
                let p = &repo.packages[c.index];
                let mine: Vec<_> = findings
                    .iter()
                    .filter(|f| f.index == c.index)
                    .map(|f| json!({"kind": f.kind.as_str(), "severity": severity(f.severity), "message": f.message}))
                    .collect();
                json!({
                    "name": p.display_name,
                    "path": p.dir,
                    "base_version": c.base.as_ref().map(ToString::to_string),
                    "version": p.version.to_string(),
                    "shipped_files": c.shipped,
                    "unshipped_files": c.unshipped,
                    "findings": mine,
                })
            })
            .collect();
        let others: Vec<_> =
            findings.iter().filter(|f| !changes.iter().any(|c| c.index == f.index)).map(finding).collect();
        json!({
            "ok": !findings.iter().any(|f| f.severity == Severity::Fail),
            "base_ref": base_ref,
            "merge_base": merge_base,
            "packages": packages,
            "dependants": others,
        })
    }

    /// One line per finding, `FAILED` or `warning` first, then a summary line.
    fn text(&self) -> String {
        let Report { repo, base_ref, merge_base, changes, findings } = self;
        let mut text = String::new();
        for f in findings.iter() {
            let p = &repo.packages[f.index];
            let label = if f.severity == Severity::Fail { "FAILED " } else { "warning" };
            text += &format!("{label} {} ({}): {}\n", p.display_name, p.dir, f.message);
        }
        let bumped = changes.iter().filter(|c| c.base.as_ref() != Some(&repo.packages[c.index].version)).count();
        let short = &merge_base[..merge_base.len().min(10)];
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        text + &format!(
            "{} changed package{} since `{short}` (the merge base with `{base_ref}`): {bumped} with a new version, {} \
             problem{}\n",
            changes.len(),
            plural(changes.len()),
            findings.len(),
            plural(findings.len())
        )
    }

    /// GitHub Actions: an annotation per finding, and the step summary.
    fn annotate(&self, json: bool) {
        let Report { repo, base_ref, findings, .. } = self;
        let lines: String = findings.iter().map(|f| annotation(repo, f)).collect();
        // Workflow commands are read from stdout; with --json, stdout is the data.
        match (lines.is_empty(), json) {
            (true, _) => {}
            (false, true) => eprint!("{lines}"),
            (false, false) => output::data(&lines),
        }
        let summary: Vec<String> = findings
            .iter()
            .map(|f| {
                let mark = if f.severity == Severity::Fail { "❌" } else { "⚠️" };
                format!("- {mark} `{}`: {}", repo.packages[f.index].dir, f.message)
            })
            .collect();
        let body = if summary.is_empty() { "No problems.".to_string() } else { summary.join("\n") };
        output::github_summary(&format!("### Bump check against `{base_ref}`\n\n{body}\n"));
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Fail => "fail",
        Severity::Warn => "warn",
    }
}

/// `::error file=…,title=…::message`, escaped as GitHub's workflow commands need.
fn annotation(repo: &Monorepo, f: &Finding) -> String {
    let p = &repo.packages[f.index];
    let escape = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let property = |s: &str| escape(s).replace(':', "%3A").replace(',', "%2C");
    let level = if f.severity == Severity::Fail { "error" } else { "warning" };
    format!(
        "::{level} file={},title={}::{}\n",
        property(&p.pyproject_display()),
        property(&format!("bump check: {}", p.display_name)),
        escape(&f.message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_between_versions() {
        let check = |old: &str, new: &str| step(&old.parse().unwrap(), &new.parse().unwrap());
        assert_eq!(check("0.1.0", "0.1.0"), Step::Same);
        assert_eq!(check("0.1.0", "0.1.0.0"), Step::Same);
        for new in ["0.1.1", "0.2.0", "1.0.0", "0.1.1rc1", "0.1.0.post1", "0.2"] {
            assert_eq!(check("0.1.0", new), Step::Next, "{new}");
        }
        assert_eq!(check("1.0.0rc1", "1.0.0"), Step::Next);
        assert_eq!(check("0.1.0", "0.3.0"), Step::Jump);
        assert_eq!(check("0.1.0", "0.1.2"), Step::Jump);
        assert_eq!(check("0.1.0", "2.0.0"), Step::Jump);
        assert_eq!(check("0.1.0", "1!0.1.1"), Step::Jump);
        assert_eq!(check("0.2.0", "0.1.9"), Step::Down);
        assert_eq!(check("1.0.0", "1.0.0rc1"), Step::Down);
    }
}
