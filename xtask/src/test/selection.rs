//! Which packages `test` runs, why, and which of the working tree's changed packages each one is
//! tested with. Pure: the changed set and the graph come in, the selection goes out.

use std::{collections::BTreeSet, path::Path};

use anyhow::{Context, Result};

use crate::{
    graph::Graph,
    monorepo::{Monorepo, Package},
    requirement::PackageName,
};

/// Why a package is in the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// It has changes of its own (or was named without `--base-ref`).
    Changed,
    /// Named on the command line, without changes of its own.
    Named,
    /// It depends, directly or not, on these changed packages (indices).
    Dependant,
}

impl Reason {
    pub fn label(&self) -> &'static str {
        match self {
            Reason::Changed => "changed",
            Reason::Named => "named",
            Reason::Dependant => "dependant",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Selected {
    pub package: usize,
    pub reason: Reason,
    /// The changed packages it depends on, directly or transitively, in directory order: their
    /// working-tree builds are installed into its environment. Never itself.
    pub local: Vec<usize>,
}

impl Selected {
    /// A changed package's failures are its own; a dependant's may be old ones.
    pub fn is_changed(&self) -> bool {
        self.reason == Reason::Changed
    }
}

/// The selection: `named` alone (plus their dependants with `with_dependants`), or, when nothing
/// is named, the `changed` packages and everything that depends on them. Dependencies are
/// matched by PEP 503 name (the graph's), never by directory.
pub fn select(
    packages: &[Package],
    graph: &Graph,
    changed: &BTreeSet<usize>,
    named: Option<&BTreeSet<usize>>,
    with_dependants: bool,
) -> Vec<Selected> {
    let mut set: BTreeSet<usize> = named.unwrap_or(changed).clone();
    if named.is_none() || with_dependants {
        set.extend(graph.dependants(&set, true));
    }
    set.into_iter()
        .map(|i| {
            let reason = if changed.contains(&i) {
                Reason::Changed
            } else if named.is_some_and(|n| n.contains(&i)) {
                Reason::Named
            } else {
                Reason::Dependant
            };
            let local = transitive_dependencies(graph, i).intersection(changed).copied().collect();
            Selected { package: i, reason, local }
        })
        .inspect(|s| debug_assert!(!s.local.contains(&s.package) && s.package < packages.len()))
        .collect()
}

/// A selection that `test --dry-run --json` printed, with each package's expected seconds: CI
/// computes it once and hands the same file to every shard.
pub fn read(repo: &Monorepo, file: &Path) -> Result<(Vec<Selected>, Vec<f64>)> {
    let what = || format!("`{}` is not the output of `cargo xtask test --dry-run --json`", file.display());
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).with_context(what)?;
    let by_name = |name: &str| repo.packages.iter().position(|p| p.name == PackageName::new(name));
    let mut selection = Vec::new();
    let mut expected = Vec::new();
    for entry in doc["packages"].as_array().with_context(what)? {
        let path = entry["path"].as_str().with_context(what)?;
        let package = repo.at_dir(path).map(|p| repo.index_of(p)).with_context(|| {
            format!("`{}` selects `{path}`, which is not a package here; select again", file.display())
        })?;
        let reason = match entry["reason"].as_str() {
            Some("changed") => Reason::Changed,
            Some("named") => Reason::Named,
            Some("dependant") => Reason::Dependant,
            _ => return Err(anyhow::anyhow!("{}: `{path}` has no known reason", what())),
        };
        let mut local = Vec::new();
        for name in entry["local_packages"].as_array().with_context(what)? {
            let name = name.as_str().with_context(what)?;
            local.push(by_name(name).with_context(|| format!("`{}` names no package `{name}`", file.display()))?);
        }
        local.sort_unstable();
        selection.push(Selected { package, reason, local });
        expected.push(entry["expected_seconds"].as_f64().unwrap_or(1.0));
    }
    Ok((selection, expected))
}

/// Everything `i` depends on, directly or through others, without `i`.
fn transitive_dependencies(graph: &Graph, i: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![i];
    while let Some(j) = stack.pop() {
        for &d in graph.dependencies(j) {
            if d != i && seen.insert(d) {
                stack.push(d);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(dir: &str, name: &str, deps: &[&str]) -> Package {
        Package::sample(dir, name, "1.0", deps)
    }

    /// Directory names differ from project names, and requirements use other spellings: only
    /// the normalised name links a dependant to what it depends on.
    fn repo() -> Vec<Package> {
        vec![
            pkg("core-dir", "llama-index-core", &[]),
            pkg("emb", "llama_index.embeddings.openai", &["Llama-Index-Core>=0.14"]),
            pkg("store", "llama-index-vector-stores-x", &["llama-index-embeddings-openai>=0.1"]),
            pkg("other", "unrelated", &[]),
            // Depends on a package named like core's *directory*: that is no dependency.
            pkg("trap", "trap", &["core-dir>=1"]),
        ]
    }

    fn summary(selected: &[Selected], packages: &[Package]) -> Vec<String> {
        selected
            .iter()
            .map(|s| {
                let local: Vec<&str> = s.local.iter().map(|&l| packages[l].dir.as_str()).collect();
                format!("{} {} [{}]", packages[s.package].dir, s.reason.label(), local.join(" "))
            })
            .collect()
    }

    #[test]
    fn a_change_selects_dependants_with_the_changed_packages_they_reach() {
        let packages = repo();
        let graph = Graph::new(&packages);
        let changed = BTreeSet::from([0]);
        let got = summary(&select(&packages, &graph, &changed, None, false), &packages);
        assert_eq!(got, ["core-dir changed []", "emb dependant [core-dir]", "store dependant [core-dir]"]);

        // Two changed packages on one path: the store gets both, the embeddings only core.
        let changed = BTreeSet::from([0, 1]);
        let got = summary(&select(&packages, &graph, &changed, None, false), &packages);
        assert_eq!(got, ["core-dir changed []", "emb changed [core-dir]", "store dependant [core-dir emb]"]);
    }

    #[test]
    fn named_packages_alone_unless_with_dependants() {
        let packages = repo();
        let graph = Graph::new(&packages);
        let named = BTreeSet::from([2, 3]);
        // Named without --base-ref: the named packages are the changes.
        let got = summary(&select(&packages, &graph, &named, Some(&named), false), &packages);
        assert_eq!(got, ["store changed []", "other changed []"]);
        // Named with --base-ref that changed core: the store runs with core from the tree.
        let changed = BTreeSet::from([0]);
        let got = summary(&select(&packages, &graph, &changed, Some(&named), false), &packages);
        assert_eq!(got, ["store named [core-dir]", "other named []"]);
        let named = BTreeSet::from([1]);
        let got = summary(&select(&packages, &graph, &named, Some(&named), true), &packages);
        assert_eq!(got, ["emb changed []", "store dependant [emb]"]);
    }
}
