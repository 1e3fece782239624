//! PEP 440 versions: parsed once, normalised, ordered and bumped. Never compared as strings.
//!
//! Bump rules (documented in `xtask/docs/commands.md`):
//! - The release is read as `major.minor.patch`, missing parts being 0.
//! - A pre-release or dev release is finished by the bump it precedes:
//!   `1.0.0rc1` patch → `1.0.0`, `1.1.0b2` minor → `1.1.0`, `2.0.0.dev3` major → `2.0.0`,
//!   when the finished version is higher (`1.0.0.1rc1` patch → `1.0.1`, not `1.0.0`).
//!   Otherwise the part is incremented and the lower ones reset: `1.2.3` minor → `1.3.0`.
//! - The new version is always higher than the old one; anything else is an error.
//! - Post releases come after their release: `1.2.3.post1` patch → `1.2.4`.
//! - The epoch is kept; components past the third are dropped (`1.2.3.4` patch → `1.2.4`).
//! - A local version (`1.0+abc`) cannot be uploaded to an index and is refused.

use std::{cmp::Ordering, fmt, str::FromStr};

/// Equality and order follow PEP 440: `1.0 == 1.0.0`.
#[derive(Debug, Clone)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(PreKind, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<LocalPart>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreKind {
    Alpha,
    Beta,
    Rc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LocalPart {
    Num(u64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bump {
    Major,
    Minor,
    Patch,
}

impl FromStr for Bump {
    type Err = String;
    fn from_str(s: &str) -> Result<Bump, String> {
        match s.to_ascii_lowercase().as_str() {
            "major" => Ok(Bump::Major),
            "minor" => Ok(Bump::Minor),
            "patch" => Ok(Bump::Patch),
            _ => Err(format!("`{s}` is not a bump kind: use `major`, `minor` or `patch`")),
        }
    }
}

impl fmt::Display for Bump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bump::Major => "major",
            Bump::Minor => "minor",
            Bump::Patch => "patch",
        })
    }
}

/// `--bump` of `prepare` and `release prepare`: a kind, or `auto`, read from the conventional
/// commit subjects since each package's last tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BumpChoice {
    Kind(Bump),
    Auto,
}

impl FromStr for BumpChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<BumpChoice, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(BumpChoice::Auto);
        }
        s.parse().map(BumpChoice::Kind).map_err(|_| {
            format!("`{s}` is not a bump kind: use `major`, `minor` or `patch` (or `auto` with package paths)")
        })
    }
}

impl From<Bump> for BumpChoice {
    fn from(kind: Bump) -> BumpChoice {
        BumpChoice::Kind(kind)
    }
}

impl BumpChoice {
    /// The kind, where `auto` is not possible (the umbrella and core's release).
    pub fn kind(self) -> Result<Bump, String> {
        match self {
            BumpChoice::Kind(k) => Ok(k),
            BumpChoice::Auto => Err("`--bump auto` needs package paths: it reads each package's commits since its own tag; give `--bump major`, `minor` or `patch` for the umbrella and core".to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError(String);

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a PEP 440 version (expected something like `1.2.3`, `1.0rc1` or `2.0.post1`)", self.0)
    }
}

impl std::error::Error for VersionError {}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(input: &str) -> Result<Version, VersionError> {
        parse(input).ok_or_else(|| VersionError(input.to_string()))
    }
}

/// A cursor over the lower-cased version text.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }
    fn eat_sep(&mut self) -> bool {
        matches!(self.peek(), Some(b'.' | b'-' | b'_')) && {
            self.i += 1;
            true
        }
    }
    fn number(&mut self) -> Option<u64> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if start == self.i {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()
    }
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        // Longest first, so `alpha` wins over `a`.
        let rest = &self.s[self.i..];
        let (index, word) =
            words.iter().enumerate().filter(|(_, w)| rest.starts_with(w.as_bytes())).max_by_key(|(_, w)| w.len())?;
        self.i += word.len();
        Some(index)
    }
}

