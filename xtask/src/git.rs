//! A thin `git` wrapper: every call runs in the monorepo's root, and every error carries git's
//! own stderr.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::exec::Cmd;

/// `git` in the shell's directory: the one way this module (and so the xtask) runs git. Git gets
/// no credential: pushes authenticate through the checkout's own configuration.
fn git(sh: &Shell) -> Cmd {
    Cmd::new("git").dir(sh.current_dir())
}

pub mod quickstart;

/// Fails with an actionable error unless the shell's directory is inside a git work tree.
pub fn ensure_repo(sh: &Shell) -> Result<()> {
    let inside = git(sh).args(["rev-parse", "--is-inside-work-tree"]).output();
    if inside.map(|o| o.stdout_lossy().trim() == "true").ok() != Some(true) {
        bail!(
            "`{}` is not a git repository; pass --root with the path of the monorepo's checkout",
            sh.current_dir().display()
        );
    }
    Ok(())
}

/// Fails with an actionable error unless `rev` names a commit.
pub fn ensure_commit(sh: &Shell, rev: &str) -> Result<()> {
    let spec = format!("{rev}^{{commit}}");
    if git(sh).args(["rev-parse", "--verify", "--quiet"]).arg(spec).output()?.status.success() {
        return Ok(());
    }
    bail!("`{rev}` is not a commit of this repository; fetch it (`git fetch origin {rev}`) or pass another ref")
}

/// Files changed between the merge base of `base` and HEAD, and HEAD (`git diff base...HEAD`).
pub fn changed_files(sh: &Shell, base: &str) -> Result<Vec<String>> {
    ensure_repo(sh)?;
    ensure_commit(sh, base)?;
    let range = format!("{base}...HEAD");
    let out = git(sh).args(["-c", "core.quotePath=false", "diff", "--name-only", "--no-renames"]).arg(range).read()?;
    Ok(out.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
}

/// The checked-out branch's short name, or `None` when HEAD is detached.
pub fn current_branch(sh: &Shell) -> Result<Option<String>> {
    let out = git(sh).args(["symbolic-ref", "--quiet", "--short", "HEAD"]).output()?;
    match out.status.code() {
        Some(0) => Ok(Some(out.stdout_lossy().trim().to_string())),
        // Exit 1 without a message is git's way of saying "detached".
        Some(1) if out.stderr.is_empty() => Ok(None),
        _ => bail!("`git symbolic-ref HEAD` failed:\n{}", out.stderr.trim_end()),
    }
}

/// The full commit id `rev` names, or `None` when it names no commit.
pub fn commit_of(sh: &Shell, rev: &str) -> Result<Option<String>> {
    let spec = format!("{rev}^{{commit}}");
    let out = git(sh).args(["rev-parse", "--verify", "--quiet"]).arg(spec).output()?;
    Ok(out.status.success().then(|| out.stdout_lossy().trim().to_string()))
}

/// Paths with uncommitted changes, untracked files included (`git status --porcelain`). Without
/// optional locks: a status killed half-way must not leave an `index.lock` that fails the rerun.
pub fn dirty_files(sh: &Shell) -> Result<Vec<String>> {
    let out = git(sh)
        .args(["--no-optional-locks", "-c", "core.quotePath=false", "status", "--porcelain", "--untracked-files=all"])
        .read()?;
    // A temporary file of an atomic write that a kill left behind is not dirt (`changeset.rs`).
    let temp = |path: &str| crate::changeset::is_temp(path.rsplit('/').next().unwrap_or(path));
    Ok(out.lines().filter(|l| l.len() > 3).map(|l| l[3..].to_string()).filter(|p| !temp(p)).collect())
}

/// The one dirty-tree check: `None` on a clean tree, else the problem naming up to 10 of the
/// changed paths, for the caller to add why it matters and what to do.
pub fn uncommitted_changes(sh: &Shell) -> Result<Option<String>> {
    Ok(describe_dirty(&dirty_files(sh)?))
}

fn describe_dirty(dirty: &[String]) -> Option<String> {
    if dirty.is_empty() {
        return None;
    }
    let shown: Vec<&str> = dirty.iter().take(10).map(String::as_str).collect();
    let more = if dirty.len() > 10 { format!(" and {} more", dirty.len() - 10) } else { String::new() };
    Some(format!("the working tree has uncommitted changes ({}{more})", shown.join(", ")))
}

/// The contents of `paths` (relative to the root) at `rev`, `None` where a path does not exist
/// there: one `git cat-file --batch` for all of them, which matters with 2,000 packages.
pub fn files_at(sh: &Shell, rev: &str, paths: &[String]) -> Result<Vec<Option<String>>> {
    ensure_repo(sh)?;
    ensure_commit(sh, rev)?;
    let input: String = paths.iter().map(|p| format!("{rev}:{p}\n")).collect();
    let output = git(sh).args(["cat-file", "--batch"]).stdin(input).output()?;
    if !output.status.success() {
        bail!("`git cat-file --batch` failed ({}):\n{}", output.status, output.stderr.trim_end());
    }
    let mut out = Vec::with_capacity(paths.len());
    let mut rest: &[u8] = &output.stdout;
    for path in paths {
        let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let header = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        rest = rest.get(line_end + 1..).unwrap_or_default();
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            out.push(None);
            continue;
        }
        // `<sha> blob <size>`, then exactly `size` bytes and a newline.
        let size: usize = header.rsplit(' ').next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            anyhow::anyhow!(
                "`git cat-file --batch` printed `{header}` for `{rev}:{path}`, which is not an object header"
            )
        })?;
        let body = rest.get(..size).unwrap_or(rest);
        out.push(Some(String::from_utf8_lossy(body).into_owned()));
        rest = rest.get(size + 1..).unwrap_or_default();
    }
    Ok(out)
}

