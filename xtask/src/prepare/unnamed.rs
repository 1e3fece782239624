//! `prepare` and `release prepare` without paths in a monorepo that has no release group (no
//! umbrella and core): there is nothing to release by default, so the usage error says what to
//! do instead: which packages have commits since their last tag (or were never tagged), and
//! the command that releases them, ready to copy.

use anyhow::Result;
use xshell::Shell;

use crate::{git, monorepo::Monorepo, version::BumpChoice};

/// A package with commits since its last release.
#[derive(Debug, PartialEq, Eq)]
struct Pending {
    name: String,
    dir: String,
    commits: usize,
    /// Its last tag, or `None` (with the pattern no tag matched) when it was never released.
    since: Result<String, String>,
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

/// The usage error of `command` (`prepare`, `release prepare`) without paths here.
pub fn error(sh: &Shell, repo: &Monorepo, command: &str, bump: BumpChoice) -> Result<anyhow::Error> {
    let tags = git::merged_tags(sh)?;
    let mut pending = Vec::new();
    for (i, p) in repo.packages.iter().enumerate() {
        if p.version_error.is_some() {
            continue;
        }
        let since = repo.last_release(i, &tags).map(|(t, _)| t);
        let range = since.as_ref().map_or_else(|| "HEAD".to_string(), |t| format!("{t}..HEAD"));
        let commits = git::messages(sh, &range, &p.dir)?.len();
        if commits > 0 {
            let since = since.ok_or_else(|| repo.tag_pattern(i).0);
            pending.push(Pending { name: p.display_name.clone(), dir: p.dir.clone(), commits, since });
        }
    }
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
        out += "; no package has commits since its last tag, so there is nothing to release";
        return out;
    }
    let n = pending.len();
    out += &format!(
        "\n{n} package{} {} commits since {} last tag:",
        crate::output::plural(n),
        if n == 1 { "has" } else { "have" },
        if n == 1 { "its" } else { "their" }
    );
    for p in pending {
        let since = match &p.since {
            Ok(tag) => format!(" since `{tag}`"),
            Err(pattern) => format!(", never released (no tag matches `{pattern}`)"),
        };
        out += &format!("\n  {} ({}): {} commit{}{since}", p.name, p.dir, p.commits, crate::output::plural(p.commits));
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
                commits: 1,
                since: Ok("acme-client-v0.4.3".into()),
            },
            Pending {
                name: "acme-new".into(),
                dir: "libs/new".into(),
                commits: 3,
                since: Err("{name}-v{version}".into()),
            },
        ];
        expect_test::expect![[r#"
            this monorepo has no release group (no umbrella and core in release.toml), so `release prepare` releases the packages it is given: `cargo xtask release prepare PATH… --bump auto`
            2 packages have commits since their last tag:
              acme-client (libs/client): 1 commit since `acme-client-v0.4.3`
              acme-new (libs/new): 3 commits, never released (no tag matches `{name}-v{version}`)
            to release them all: cargo xtask release prepare libs/client libs/new --bump auto"#]]
        .assert_eq(&render("release prepare", BumpChoice::Auto, &pending));
        expect_test::expect!["this monorepo has no release group (no umbrella and core in release.toml), so `prepare` releases the packages it is given: `cargo xtask prepare PATH… --bump minor`; no package has commits since its last tag, so there is nothing to release"]
            .assert_eq(&render("prepare", BumpChoice::Kind(Bump::Minor), &[]));
    }
}
