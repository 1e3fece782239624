//! The internal dependency graph: which package of the monorepo depends on which.
//! Indices are positions in [`Monorepo::packages`](crate::monorepo::Monorepo).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{bail, Result};

use crate::monorepo::Package;

#[derive(Debug)]
pub struct Graph {
    /// `deps[i]`: the packages that package `i` requires (optional dependencies left out).
    deps: Vec<Vec<usize>>,
    /// `rdeps[i]`: the packages that require package `i`.
    rdeps: Vec<Vec<usize>>,
    /// `users[i]`: the packages that depend on package `i`, optionally, to be developed and
    /// tested (`Package::dev_dependencies`), or to run.
    users: Vec<Vec<usize>>,
}

impl Graph {
    /// Optional dependencies (an extra's) count for who is affected by a change, but not for
    /// the order of publishing: core offering an extra that installs an integration which
    /// requires core is not a cycle.
    pub fn new(packages: &[Package]) -> Graph {
        let index: HashMap<_, _> = packages.iter().enumerate().map(|(i, p)| (&p.name, i)).collect();
        let edges = |p: &Package, i: usize, optional: bool| {
            let mut mine: Vec<usize> = p
                .dependencies
                .iter()
                .filter(|d| optional || !d.optional)
                .filter_map(|d| index.get(&d.name).copied())
                .filter(|&j| j != i)
                .collect();
            mine.sort_unstable();
            mine.dedup();
            mine
        };
        let mut deps = vec![Vec::new(); packages.len()];
        let mut rdeps = vec![Vec::new(); packages.len()];
        let mut users = vec![Vec::new(); packages.len()];
        for (i, p) in packages.iter().enumerate() {
            // Development edges (dependency groups, uv sources) count for testing only.
            let mut used = edges(p, i, true);
            used.extend(p.dev_dependencies.iter().filter_map(|d| index.get(d).copied()).filter(|&j| j != i));
            used.sort_unstable();
            used.dedup();
            for j in used {
                users[j].push(i);
            }
            deps[i] = edges(p, i, false);
            for &j in &deps[i] {
                rdeps[j].push(i);
            }
        }
        Graph { deps, rdeps, users }
    }

    pub fn dependencies(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// The packages that depend on any of `of`, directly or through others (`of` excluded).
    pub fn dependants(&self, of: &BTreeSet<usize>, transitive: bool) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = of.iter().copied().collect();
        while let Some(i) = stack.pop() {
            for &d in &self.users[i] {
                if !of.contains(&d) && seen.insert(d) && transitive {
                    stack.push(d);
                }
            }
        }
        seen
    }

    /// What a release holds back when `failed` cannot go out: each failed package and every
    /// package of `release` that requires one, directly or through others, mapped to the failed
    /// packages behind it (a failed package's own entry holds itself). Required edges only: an
    /// extra that installs a failed package does not hold back the package offering it, which
    /// installs without it. The walk crosses packages outside `release` (a dependant of a
    /// dependant is still a dependant); only members of `release` are returned. Pure: the
    /// install check of `release publish` and per-package releases hold back by this one rule.
    pub fn held_back(&self, release: &BTreeSet<usize>, failed: &BTreeSet<usize>) -> BTreeMap<usize, BTreeSet<usize>> {
        let mut held: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for &f in failed {
            let mut seen = BTreeSet::from([f]);
            let mut stack = vec![f];
            while let Some(i) = stack.pop() {
                for &d in &self.rdeps[i] {
                    if seen.insert(d) {
                        stack.push(d);
                    }
                }
            }
            for i in seen.into_iter().filter(|i| release.contains(i) || *i == f) {
                held.entry(i).or_default().insert(f);
            }
        }
        held
    }

