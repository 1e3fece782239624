//! The git calls only the quick start makes (`sample` builds a history, `rehearse` merges the
//! release pull request as a maintainer would and seeds the index from an older worktree); the
//! release commands never run these.

use std::path::Path;

use anyhow::Result;
use xshell::Shell;

/// The subjects of HEAD's history, newest first.
pub fn subjects(sh: &Shell) -> Result<Vec<String>> {
    Ok(super::git(sh).args(["log", "--format=%s"]).read()?.lines().map(str::to_string).collect())
}

/// Checks out `branch`.
pub fn switch(sh: &Shell, branch: &str) -> Result<()> {
    super::git(sh).args(["switch", "--quiet"]).arg(branch).run()
}

/// Checks out `branch`, discarding changes in the work tree.
pub fn checkout_force(sh: &Shell, branch: &str) -> Result<()> {
    super::git(sh).args(["checkout", "--quiet", "--force"]).arg(branch).run()
}

/// Commits what is staged with `message`, as `name <email>`.
pub fn commit_as(sh: &Shell, name: &str, email: &str, message: &str) -> Result<()> {
    let (name, email) = (format!("user.name={name}"), format!("user.email={email}"));
    super::git(sh).arg("-c").arg(name).arg("-c").arg(email).args(["commit", "--quiet", "-m"]).arg(message).run()
}

/// Stages the squashed changes of `branch` on top of HEAD, to be committed.
pub fn squash_merge(sh: &Shell, branch: &str) -> Result<()> {
    super::git(sh).args(["merge", "--quiet", "--squash"]).arg(branch).run()
}

/// Pushes `branch` and every tag to `remote`.
pub fn push_with_tags(sh: &Shell, remote: &str, branch: &str) -> Result<()> {
    super::git(sh).args(["push", "--quiet"]).arg(remote).arg(branch).arg("--tags").run()
}

/// Makes the shell's directory a new repository whose first branch is `branch`.
pub fn init(sh: &Shell, branch: &str) -> Result<()> {
    super::git(sh).args(["init", "--quiet"]).arg(format!("--initial-branch={branch}")).run()
}

/// Makes `dir` a new bare repository, to push to.
pub fn init_bare(sh: &Shell, dir: &Path) -> Result<()> {
    super::git(sh).args(["init", "--quiet", "--bare"]).arg(dir).run()
}

/// Adds the remote `name` at `url`.
pub fn add_remote(sh: &Shell, name: &str, url: &Path) -> Result<()> {
    super::git(sh).args(["remote", "add"]).arg(name).arg(url).run()
}

/// Sets `key` to `value` in the repository's configuration.
pub fn set_config(sh: &Shell, key: &str, value: &str) -> Result<()> {
    super::git(sh).arg("config").arg(key).arg(value).run()
}

/// Feeds `stream` to `git fast-import`, which must end it with `done`.
pub fn fast_import(sh: &Shell, stream: String) -> Result<()> {
    super::git(sh).args(["fast-import", "--quiet", "--done"]).stdin(stream).run()
}

/// `rev`'s short hash and subject, `abc1234 Release 0.14.13 (#20301)`.
pub fn short_subject(sh: &Shell, rev: &str) -> Result<String> {
    let format = "--format=%h %s";
    super::git(sh).args(["log", "-1"]).arg(format).arg(rev).read()
}

/// A worktree at `dir` with `rev` checked out, detached.
pub fn worktree_add_detached(sh: &Shell, dir: &Path, rev: &str) -> Result<()> {
    super::git(sh).args(["worktree", "add", "--quiet", "--detach"]).arg(dir).arg(rev).run()
}

/// Removes the worktree at `dir`, changes and all.
pub fn worktree_remove(sh: &Shell, dir: &Path) -> Result<()> {
    super::git(sh).args(["worktree", "remove", "--force"]).arg(dir).run()
}
