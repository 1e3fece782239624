//! A thin `gh` wrapper: pull request lookups batched into GraphQL queries (up to 50 per query,
//! a few queries at once), so N pull requests cost ceil(N/50) `gh` runs, not N; and the release
//! steps' reads and writes (`release`, `create_release`, `open_pr`, `create_pr`), whose command
//! lines and output parsing are in `github/commands.rs`.
//!
//! Tokens reach `gh` only through its environment, asked for by name from the credential store
//! (`exec/secrets.rs`); they are never in argv, and are masked in any text of `gh`'s that ends
//! up in an error.

pub mod commands;

use std::{collections::BTreeMap, ffi::OsString, path::Path};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use xshell::Shell;

use crate::exec::{self, secrets, Cmd};

pub use commands::{pr_create_args, pr_list_args, release_create_args, release_view_args, repo_arg, Pr, Release};

/// Pull requests per GraphQL query: GitHub's node limits allow more, but 50 keeps one answer
/// small and one failure cheap.
pub const BATCH: usize = 50;
/// Queries in flight at once: enough to hide latency, few enough to stay clear of GitHub's
/// secondary rate limits.
pub const CONCURRENCY: usize = 4;

/// The name of the first token variable that is set, if any: the tool asks GitHub only then.
pub fn token_variable() -> Option<&'static str> {
    secrets::GITHUB[..3].iter().copied().find(|v| secrets::value(v).is_some())
}

/// `gh` with `args`, in `dir`, with the GitHub token (the only credential it gets) and no prompts.
fn gh_cmd(gh: &Path, dir: &Path) -> Cmd {
    let cmd = Cmd::new(gh).dir(dir).env("GH_PROMPT_DISABLED", "1").env("GH_NO_UPDATE_NOTIFIER", "1");
    secrets::GITHUB.iter().fold(cmd, |cmd, name| cmd.credential(name))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub url: String,
    pub author: Option<String>,
}

/// What GitHub answered about one pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(PullRequest),
    /// The repository has no pull request with that number.
    Unknown,
    /// The query failed (error, rate limit); the message says why.
    Failed(String),
}

/// Looks up `numbers` in `repository` (`owner/name`), running `gh` in the shell's directory (the
/// root). Only a missing `gh` is an error here; failed queries are reported per pull request,
/// so the caller decides what is fatal.
pub fn pull_requests(sh: &Shell, repository: &str, numbers: &[u64]) -> Result<BTreeMap<u64, Lookup>> {
    let gh = exec::require("gh", "to fetch pull request titles from GitHub (or pass --offline)")?;
    let (owner, name) = repository.split_once('/').unwrap_or((repository, ""));
    let batches: Vec<&[u64]> = numbers.chunks(BATCH).collect();
    crate::output::status(
        "fetching",
        &format!("{} pull requests from GitHub in {} queries", numbers.len(), batches.len()),
    );
    let root = sh.current_dir();
    let answers = crate::parallel::map(&batches, CONCURRENCY, |batch| run_query(&gh, &root, owner, name, batch));
    Ok(answers.into_iter().flatten().collect())
}

fn run_query(gh: &Path, root: &Path, owner: &str, name: &str, batch: &[u64]) -> Vec<(u64, Lookup)> {
    let query = format!("query={}", query(batch));
    let args = ["api", "graphql", "-f", &query, "-f", &format!("owner={owner}"), "-f", &format!("name={name}")];
    let answers = match gh_cmd(gh, root).args(args).output() {
        Ok(out) => parse(batch, &out.stdout_lossy(), &out.stderr),
        Err(e) => Err(format!("{e:#}")),
    };
    match answers {
        Ok(found) => batch.iter().map(|n| (*n, found.get(n).cloned().map_or(Lookup::Unknown, Lookup::Found))).collect(),
        Err(e) => {
            let e = exec::redact(&e);
            batch.iter().map(|n| (*n, Lookup::Failed(e.clone()))).collect()
        }
    }
}

/// One query for a batch: an aliased `pullRequest(number:)` lookup per number.
pub fn query(numbers: &[u64]) -> String {
    let mut q = String::from("query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) {");
    for n in numbers {
        q += &format!(" pr{n}: pullRequest(number: {n}) {{ number title url author {{ login }} }}");
    }
    q += " } }";
    q
}

