//! Uploading over HTTP from the tool itself: one `POST` of the legacy upload API per file
//! (`form.rs`), on one client for the whole run, instead of one `uv publish` process per package.
//! The credentials never leave this process: no child gets them.
//!
//! Trusted publishing is the exchange `uv publish --trusted-publishing always` makes, once per
//! package: the index's audience (`GET /_/oidc/audience` on the publish URL's host), an ID token
//! for it from GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with the job's request
//! token), and a short-lived upload token minted by the index for it
//! (`POST /_/oidc/mint-token`), sent as the password of `__token__`.

use std::{path::Path, sync::OnceLock, time::Duration};

use serde_json::{json, Value};

use super::{form, upload::Failure};

/// The run's client: the operating system's trust store (as the index reader), no redirects
/// followed (a redirected `POST` comes back a `GET`, and nothing would be uploaded), and time
/// for the index to check a large file before it answers.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("xtask-release/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_recv_body(Some(Duration::from_secs(60)))
            .build()
            .new_agent()
    })
}

/// How an upload authenticates: a user and password (`__token__` and a token for tokens).
pub struct Login {
    pub user: String,
    pub password: String,
}

/// Uploads `files` one after another to `publish_url`. Returns the files that went through,
/// and the failure that stopped the rest, if any.
pub fn upload(publish_url: &str, files: &[std::path::PathBuf], login: &Login) -> (Vec<String>, Result<(), Failure>) {
    let mut sent = Vec::new();
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Err(failure) = upload_one(publish_url, path, &name, login) {
            return (sent, Err(failure));
        }
        sent.push(name);
    }
    (sent, Ok(()))
}

fn upload_one(publish_url: &str, path: &Path, name: &str, login: &Login) -> Result<(), Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Permanent(format!("cannot read {}: {e}; rebuild it (rerun)", path.display())))?;
    let fields = form::fields(name, &bytes).map_err(|e| Failure::Permanent(format!("{e:#}")))?;
    let boundary = form::boundary(&fields, &bytes);
    let body = form::multipart(&fields, name, &bytes, &boundary);
    let shown = crate::url::shown(publish_url);
    let answer = agent()
        .post(publish_url)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .header("Accept", "application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7")
        .header("Authorization", format!("Basic {}", base64(format!("{}:{}", login.user, login.password).as_bytes())))
        .send(&body[..]);
    let mut response = answer.map_err(|e| network(&format!("the upload of `{name}` to {shown}"), &e))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let policy = response.headers().get("ratelimit-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
    let said = super::upload::server_message(&format!("HTTP Error {status}: {text}"));
    let message = format!("the upload of `{name}` to {shown} failed: {said}");
    Err(match status {
        300..=399 => Failure::Permanent(format!(
            "the upload of `{name}` to {shown} was redirected (HTTP {status}) to {}: uploads are not redirected; set `--publish-url` (or `publish-url` in release.toml) to the index's upload URL",
            location.as_deref().map_or("another address".to_string(), crate::url::shown)
        )),
        409 => Failure::Exists(message),
        400 if text.to_lowercase().contains("exist") => Failure::Exists(message),
        429 if quota(&policy, &text) => Failure::Quota(said),
        429 | 500..=599 => Failure::Transient(message),
        _ => Failure::Permanent(message),
    })
}

/// A 429 about creating projects: the public index's new-project quota.
fn quota(policy: &str, text: &str) -> bool {
    let lower = format!("{policy} {text}").to_lowercase();
    ["project.create", "too many new projects", "new project registration"].iter().any(|n| lower.contains(n))
}

/// A request that got no answer: worth another attempt, unless it could never work.
fn network(what: &str, e: &ureq::Error) -> Failure {
    let message = format!("{what} failed: {e}");
    match e {
        ureq::Error::BadUri(_) | ureq::Error::Tls(_) => Failure::Permanent(message),
        _ => Failure::Transient(message),
    }
}

