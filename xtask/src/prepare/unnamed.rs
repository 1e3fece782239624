//! `prepare` and `release prepare` without paths in a monorepo that has no release group (no
//! umbrella and core): there is nothing to release by default, so the usage error says what to
//! do instead: which packages changed what they ship since their last tag (or were never
//! tagged), and the command that releases them, ready to copy.

use std::collections::BTreeMap;

use anyhow::Result;
use xshell::Shell;

use crate::{git, monorepo::Monorepo, version::BumpChoice};

/// A package with changes since its last release.
#[derive(Debug, PartialEq, Eq)]
struct Pending {
    name: String,
    dir: String,
    /// Its last tag and how many of its files differ from it, or (with the pattern no tag
    /// matched) `Err` when it was never released.
    since: Result<(String, usize), String>,
}

/// The monorepo, when a command without paths has nothing to release here: a configuration
/// (or uv workspace) that names no umbrella and no core, and no such pair among the packages.
/// With the LlamaIndex default, only `release.toml` and the root `pyproject.toml` are read.
pub fn applies(sh: &Shell) -> Result<Option<Monorepo>> {
    let root = sh.current_dir();
    let mut config = crate::config::Config::load(&root)?;
    if !config.include_set {
        crate::workspace::apply(&root, &mut config)?;
    }
    if config.umbrella_required || config.core_required {
        return Ok(None);
    }
    let repo = Monorepo::load(&root)?;
    Ok(repo.lockstep().is_empty().then_some(repo))
}

/// The usage error of `command` (`prepare`, `release prepare`) without paths here. What changed
/// is one `git diff` per commit that holds a last release (packages released together share
/// one), not a history walk per package: the error stays quick on thousands of packages.
pub fn error(sh: &Shell, repo: &Monorepo, command: &str, bump: BumpChoice) -> Result<anyhow::Error> {
    let tags = git::merged_tags(sh)?;
    let commits = git::tag_commits(sh)?;
    let mut by_commit: BTreeMap<&str, Vec<(usize, String)>> = BTreeMap::new();
    let mut pending = Vec::new();
    for (i, p) in repo.packages.iter().enumerate() {
        if p.version_error.is_some() {
            continue;
        }
        match repo.last_release(i, &tags) {
            Some((tag, _)) => match commits.get(&tag) {
                Some(commit) => by_commit.entry(commit.as_str()).or_default().push((i, tag)),
                None => continue,
            },
            None => {
                let since = Err(repo.tag_pattern(i).0);
                pending.push((i, Pending { name: p.display_name.clone(), dir: p.dir.clone(), since }));
            }
        }
    }
    // What a package ships (`bumps.unshipped`): a relocked or retested package has nothing new.
    let shipped = crate::shipped::Shipped::new(repo);
    for (commit, released) in by_commit {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for f in git::changed_since(sh, commit)? {
            if let Some(owner) = shipped.owner(&f) {
                *counts.entry(owner).or_default() += 1;
            }
        }
        for (i, tag) in released {
            let p = &repo.packages[i];
            let files = counts.get(&i).copied().unwrap_or(0);
            if files > 0 {
                let since = Ok((tag, files));
                let pending_one = Pending { name: p.display_name.clone(), dir: p.dir.clone(), since };
                pending.push((i, pending_one));
            }
        }
    }
    pending.sort_by_key(|(i, _)| *i);
    let pending: Vec<Pending> = pending.into_iter().map(|(_, p)| p).collect();
    Ok(crate::usage::usage(render(command, bump, &pending)))
}

fn render(command: &str, bump: BumpChoice, pending: &[Pending]) -> String {
    let bump = match bump {
        BumpChoice::Auto => "auto".to_string(),
        BumpChoice::Kind(k) => k.to_string(),
    };
    let mut out = format!(
        "this monorepo has no release group (no umbrella and core in release.toml), so `{command}` releases the packages it is given: `cargo xtask {command} PATH… --bump {bump}`"
    );
    if pending.is_empty() {
        out += "; no package changed what it ships since its last tag, so there is nothing to release";
        return out;
    }
    let n = pending.len();
    out += &format!(
        "\n{n} package{} changed what {} since {} last tag:",
        crate::output::plural(n),
        if n == 1 { "it ships" } else { "they ship" },
        if n == 1 { "its" } else { "their" }
    );
    for p in pending {
        let what = match &p.since {
            Ok((tag, n)) => format!("{n} file{} changed since `{tag}`", crate::output::plural(*n)),
            Err(pattern) => format!("never released (no tag matches `{pattern}`)"),
        };
        out += &format!("\n  {} ({}): {what}", p.name, p.dir);
    }
    let dirs: Vec<&str> = pending.iter().map(|p| p.dir.as_str()).collect();
    out += &format!("\nto release them all: cargo xtask {command} {} --bump {bump}", dirs.join(" "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Bump;

    #[test]
    fn the_error_lists_what_changed_since_each_tag_and_the_command_that_releases_it() {
        let pending = [
            Pending {
                name: "acme-client".into(),
                dir: "libs/client".into(),
                since: Ok(("acme-client-v0.4.3".into(), 1)),
            },
            Pending { name: "acme-new".into(), dir: "libs/new".into(), since: Err("{name}-v{version}".into()) },
        ];
        expect_test::expect![[r#"
            this monorepo has no release group (no umbrella and core in release.toml), so `release prepare` releases the packages it is given: `cargo xtask release prepare PATH… --bump auto`
            2 packages changed what they ship since their last tag:
              acme-client (libs/client): 1 file changed since `acme-client-v0.4.3`
              acme-new (libs/new): never released (no tag matches `{name}-v{version}`)
            to release them all: cargo xtask release prepare libs/client libs/new --bump auto"#]]
        .assert_eq(&render("release prepare", BumpChoice::Auto, &pending));
        expect_test::expect!["this monorepo has no release group (no umbrella and core in release.toml), so `prepare` releases the packages it is given: `cargo xtask prepare PATH… --bump minor`; no package changed what it ships since its last tag, so there is nothing to release"]
            .assert_eq(&render("prepare", BumpChoice::Kind(Bump::Minor), &[]));
    }
}