/// Reads `gh api graphql`'s output. `gh` exits non-zero whenever the answer has `errors`, even
/// when the data is there (GitHub answers unknown numbers with `null` and a NOT_FOUND error),
/// so the JSON on stdout decides, and stderr only explains a failure.
pub fn parse(numbers: &[u64], stdout: &str, stderr: &str) -> Result<BTreeMap<u64, PullRequest>, String> {
    let reason = || commands::reason(stderr);
    let Ok(answer) = serde_json::from_str::<Value>(stdout) else {
        return Err(format!("`gh api graphql` failed: {}", reason()));
    };
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    let rate_limited = errors.iter().any(|e| e["type"] == "RATE_LIMITED")
        || answer["message"].as_str().is_some_and(|m| m.contains("rate limit"));
    if rate_limited {
        return Err(format!(
            "GitHub's API rate limit is exhausted ({}); wait for it to reset, or rerun with --offline",
            reason()
        ));
    }
    let Some(repository) = answer["data"]["repository"].as_object() else {
        return Err(format!("GitHub answered with an error: {}", reason()));
    };
    let other: Vec<&str> =
        errors.iter().filter(|e| e["type"] != "NOT_FOUND").filter_map(|e| e["message"].as_str()).collect();
    if !other.is_empty() {
        return Err(format!("GitHub answered with errors: {}", other.join("; ")));
    }
    let mut found = BTreeMap::new();
    for &n in numbers {
        let pr = &repository.get(&format!("pr{n}")).cloned().unwrap_or(Value::Null);
        if let (Some(title), Some(url)) = (pr["title"].as_str(), pr["url"].as_str()) {
            let author = pr["author"]["login"].as_str().map(str::to_string);
            found.insert(n, PullRequest { number: n, title: title.to_string(), url: url.to_string(), author });
        }
    }
    Ok(found)
}

/// The release `tag` of `repository` (`owner/name`), or `None` when GitHub has none.
pub fn release(sh: &Shell, repository: &str, tag: &str) -> Result<Option<Release>> {
    let repo = repo(sh, repository);
    let out = gh(sh, "to look up GitHub releases", release_view_args(&repo, tag))?;
    if !out.ok && commands::release_missing(&out.stderr) {
        return Ok(None);
    }
    if !out.ok {
        bail!("{}", commands::release_view_error(&repo, tag, &out.stderr));
    }
    commands::parse_release(&out.stdout)
        .map(Some)
        .with_context(|| format!("cannot read the GitHub release `{tag}` of `{repo}`"))
}

/// Creates the release `tag` at commit `target` with the notes in `notes_file` (no assets).
pub fn create_release(
    sh: &Shell,
    repository: &str,
    tag: &str,
    target: &str,
    title: &str,
    notes_file: &Path,
) -> Result<Release> {
    let repo = repo(sh, repository);
    let out = gh(sh, "to create GitHub releases", release_create_args(&repo, tag, target, title, notes_file))?;
    if !out.ok {
        bail!("{}", commands::release_create_error(&repo, tag, target, &out.stderr));
    }
    commands::parse_created_release(&out.stdout, tag, target)
        .with_context(|| format!("cannot read the new GitHub release `{tag}` of `{repo}`"))
}

