//! What `release publish`'s install check and install proof prove, and what a failure holds
//! back. They prove what this run uploads: the packages the index lacks, with the umbrella and
//! every package of the release they require (installed at the release's version, from the
//! builds or the index; packages already on the index are not imported on their own). A package
//! that fails (its build, its install, its import), or that `--hold` leaves out, holds back
//! itself and its dependants ([`Graph::held_back`]); core or the umbrella held back holds back
//! the release. A release of independent packages ([`Scope::independent`]) has no umbrella to
//! install with and no package that is the release itself: each holds back only its own.
//! Pure, apart from [`check`], the action.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::Duration,
};

use anyhow::Result;
use xshell::Shell;

use crate::{
    graph::Graph,
    monorepo::{Monorepo, Package},
    output, publish,
    verify::{self, Found},
};

/// The packages a release is made of, and which of them this run uploads.
pub struct Scope {
    /// The packages that are the release itself (core and the umbrella; none for independent
    /// packages): one of them held back, nothing is uploaded.
    ends: Vec<usize>,
    /// What every check installs besides the uploads: the umbrella, if the release has one.
    umbrella: Option<usize>,
    /// Core, the umbrella and every package whose version changed since the previous release.
    pub release: BTreeSet<usize>,
    /// Those of `release` that the index lacks: what this run uploads unless held back.
    pub uploads: BTreeSet<usize>,
    /// Those of `release` that install together with it (not apart, see [`verify::Members`]).
    pub together: BTreeSet<usize>,
    graph: Graph,
}

/// Why a package is left out of this run's uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `--hold`.
    OnPurpose,
    /// A requirement on a package of the monorepo that nothing satisfies (known before building).
    Unsatisfiable(String),
    Build(String),
    Install(String),
    Import {
        message: String,
        traceback: String,
    },
}

impl Why {
    /// One line for people.
    pub fn line(&self) -> String {
        let first = |s: &str| s.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string();
        match self {
            Why::OnPurpose => "held on purpose (--hold)".into(),
            Why::Unsatisfiable(m) => format!("it cannot install: {m}"),
            Why::Build(m) => format!("its build failed: {}", first(m)),
            Why::Install(m) => format!("it does not install: {}", first(m)),
            Why::Import { message, .. } => format!("its import fails: {message}"),
        }
    }

    /// Everything known of the failure, for the error that holds back the release.
    fn detail(&self) -> String {
        match self {
            Why::Build(m) | Why::Install(m) => m.clone(),
            Why::Import { message, traceback } => format!("{}\n{message}", traceback.trim_end()),
            other => other.line(),
        }
    }
}

/// What is held back: the packages that failed (or were held on purpose), and with them every
/// package of the release that requires one.
#[derive(Debug, Default)]
pub struct Holds {
    pub roots: BTreeMap<usize, Why>,
    /// Every package held back, with the roots behind it (a root's own entry holds itself).
    pub held: BTreeMap<usize, BTreeSet<usize>>,
}

impl Holds {
    pub fn add(&mut self, scope: &Scope, i: usize, why: Why) {
        self.roots.entry(i).or_insert(why);
        let roots = self.roots.keys().copied().collect();
        self.held = scope.graph.held_back(&scope.release, &roots);
    }

    pub fn contains(&self, i: usize) -> bool {
        self.held.contains_key(&i)
    }

    /// Whether core or the umbrella, to be uploaded, is held back: then nothing is. (One that an
    /// earlier run published is out already, whatever this run holds back.)
    pub fn release_held(&self, scope: &Scope) -> bool {
        scope.ends().any(|i| self.contains(i))
    }

    /// Whether anything is held back by a failure rather than on purpose: the run exits 1.
    pub fn failed(&self) -> bool {
        self.roots.values().any(|w| *w != Why::OnPurpose)
    }

