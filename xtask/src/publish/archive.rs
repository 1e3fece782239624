//! Reading what a distribution holds, for the artifact check: the members of a wheel (zip) or
//! an sdist (tar.gz) with their sizes, and the metadata files inside. The zip central directory
//! and tar headers are read by hand (a few dozen lines); inflating uses `flate2`, which `ureq`'s
//! gzip support already builds.

use std::{collections::BTreeMap, io::Read};

use anyhow::{bail, Context, Result};

/// The members of one distribution, their paths normalised so that two versions compare:
/// a wheel's `name-1.0.dist-info/` becomes `{dist-info}/`, an sdist's `name-1.0/` prefix goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// Member path → uncompressed size.
    pub files: BTreeMap<String, u64>,
    /// `METADATA` (wheel) or `PKG-INFO` (sdist).
    pub metadata: Option<String>,
    /// The wheel's `entry_points.txt`.
    pub entry_points: Option<String>,
}

/// Reads `bytes` as the distribution `filename` (a `.whl`, `.zip` or `.tar.gz`).
pub fn read(filename: &str, bytes: &[u8]) -> Result<Contents> {
    let read = if filename.ends_with(".tar.gz") { tar_gz(bytes) } else { zip(bytes) };
    read.with_context(|| format!("cannot read the distribution `{filename}`"))
}

fn normalise(path: &str, wheel: bool) -> String {
    let path = path.trim_start_matches("./");
    let Some((first, rest)) = path.split_once('/') else { return path.to_string() };
    if !wheel {
        return rest.to_string();
    }
    for suffix in [".dist-info", ".data"] {
        if first.ends_with(suffix) {
            return format!("{{{}}}/{rest}", &suffix[1..]);
        }
    }
    path.to_string()
}

fn u16_at(b: &[u8], at: usize) -> Result<usize> {
    let s = b.get(at..at + 2).context("truncated zip")?;
    Ok(u16::from_le_bytes([s[0], s[1]]) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Result<u64> {
    let s = b.get(at..at + 4).context("truncated zip")?;
    Ok(u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
}

fn zip(b: &[u8]) -> Result<Contents> {
    // The end of central directory record: the last `PK\x05\x06` (a comment may follow it).
    let eocd =
        (0..b.len().saturating_sub(21)).rev().find(|&i| b[i..].starts_with(b"PK\x05\x06")).context("not a zip")?;
    let count = u16_at(b, eocd + 10)?;
    let mut at = u32_at(b, eocd + 16)? as usize;
    let mut out = Contents::default();
    for _ in 0..count {
        if !b.get(at..).is_some_and(|s| s.starts_with(b"PK\x01\x02")) {
            bail!("a broken zip central directory");
        }
        let (method, packed, size) = (u16_at(b, at + 10)?, u32_at(b, at + 20)? as usize, u32_at(b, at + 24)?);
        let (name_len, extra, comment) = (u16_at(b, at + 28)?, u16_at(b, at + 30)?, u16_at(b, at + 32)?);
        let local = u32_at(b, at + 42)? as usize;
        let name = String::from_utf8_lossy(b.get(at + 46..at + 46 + name_len).context("truncated zip")?).into_owned();
        at += 46 + name_len + extra + comment;
        if name.ends_with('/') {
            continue;
        }
        let path = normalise(&name, true);
        let wanted = match path.as_str() {
            "{dist-info}/METADATA" => Some(&mut out.metadata),
            "{dist-info}/entry_points.txt" => Some(&mut out.entry_points),
            _ => None,
        };
        if let Some(slot) = wanted {
            let start = local + 30 + u16_at(b, local + 26)? + u16_at(b, local + 28)?;
            let data = b.get(start..start + packed).context("truncated zip member")?;
            let mut text = String::new();
            match method {
                0 => text = String::from_utf8_lossy(data).into_owned(),
                8 => {
                    flate2::read::DeflateDecoder::new(data).read_to_string(&mut text)?;
                }
                m => bail!("`{name}` uses zip compression method {m}"),
            }
            *slot = Some(text);
        }
        out.files.insert(path, size);
    }
    Ok(out)
}

fn tar_gz(bytes: &[u8]) -> Result<Contents> {
    let mut data = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut data).context("not gzip")?;
    let mut out = Contents::default();
    let mut at = 0;
    let mut long_name: Option<String> = None;
    while at + 512 <= data.len() {
        let h = &data[at..at + 512];
        if h.iter().all(|&c| c == 0) {
            break;
        }
        let field = |from: usize, to: usize| {
            let s = &h[from..to];
            String::from_utf8_lossy(&s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]).into_owned()
        };
        let size = u64::from_str_radix(field(124, 136).trim(), 8).unwrap_or(0);
        let kind = h[156];
        let body = at + 512;
        let end = body + size as usize;
        let content = data.get(body..end).context("truncated tar")?;
        let name = match (long_name.take(), &h[257..262] == b"ustar") {
            (Some(n), _) => n,
            (None, true) if !field(345, 500).is_empty() => format!("{}/{}", field(345, 500), field(0, 100)),
            _ => field(0, 100),
        };
        match kind {
            // A pax header: its `path=` record names the next member.
            b'x' => long_name = pax_path(content),
            b'L' => long_name = Some(String::from_utf8_lossy(content).trim_end_matches('\0').to_string()),
            b'0' | 0 => {
                let path = normalise(&name, false);
                if path == "PKG-INFO" {
                    out.metadata = Some(String::from_utf8_lossy(content).into_owned());
                }
                out.files.insert(path, size);
            }
            _ => {}
        }
        at = body + (size as usize).div_ceil(512) * 512;
    }
    Ok(out)
}

fn pax_path(records: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(records);
    text.lines().find_map(|l| l.split_once(' ').and_then(|(_, kv)| kv.strip_prefix("path=")).map(str::to_string))
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalised_paths() {
        assert_eq!(super::normalise("pkg-1.0.dist-info/METADATA", true), "{dist-info}/METADATA");
        assert_eq!(super::normalise("pkg/core/a.py", true), "pkg/core/a.py");
        assert_eq!(super::normalise("pkg-1.0/pkg/a.py", false), "pkg/a.py");
        assert_eq!(super::normalise("pkg-1.0/PKG-INFO", false), "PKG-INFO");
    }
}