/// The assets of the release `tag`: name and size of each.
pub fn release_assets(sh: &Shell, repository: &str, tag: &str) -> Result<Vec<(String, u64)>> {
    let repo = repo(sh, repository);
    let args = commands::argv(["release", "view", tag, "--repo", &repo, "--json", "assets"]);
    let out = gh(sh, "to look up GitHub release assets", args)?;
    if !out.ok {
        bail!("{}", commands::release_view_error(&repo, tag, &out.stderr));
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .with_context(|| format!("`gh release view --json assets` printed no JSON for `{tag}` of `{repo}`"))?;
    Ok(v["assets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["name"].as_str()?.to_string(), a["size"].as_u64()?)))
        .collect())
}

/// Attaches `file` to the release `tag` (`gh release upload`, which posts it to the release's
/// `upload_url`).
pub fn upload_asset(sh: &Shell, repository: &str, tag: &str, file: &Path) -> Result<()> {
    let repo = repo(sh, repository);
    let mut args = commands::argv(["release", "upload", tag, "--repo", &repo]);
    args.push(file.into());
    let out = gh(sh, "to attach assets to GitHub releases", args)?;
    if !out.ok {
        bail!(
            "cannot attach `{}` to the GitHub release `{tag}` of `{repo}`: {}; check that the token may write to the repository, then rerun",
            file.display(),
            out.stderr.trim()
        );
    }
    Ok(())
}

/// The open pull request whose head is `branch`, if any (the newest when there are several).
pub fn open_pr(sh: &Shell, repository: &str, branch: &str) -> Result<Option<Pr>> {
    let repo = repo(sh, repository);
    let out = gh(sh, "to look up pull requests on GitHub", pr_list_args(&repo, branch))?;
    if !out.ok {
        bail!("{}", commands::pr_list_error(&repo, branch, &out.stderr));
    }
    commands::parse_pr_list(&out.stdout)
        .with_context(|| format!("cannot read the open pull requests of branch `{branch}` in `{repo}`"))
}

/// Opens a pull request from `branch` into `base` with the body in `body_file`.
pub fn create_pr(sh: &Shell, repository: &str, base: &str, branch: &str, title: &str, body_file: &Path) -> Result<Pr> {
    let repo = repo(sh, repository);
    let out = gh(sh, "to open pull requests on GitHub", pr_create_args(&repo, base, branch, title, body_file))?;
    if !out.ok {
        bail!("{}", commands::pr_create_error(&repo, base, branch, &out.stderr));
    }
    commands::parse_created_pr(&out.stdout)
        .with_context(|| format!("cannot read the new pull request from `{branch}` in `{repo}`"))
}

/// The `--repo` value: `owner/name` on the host `gh` is pointed at (`GH_HOST`), if any.
fn repo(sh: &Shell, repository: &str) -> String {
    repo_arg(repository, sh.var("GH_HOST").ok().as_deref())
}

/// What one `gh` run printed; `stderr` has every token masked.
struct Answer {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `gh` with `args` in the shell's directory. Only a missing `gh` or one that cannot start
/// is an error here; the caller reads a failure's text.
fn gh(sh: &Shell, purpose: &str, args: Vec<OsString>) -> Result<Answer> {
    let gh = exec::require("gh", purpose)?;
    let output = gh_cmd(&gh, sh.current_dir().as_path()).args(args).output()?;
    Ok(Answer { ok: output.status.success(), stdout: output.stdout_lossy(), stderr: output.stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked_in_gh_text() {
        // The one token variable no other test reads, so setting it races with nothing.
        std::env::set_var("GITHUB_ENTERPRISE_TOKEN", "ghe_secret_value");
        assert_eq!(
            exec::redact("gh: Bad credentials for ghe_secret_value (HTTP 401)"),
            "gh: Bad credentials for [REDACTED] (HTTP 401)"
        );
        std::env::remove_var("GITHUB_ENTERPRISE_TOKEN");
    }

    fn shown(args: Vec<OsString>) -> String {
        args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn release_and_pull_request_command_lines() {
        assert_eq!(
            repo_arg("run-llama/llama_index", Some("github.localhost")),
            "github.localhost/run-llama/llama_index"
        );
        assert_eq!(repo_arg("run-llama/llama_index", None), "run-llama/llama_index");
        assert_eq!(repo_arg("run-llama/llama_index", Some("")), "run-llama/llama_index");
        assert_eq!(
            repo_arg("ghe.example/o/r", Some("github.localhost")),
            "ghe.example/o/r",
            "a host named already is kept"
        );
        let (repo, notes) = ("github.localhost/o/r", Path::new("notes dir/v1.md"));
        let lines = [
            shown(release_view_args(repo, "v0.14.13")),
            shown(release_create_args(repo, "v0.14.13", "0123abc", "v0.14.13 (2026-01-21)", notes)),
            shown(pr_list_args(repo, "release/v0.14.13")),
            shown(pr_create_args(repo, "main", "release/v0.14.13", "Release v0.14.13", notes)),
        ];
        expect_test::expect![[r#"
            release view v0.14.13 --repo github.localhost/o/r --json tagName,targetCommitish,url
            release create v0.14.13 --repo github.localhost/o/r --target 0123abc --title v0.14.13 (2026-01-21) --notes-file notes dir/v1.md
            pr list --repo github.localhost/o/r --head release/v0.14.13 --state open --json number,url
            pr create --repo github.localhost/o/r --base main --head release/v0.14.13 --title Release v0.14.13 --body-file notes dir/v1.md"#]]
        .assert_eq(&lines.join("\n"));
        assert_eq!(
            release_create_args(repo, "v1", "abc", "a title with spaces", notes)[8],
            "a title with spaces",
            "one argument each"
        );
    }

    #[test]
    fn release_and_pull_request_answers() {
        let view = r#"{"tagName":"v1","targetCommitish":"abc","url":"https://github.com/o/r/releases/tag/v1"}"#;
        let want =
            Release { tag: "v1".into(), target: "abc".into(), url: "https://github.com/o/r/releases/tag/v1".into() };
        assert_eq!(commands::parse_release(view).unwrap(), want);
        assert_eq!(
            commands::parse_created_release("https://github.com/o/r/releases/tag/v1\n", "v1", "abc").unwrap(),
            want
        );
        assert!(commands::release_missing("release not found\n"));
        assert!(!commands::release_missing(
            "HTTP 500: Server Error (http://api.github.localhost/repos/o/r/releases/tags/v1)"
        ));

        let pr = Pr { number: 7, url: "https://github.com/o/r/pull/7".into() };
        assert_eq!(
            commands::parse_pr_list(r#"[{"number":7,"url":"https://github.com/o/r/pull/7"}]"#).unwrap(),
            Some(pr.clone())
        );
        assert_eq!(commands::parse_pr_list("[]\n").unwrap(), None);
        assert_eq!(commands::parse_created_pr("\nhttps://github.com/o/r/pull/7\n").unwrap(), pr);

        let errors = [
            commands::parse_release(r#"{"tagName":"v1"}"#).unwrap_err(),
            commands::parse_release("").unwrap_err(),
            commands::parse_pr_list(r#"{"number":7}"#).unwrap_err(),
            commands::parse_pr_list(r#"[{"number":7}]"#).unwrap_err(),
            commands::parse_created_pr("https://github.com/o/r/issues/7").unwrap_err(),
            commands::parse_created_release("Warning: 2 uncommitted changes", "v1", "abc").unwrap_err(),
        ];
        let text: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
        expect_test::expect![[r#"
            `gh` printed no `targetCommitish` in `{"tagName":"v1"}`
            `gh` printed nothing, not JSON: EOF while parsing a value at line 1 column 0
            `gh` printed `{"number":7}`, not a list
            `gh` printed a pull request without `number` and `url`: `{"number":7}`
            `https://github.com/o/r/issues/7` is not a pull request URL
            `gh` printed `Warning: 2 uncommitted changes`, not a URL"#]]
        .assert_eq(&text.join("\n"));
    }

    #[test]
    fn a_batch_is_one_query() {
        expect_test::expect![[r#"query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { pr7: pullRequest(number: 7) { number title url author { login } } pr12: pullRequest(number: 12) { number title url author { login } } } }"#]]
        .assert_eq(&query(&[7, 12]));
    }

    #[test]
    fn answers_found_unknown_and_failed() {
        let partial = r#"{"data":{"repository":{"pr7":{"number":7,"title":"T","url":"https://x/7","author":{"login":"ann"}},"pr12":null}},
            "errors":[{"type":"NOT_FOUND","path":["repository","pr12"],"message":"Could not resolve to a PullRequest with the number of 12."}]}"#;
        let found = parse(&[7, 12], partial, "gh: Could not resolve to a PullRequest with the number of 12.").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[&7].author.as_deref(), Some("ann"));

        let cases = [
            (r#"{"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded for user ID 1."}]}"#, "gh: API rate limit exceeded for user ID 1.", "GitHub's API rate limit is exhausted (API rate limit exceeded for user ID 1.); wait for it to reset, or rerun with --offline"),
            (r#"{"message":"API rate limit exceeded for user ID 1."}"#, "gh: API rate limit exceeded for user ID 1. (HTTP 403)", "GitHub's API rate limit is exhausted (API rate limit exceeded for user ID 1. (HTTP 403)); wait for it to reset, or rerun with --offline"),
            (r#"{"message":"Server Error"}"#, "gh: Server Error (HTTP 502)", "GitHub answered with an error: Server Error (HTTP 502)"),
            ("", "error connecting to api.github.com", "`gh api graphql` failed: error connecting to api.github.com"),
            (r#"{"data":{"repository":null},"errors":[{"type":"NOT_FOUND","message":"Could not resolve to a Repository"}]}"#, "gh: Could not resolve to a Repository", "GitHub answered with an error: Could not resolve to a Repository"),
        ];
        for (stdout, stderr, want) in cases {
            assert_eq!(parse(&[1], stdout, stderr).unwrap_err(), want);
        }
    }
}
