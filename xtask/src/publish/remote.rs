//! What the index holds, for publishing: projects fetched in parallel, and the sha256 of a
//! published file even where the JSON API does not give it (pypiserver lists only URLs), by
//! downloading the file and hashing it.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::sha256;
use crate::{
    index::{DistFile, Index, Project},
    parallel,
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
    let answers = parallel::map(&list, jobs.clamp(1, 16), |&(&i, name)| (i, index.project(name)));
    let mut found = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, answer) in answers {
        match answer {
            Ok(p) => {
                found.insert(i, p);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!("cannot read what the index holds:\n  {}", errors.join("\n  "));
    }
    Ok(found)
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