/// The upload token of trusted publishing, minted by the index at `publish_url` for the ID
/// token that GitHub Actions gives the job for the index's audience.
pub fn trusted_login(publish_url: &str, request_url: &str, request_token: &str) -> Result<Login, Failure> {
    let origin = origin(publish_url);
    let what = "trusted publishing";
    let audience_url = format!("{origin}/_/oidc/audience");
    let answer = get_json(&audience_url, None).map_err(|f| f.within(what))?;
    let Some(audience) = answer["audience"].as_str() else {
        return Err(Failure::Permanent(format!(
            "{what}: {} answered no `audience`; is trusted publishing available on this index?",
            crate::url::shown(&audience_url)
        )));
    };
    let sep = if request_url.contains('?') { '&' } else { '?' };
    let id_url = format!("{request_url}{sep}audience={}", percent_encode(audience));
    let id = get_json(&id_url, Some(&format!("bearer {request_token}")))
        .map_err(|f| f.within("trusted publishing: the GitHub Actions ID token"))?;
    let Some(id_token) = id["value"].as_str() else {
        return Err(Failure::Permanent(format!(
            "{what}: GitHub Actions gave no ID token; does the job have `id-token: write`?"
        )));
    };
    let mint_url = format!("{origin}/_/oidc/mint-token");
    let answer = agent()
        .post(&mint_url)
        .header("Content-Type", "application/json")
        .send(json!({ "token": id_token }).to_string().as_bytes());
    let mut response =
        answer.map_err(|e| network(&format!("{what}: the request to {}", crate::url::shown(&mint_url)), &e))?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match (status, value["token"].as_str()) {
        (200, Some(token)) => Ok(Login { user: "__token__".into(), password: token.to_string() }),
        _ => {
            let errors: Vec<String> = value["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| format!("{}: {}", e["code"].as_str().unwrap_or("?"), e["description"].as_str().unwrap_or("")))
                .collect();
            let said = match (value["message"].as_str(), errors.is_empty()) {
                (Some(m), false) => format!("{m} ({})", errors.join("; ")),
                (Some(m), true) => m.to_string(),
                (None, _) => super::upload::server_message(&text),
            };
            let message = format!(
                "{what}: the index refused to mint an upload token (HTTP {status}): {said}; check the trusted publisher configured for this project on the index (repository, workflow, environment)"
            );
            Err(if status == 429 || status >= 500 { Failure::Transient(message) } else { Failure::Permanent(message) })
        }
    }
}

/// A GET answered with JSON; `authorization`: the header to send.
fn get_json(url: &str, authorization: Option<&str>) -> Result<Value, Failure> {
    let shown = crate::url::shown(url.split('?').next().unwrap_or(url));
    let mut request = agent().get(url).header("Accept", "application/json");
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let mut response = request.call().map_err(|e| network(&format!("the request to {shown}"), &e))?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
    match status {
        200 => serde_json::from_str(&text)
            .map_err(|_| Failure::Permanent(format!("{shown} answered something that is not JSON"))),
        429 | 500..=599 => Err(Failure::Transient(format!("{shown} answered HTTP {status}"))),
        _ => {
            Err(Failure::Permanent(format!("{shown} answered HTTP {status}: {}", super::upload::server_message(&text))))
        }
    }
}

/// `scheme://host[:port]` of `url`.
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    url[start..].find('/').map_or(url, |end| &url[..start + end])
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Standard base64 with padding, for the `Authorization: Basic` header.
fn base64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(DIGITS[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_the_standard_says() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(b"__token__:pypi-\xff"), "X190b2tlbl9fOnB5cGkt/w==");
    }

    #[test]
    fn the_oidc_routes_are_on_the_publish_urls_host() {
        assert_eq!(origin("https://upload.example/legacy/"), "https://upload.example");
        assert_eq!(origin("https://127.0.0.1:8443/"), "https://127.0.0.1:8443");
        assert_eq!(origin("http://host"), "http://host");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn a_429_is_the_quota_only_when_it_says_so() {
        assert!(quota("\"project.create.ip\";q=4;w=86400", ""));
        assert!(quota("", "<h1>429</h1> Too many new projects created"));
        assert!(!quota("", "429 Too Many Requests"));
    }
}