    /// Why `i` is held back, in a line.
    pub fn line(&self, packages: &[Package], i: usize) -> String {
        if let Some(why) = self.roots.get(&i) {
            return why.line();
        }
        let roots = self.held.get(&i).into_iter().flatten();
        let names: Vec<String> = roots.map(|&r| format!("`{}`", packages[r].display_name)).collect();
        format!("it requires {}, held back", names.join(" and "))
    }

    /// The error when core or the umbrella is held back: every root behind them, in full.
    pub fn release_error(&self, scope: &Scope, packages: &[Package]) -> anyhow::Error {
        let mut behind: BTreeSet<usize> = BTreeSet::new();
        for i in scope.ends() {
            behind.extend(self.held.get(&i).into_iter().flatten().copied());
        }
        let details: Vec<String> = behind.iter().map(|r| self.roots[r].detail()).collect();
        let names: Vec<String> =
            scope.ends().filter(|&i| self.contains(i)).map(|i| format!("`{}`", packages[i].display_name)).collect();
        let is = if names.len() == 1 { "is" } else { "are" };
        anyhow::anyhow!(
            "{}\nthe release would not install, so nothing was uploaded ({} {is} held back); fix it and rerun (unchanged builds are reused)",
            details.join("\n"),
            names.join(" and ")
        )
    }
}

impl Scope {
    /// `ends`: core and the umbrella; `missing`: the packages of `release` besides core that
    /// the index lacks.
    pub fn new(
        packages: &[Package],
        ends: (usize, usize),
        release: BTreeSet<usize>,
        missing: &[usize],
        core_there: bool,
        members: &verify::Members,
    ) -> Scope {
        let (core, umbrella) = ends;
        let mut uploads: BTreeSet<usize> = missing.iter().copied().collect();
        if !core_there {
            uploads.insert(core);
        }
        let (ends, umbrella) = (vec![core, umbrella], Some(umbrella));
        Scope { ends, umbrella, release, uploads, together: members.together.clone(), graph: Graph::new(packages) }
    }

    /// A release of independent packages: `uploads`, the packages whose version the index
    /// lacks, are the release.
    pub fn independent(packages: &[Package], uploads: BTreeSet<usize>, members: &verify::Members) -> Scope {
        let together = members.together.clone();
        Scope {
            ends: Vec::new(),
            umbrella: None,
            release: uploads.clone(),
            uploads,
            together,
            graph: Graph::new(packages),
        }
    }

