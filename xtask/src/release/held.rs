//! What a release holds back: the packages `--hold` names, and what was held back as people and
//! CI read it (lines, a step-summary table, JSON, the run's verdict), each package with why and
//! the command that releases it after a fix.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::install::{Holds, Scope, Why};
use crate::usage::usage;
use crate::{
    flags,
    monorepo::{Monorepo, Package},
    output,
};

/// The command that releases what was held back: `release publish` again at the release
/// commit, `--from-tag` the previous release so that it runs wherever the branch has moved
/// since (independent packages have none: each package's own version says what is left), with
/// this run's index and the holds that stay.
pub struct Rerun {
    base: String,
    /// The release commit, shortened.
    at: String,
    /// Each package held on purpose, as `--hold` names it.
    on_purpose: Vec<(usize, String)>,
}

impl Rerun {
    pub fn new(flags: &flags::Release, previous: Option<&str>, at: &str, on_purpose: Vec<(usize, String)>) -> Rerun {
        let mut base = "cargo xtask release publish".to_string();
        if let Some(previous) = previous {
            base += &format!(" --from-tag {previous}");
        }
        if let Some(name) = &flags.index {
            base += &format!(" --index {name}");
        }
        if let Some(url) = &flags.index_url {
            base += &format!(" --index-url {}", crate::url::shown(&url.0));
        }
        if let Some(url) = &flags.publish_url {
            base += &format!(" --publish-url {}", crate::url::shown(&url.0));
        }
        if flags.offline {
            base += " --offline";
        }
        Rerun::with(base, at, on_purpose)
    }

    /// `base`: the command without `--hold`.
    fn with(base: String, at: &str, on_purpose: Vec<(usize, String)>) -> Rerun {
        Rerun { base, at: at.to_string(), on_purpose }
    }

    /// The command for `i`: the holds on purpose that are not behind it stay.
    pub fn command(&self, holds: &Holds, i: usize) -> String {
        let behind = holds.held.get(&i).cloned().unwrap_or_default();
        let mut cmd = self.base.clone();
        for (_, arg) in self.on_purpose.iter().filter(|(p, _)| !behind.contains(p)) {
            cmd += &format!(" --hold {arg}");
        }
        cmd
    }
}

/// The packages this run would have uploaded that are held back, in the monorepo's order.
fn listed(scope: &Scope, holds: &Holds) -> BTreeSet<usize> {
    holds.held.keys().copied().filter(|i| scope.uploads.contains(i)).collect()
}

/// The plan's and the run's text: a line per package, why, and the command under it.
pub fn text(packages: &[Package], scope: &Scope, holds: &Holds, rerun: &Rerun) -> String {
    let list = listed(scope, holds);
    if list.is_empty() {
        return String::new();
    }
    let mut out = format!("Held back, not uploaded ({}):\n", list.len());
    for i in list {
        let p = &packages[i];
        out += &format!("  {} {}: {}\n", p.display_name, p.version, holds.line(packages, i));
        let when = if holds.roots.get(&i) == Some(&Why::OnPurpose) { "" } else { " after a fix" };
        out += &format!("    release it{when}, at the release commit {}: {}\n", rerun.at, rerun.command(holds, i));
    }
    out
}

/// The step summary's table.
pub fn markdown(packages: &[Package], scope: &Scope, holds: &Holds, rerun: &Rerun) -> String {
    let list = listed(scope, holds);
    if list.is_empty() {
        return String::new();
    }
    let cell = |s: &str| s.replace('|', "\\|");
    let mut md = format!(
        "\n#### Held back, not uploaded\n\nRelease each after a fix at the release commit {}.\n\n| Package | Version | Why | Command |\n| --- | --- | --- | --- |\n",
        rerun.at
    );
    for i in list {
        let p = &packages[i];
        md += &format!(
            "| `{}` | {} | {} | `{}` |\n",
            p.display_name,
            p.version,
            cell(&holds.line(packages, i)),
            cell(&rerun.command(holds, i))
        );
    }
    md
}

/// `--json`'s `held`: one object per package.
pub fn json(packages: &[Package], scope: &Scope, holds: &Holds, rerun: &Rerun) -> Vec<Value> {
    listed(scope, holds)
        .into_iter()
        .map(|i| {
            let p = &packages[i];
            let behind: Vec<&str> =
                holds.held[&i].iter().filter(|&&r| r != i).map(|&r| packages[r].display_name.as_str()).collect();
            json!({
                "name": p.display_name,
                "version": p.version.to_string(),
                "path": p.dir,
                "why": holds.line(packages, i),
                "on_purpose": holds.roots.get(&i) == Some(&Why::OnPurpose),
                "requires_held": behind,
                "command": rerun.command(holds, i),
                "at": rerun.at,
            })
        })
        .collect()
}

