//! What the index holds, for publishing: projects fetched in parallel, and the sha256 of a
//! published file even where the JSON API does not give it (pypiserver lists only URLs), by
//! downloading the file and hashing it.

use std::{
    collections::BTreeMap,
    sync::{atomic::AtomicUsize, atomic::Ordering, Mutex},
};

use anyhow::{bail, Result};

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
    for f in files {
        let sha = match (&f.sha256, &f.url) {
            (Some(s), _) => s.clone(),
            (None, Some(url)) => sha256::hex(&index.download(url)?),
            (None, None) => bail!(
                "the index lists `{}` for `{name}` {version} with neither a digest nor a URL to fetch it; check `--index-url`",
                f.filename
            ),
        };
        out.push((f.filename.clone(), sha));
    }
    Ok(out)
}
