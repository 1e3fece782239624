//! The git calls only the quick start makes (`sample` builds a history, `rehearse` merges the
//! release pull request as a maintainer would and seeds the index from an older worktree); the
//! release commands never run these.

use std::path::Path;

use anyhow::Result;
use xshell::{cmd, Shell};

use crate::exec;

/// The subjects of HEAD's history, newest first.
pub fn subjects(sh: &Shell) -> Result<Vec<String>> {
    Ok(exec::read(cmd!(sh, "git log --format=%s"))?.lines().map(str::to_string).collect())
}

/// Checks out `branch`.
pub fn switch(sh: &Shell, branch: &str) -> Result<()> {
    exec::run(cmd!(sh, "git switch --quiet {branch}"))
}

/// Checks out `branch`, discarding changes in the work tree.
pub fn checkout_force(sh: &Shell, branch: &str) -> Result<()> {
    exec::run(cmd!(sh, "git checkout --quiet --force {branch}"))
}

/// Commits what is staged with `message`, as `name <email>`.
pub fn commit_as(sh: &Shell, name: &str, email: &str, message: &str) -> Result<()> {
    let (name, email) = (format!("user.name={name}"), format!("user.email={email}"));
    exec::run(cmd!(sh, "git -c {name} -c {email} commit --quiet -m {message}"))
}

/// Stages the squashed changes of `branch` on top of HEAD, to be committed.
pub fn squash_merge(sh: &Shell, branch: &str) -> Result<()> {
    exec::run(cmd!(sh, "git merge --quiet --squash {branch}"))
}

/// Pushes `branch` and every tag to `remote`.
pub fn push_with_tags(sh: &Shell, remote: &str, branch: &str) -> Result<()> {
    exec::run(cmd!(sh, "git push --quiet {remote} {branch} --tags"))
}

/// Makes the shell's directory a new repository whose first branch is `branch`.
pub fn init(sh: &Shell, branch: &str) -> Result<()> {
    exec::run(cmd!(sh, "git init --quiet --initial-branch={branch}"))
}

/// Makes `dir` a new bare repository, to push to.
pub fn init_bare(sh: &Shell, dir: &Path) -> Result<()> {
    exec::run(cmd!(sh, "git init --quiet --bare {dir}"))
}

/// Adds the remote `name` at `url`.
pub fn add_remote(sh: &Shell, name: &str, url: &Path) -> Result<()> {
    exec::run(cmd!(sh, "git remote add {name} {url}"))
}

/// Sets `key` to `value` in the repository's configuration.
pub fn set_config(sh: &Shell, key: &str, value: &str) -> Result<()> {
    exec::run(cmd!(sh, "git config {key} {value}"))
}

/// Feeds `stream` to `git fast-import`, which must end it with `done`.
pub fn fast_import(sh: &Shell, stream: String) -> Result<()> {
    exec::run(cmd!(sh, "git fast-import --quiet --done").stdin(stream))
}

/// `rev`'s short hash and subject, `abc1234 Release 0.14.13 (#20301)`.
pub fn short_subject(sh: &Shell, rev: &str) -> Result<String> {
    let format = "--format=%h %s";
    exec::read(cmd!(sh, "git log -1 {format} {rev}"))
}

/// A worktree at `dir` with `rev` checked out, detached.
pub fn worktree_add_detached(sh: &Shell, dir: &Path, rev: &str) -> Result<()> {
    exec::run(cmd!(sh, "git worktree add --quiet --detach {dir} {rev}"))
}

/// Removes the worktree at `dir`, changes and all.
pub fn worktree_remove(sh: &Shell, dir: &Path) -> Result<()> {
    exec::run(cmd!(sh, "git worktree remove --force {dir}"))
}