    /// Core and the umbrella, those of them this run uploads.
    fn ends(&self) -> impl Iterator<Item = usize> + '_ {
        self.ends.iter().copied().filter(|i| self.uploads.contains(i))
    }

    /// What this run uploads: the uploads not held back.
    pub fn uploading(&self, holds: &Holds) -> BTreeSet<usize> {
        self.uploads.iter().copied().filter(|&i| !holds.contains(i)).collect()
    }

    /// What the check imports: each upload not held back and the umbrella, those that install
    /// with the release.
    pub fn proven(&self, holds: &Holds) -> BTreeSet<usize> {
        let mut proven = self.uploading(holds);
        proven.extend(self.umbrella);
        proven.retain(|i| self.together.contains(i));
        proven
    }

    /// What is installed with `proven`: they and every package of the release they require,
    /// directly or through others.
    pub fn installed(&self, proven: &BTreeSet<usize>) -> BTreeSet<usize> {
        let mut seen = proven.clone();
        let mut stack: Vec<usize> = proven.iter().copied().collect();
        while let Some(i) = stack.pop() {
            for &d in self.graph.dependencies(i) {
                if self.release.contains(&d) && self.together.contains(&d) && seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        seen
    }

    /// What `uv pip install` is given for `set`: `name==version` of each.
    pub fn pins(&self, packages: &[Package], set: &BTreeSet<usize>) -> Vec<String> {
        set.iter().map(|&i| format!("{}=={}", packages[i].name, packages[i].version)).collect()
    }

    /// The distributions of `set`, whose modules are imported.
    pub fn dists(&self, packages: &[Package], set: &BTreeSet<usize>) -> Vec<String> {
        set.iter().map(|&i| packages[i].name.to_string()).collect()
    }
}

/// What is held back before anything runs: the packages `--hold` names and the uploads whose
/// requirement nothing satisfies, with their dependants. When that holds back core or the
/// umbrella, the release cannot go: each cause is a problem, and nothing runs.
pub fn planned(
    packages: &[Package],
    scope: &Scope,
    members: &verify::Members,
    on_purpose: &[usize],
) -> (Holds, Vec<String>) {
    let mut holds = Holds::default();
    for &i in on_purpose {
        holds.add(scope, i, Why::OnPurpose);
    }
    for (&i, why) in members.cannot.iter().filter(|(i, _)| scope.uploads.contains(i)) {
        holds.add(scope, i, Why::Unsatisfiable(why.clone()));
    }
    let mut problems = Vec::new();
    if !holds.release_held(scope) {
        return (holds, problems);
    }
    let mut behind: BTreeSet<usize> = BTreeSet::new();
    for i in scope.ends() {
        behind.extend(holds.held.get(&i).into_iter().flatten().copied());
    }
    let cannot: Vec<&str> = behind
        .iter()
        .filter_map(|r| match &holds.roots[r] {
            Why::Unsatisfiable(m) => Some(m.as_str()),
            _ => None,
        })
        .collect();
    if !cannot.is_empty() {
        problems.push(format!(
            "the release would not install:\n    {}\n  fix the requirement or ship the version it needs, and rerun",
            cannot.join("\n    ")
        ));
    }
    for r in behind.iter().filter(|r| holds.roots[r] == Why::OnPurpose) {
        let needs: Vec<String> = scope
            .ends()
            .filter(|&i| holds.held.get(&i).is_some_and(|b| b.contains(r)))
            .map(|i| format!("`{}`", packages[i].display_name))
            .collect();
        problems.push(format!(
            "`--hold {}` would hold back {} (core and the umbrella are the release, and so is what they require); hold only other packages",
            packages[*r].display_name,
            needs.join(" and ")
        ));
    }
    (holds, problems)
}

/// Where the check installs from, and how long it retries an install the index may not serve yet.
pub struct Source<'a> {
    pub simple: &'a str,
    pub wait: Duration,
}

/// The install check: builds what this run uploads, installs it with the umbrella from those
/// builds plus the index, imports it. Each failure holds back its package and dependants (an
/// install that fails as a whole is tried package by package to find which); core or the
/// umbrella held back is the error, and nothing is uploaded.
pub fn check(
    sh: &Shell,
    repo: &Monorepo,
    scope: &Scope,
    holds: &mut Holds,
    options: &publish::Options,
    from: &Source,
) -> Result<()> {
    let packages = &repo.packages;
    let scratch = crate::scratch::Scratch::new("verify")?;
    // Each round holds back at least one package, or ends the check.
    let mut round = 0;
    loop {
        round += 1;
        if holds.release_held(scope) {
            return Err(holds.release_error(scope, packages));
        }
        // Independent packages, every one held back: nothing left to check.
        if scope.uploading(holds).is_empty() {
            return Ok(());
        }
        let proven = scope.proven(holds);
        let installed = scope.installed(&proven);
        // Uploads that install only apart from the release are built (and held back when that
        // fails), not installed with it.
        let apart = scope.uploading(holds).into_iter().filter(|i| !scope.together.contains(i));
        let to_build: BTreeSet<usize> = installed.intersection(&scope.uploads).copied().chain(apart).collect();
        let built = publish::build_only(sh, repo, &to_build, options)?;
        if !built.failed.is_empty() {
            for (i, why) in built.failed {
                hold(holds, scope, packages, i, Why::Build(why));
            }
            continue;
        }
        let dirs: Vec<PathBuf> = built.dirs.into_values().collect();
        let sources = verify::Sources { simple: from.simple, built: &dirs };
        let dir = scratch.join(format!("round-{round}"));
        match verify::check(
            &dir,
            &sources,
            &scope.pins(packages, &installed),
            &scope.dists(packages, &proven),
            from.wait,
        )? {
            Found::Ok => return Ok(()),
            Found::NotImported(failed) => {
                let of = |f: &verify::ImportFailure| {
                    proven.iter().copied().find(|&i| packages[i].name.to_string() == f.dist)
                };
                if failed.iter().any(|f| of(f).is_none()) {
                    return Err(anyhow::anyhow!("{}", verify::import_error(&failed)));
                }
                for f in failed {
                    let i = of(&f).expect("checked above");
                    hold(holds, scope, packages, i, Why::Import { message: f.message, traceback: f.traceback });
                }
                // What imported beside the failures does not require them: proven as it is.
                return if holds.release_held(scope) { Err(holds.release_error(scope, packages)) } else { Ok(()) };
            }
            Found::NotInstalled(e) => {
                let alone = isolate(&scratch.join(format!("round-{round}-alone")), scope, packages, &proven, &sources)?;
                if alone.is_empty() {
                    // Each installs on its own, not together: no one package to hold back.
                    return Err(
                        e.context("the release would not install, so nothing was uploaded; the resolver said why")
                    );
                }
                for (i, why) in alone {
                    hold(holds, scope, packages, i, Why::Install(why));
                }
            }
        }
    }
}