fn parse(input: &str) -> Option<Version> {
    let lower = input.trim().to_ascii_lowercase();
    let mut c = Cursor { s: lower.as_bytes(), i: 0 };
    c.eat(b'v');
    let mut first = c.number()?;
    let epoch = if c.eat(b'!') {
        let e = first;
        first = c.number()?;
        e
    } else {
        0
    };
    let mut release = vec![first];
    while c.peek() == Some(b'.') && c.s.get(c.i + 1).is_some_and(|b| b.is_ascii_digit()) {
        c.i += 1;
        release.push(c.number()?);
    }
    let mut v = Version { epoch, release, pre: None, post: None, dev: None, local: Vec::new() };
    // Most versions end here (`0.14.12`): the suffix searches below are the expensive part.
    if c.i == c.s.len() {
        return Some(v);
    }

    // Pre-release: [sep](a|b|c|rc|alpha|beta|pre|preview)[sep][N]
    let save = c.i;
    c.eat_sep();
    const PRE: [&str; 8] = ["a", "alpha", "b", "beta", "c", "rc", "pre", "preview"];
    if let Some(k) = c.word(&PRE) {
        let kind = match k {
            0 | 1 => PreKind::Alpha,
            2 | 3 => PreKind::Beta,
            _ => PreKind::Rc,
        };
        c.eat_sep();
        v.pre = Some((kind, c.number().unwrap_or(0)));
    } else {
        c.i = save;
    }

    // Post-release: -N, or [sep](post|rev|r)[sep][N]
    let save = c.i;
    if c.eat(b'-') && c.peek().is_some_and(|b| b.is_ascii_digit()) {
        v.post = c.number();
    } else {
        c.i = save;
        c.eat_sep();
        if c.word(&["post", "rev", "r"]).is_some() {
            c.eat_sep();
            v.post = Some(c.number().unwrap_or(0));
        } else {
            c.i = save;
        }
    }

    // Dev release: [sep]dev[N]
    let save = c.i;
    c.eat_sep();
    if c.word(&["dev"]).is_some() {
        c.eat_sep();
        v.dev = Some(c.number().unwrap_or(0));
    } else {
        c.i = save;
    }

    // Local version: +segment([.-_]segment)*
    if c.eat(b'+') {
        let rest = std::str::from_utf8(&c.s[c.i..]).ok()?;
        for part in rest.split(['.', '-', '_']) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            v.local.push(match part.parse() {
                Ok(n) if part.bytes().all(|b| b.is_ascii_digit()) => LocalPart::Num(n),
                _ => LocalPart::Text(part.to_string()),
            });
        }
        c.i = c.s.len();
    }
    (c.i == c.s.len()).then_some(v)
}

impl Version {
    /// `0`: the version of a package whose version is not read yet (a dynamic one), or could
    /// not be (then the package says why).
    pub fn placeholder() -> Version {
        Version { epoch: 0, release: vec![0], pre: None, post: None, dev: None, local: Vec::new() }
    }