    /// `subset` in waves: every package comes after the packages of `subset` it depends on.
    /// Dependencies outside `subset` are taken as already available. A cycle is an error that
    /// names its members.
    pub fn waves(&self, subset: &BTreeSet<usize>, packages: &[Package]) -> Result<Vec<Vec<usize>>> {
        let mut pending: HashMap<usize, usize> =
            subset.iter().map(|&i| (i, self.deps[i].iter().filter(|d| subset.contains(d)).count())).collect();
        let mut waves = Vec::new();
        while !pending.is_empty() {
            let mut wave: Vec<usize> = pending.iter().filter(|(_, &n)| n == 0).map(|(&i, _)| i).collect();
            if wave.is_empty() {
                let mut members: Vec<&str> = pending.keys().map(|&i| packages[i].display_name.as_str()).collect();
                members.sort_unstable();
                bail!(
                    "the internal dependencies form a cycle among: {}; remove one of these dependencies",
                    members.join(", ")
                );
            }
            wave.sort_unstable();
            for &i in &wave {
                pending.remove(&i);
                for d in &self.rdeps[i] {
                    if let Some(n) = pending.get_mut(d) {
                        *n -= 1;
                    }
                }
            }
            waves.push(wave);
        }
        Ok(waves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirement::Requirement;

    fn pkg(name: &str, deps: &[&str]) -> Package {
        Package::sample(name, name, "1.0", deps)
    }

    #[test]
    fn dependants_and_waves() {
        // core <- emb <- vs <- pack;  core <- llm;  other stands alone.
        let packages = vec![
            pkg("core", &[]),
            pkg("emb", &["core>=1", "requests"]),
            pkg("vs", &["Core", "emb~=1.0"]),
            pkg("pack", &["vs"]),
            pkg("llm", &["core"]),
            pkg("other", &[]),
        ];
        let g = Graph::new(&packages);
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(g.dependants(&set(&[1]), false), set(&[2]));
        assert_eq!(g.dependants(&set(&[1]), true), set(&[2, 3]));
        assert_eq!(g.dependants(&set(&[0]), true), set(&[1, 2, 3, 4]));
        assert_eq!(
            g.waves(&set(&[0, 1, 2, 3, 4, 5]), &packages).unwrap(),
            vec![vec![0, 5], vec![1, 4], vec![2], vec![3]]
        );
        // Outside the subset, dependencies count as available.
        assert_eq!(g.waves(&set(&[2, 3]), &packages).unwrap(), vec![vec![2], vec![3]]);
    }

    #[test]
    fn optional_dependencies_make_no_cycle() {
        // Core offers an extra that installs an integration, which requires core.
        let mut core = pkg("core", &[]);
        core.dependencies.push(Requirement { optional: true, ..Requirement::parse("llm>=1").unwrap() });
        let packages = vec![core, pkg("llm", &["core>=1"])];
        let g = Graph::new(&packages);
        let all: BTreeSet<usize> = (0..2).collect();
        assert_eq!(g.waves(&all, &packages).unwrap(), vec![vec![0], vec![1]]);
        assert_eq!(g.dependencies(0), &[] as &[usize]);
        // A change to the integration still affects core, whose extra installs it.
        assert_eq!(g.dependants(&[1].into_iter().collect(), false), [0].into_iter().collect());
    }

    #[test]
    fn a_failure_holds_back_itself_and_what_requires_it() {
        // core <- emb <- vs <- pack;  core <- llm;  core offers an extra installing `other`.
        let mut core = pkg("core", &[]);
        core.dependencies.push(Requirement { optional: true, ..Requirement::parse("other>=1").unwrap() });
        let packages = vec![
            core,
            pkg("emb", &["core>=1"]),
            pkg("vs", &["emb"]),
            pkg("pack", &["vs"]),
            pkg("llm", &["core"]),
            pkg("other", &[]),
        ];
        let g = Graph::new(&packages);
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<_>>();
        let shown = |held: BTreeMap<usize, BTreeSet<usize>>| {
            held.iter()
                .map(|(i, why)| {
                    let why: Vec<&str> = why.iter().map(|&f| packages[f].display_name.as_str()).collect();
                    format!("{} ({})", packages[*i].display_name, why.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        // `emb` is not released; its dependant `vs` is, and `pack` through it.
        assert_eq!(shown(g.held_back(&set(&[0, 2, 3, 4, 5]), &set(&[1]))), "emb (emb); vs (emb); pack (emb)");
        // An extra's package failing holds back nothing else.
        assert_eq!(shown(g.held_back(&set(&[0, 5]), &set(&[5]))), "other (other)");
        // Two failures: what requires both names both.
        assert_eq!(
            shown(g.held_back(&set(&[0, 1, 2, 3, 4]), &set(&[0, 2]))),
            "core (core); emb (core); vs (core, vs); pack (core, vs); llm (core)"
        );
        assert!(g.held_back(&set(&[0, 1]), &set(&[])).is_empty());
    }

    #[test]
    fn cycles_name_their_members() {
        let packages = vec![pkg("a", &["b"]), pkg("b", &["c"]), pkg("c", &["a"]), pkg("d", &[])];
        let g = Graph::new(&packages);
        let all = (0..4).collect();
        let err = g.waves(&all, &packages).unwrap_err().to_string();
        assert_eq!(err, "the internal dependencies form a cycle among: a, b, c; remove one of these dependencies");
    }
}