/// The packages `--hold` names (a name or a directory), each with the directory a rerun's
/// command gives; one the run does not upload is only a warning.
pub fn asked(repo: &Monorepo, scope: &Scope, asked: &[String]) -> Result<Vec<(usize, String)>> {
    let mut found = Vec::new();
    for arg in asked {
        let name = crate::requirement::PackageName::new(arg);
        let by_name = repo.packages.iter().position(|p| p.name == name);
        let by_dir = || repo.relative(arg).ok().and_then(|d| repo.at_dir(&d)).map(|p| repo.index_of(p));
        let Some(i) = by_name.or_else(by_dir) else {
            return Err(usage(format!(
                "`--hold {arg}` names no package of the monorepo; give a package's name or directory"
            )));
        };
        let p = &repo.packages[i];
        if !scope.uploads.contains(&i) {
            output::warn(&format!(
                "`--hold {arg}`: this release does not upload `{}` {}; nothing to hold",
                p.display_name, p.version
            ));
            continue;
        }
        found.push((i, p.dir.clone()));
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// The packages held back, with why and the command that releases each, unless the release
/// itself is held (its error says why).
pub fn shown(packages: &[Package], scope: &Scope, holds: &Holds, rerun: &Rerun) -> String {
    if holds.release_held(scope) {
        return String::new();
    }
    text(packages, scope, holds, rerun)
}

/// A run that held a package back for a failure fails, after everything else went out; one
/// held back only on purpose succeeds.
pub fn verdict(packages: &[Package], scope: &Scope, holds: &Holds, dry_run: bool) -> Result<()> {
    let listed: Vec<String> =
        listed(scope, holds).into_iter().map(|i| format!("`{}`", packages[i].display_name)).collect();
    if listed.is_empty() {
        return Ok(());
    }
    if !holds.failed() {
        output::note(&format!("held back on purpose (--hold): {}", listed.join(", ")));
        return Ok(());
    }
    bail!(
        "{} held back: {}; the rest of the release {}; release them after a fix with the command shown for each",
        count(listed.len()),
        listed.join(", "),
        if dry_run { "would go out" } else { "went out" }
    )
}

fn count(n: usize) -> String {
    format!("{n} package{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{release::install::Why, verify::Members};

    #[test]
    fn each_package_held_back_says_why_and_how_to_release_it() {
        let pkg = |dir: &str, name: &str, deps: &[&str]| Package::sample(dir, name, "0.5.3", deps);
        let packages = vec![
            pkg("core", "llama-index-core", &[]),
            pkg(".", "llama-index", &["llama-index-core"]),
            pkg("vs/chroma", "llama-index-vector-stores-chroma", &["llama-index-core"]),
            pkg("packs/chroma", "llama-index-packs-chroma", &["llama-index-vector-stores-chroma"]),
            pkg("llms/x", "llama-index-llms-x", &["llama-index-core"]),
        ];
        let members = Members { together: (0..5).collect(), ..Members::default() };
        let scope = Scope::new(&packages, (0, 1), (0..5).collect(), &[1, 2, 3, 4], false, &members);
        let mut holds = Holds::default();
        let failure = Why::Import {
            message: "`llama-index-vector-stores-chroma` installs, but `import llama_index.vector_stores.chroma` fails: ImportError: cannot import name 'Settings' from 'chromadb'".into(),
            traceback: "Traceback (most recent call last):\n…".into(),
        };
        holds.add(&scope, 2, failure);
        holds.add(&scope, 4, Why::OnPurpose);
        assert!(holds.failed() && !holds.release_held(&scope));
        let rerun = Rerun::with(
            "cargo xtask release publish --from-tag v0.14.12".into(),
            "0123456789",
            vec![(4, "llms/x".into())],
        );
        expect_test::expect![[r#"
            Held back, not uploaded (3):
              llama-index-vector-stores-chroma 0.5.3: its import fails: `llama-index-vector-stores-chroma` installs, but `import llama_index.vector_stores.chroma` fails: ImportError: cannot import name 'Settings' from 'chromadb'
                release it after a fix, at the release commit 0123456789: cargo xtask release publish --from-tag v0.14.12 --hold llms/x
              llama-index-packs-chroma 0.5.3: it requires `llama-index-vector-stores-chroma`, held back
                release it after a fix, at the release commit 0123456789: cargo xtask release publish --from-tag v0.14.12 --hold llms/x
              llama-index-llms-x 0.5.3: held on purpose (--hold)
                release it, at the release commit 0123456789: cargo xtask release publish --from-tag v0.14.12
        "#]]
        .assert_eq(&text(&packages, &scope, &holds, &rerun));
        let json = json(&packages, &scope, &holds, &rerun);
        assert_eq!(json[1]["requires_held"], serde_json::json!(["llama-index-vector-stores-chroma"]));
        assert_eq!(json[2]["on_purpose"], true);
        assert!(markdown(&packages, &scope, &holds, &rerun).contains(
            "| `llama-index-packs-chroma` | 0.5.3 | it requires `llama-index-vector-stores-chroma`, held back | `cargo xtask release publish --from-tag v0.14.12 --hold llms/x` |"
        ));
        // Core failing holds back the release: the proof and the umbrella with it.
        holds.add(&scope, 0, Why::Build("no.such.backend".into()));
        assert!(holds.release_held(&scope));
        let err = holds.release_error(&scope, &packages).to_string();
        assert!(err.starts_with("no.such.backend\nthe release would not install, so nothing was uploaded (`llama-index-core` and `llama-index` are held back)"), "{err}");
    }
}
