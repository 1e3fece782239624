//! What a release held back, as people and CI read it (lines, a step-summary table, JSON), each
//! package with why and the command that releases it after a fix. Pure.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::install::{Holds, Scope};
use crate::{flags, monorepo::Package};

/// The command that releases what was held back: `release publish` again at the release
/// commit, `--from-tag` the previous release so that it runs wherever the branch has moved
/// since, with this run's index and the holds that stay.
pub struct Rerun {
    base: String,
    /// The release commit, shortened.
    at: String,
    /// Each package held on purpose, as `--hold` names it.
    on_purpose: Vec<(usize, String)>,
}

impl Rerun {
    pub fn new(flags: &flags::Release, previous: &str, at: &str, on_purpose: Vec<(usize, String)>) -> Rerun {
        let mut base = format!("cargo xtask release publish --from-tag {previous}");
        if let Some(url) = &flags.index_url {
            base += &format!(" --index-url {}", crate::url::shown(&url.0));
        }
        if let Some(url) = &flags.publish_url {
            base += &format!(" --publish-url {}", crate::url::shown(&url.0));
        }
        if flags.offline {
            base += " --offline";
        }
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
        out +=
            &format!("    release it after a fix, at the release commit {}: {}\n", rerun.at, rerun.command(holds, i));
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
                "on_purpose": holds.roots.get(&i) == Some(&super::install::Why::OnPurpose),
                "requires_held": behind,
                "command": rerun.command(holds, i),
                "at": rerun.at,
            })
        })
        .collect()
}