/// Installs each of `proven` alone with what it requires: those that fail, with the resolver's message.
fn isolate(
    dir: &std::path::Path,
    scope: &Scope,
    packages: &[Package],
    proven: &BTreeSet<usize>,
    sources: &verify::Sources,
) -> Result<Vec<(usize, String)>> {
    output::status("isolating", "the release does not install together: installing each package on its own");
    let mut failed = Vec::new();
    for &i in proven {
        let one = BTreeSet::from([i]);
        let installed = scope.installed(&one);
        let dir = dir.join(packages[i].name.to_string());
        if let Found::NotInstalled(e) =
            verify::check(&dir, sources, &scope.pins(packages, &installed), &[], Duration::ZERO)?
        {
            failed.push((i, format!("{e:#}")));
        }
    }
    Ok(failed)
}

fn hold(holds: &mut Holds, scope: &Scope, packages: &[Package], i: usize, why: Why) {
    let p = &packages[i];
    output::warn(&format!("held back `{}` {}: {}", p.display_name, p.version, why.line()));
    holds.add(scope, i, why);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Members;

    #[test]
    fn the_check_proves_the_uploads_with_the_umbrella_and_what_they_require() {
        let pkg = |name: &str, deps: &[&str]| Package::sample(name, name, "1.0", deps);
        // core <- umbrella -> llm (on the index); core <- vs (uploaded) <- pack (uploaded); old (apart).
        let packages = vec![
            pkg("core", &[]),
            pkg("umbrella", &["core", "llm"]),
            pkg("llm", &["core"]),
            pkg("vs", &["core"]),
            pkg("pack", &["vs"]),
            pkg("old", &["core"]),
        ];
        let members = Members { together: [0, 1, 2, 3, 4].into_iter().collect(), ..Members::default() };
        // Core is on the index (an earlier run); llm too (published on merge).
        let scope = Scope::new(&packages, (0, 1), (0..6).collect(), &[1, 3, 4, 5], true, &members);
        let mut holds = Holds::default();
        let names = |set: &BTreeSet<usize>| set.iter().map(|&i| packages[i].name.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&scope.proven(&holds)), ["umbrella", "vs", "pack"]);
        assert_eq!(names(&scope.installed(&scope.proven(&holds))), ["core", "umbrella", "llm", "vs", "pack"]);
        holds.add(&scope, 3, Why::Install("no".into()));
        assert_eq!(names(&scope.uploading(&holds)), ["umbrella", "old"]);
        assert_eq!(names(&scope.proven(&holds)), ["umbrella"]);
        // llm fails too, but is on the index: it is out already, and holds back what requires it.
        holds.add(&scope, 2, Why::Import { message: "m".into(), traceback: String::new() });
        assert!(holds.release_held(&scope), "the umbrella requires llm");
    }
}