    /// The part of the release at `i` (`major` is 0), 0 when absent.
    fn part(&self, i: usize) -> u64 {
        self.release.get(i).copied().unwrap_or(0)
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    pub fn is_local(&self) -> bool {
        !self.local.is_empty()
    }

    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    /// The epoch and release only (`1!2.0rc1.post3+abc` → `1!2.0`): what PEP 440's
    /// exclusive comparisons ask to be "of the specified version".
    pub fn base(&self) -> Version {
        Version {
            epoch: self.epoch,
            release: self.release.clone(),
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        }
    }

    /// The version after this one for `bump`, by the rules in the module docs.
    pub fn bump(&self, bump: Bump) -> Result<Version, String> {
        if self.is_local() {
            return Err(format!(
                "`{self}` is a local version, which a package index refuses: remove the `+…` part first"
            ));
        }
        let (major, minor, patch) = (self.part(0), self.part(1), self.part(2));
        let release = |release: Vec<u64>| Version {
            epoch: self.epoch,
            release,
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        };
        let finished = release(match bump {
            Bump::Patch => vec![major, minor, patch],
            Bump::Minor => vec![major, minor, 0],
            Bump::Major => vec![major, 0, 0],
        });
        let incremented = release(match bump {
            Bump::Patch => vec![major, minor, patch + 1],
            Bump::Minor => vec![major, minor + 1, 0],
            Bump::Major => vec![major + 1, 0, 0],
        });
        // Finishing a pre-release is only a step forward when nothing past the bumped part
        // is set: `1.0.0.1rc1` is after `1.0.0`, so its patch bump is `1.0.1`.
        let new = if self.is_prerelease() && finished > *self { finished } else { incremented };
        if new <= *self {
            return Err(format!(
                "the {bump} bump of `{self}` gives `{new}`, which is not higher; set the version by hand"
            ));
        }
        Ok(new)
    }

    /// The first version of the next minor series: the exclusive upper bound of `>=self,<…`.
    pub fn next_minor(&self) -> Version {
        Version {
            epoch: self.epoch,
            release: vec![self.part(0), self.part(1) + 1, 0],
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        }
    }

    /// The release numbers, for wildcard and compatible-release matching.
    pub fn release(&self) -> &[u64] {
        &self.release
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The same version without its local part (`1.0+abc` → `1.0`).
    pub fn public(&self) -> Version {
        Version { local: Vec::new(), ..self.clone() }
    }

    fn sort_key(&self) -> SortKey {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        // A dev release of a final release sorts before its pre-releases.
        let pre = match (self.pre, self.post, self.dev) {
            (Some((k, n)), _, _) => (0, Some(k), n),
            (None, None, Some(_)) => (-1, None, 0),
            (None, _, _) => (1, None, 0),
        };
        let post = self.post.map_or((-1, 0), |n| (0, n));
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        (self.epoch, release, pre, post, dev)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.sort_key().cmp(&other.sort_key()).then_with(|| {
            // Local parts: absent sorts first; numbers sort after text.
            for (a, b) in self.local.iter().zip(&other.local) {
                let ord = match (a, b) {
                    (LocalPart::Num(a), LocalPart::Num(b)) => a.cmp(b),
                    (LocalPart::Text(a), LocalPart::Text(b)) => a.cmp(b),
                    (LocalPart::Num(_), LocalPart::Text(_)) => Ordering::Greater,
                    (LocalPart::Text(_), LocalPart::Num(_)) => Ordering::Less,
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            self.local.len().cmp(&other.local.len())
        })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&release.join("."))?;
        if let Some((kind, n)) = self.pre {
            let kind = match kind {
                PreKind::Alpha => "a",
                PreKind::Beta => "b",
                PreKind::Rc => "rc",
            };
            write!(f, "{kind}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        for (i, part) in self.local.iter().enumerate() {
            f.write_str(if i == 0 { "+" } else { "." })?;
            match part {
                LocalPart::Num(n) => write!(f, "{n}")?,
                LocalPart::Text(t) => f.write_str(t)?,
            }
        }
        Ok(())
    }
}

/// PEP 440's order as a tuple: epoch, release without trailing zeros, then the pre-release,
/// post-release and dev-release parts, each with a rank that puts its absence in its place.
type SortKey = (u64, Vec<u64>, (i8, Option<PreKind>, u64), (i8, u64), (i8, u64));

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn normalises() {
        let cases = [
            ("1.0", "1.0"),
            ("v1.2.3", "1.2.3"),
            ("1.0RC1", "1.0rc1"),
            ("1.0-alpha.2", "1.0a2"),
            ("1.0.preview3", "1.0rc3"),
            ("1.0c1", "1.0rc1"),
            ("1.0b", "1.0b0"),
            ("1.0-1", "1.0.post1"),
            ("1.0.rev2", "1.0.post2"),
            ("1.0_post_3", "1.0.post3"),
            ("1.0.dev", "1.0.dev0"),
            ("2!1.0", "2!1.0"),
            ("1.5", "1.5"),
            ("1.0+Ubuntu-1", "1.0+ubuntu.1"),
            ("0.14.13", "0.14.13"),
            ("1.0a1.post2.dev3", "1.0a1.post2.dev3"),
        ];
        for (input, want) in cases {
            assert_eq!(v(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn rejects() {
        for bad in ["", "x", "1.", "1..2", "1.0 foo", "1.0+", "1.0+a..b", "1.0-", "!1", "1.0rc1rc2"] {
            assert!(bad.parse::<Version>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn orders() {
        let sorted = [
            "1.0.dev0",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a1.post1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+abc",
            "1.0+5",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.0.1",
            "1.1",
            "0.14.25",
            "1!0.1",
        ];
        let chain: Vec<Version> = sorted[..13].iter().map(|s| v(s)).collect();
        for w in chain.windows(2) {
            assert!(w[0] < w[1], "{} < {}", w[0], w[1]);
        }
        assert!(v("0.14.14") < v("0.14.25"));
        assert!(v("0.14.25") < v("1!0.1"));
        assert_eq!(v("1.0").cmp(&v("1.0.0")), Ordering::Equal);
        assert!(v("0.10.0") > v("0.9.0"), "numeric, not lexicographic");
    }

    #[test]
    fn bumps() {
        let cases = [
            ("0.14.12", Bump::Patch, "0.14.13"),
            ("0.14.12", Bump::Minor, "0.15.0"),
            ("0.14.12", Bump::Major, "1.0.0"),
            ("0.0", Bump::Patch, "0.0.1"),
            ("0.0", Bump::Minor, "0.1.0"),
            ("1", Bump::Patch, "1.0.1"),
            ("1.0.0rc1", Bump::Patch, "1.0.0"),
            ("1.1.0b2", Bump::Minor, "1.1.0"),
            ("1.1.1b2", Bump::Minor, "1.2.0"),
            ("2.0.0.dev3", Bump::Major, "2.0.0"),
            ("2.1.0.dev3", Bump::Major, "3.0.0"),
            ("1.2.3.post1", Bump::Patch, "1.2.4"),
            ("2!1.2.3", Bump::Patch, "2!1.2.4"),
            ("1.2.3.4", Bump::Patch, "1.2.4"),
            // Finishing would go backwards here: these went to `1.0.0` and `1.1.0` before.
            ("1.0.0.1rc1", Bump::Patch, "1.0.1"),
            ("1.1.0.0.1.dev0", Bump::Minor, "1.2.0"),
            ("1.0rc1.post1", Bump::Patch, "1.0.0"),
        ];
        for (from, bump, want) in cases {
            assert_eq!(v(from).bump(bump).unwrap().to_string(), want, "{from} {bump}");
        }
        assert!(v("1.0+local").bump(Bump::Patch).is_err());
    }

    #[test]
    fn a_bump_never_goes_backwards() {
        // Every combination of release length, pre, post and dev over small numbers.
        let mut checked = 0;
        for release in
            ["0", "1", "0.0", "1.0", "0.1", "1.2", "1.0.0", "1.2.3", "0.0.1", "1.0.0.1", "1.2.3.4.5", "2!1.0"]
        {
            for pre in ["", "a1", "b0", "rc2"] {
                for post in ["", ".post1"] {
                    for dev in ["", ".dev0"] {
                        let old = v(&format!("{release}{pre}{post}{dev}"));
                        for bump in [Bump::Patch, Bump::Minor, Bump::Major] {
                            let new = old.bump(bump).unwrap();
                            assert!(new > old, "{old} {bump} gave {new}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 12 * 4 * 2 * 2 * 3);
        assert_eq!(v("0.14.13").next_minor().to_string(), "0.15.0");
    }
}
