//! The `gh` command lines for releases and pull requests, and the reading of what they print.
//! Pure and free of the rest of the crate, so the end-to-end tests include this very file and
//! run the real `gh` with the argv the client builds.

use std::{ffi::OsString, path::Path};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// A GitHub release, as `gh release view --json tagName,targetCommitish,url` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub tag: String,
    /// `targetCommitish`: the commit (or branch) the tag was made at.
    pub target: String,
    pub url: String,
}

/// A pull request, as `gh pr list --json number,url` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pr {
    pub number: u64,
    pub url: String,
}

/// The `--repo` value for `repository` (`owner/name`): qualified with `host` (`GH_HOST`) when
/// there is one, so the argv alone says which GitHub a command talks to. A value that already
/// names a host is kept.
pub fn repo_arg(repository: &str, host: Option<&str>) -> String {
    match host.map(str::trim).filter(|h| !h.is_empty()) {
        Some(host) if repository.matches('/').count() == 1 => format!("{host}/{repository}"),
        _ => repository.to_string(),
    }
}

pub fn argv<const N: usize>(args: [&str; N]) -> Vec<OsString> {
    args.into_iter().map(OsString::from).collect()
}

/// `gh release view TAG --repo REPO --json tagName,targetCommitish,url`.
pub fn release_view_args(repo: &str, tag: &str) -> Vec<OsString> {
    argv(["release", "view", tag, "--repo", repo, "--json", "tagName,targetCommitish,url"])
}

/// `gh release create TAG --repo REPO --target SHA --title TITLE --notes-file FILE`: the notes
/// come from a file, so no text of theirs is ever in argv.
pub fn release_create_args(repo: &str, tag: &str, target: &str, title: &str, notes_file: &Path) -> Vec<OsString> {
    let mut args =
        argv(["release", "create", tag, "--repo", repo, "--target", target, "--title", title, "--notes-file"]);
    args.push(notes_file.into());
    args
}

/// `gh pr list --repo REPO --head BRANCH --state open --json number,url`.
pub fn pr_list_args(repo: &str, branch: &str) -> Vec<OsString> {
    argv(["pr", "list", "--repo", repo, "--head", branch, "--state", "open", "--json", "number,url"])
}

/// `gh pr create --repo REPO --base BASE --head BRANCH --title TITLE --body-file FILE`.
pub fn pr_create_args(repo: &str, base: &str, branch: &str, title: &str, body_file: &Path) -> Vec<OsString> {
    let mut args =
        argv(["pr", "create", "--repo", repo, "--base", base, "--head", branch, "--title", title, "--body-file"]);
    args.push(body_file.into());
    args
}

/// Whether a failed `gh release view` means "no such release" (its exit code is 1 for any
/// failure, so the text decides).
pub fn release_missing(stderr: &str) -> bool {
    stderr.lines().any(|l| l.trim() == "release not found")
}

/// `gh release view --json tagName,targetCommitish,url`'s output.
pub fn parse_release(stdout: &str) -> Result<Release> {
    let v: Value = serde_json::from_str(stdout).with_context(|| format!("`gh` printed {}, not JSON", shown(stdout)))?;
    let field = |name: &str| {
        v[name].as_str().map(str::to_string).with_context(|| format!("`gh` printed no `{name}` in {}", shown(stdout)))
    };
    Ok(Release { tag: field("tagName")?, target: field("targetCommitish")?, url: field("url")? })
}

/// `gh pr list --json number,url`'s output: the first (newest) pull request, if any.
pub fn parse_pr_list(stdout: &str) -> Result<Option<Pr>> {
    let v: Value = serde_json::from_str(stdout).with_context(|| format!("`gh` printed {}, not JSON", shown(stdout)))?;
    let Some(list) = v.as_array() else { bail!("`gh` printed {}, not a list", shown(stdout)) };
    let Some(first) = list.first() else { return Ok(None) };
    match (first["number"].as_u64(), first["url"].as_str()) {
        (Some(number), Some(url)) => Ok(Some(Pr { number, url: url.to_string() })),
        _ => bail!("`gh` printed a pull request without `number` and `url`: `{first}`"),
    }
}

/// The URL `gh release create` and `gh pr create` print last on stdout.
fn printed_url(stdout: &str) -> Result<&str> {
    let url = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("");
    if !url.starts_with("http") {
        bail!("`gh` printed {}, not a URL", shown(stdout));
    }
    Ok(url)
}

/// `gh pr create`'s output: the new pull request's URL, whose last segment is its number.
pub fn parse_created_pr(stdout: &str) -> Result<Pr> {
    let url = printed_url(stdout)?;
    let number = url.rsplit_once("/pull/").and_then(|(_, n)| n.parse().ok());
    let number = number.with_context(|| format!("`{url}` is not a pull request URL"))?;
    Ok(Pr { number, url: url.to_string() })
}

/// `gh release create`'s output (the release's URL), with the tag and target it was given:
/// GitHub makes the tag at that target, and prints nothing else.
pub fn parse_created_release(stdout: &str, tag: &str, target: &str) -> Result<Release> {
    Ok(Release { tag: tag.to_string(), target: target.to_string(), url: printed_url(stdout)?.to_string() })
}

/// What `gh` said went wrong: its stderr without the `gh: ` prefix.
pub fn reason(stderr: &str) -> String {
    let text = stderr.trim().trim_start_matches("gh: ").to_string();
    if text.is_empty() {
        "`gh` printed no error".to_string()
    } else {
        text
    }
}

// The errors of failed runs (`stderr` masked already): the step, the tag or branch, what `gh`
// said, and what to do next.

pub fn release_view_error(repo: &str, tag: &str, stderr: &str) -> String {
    let why = reason(stderr);
    format!("cannot look up the GitHub release `{tag}` of `{repo}`: {why}; check that the token can read the repository, then rerun")
}

pub fn release_create_error(repo: &str, tag: &str, target: &str, stderr: &str) -> String {
    let why = reason(stderr);
    let next = if why.contains("already exists") {
        format!("`gh release view {tag} --repo {repo}` shows it; rerun the release to continue from it")
    } else {
        "check that the token may write to the repository, then rerun".to_string()
    };
    format!("cannot create the GitHub release `{tag}` at `{target}` in `{repo}`: {why}; {next}")
}

pub fn pr_list_error(repo: &str, branch: &str, stderr: &str) -> String {
    let why = reason(stderr);
    format!("cannot list the open pull requests of branch `{branch}` in `{repo}`: {why}; check that the token can read the repository, then rerun")
}

pub fn pr_create_error(repo: &str, base: &str, branch: &str, stderr: &str) -> String {
    let why = reason(stderr);
    let next = if why.contains("already exists") {
        "rerun the release to continue from that pull request".to_string()
    } else {
        format!("push `{branch}` first, and check that the token may write to the repository")
    };
    format!("cannot open a pull request from `{branch}` into `{base}` in `{repo}`: {why}; {next}")
}

/// `gh`'s output for an error message.
fn shown(stdout: &str) -> String {
    match stdout.trim() {
        "" => "nothing".to_string(),
        text => format!("`{text}`"),
    }
}