/// The URL of remote `name`, or `None` when there is no such remote.
pub fn remote_url(sh: &Shell, name: &str) -> Result<Option<String>> {
    let key = format!("remote.{name}.url");
    let out = git(sh).args(["config", "--get"]).arg(key).output()?;
    Ok(out.status.success().then(|| out.stdout_lossy().trim().to_string()))
}

/// The commit `refname` points at on `remote` (`git ls-remote`), or `None` when it is not there.
pub fn remote_ref(sh: &Shell, remote: &str, refname: &str) -> Result<Option<String>> {
    let out = git(sh).arg("ls-remote").arg(remote).arg(refname).read()?;
    Ok(out.lines().find(|l| l.ends_with(refname)).and_then(|l| l.split_whitespace().next()).map(str::to_string))
}

/// Whether `ancestor` is `descendant` or one of its ancestors.
pub fn is_ancestor(sh: &Shell, ancestor: &str, descendant: &str) -> Result<bool> {
    let out = git(sh).args(["merge-base", "--is-ancestor"]).arg(ancestor).arg(descendant).output()?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => bail!("`git merge-base --is-ancestor {ancestor} {descendant}` failed:\n{}", out.stderr.trim_end()),
    }
}

/// The commit a tag points at (peeled), or `None` when there is no such tag.
pub fn tag_commit(sh: &Shell, tag: &str) -> Result<Option<String>> {
    commit_of(sh, &format!("refs/tags/{tag}"))
}

/// Every tag with the commit it points at (peeled), in one `git for-each-ref`.
pub fn tag_commits(sh: &Shell) -> Result<std::collections::HashMap<String, String>> {
    let out = git(sh)
        .args(["for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)", "refs/tags"])
        .read()?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('\0');
            let (tag, object, peeled) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
            Some((tag.to_string(), if peeled.is_empty() { object } else { peeled }.to_string()))
        })
        .collect())
}

/// Whether git ignores `path` (relative to the root); false outside a repository.
pub fn is_ignored(sh: &Shell, path: &str) -> bool {
    git(sh).args(["check-ignore", "--quiet", "--no-index"]).arg(path).output().is_ok_and(|o| o.status.success())
}

/// The date of `tag` (`YYYY-MM-DD` in UTC): the tagger's for an annotated tag, the commit's for
/// a lightweight one; `None` when there is no such tag.
pub fn tag_date(sh: &Shell, tag: &str) -> Result<Option<String>> {
    let refname = format!("refs/tags/{tag}");
    let out = git(sh)
        .args(["for-each-ref", "--format=%(creatordate:format-local:%Y-%m-%d)"])
        .arg(refname)
        .env("TZ", "UTC")
        .read()?;
    Ok(Some(out.trim().to_string()).filter(|d| !d.is_empty()))
}

/// Puts `paths` back as HEAD has them: tracked files are checked out, untracked ones removed.
pub fn restore(sh: &Shell, paths: &[String]) -> Result<()> {
    let root = sh.current_dir();
    for path in paths {
        let tracked =
            git(sh).args(["ls-files", "--error-unmatch", "--"]).arg(path).output().is_ok_and(|o| o.status.success());
        if tracked {
            git(sh).args(["checkout", "--quiet", "HEAD", "--"]).arg(path).run()?;
        } else {
            std::fs::remove_file(root.join(path)).with_context(|| format!("cannot remove `{path}`"))?;
        }
    }
    Ok(())
}

/// The tags that are ancestors of HEAD (`git tag --merged HEAD`).
pub fn merged_tags(sh: &Shell) -> Result<Vec<String>> {
    Ok(git(sh).args(["tag", "--merged", "HEAD", "--list"]).read()?.lines().map(str::to_string).collect())
}

/// Every commit of `range` in `format`, each followed by its changed paths, NUL-separated
/// (`git log --name-only -z`): the one walk the changelog reads.
pub fn log_with_paths(sh: &Shell, format: &str, range: &str) -> Result<String> {
    git(sh)
        .args(["-c", "core.quotePath=false", "log", "--no-renames", "--name-only", "-z"])
        .arg(format)
        .arg(range)
        .read()
}

