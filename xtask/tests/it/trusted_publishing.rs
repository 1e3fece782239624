//! Trusted publishing end to end with the real uv: `cargo xtask publish` as in a GitHub Actions
//! job with `id-token: write` and no stored token. The GitHub stand-in is the job's ID-token
//! endpoint; the index's stand-in (`support/oidc.rs`) checks each ID token, mints an upload
//! token for it, and its pypiserver takes uploads with minted tokens only. No secret of the
//! exchange may show anywhere a person or a log could read it.

use crate::support;

use std::{path::Path, process::Command};

use support::{github::StandIn, oidc::OidcIndex, xtask_bin, Run, Sample};

/// What the job gets with `id-token: write`, and the key the stand-in signs ID tokens with.
const REQUEST_TOKEN: &str = "actions-id-token-request-s3cret-41c7";
const ID_TOKEN_KEY: &str = "id-token-signature-s3cret-9e02";

/// Two packages of one wave, without dependencies on the index: two uploads.
const PACKAGES: [&str; 2] = ["llama-index-instrumentation", "llama-index-core"];

fn sample() -> Sample {
    let s = Sample::new(20, 2);
    let ignore = s.read(".gitignore");
    s.write(".gitignore", &format!("{ignore}/target/\n"));
    support::commit_all(&s.root(), "Ignore target/");
    s
}

fn github() -> StandIn {
    let secrets = [("STANDIN_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN), ("STANDIN_ID_TOKEN_KEY", ID_TOKEN_KEY)];
    StandIn::start_env(&serde_json::json!({}), &[], &secrets)
}

/// `cargo xtask publish ARGS` as a GitHub Actions job runs it: the ID-token request variables set,
/// no `UV_PUBLISH_*`, and nothing of the outer environment that would send uv elsewhere.
fn publish(s: &Sample, github: &StandIn, index: &OidcIndex, args: &[&str]) -> Run {
    let mut cmd = support::command(xtask_bin());
    cmd.arg("--root").arg(s.root()).current_dir(s.dir.path());
    cmd.args(["publish", "--index-url", &index.index_url(), "--publish-url", &index.publish_url(), "--wait", "20s"]);
    cmd.args(args);
    clean(&mut cmd);
    cmd.env("NO_COLOR", "1").env("GITHUB_ACTIONS", "true").env_remove("GITHUB_STEP_SUMMARY");
    // GitHub's shape: `https://pipelines.actions.githubusercontent.com/<id>/…/idtoken?api-version=2.0`.
    let url = format!(
        "http://{}/standin/_apis/distributedtask/hubs/Actions/plans/1/jobs/2/idtoken?api-version=2.0",
        github.addr
    );
    cmd.env("ACTIONS_ID_TOKEN_REQUEST_URL", url).env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN);
    cmd.envs(index.env());
    cmd.output().unwrap().into()
}

/// Without the outer environment's upload credentials, and what would send uv elsewhere.
fn clean(cmd: &mut Command) {
    let credentials = ["UV_PUBLISH_TOKEN", "UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD", "UV_NATIVE_TLS"];
    let proxies = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"];
    for var in credentials.iter().chain(&proxies) {
        cmd.env_remove(var);
    }
}

/// The requests to `path` the index's stand-in answered.
fn to(index: &OidcIndex, method: &str, path: &str) -> Vec<serde_json::Value> {
    index.requests().into_iter().filter(|r| r["method"] == method && r["path"] == path).collect()
}

/// Every file under `dir`, as text: what the run left behind (builds' logs, the manifest), but
/// not git's objects or the virtual environments that hooks made.
fn all_text(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return text };
    for entry in entries.flatten() {
        let (path, kind) = (entry.path(), entry.file_type().unwrap());
        if kind.is_dir() {
            if entry.file_name() != ".git" && entry.file_name() != ".venv" {
                text += &all_text(&path);
            }
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            text += &String::from_utf8_lossy(&bytes);
        }
    }
    text
}

fn github_log(github: &StandIn) -> String {
    std::fs::read_to_string(github.dir.path().join("requests.jsonl")).unwrap_or_default()
}

/// No secret of the exchange in `places` (name, text).
fn assert_no_secret(index: &OidcIndex, places: &[(&str, &str)]) {
    let mut secrets = vec![REQUEST_TOKEN.to_string(), ID_TOKEN_KEY.to_string()];
    secrets.extend(index.minted());
    for (name, text) in places {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret (`{}…`) is in {name}:\n{text}", &secret[..8]);
        }
    }
}

