//! The package index's JSON API (`{base}/{name}/json`): which versions and files of a project
//! are published. Blocking HTTP with timeouts, bounded retries with jittered backoff, and
//! errors that name the URL and what to do.
//!
//! Two answer shapes are understood: the public Python package index's (`releases` maps each
//! version to files with `filename`, `digests.sha256`, `yanked` and `upload_time_iso_8601`) and
//! pypiserver's (`releases` maps each version to files with only a `url`).

use std::{
    collections::BTreeMap,
    io::ErrorKind,
    time::{Duration, SystemTime},
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{
    backoff::{self, Attempt, Backoff, Limit},
    output,
    requirement::PackageName,
    time::{human, parse_duration, parse_timestamp},
    version::Version,
};

/// Settings of the HTTP client. `XTASK_HTTP_TIMEOUT` (`30s`, `2m`) overrides the read timeout,
/// for slow networks and for tests that stall the index on purpose.
#[derive(Debug, Clone)]
pub struct Http {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Retries after the first attempt, on connection errors, timeouts, 5xx and 429.
    pub retries: u32,
    /// The first pause between attempts; it doubles each time, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Http {
    fn default() -> Http {
        Http {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl Http {
    /// The pauses between attempts.
    pub fn backoff(&self) -> Backoff {
        Backoff { first: self.backoff, max: self.max_backoff, jitter: true }
    }

    pub fn from_env() -> Http {
        let mut http = Http::default();
        if let Some(text) = std::env::var_os("XTASK_HTTP_TIMEOUT") {
            match parse_duration(&text.to_string_lossy()) {
                Ok(d) if d.is_zero() => {
                    output::warn("ignoring `XTASK_HTTP_TIMEOUT=0`: it would time out every request")
                }
                Ok(d) => http.read_timeout = d,
                Err(e) => output::warn(&format!("ignoring `XTASK_HTTP_TIMEOUT`: {e}")),
            }
        }
        http
    }
}

/// The index stayed unreachable (or kept failing) through every retry: unlike a wrong answer,
/// worth waiting out.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// A client of one index's JSON API.
pub struct Index {
    base: String,
    agent: ureq::Agent,
    http: Http,
}

/// A project on the index: every release with its files, by PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    /// Versions that do not parse as PEP 440 (old uploads) are left out.
    pub releases: BTreeMap<Version, Vec<DistFile>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    /// Absent on pypiserver, which lists only URLs.
    pub sha256: Option<String>,
    pub yanked: bool,
    /// Where the file can be downloaded, to hash it when the index gives no digest.
    pub url: Option<String>,
    /// When it was uploaded (`upload_time_iso_8601`); absent on pypiserver. The first file's
    /// time says whether the index still accepts files for the version (`closed-after`).
    pub uploaded: Option<SystemTime>,
}

impl Project {
    /// The highest version, prereleases and yanked ones included.
    pub fn highest(&self) -> Option<&Version> {
        self.releases.keys().next_back()
    }
}

impl Index {
    /// A client of the JSON API at `base_url`, with [`Http::from_env`] settings.
    pub fn new(base_url: &str) -> Index {
        Index::with_http(base_url, Http::from_env())
    }

    pub fn with_http(base_url: &str, http: Http) -> Index {
        // Only the operating system's trust store: it is what works behind a company's TLS proxy.
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .user_agent(concat!("xtask-release/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(http.connect_timeout))
            .timeout_recv_response(Some(http.read_timeout))
            .timeout_recv_body(Some(http.read_timeout))
            .build()
            .new_agent();
        Index { base: base_url.trim_end_matches('/').to_string(), agent, http }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The URL of a project's JSON: the name in PEP 503 form, which pypiserver insists on.
    pub fn project_url(&self, name: &PackageName) -> String {
        format!("{}/{}/json", self.base, name)
    }

    /// Every release of `name`, or `None` when the index does not know the project (404).
    pub fn project(&self, name: &PackageName) -> Result<Option<Project>> {
        let url = self.project_url(name);
        let Some(body) = self.get(&url, "application/json")? else { return Ok(None) };
        let body = String::from_utf8(body)
            .map_err(|_| anyhow::anyhow!("{url} answered text that is not UTF-8; check the index URL"))?;
        parse_project(name, &url, &body).map(Some)
    }

    /// The bytes of a file the index lists (its `url`), with the same timeouts and retries.
    pub fn download(&self, url: &str) -> Result<Vec<u8>> {
        self.get(url, "*/*")?
            .with_context(|| format!("{url} answered HTTP 404; the index lists a file it does not serve"))
    }

    /// GETs `url`: its body on 200, `None` on 404, retrying what may pass.
    fn get(&self, url: &str, accept: &str) -> Result<Option<Vec<u8>>> {
        let attempt = |_| -> Result<Attempt<Option<Vec<u8>>, String>> {
            Ok(match self.agent.get(url).header("Accept", accept).call() {
                Ok(mut response) => match response.status().as_u16() {
                    200 => match response.body_mut().with_config().limit(1 << 30).read_to_vec() {
                        Ok(body) => Attempt::Done(Some(body)),
                        Err(e) if is_transient(&e) => Attempt::Again(format!("reading the answer failed: {e}"), None),
                        Err(e) => bail!("cannot read the answer of {url}: {e}; check that the index URL is right and rerun"),
                    },
                    404 => Attempt::Done(None),
                    code @ (429 | 500..=599) => {
                        let after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.trim().parse().ok());
                        let after = after.map(|s: u64| Duration::from_secs(s.min(60)));
                        Attempt::Again(format!("the index answered HTTP {code}"), after)
                    }
                    code => bail!(
                        "{url} answered HTTP {code}; check the index URL (`--index-url` or `index.url` in release.toml) and your access to it"
                    ),
                },
                Err(e) if is_transient(&e) => Attempt::Again(describe(&e), None),
                Err(e) => bail!("cannot fetch {url}: {}; check the index URL and your network, then rerun", describe(&e)),
            })
        };
        let status = |problem: &String, p: &backoff::Pause| {
            output::status("retrying", &format!("{url} in {}: {problem}", human(p.pause)))
        };
        backoff::retry(self.http.backoff(), Limit::Retries(self.http.retries), attempt, status)?.map_err(|gave_up| {
            Unreachable(format!(
                "cannot fetch {url}: {} ({} attempts); check that the index is up and reachable, then rerun",
                gave_up.last, gave_up.attempts
            ))
            .into()
        })
    }
}

fn is_transient(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Timeout(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_) => true,
        ureq::Error::Io(io) => !matches!(io.kind(), ErrorKind::InvalidInput | ErrorKind::PermissionDenied),
        _ => false,
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "the host name does not resolve".to_string(),
        other => other.to_string(),
    }
}

/// What to check when the index answers something that is not a project's JSON.
pub const BASE_HINT: &str = "check that `--index-url` (or `index.url` in release.toml) is the JSON API's base: \
    the server's root for a pypiserver, the `/pypi` path for the public Python package index";

/// Turns an answer of the JSON API into a [`Project`]; `url` is named in every error.
pub fn parse_project(name: &PackageName, url: &str, body: &str) -> Result<Project> {
    let hint = BASE_HINT;
    if body.trim_start().starts_with('<') {
        bail!("{url} answered HTML, not JSON; {hint}");
    }
    let json: Value =
        serde_json::from_str(body).map_err(|e| anyhow::anyhow!("{url} answered invalid JSON ({e}); {hint}"))?;
    let releases = json
        .get("releases")
        .and_then(Value::as_object)
        .with_context(|| format!("{url} answered JSON without a `releases` object; {hint}"))?;
    let mut project = Project {
        name: json.pointer("/info/name").and_then(Value::as_str).unwrap_or(name.as_str()).to_string(),
        releases: BTreeMap::new(),
    };
    for (text, files) in releases {
        let Ok(version) = text.parse::<Version>() else { continue };
        let files = files.as_array().with_context(|| format!("{url}: the files of `{text}` are not a list"))?;
        let mut list = Vec::with_capacity(files.len());
        for file in files {
            list.push(
                parse_file(file)
                    .with_context(|| format!("{url}: a file of `{text}` has neither `filename` nor `url`"))?,
            );
        }
        // `1.0` and `1.0.0` are one PEP 440 version.
        project.releases.entry(version).or_default().extend(list);
    }
    Ok(project)
}

fn parse_file(file: &Value) -> Option<DistFile> {
    let url = file.get("url").and_then(Value::as_str);
    let (url_path, fragment) = match url {
        Some(u) => u.split_once('#').map_or((u, None), |(p, f)| (p, Some(f))),
        None => ("", None),
    };
    let filename = match file.get("filename").and_then(Value::as_str) {
        Some(f) => f.to_string(),
        None => url_path.split('?').next()?.rsplit('/').next().filter(|f| !f.is_empty())?.to_string(),
    };
    let sha256 = file
        .pointer("/digests/sha256")
        .and_then(Value::as_str)
        .or_else(|| fragment.and_then(|f| f.strip_prefix("sha256=")))
        .map(str::to_string);
    // The public index says `"yanked": true`; PEP 691 allows a reason string instead.
    let yanked = match file.get("yanked") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(_)) => true,
        _ => false,
    };
    let url = url.map(|_| url_path.to_string());
    // `upload_time` is the same instant without its zone (UTC), on older answers.
    let uploaded = ["upload_time_iso_8601", "upload_time"]
        .into_iter()
        .find_map(|key| file.get(key).and_then(Value::as_str).and_then(parse_timestamp));
    Some(DistFile { filename, sha256, yanked, url, uploaded })
}

/// Calls `probe` until it yields `Some`, pausing with backoff (1 s doubling to 30 s), and fails
/// when `timeout` has passed. Says on stderr what it waits for and for how long it has waited.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let attempt = |_| -> Result<_> { Ok(probe()?.map_or(Attempt::Again((), None), Attempt::Done)) };
    let status = |_: &(), p: &backoff::Pause| {
        output::status("waiting", &format!("for {what} ({} of {} waited)", human(p.waited), human(timeout)))
    };
    let gave_up = match backoff::retry(WAIT_BACKOFF, Limit::Within(timeout), attempt, status)? {
        Ok(found) => return Ok(found),
        Err(gave_up) => gave_up,
    };
    bail!("gave up waiting for {what} after {}; rerun later, or pass a longer `--wait`", human(gave_up.waited))
}

/// The pauses of waits for the index to show something: 1 s doubling to 30 s.
const WAIT_BACKOFF: Backoff = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30), jitter: false };

#[cfg(test)]
mod tests;
