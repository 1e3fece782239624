//! What the index holds, for publishing: projects fetched in parallel, and published files
//! (to hash them where the JSON API gives no digest, as pypiserver's, and for the artifact
//! check), downloaded once into a cache under `target/publish/cache/` named by sha256.

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

/// The download cache: files by sha256, and which sha256 each URL served (pypiserver's JSON
/// gives no digest, so the URL is the only key a rerun has). `writable` is false in dry runs,
/// which read it but write nothing.
pub struct Cache {
    pub dir: std::path::PathBuf,
    pub writable: bool,
}

impl Cache {
    fn url_key(&self, url: &str) -> std::path::PathBuf {
        self.dir.join("urls").join(sha256::hex(url.as_bytes()))
    }

    fn read(&self, sha: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.dir.join(sha)).ok()?;
        (sha256::hex(&bytes) == sha).then_some(bytes)
    }

    fn write(&self, url: &str, sha: &str, bytes: &[u8]) {
        if !self.writable {
            return;
        }
        // Written through a temporary name: a reader never sees half a file. A cache that
        // cannot be written only costs a download next time.
        let _ = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(self.dir.join("urls"))?;
            let tmp = self.dir.join(format!(".{sha}.{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, self.dir.join(sha))?;
            std::fs::write(self.url_key(url), sha)
        })();
    }
}

/// The bytes and sha256 of a file the index lists, from the cache when it has them.
pub fn fetch(index: &Index, f: &DistFile, cache: &Cache) -> Result<(String, Vec<u8>)> {
    let Some(url) = &f.url else {
        bail!("the index lists `{}` without a URL to fetch it from; check `--index-url`", f.filename)
    };
    let known = f.sha256.clone().or_else(|| std::fs::read_to_string(cache.url_key(url)).ok());
    if let Some(bytes) = known.as_deref().and_then(|sha| cache.read(&sha.to_ascii_lowercase())) {
        return Ok((sha256::hex(&bytes), bytes));
    }
    let bytes = index.download(url)?;
    let sha = sha256::hex(&bytes);
    cache.write(url, &sha, &bytes);
    Ok((sha, bytes))
}

/// The files of `name` `version` on the index as (filename, sha256), hashing downloads where
/// the index gives no digest. Yanked files count: their names can never be uploaded again.
pub fn files_with_digests(
    index: &Index,
    name: &PackageName,
    version: &Version,
    files: &[DistFile],
    cache: &Cache,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for f in files {
        let sha = match (&f.sha256, &f.url) {
            (Some(s), _) => s.clone(),
            (None, Some(_)) => fetch(index, f, cache)?.0,
            (None, None) => bail!(
                "the index lists `{}` for `{name}` {version} with neither a digest nor a URL to fetch it; check `--index-url`",
                f.filename
            ),
        };
        out.push((f.filename.clone(), sha));
    }
    Ok(out)
}
