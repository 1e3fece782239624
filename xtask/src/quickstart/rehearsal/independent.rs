//! `cargo xtask rehearse --shape independent`: a release of two packages of the independent
//! sample (`sample --shape independent`), as its maintainer makes it: the index seeded with every
//! package's last release (built at its own tag), `release prepare libs/store libs/main --bump
//! auto --pr` (each bump from the package's commits since its tag, the wave, each package's
//! notes in one pull request), the squash-merge, and `release publish` (the install check, the
//! uploads, one tag per package with its own pattern, one GitHub release per tag).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use xshell::Shell;

use super::{index_files, step, Stage};
use crate::{git, monorepo::Monorepo, output};

/// The sample's named packages: every kind of version source and tag.
pub const PACKAGES: usize = crate::quickstart::sample::independent::NAMED;

/// What the rehearsal releases.
const RELEASED: [&str; 2] = ["libs/store", "libs/main"];

pub fn rehearse(sh: &Shell, stage: &Stage) -> Result<()> {
    let (index_url, publish_url) = (stage.index_url.as_str(), stage.publish_url.as_str());
    step("the index as it was at each package's last tag: every package's released version");
    seed(sh, stage)?;

    step("phase 1: prepare the release of two packages and open its pull request");
    let mut args = vec!["release", "prepare"];
    args.extend(RELEASED);
    args.extend(["--bump", "auto", "--pr", "--index-url", index_url]);
    stage.xtask(&args)?;
    let state = stage.github_state()?;
    let pull = state["pulls"].as_array().and_then(|p| p.last()).context("the stand-in has no pull request")?;
    let (title, branch) = (pull["title"].as_str().unwrap_or_default(), pull["head"].as_str().unwrap_or_default());

    step("a maintainer squash-merges the release pull request");
    stage.merge(sh, branch, title)?;

    step("phase 2: publish the merged release commit");
    let before = index_files(&stage.packages)?;
    stage.xtask(&["release", "publish", "--index-url", index_url, "--publish-url", publish_url, "--wait", "2m"])?;

    let tags = {
        let _cd = sh.push_dir(&stage.repo);
        git::tags_at(sh, "HEAD")?
    };
    let uploaded: Vec<String> = index_files(&stage.packages)?.difference(&before).cloned().collect();
    let commit = {
        let _cd = sh.push_dir(&stage.repo);
        git::quickstart::short_subject(sh, "HEAD")?
    };
    output::note(&render(&stage.dir, index_url, &tags, &commit, &uploaded, &stage.github_state()?));
    Ok(())
}

/// Publishes every package at its last tag, from a worktree checked out there (one per tagged
/// commit): what the index held before this release.
fn seed(sh: &Shell, stage: &Stage) -> Result<()> {
    let repo = Monorepo::load(&stage.repo)?;
    let _cd = sh.push_dir(&stage.repo);
    let tags = git::merged_tags(sh)?;
    let mut by_commit: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, p) in repo.packages.iter().enumerate() {
        let Some((tag, _)) = repo.last_release(i, &tags) else { continue };
        let commit = git::tag_commit(sh, &tag)?.with_context(|| format!("the tag `{tag}` names no commit"))?;
        by_commit.entry(commit).or_default().push(p.dir.clone());
    }
    for (n, (commit, dirs)) in by_commit.iter().enumerate() {
        let tree = stage.dir.join(format!("previous-release-{n}"));
        if tree.exists() {
            let _ = git::quickstart::worktree_remove(sh, &tree);
            let _ = std::fs::remove_dir_all(&tree);
        }
        git::quickstart::worktree_add_detached(sh, &tree, commit)?;
        let mut args = vec!["publish", "--index-url", &stage.index_url, "--publish-url", &stage.publish_url];
        args.extend(dirs.iter().map(String::as_str));
        stage.xtask_at(&tree, &args)?;
        git::quickstart::worktree_remove(sh, &tree)?;
    }
    Ok(())
}

/// The results: the tags on the release commit, the new files on the index, each GitHub
/// release with its notes, the pull request.
fn render(
    dir: &Path,
    index_url: &str,
    tags: &[String],
    commit: &str,
    uploaded: &[String],
    github: &serde_json::Value,
) -> String {
    let mut out = format!("\n{} The rehearsal released {} packages\n", output::green("==>"), tags.len());
    out += &format!("\nThe tags, each with its package's pattern, on the release commit {commit}:\n");
    for t in tags {
        out += &format!("  {t}\n");
    }
    out += &format!("\nThe files it added to the local index ({index_url}/simple/):\n");
    for f in uploaded {
        out += &format!("  {f}\n");
    }
    for r in github["releases"].as_array().into_iter().flatten() {
        out += &format!(
            "\nThe GitHub release (in the stand-in) `{}`, with its notes:\n",
            r["tag"].as_str().unwrap_or("?")
        );
        for line in r["body"].as_str().unwrap_or_default().lines() {
            out += &if line.is_empty() { "\n".to_string() } else { format!("  {line}\n") };
        }
    }
    out + "\n" + &super::epilogue(dir, github)
}