#[test]
fn uploads_with_a_fresh_minted_token_per_upload_and_no_stored_secret() {
    let s = sample();
    let github = github();
    let index = OidcIndex::start(ID_TOKEN_KEY, &[]);
    let run = publish(&s, &github, &index, &PACKAGES).ok();

    // The plan says how it will authenticate, before any upload.
    let plan = run.stderr.lines().find(|l| l.starts_with("Uploading 2 packages")).expect(&run.stderr);
    assert!(plan.contains("(credentials: trusted publishing: the GitHub Actions ID token"), "{plan}");
    assert!(plan.contains(&index.publish_url()), "the plan names where files go: {plan}");

    // Both packages' files are on the index, uploaded by uv with a token it minted.
    let served = index.served();
    for stem in ["llama_index_instrumentation-0.4.2", "llama_index_core-0.14.12"] {
        for file in [format!("{stem}.tar.gz"), format!("{stem}-py3-none-any.whl")] {
            assert!(served.contains(&file), "{file} is not on the index: {served:?}\n{}", run.stderr);
        }
    }

    // One exchange per upload (one `uv publish` per package): an audience lookup, an ID token
    // from GitHub for that audience with the job's request token, a mint of a fresh token.
    assert_eq!(to(&index, "GET", "/_/oidc/audience").len(), 2, "{:#?}", index.requests());
    let mints = to(&index, "POST", "/_/oidc/mint-token");
    assert_eq!(mints.len(), 2, "{mints:#?}");
    assert!(mints.iter().all(|m| m["id_token_ok"] == true && m["status"] == 200), "{mints:#?}");
    let minted = index.minted();
    assert_eq!(minted.len(), 2);
    assert_ne!(minted[0], minted[1], "each upload gets a token of its own");
    let id_tokens: Vec<_> =
        github.requests().into_iter().filter(|r| r["path"].as_str().unwrap_or("").ends_with("/idtoken")).collect();
    assert_eq!(id_tokens.len(), 2, "{id_tokens:#?}");
    assert!(id_tokens.iter().all(|r| r["token_ok"] == true), "{id_tokens:#?}");
    assert!(id_tokens.iter().all(|r| r["authorization"].as_str().is_some_and(|a| a.ends_with(" [REDACTED]"))));

    // Each package's two files went up with one token, each package with another one.
    let uploads = to(&index, "POST", "/");
    assert_eq!(uploads.len(), 4, "{uploads:#?}");
    assert!(uploads.iter().all(|u| u["status"] == 200), "{uploads:#?}");
    let mut used: Vec<i64> = uploads.iter().map(|u| u["minted"].as_i64().expect("a minted token")).collect();
    used.sort();
    assert_eq!(used, [1, 1, 2, 2], "{uploads:#?}");

    // Again, with nothing left to upload: no exchange at all, and the JSON says the same.
    let again = publish(&s, &github, &index, &[&["--json"][..], &PACKAGES].concat()).ok();
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert!(report["credentials"].as_str().unwrap_or("").starts_with("trusted publishing"), "{report:#}");
    assert_eq!(index.minted().len(), 2, "nothing to upload, nothing minted");

    let left = all_text(&s.root());
    let (github_log, index_log) = (github_log(&github), index.log_text());
    assert_no_secret(
        &index,
        &[
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("the JSON run's stdout", &again.stdout),
            ("the JSON run's stderr", &again.stderr),
            ("the files the runs left in the repository", &left),
            ("the GitHub stand-in's log", &github_log),
            ("the index stand-in's log", &index_log),
        ],
    );
}

#[test]
fn a_refused_mint_is_a_clear_error_and_uploads_nothing() {
    let s = sample();
    let github = github();
    let index = OidcIndex::start(ID_TOKEN_KEY, &["--refuse"]);
    let run = publish(&s, &github, &index, &["llama-index-instrumentation"]).fails_with(1);
    assert!(index.served().is_empty(), "nothing is uploaded: {:?}", index.served());
    assert!(run.stderr.contains("trusted publishing") && run.stderr.contains("403"), "{}", run.stderr);
    assert!(run.stderr.contains("llama-index-instrumentation"), "the error names the package: {}", run.stderr);
    // A refusal is permanent: asked once, not retried.
    assert_eq!(to(&index, "POST", "/_/oidc/mint-token").len(), 1, "{:#?}", index.requests());
    assert!(to(&index, "POST", "/").is_empty(), "no upload was tried without a token");
    // And the index takes no stored token either: only minted ones.
    let dist = support::TempDir::new("dist");
    let files = support::pypiserver::build_package_with(dist.path(), "stored-token-probe", "1.0.0", &index.env());
    let mut uv = support::command(support::tool("uv"));
    uv.args(["publish", "--no-progress", "--publish-url", &index.publish_url()]).args(&files);
    clean(&mut uv);
    let stored = Run::from(uv.env("UV_PUBLISH_TOKEN", "pypi-a-stored-token").envs(index.env()).output().unwrap());
    assert!(stored.code != 0 && stored.stderr.contains("403"), "a stored token is refused: {}", stored.stderr);
    assert!(index.served().is_empty());
    let left = all_text(&s.root());
    assert_no_secret(
        &index,
        &[
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("the files the run left in the repository", &left),
            ("the GitHub stand-in's log", &github_log(&github)),
            ("the index stand-in's log", &index.log_text()),
        ],
    );
}

#[test]
fn an_upload_refused_after_the_mint_shows_the_answer_but_never_the_token() {
    let s = sample();
    let github = github();
    let index = OidcIndex::start(ID_TOKEN_KEY, &["--expire"]);
    let run = publish(&s, &github, &index, &["llama-index-instrumentation"]).fails_with(1);
    assert!(index.served().is_empty(), "nothing is uploaded: {:?}", index.served());
    // uv printed the minted token for GitHub to mask, then pypiserver refused the upload.
    assert_eq!(index.minted().len(), 1, "{:#?}", index.requests());
    let uploads = to(&index, "POST", "/");
    assert!(!uploads.is_empty() && uploads.iter().all(|u| u["status"] == 403 && u["minted"] == 1), "{uploads:#?}");
    assert!(run.stderr.contains("403"), "the index's answer is shown: {}", run.stderr);
    assert!(!run.stderr.contains("::add-mask::"), "{}", run.stderr);
    assert_no_secret(
        &index,
        &[
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("the files the run left in the repository", &all_text(&s.root())),
            ("the GitHub stand-in's log", &github_log(&github)),
            ("the index stand-in's log", &index.log_text()),
        ],
    );
}
