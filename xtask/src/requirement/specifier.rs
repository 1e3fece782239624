//! PEP 440 version specifiers (`>=1.0,<2.0`, `==1.2.*`, `~=1.4`, `!=1.0+abc`): parsed strictly,
//! matched by the PEP's rules, exclusive comparisons and local versions included.
//!
//! Like the PEP (and uv), matching says whether a version is inside the range; whether
//! pre-releases are wanted at all is the caller's choice, not the specifier's.

use std::{fmt, str::FromStr};

use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    /// `==V.*`
    EqualPrefix,
    NotEqual,
    /// `!=V.*`
    NotEqualPrefix,
    /// `~=V`
    Compatible,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    /// `===text`: the version's text, compared as a string.
    Arbitrary,
}

/// One clause such as `>=1.0`.
#[derive(Debug, Clone)]
pub struct Specifier {
    op: Op,
    /// The operand; for a wildcard the prefix before `.*`; `None` for `===`.
    version: Option<Version>,
    /// The operand as written, which is what `===` compares.
    raw: String,
}

/// Longest first, so that `===` is not read as `==` and `=`.
const OPERATORS: [(&str, Op); 8] = [
    ("===", Op::Arbitrary),
    ("==", Op::Equal),
    ("!=", Op::NotEqual),
    ("~=", Op::Compatible),
    ("<=", Op::LessEqual),
    (">=", Op::GreaterEqual),
    ("<", Op::Less),
    (">", Op::Greater),
];

impl FromStr for Specifier {
    type Err = String;

    fn from_str(text: &str) -> Result<Specifier, String> {
        let text = text.trim();
        let Some((symbol, op)) = OPERATORS.iter().find(|(s, _)| text.starts_with(s)) else {
            return Err(format!(
                "`{text}` is not a version specifier: it must start with one of `==`, `!=`, `<=`, `>=`, `<`, `>`, \
                 `~=` or `===`"
            ));
        };
        let raw = text[symbol.len()..].trim();
        // Looked for only when the version does not parse: loading 2,000 packages parses
        // every specifier, and this scan was a good part of it.
        let two_versions = || {
            format!(
                "`{text}` is not a version specifier: expected one version after `{symbol}`; separate specifiers \
                 with commas (`>=1.0,<2.0`)"
            )
        };
        if raw.is_empty() {
            return Err(two_versions());
        }
        if *op == Op::Arbitrary {
            if raw.contains(char::is_whitespace) {
                return Err(two_versions());
            }
            return Ok(Specifier { op: Op::Arbitrary, version: None, raw: raw.to_string() });
        }
        let bad_version = |e: crate::version::VersionError| {
            if raw.contains(char::is_whitespace) {
                two_versions()
            } else {
                format!("`{text}` is not a version specifier: {e}")
            }
        };
        if let Some(prefix) = raw.strip_suffix(".*") {
            let op = match op {
                Op::Equal => Op::EqualPrefix,
                Op::NotEqual => Op::NotEqualPrefix,
                _ => return Err(format!("`{text}`: a `.*` wildcard is only allowed after `==` or `!=`")),
            };
            let version: Version = prefix.parse().map_err(bad_version)?;
            if version != version.base() {
                return Err(format!(
                    "`{text}`: a `.*` wildcard must follow release numbers only (like `==1.0.*`), not a pre-, \
                     post-, dev or local part"
                ));
            }
            return Ok(Specifier { op, version: Some(version), raw: raw.to_string() });
        }
        let version: Version = raw.parse().map_err(bad_version)?;
        if version.is_local() && !matches!(op, Op::Equal | Op::NotEqual) {
            return Err(format!("`{text}`: a local version (`+…`) is only allowed after `==`, `!=` or `===`"));
        }
        if *op == Op::Compatible && version.release().len() < 2 {
            return Err(format!("`{text}`: `~=` needs at least two release numbers (like `~=1.4`)"));
        }
        Ok(Specifier { op: *op, version: Some(version), raw: raw.to_string() })
    }
}

impl Specifier {
    /// Whether `v` is inside this clause, by PEP 440's rules.
    pub fn contains(&self, v: &Version) -> bool {
        let arbitrary = || v.to_string().eq_ignore_ascii_case(&self.raw);
        let Some(want) = &self.version else { return arbitrary() };
        // A specifier without a local part ignores the candidate's (`==1.0` matches `1.0+abc`).
        let public;
        let v_cmp = if want.is_local() {
            v
        } else {
            public = v.public();
            &public
        };
        let same_base = || v.base() == want.base();
        match self.op {
            Op::Equal => v_cmp == want,
            Op::NotEqual => v_cmp != want,
            Op::EqualPrefix => prefix_matches(want.epoch(), want.release(), v),
            Op::NotEqualPrefix => !prefix_matches(want.epoch(), want.release(), v),
            Op::Compatible => {
                let release = want.release();
                prefix_matches(want.epoch(), &release[..release.len() - 1], v) && v_cmp >= want
            }
            Op::LessEqual => v_cmp <= want,
            Op::GreaterEqual => v_cmp >= want,
            // `<V` excludes the pre-releases of V unless V is one: `<0.15.0` stops before `0.15.0rc1`.
            Op::Less => v_cmp < want && !(!want.is_prerelease() && v.is_prerelease() && same_base()),
            // `>V` excludes the post-releases of V unless V is one: `>1.0` does not take `1.0.post1`.
            Op::Greater => v_cmp > want && !(!want.is_postrelease() && v.is_postrelease() && same_base()),
            Op::Arbitrary => arbitrary(),
        }
    }
}

impl fmt::Display for Specifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = match self.op {
            Op::EqualPrefix => "==",
            Op::NotEqualPrefix => "!=",
            op => OPERATORS.iter().find(|(_, o)| *o == op).map_or("", |(s, _)| s),
        };
        write!(f, "{symbol}{}", self.raw)
    }
}

/// The release of `v`, padded with zeros, starts with `release` (and the epochs agree).
fn prefix_matches(epoch: u64, release: &[u64], v: &Version) -> bool {
    v.epoch() == epoch && release.iter().enumerate().all(|(i, &n)| v.release().get(i).copied().unwrap_or(0) == n)
}

/// A comma-separated list of specifiers, optionally in parentheses (PEP 508's `name (>=1.0)`);
/// the empty text is the empty list, which allows every version.
pub fn parse_all(text: &str) -> Result<Vec<Specifier>, String> {
    let text = text.trim();
    let inner = match text.strip_prefix('(') {
        Some(rest) => rest
            .strip_suffix(')')
            .ok_or_else(|| format!("`{text}` has an unclosed `(`; write `(>=1.0,<2.0)` or drop the parentheses"))?,
        None => text,
    };
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|one| {
            if one.trim().is_empty() {
                Err(format!("`{text}` has an empty specifier between commas"))
            } else {
                one.parse()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
