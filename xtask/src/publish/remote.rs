//! What the index holds, for publishing: projects fetched in parallel, and the sha256 of a
//! published file even where the JSON API does not give it (pypiserver lists only URLs), by
//! downloading the file and hashing it.

use std::{
    collections::BTreeMap,
    sync::{atomic::AtomicUsize, atomic::Ordering, Mutex},
    time::Duration,
};

use anyhow::{bail, Context, Result};

use super::sha256;
use crate::{
    index::{DistFile, Index, Project},
    requirement::PackageName,
    version::Version,
};

/// The projects of `names` (keyed by the caller's index), fetched with `jobs` requests at once.
pub fn projects(
    index: &Index,
    names: &BTreeMap<usize, PackageName>,
    jobs: usize,
) -> Result<BTreeMap<usize, Option<Project>>> {
    let list: Vec<(&usize, &PackageName)> = names.iter().collect();
    let next = AtomicUsize::new(0);
    let found = Mutex::new(BTreeMap::new());
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, 16).min(list.len()) {
            s.spawn(|| loop {
                let Some((&i, name)) = list.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                match index.project(name) {
                    Ok(p) => {
                        found.lock().expect("no panics under the lock").insert(i, p);
                    }
                    Err(e) => errors.lock().expect("no panics under the lock").push(format!("{e:#}")),
                }
            });
        }
    });
    let errors = errors.into_inner().expect("threads are done");
    if !errors.is_empty() {
        bail!("cannot read what the index holds:\n  {}", errors.join("\n  "));
    }
    Ok(found.into_inner().expect("threads are done"))
}

/// The files of `name` `version` on the index as (filename, sha256), hashing downloads where
/// the index gives no digest. Yanked files count: their names can never be uploaded again.
pub fn files_with_digests(
    index: &Index,
    name: &PackageName,
    version: &Version,
    files: &[DistFile],
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut urls: Option<BTreeMap<String, String>> = None;
    for f in files {
        let sha = match &f.sha256 {
            Some(s) => s.clone(),
            None => {
                if urls.is_none() {
                    urls = Some(file_urls(index, name)?);
                }
                let url = urls.as_ref().and_then(|u| u.get(&f.filename)).with_context(|| {
                    format!(
                        "the index lists `{}` for `{name}` {version} but gives no URL to fetch it; check `--index-url`",
                        f.filename
                    )
                })?;
                sha256::hex(&download(url)?)
            }
        };
        out.push((f.filename.clone(), sha));
    }
    Ok(out)
}

/// Filename → download URL, from the project's JSON (only needed where digests are missing).
fn file_urls(index: &Index, name: &PackageName) -> Result<BTreeMap<String, String>> {
    let url = index.project_url(name);
    let body = String::from_utf8(download(&url)?).with_context(|| format!("{url} answered invalid UTF-8"))?;
    let json: serde_json::Value =
        serde_json::from_str(&body).with_context(|| format!("{url} answered invalid JSON"))?;
    let mut urls = BTreeMap::new();
    for files in json.get("releases").and_then(|r| r.as_object()).into_iter().flat_map(|r| r.values()) {
        for f in files.as_array().into_iter().flatten() {
            let Some(u) = f.get("url").and_then(|u| u.as_str()) else { continue };
            let path = u.split(['#', '?']).next().unwrap_or(u);
            let filename =
                f.get("filename").and_then(|n| n.as_str()).unwrap_or_else(|| path.rsplit('/').next().unwrap_or(path));
            urls.insert(filename.to_string(), path.to_string());
        }
    }
    Ok(urls)
}

/// GETs `url`'s bytes, retrying connection errors and 5xx/429 answers with backoff.
fn download(url: &str) -> Result<Vec<u8>> {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(120)))
        .user_agent(concat!("xtask-release/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let mut pause = Duration::from_millis(300);
    let mut last = String::new();
    for _ in 0..6 {
        match agent.get(url).call() {
            Ok(mut r) if r.status().as_u16() == 200 => match r.body_mut().with_config().limit(1 << 30).read_to_vec() {
                Ok(bytes) => return Ok(bytes),
                Err(e) => last = e.to_string(),
            },
            Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                last = format!("HTTP {}", r.status().as_u16())
            }
            Ok(r) => {
                bail!("{url} answered HTTP {}; check `--index-url` and your access to the index", r.status().as_u16())
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(5));
    }
    bail!("cannot download {url}: {last}; check that the index is up, then rerun")
}