/// [`log_with_paths`] of the commits that touched `path` only: one package's history.
pub fn log_with_paths_in(sh: &Shell, format: &str, range: &str, path: &str) -> Result<String> {
    git(sh)
        .args(["-c", "core.quotePath=false", "log", "--no-renames", "--name-only", "-z"])
        .arg(format)
        .arg(range)
        .arg("--")
        .arg(path)
        .read()
}

/// The subject and body of every commit of `range` (`TAG..HEAD`, or `HEAD` for all history)
/// that touched `path`, newest first: what `--bump auto` reads.
pub fn messages(sh: &Shell, range: &str, path: &str) -> Result<Vec<(String, String)>> {
    let out = git(sh).args(["log", "--format=%x1e%s%x1f%b"]).arg(range).arg("--").arg(path).read()?;
    Ok(out
        .split('\u{1e}')
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            let (subject, body) = r.split_once('\u{1f}').unwrap_or((r, ""));
            (subject.trim().to_string(), body.trim().to_string())
        })
        .collect())
}

/// The tags that point at `rev` (`git tag --points-at`).
pub fn tags_at(sh: &Shell, rev: &str) -> Result<Vec<String>> {
    Ok(git(sh).args(["tag", "--points-at"]).arg(rev).read()?.lines().map(str::to_string).collect())
}

/// The subject of HEAD.
pub fn head_subject(sh: &Shell) -> Result<String> {
    git(sh).args(["log", "-1", "--format=%s"]).read()
}

/// HEAD's full commit id.
pub fn head(sh: &Shell) -> Result<String> {
    git(sh).args(["rev-parse", "HEAD"]).read()
}

/// Creates `branch` at HEAD and checks it out.
pub fn create_branch(sh: &Shell, branch: &str) -> Result<()> {
    git(sh).args(["switch", "--quiet", "--create"]).arg(branch).run()
}

/// Commits exactly `paths` (staged first, whatever else is changed) with `message`.
pub fn commit_paths(sh: &Shell, paths: &[String], message: &str) -> Result<()> {
    git(sh).args(["add", "--"]).args(paths).run()?;
    git(sh).args(["commit", "--quiet", "-m"]).arg(message).run()
}

/// Creates the lightweight tag `tag` on `commit`.
pub fn tag(sh: &Shell, tag: &str, commit: &str) -> Result<()> {
    git(sh).arg("tag").arg(tag).arg(commit).run()
}

/// Pushes `refspec` to `remote`.
pub fn push(sh: &Shell, remote: &str, refspec: &str) -> Result<()> {
    git(sh).args(["push", "--quiet"]).arg(remote).arg(refspec).run()
}

/// The merge base of `rev` and HEAD, as a full commit id. No merge base (unrelated histories,
/// or a clone too shallow to reach it) is an error that says how to fetch the history.
pub fn merge_base(sh: &Shell, rev: &str) -> Result<String> {
    ensure_repo(sh)?;
    ensure_commit(sh, rev)?;
    let out = git(sh).arg("merge-base").arg(rev).arg("HEAD").output()?;
    match out.status.code() {
        Some(0) => Ok(out.stdout_lossy().trim().to_string()),
        Some(1) if out.stderr.is_empty() => bail!(
            "`{rev}` and HEAD have no merge base (unrelated histories, or a shallow clone); fetch the history \
             (`git fetch --unshallow origin`, or `fetch-depth: 0` in `actions/checkout`) or pass another --base-ref"
        ),
        _ => bail!("`git merge-base {rev} HEAD` failed:\n{}", out.stderr.trim_end()),
    }
}

/// Tracked paths that differ between `commit` and the working tree (committed or not), relative
/// to the root and sorted. Untracked files are left out: listing them walks the whole tree,
/// which costs more than the rest of a check of 2,000 packages.
pub fn changed_since(sh: &Shell, commit: &str) -> Result<Vec<String>> {
    let diff =
        git(sh).args(["-c", "core.quotePath=false", "diff", "--name-only", "--no-renames"]).arg(commit).read()?;
    let mut files: Vec<String> = diff.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
    files.sort();
    Ok(files)
}

/// Where `name` lives in the git directory (`git rev-parse --git-path`), relative to the root.
pub fn git_path(sh: &Shell, name: &str) -> Result<String> {
    git(sh).args(["rev-parse", "--git-path"]).arg(name).read()
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    #[test]
    fn a_dirty_tree_names_ten_paths_and_counts_the_rest() {
        assert_eq!(super::describe_dirty(&[]), None);
        let two = ["a.py".to_string(), "b/pyproject.toml".to_string()];
        expect!["the working tree has uncommitted changes (a.py, b/pyproject.toml)"]
            .assert_eq(&super::describe_dirty(&two).unwrap());
        let many: Vec<String> = (1..=12).map(|n| format!("f{n}")).collect();
        expect!["the working tree has uncommitted changes (f1, f2, f3, f4, f5, f6, f7, f8, f9, f10 and 2 more)"]
            .assert_eq(&super::describe_dirty(&many).unwrap());
    }
}
