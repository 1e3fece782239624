//! Package names (PEP 503) and dependency requirements (the PEP 508 subset a pyproject uses):
//! `name[extras] specifiers ; marker` or `name @ url ; marker`.

use std::fmt;

use crate::version::Version;

pub mod specifier;

/// A distribution name, compared in its PEP 503 normal form (`Foo_Bar.baz` is `foo-bar-baz`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(String);

impl PackageName {
    pub fn new(name: &str) -> PackageName {
        let mut out = String::with_capacity(name.len());
        for c in name.trim().chars() {
            if matches!(c, '-' | '_' | '.') {
                if !out.ends_with('-') {
                    out.push('-');
                }
            } else {
                out.push(c.to_ascii_lowercase());
            }
        }
        PackageName(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One dependency line, split into its parts so that one of them can be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The name as written.
    pub raw_name: String,
    pub name: PackageName,
    /// `[extra1,extra2]` as written, or empty.
    pub extras: String,
    /// The version specifiers (`>=1,<2`), or empty; `@ url` requirements keep the url here.
    pub specifiers: String,
    /// The environment marker after `;`, trimmed, or empty.
    pub marker: String,
    /// Declared for an extra (`[project.optional-dependencies]`, poetry's `optional = true`):
    /// such an edge never orders publishing nor closes a dependency cycle.
    pub optional: bool,
}

impl Requirement {
    /// Parses one PEP 508 line strictly: a bad name, extras, specifier or an empty marker is an
    /// error (the caller adds the file), never a requirement that silently allows anything.
    pub fn parse(text: &str) -> Result<Requirement, String> {
        let text = text.trim();
        let name_end =
            text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(text.len());
        let raw_name = &text[..name_end];
        // The scan above took only name characters: what is left to check is both ends.
        let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !(ends_ok(raw_name.chars().next()) && ends_ok(raw_name.chars().next_back())) {
            return Err(format!(
                "`{text}` is not a dependency: it must start with a package name (letters, digits, `-`, `_`, `.`, \
                 beginning and ending with a letter or digit)"
            ));
        }
        let mut rest = text[name_end..].trim_start();
        let mut extras = String::new();
        if rest.starts_with('[') {
            let close = rest.find(']').ok_or_else(|| format!("`{text}` has an unclosed `[` in its extras"))?;
            extras = rest[..=close].to_string();
            let inner = extras[1..extras.len() - 1].trim();
            if let Some(bad) = inner.split(',').map(str::trim).find(|n| !inner.is_empty() && !is_valid_name(n)) {
                return Err(format!("`{text}`: `{bad}` is not the name of an extra"));
            }
            rest = rest[close + 1..].trim_start();
        }
        let (specifiers, marker) = match rest.split_once(';') {
            Some((s, m)) => (s.trim(), Some(m.trim())),
            None => (rest.trim(), None),
        };
        if marker == Some("") {
            return Err(format!("`{text}` has an empty environment marker after `;`; remove the `;` or add a marker"));
        }
        if let Some(url) = specifiers.strip_prefix('@') {
            if url.trim().is_empty() {
                return Err(format!("`{text}` has no URL after `@`"));
            }
        } else if !specifiers.is_empty() {
            if !specifiers.starts_with(['<', '>', '=', '!', '~', '(']) {
                return Err(format!(
                    "`{text}`: expected version specifiers (`>=1.0`), `@ URL` or `; marker` after `{raw_name}{extras}`, \
                     found `{specifiers}`"
                ));
            }
            specifier::parse_all(specifiers).map_err(|e| format!("`{text}`: {e}"))?;
        }
        Ok(Requirement {
            raw_name: raw_name.to_string(),
            name: PackageName::new(raw_name),
            extras,
            specifiers: specifiers.to_string(),
            marker: marker.unwrap_or("").to_string(),
            optional: false,
        })
    }

    /// The same requirement with other version specifiers; name, extras and marker are kept.
    pub fn with_specifiers(&self, specifiers: &str) -> Requirement {
        Requirement { specifiers: specifiers.to_string(), ..self.clone() }
    }

    /// Whether `version` satisfies the specifiers (a url requirement never does). An error when
    /// the specifiers are malformed, which only [`Requirement::with_specifiers`] can make.
    pub fn allows(&self, version: &Version) -> Result<bool, String> {
        if self.specifiers.starts_with('@') {
            return Ok(false);
        }
        Ok(specifier::parse_all(&self.specifiers)?.iter().all(|s| s.contains(version)))
    }
}

/// PEP 508's name: ASCII letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit.
fn is_valid_name(name: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ends_ok(name.chars().next())
        && ends_ok(name.chars().last())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.raw_name, self.extras)?;
        if self.specifiers.starts_with('@') {
            write!(f, " {}", self.specifiers)?;
        } else {
            f.write_str(&self.specifiers)?;
        }
        if !self.marker.is_empty() {
            write!(f, "; {}", self.marker)?;
        }
        Ok(())
    }
}

/// The first version of the series after `new`, in the bound's own shape and with as many
/// release numbers (`0.14` → `0.15`, `0.14.0` → `0.15.0`, `1` → `2`, and `5.0.0` → `6.0.0` for
/// 5.0.0: a bound at a major version admits everything below the next major): the upper bound
/// that admits `new`'s series in the style the requirement already uses. `new`'s epoch is kept.
pub fn series_bound(bound: &Version, new: &Version) -> Version {
    let (major, minor) = (new.release().first().copied().unwrap_or(0), new.release().get(1).copied().unwrap_or(0));
    let parts = bound.release().len().max(1);
    let at_major = bound.release().first().is_some_and(|&m| m >= 1) && bound.release()[1..].iter().all(|&n| n == 0);
    let mut release = if parts == 1 || at_major { vec![major + 1] } else { vec![major, minor + 1] };
    release.resize(parts, 0);
    let text: Vec<String> = release.iter().map(u64::to_string).collect();
    let epoch = if new.epoch() == 0 { String::new() } else { format!("{}!", new.epoch()) };
    format!("{epoch}{}", text.join(".")).parse().expect("built from numbers")
}

/// `specifiers` (`>=0.13.0,<0.14`) with every `<` bound that excludes `new` moved to the series
/// after `new` in its own style (see [`series_bound`]); every other byte stays as written. `None`
/// when `new` is already allowed. An exclusion no upper bound explains (`==`, `!=`, `<=`, `~=`, a
/// lower bound above `new`) is an error saying what to write instead.
pub fn widen_specifiers(specifiers: &str, new: &Version) -> Result<Option<String>, String> {
    let probe = |s: &str| Requirement { specifiers: s.to_string(), ..Requirement::parse("x").expect("a name") };
    if probe(specifiers).allows(new)? {
        return Ok(None);
    }
    let mut out = String::with_capacity(specifiers.len() + 2);
    for (i, clause) in specifiers.split(',').enumerate() {
        if i > 0 {
            out.push(',');
        }
        let spec = clause.trim().trim_start_matches('(').trim_end_matches(')');
        let operand = spec.strip_prefix('<').filter(|o| !o.starts_with('=')).map(str::trim);
        let bound = operand.and_then(|o| o.parse::<Version>().ok());
        match (operand, bound) {
            (Some(operand), Some(bound)) if !probe(spec).allows(new)? => {
                let at = clause.find(operand).expect("the operand is part of its clause");
                let widened = series_bound(&bound, new).to_string();
                out.push_str(&format!("{}{widened}{}", &clause[..at], &clause[at + operand.len()..]));
            }
            _ => out.push_str(clause),
        }
    }
    if !probe(&out).allows(new)? {
        return Err(format!(
            "`{specifiers}` excludes `{new}` by more than its upper bound; write it as `>=LOWER,<UPPER`, or allow `{new}` by hand"
        ));
    }
    Ok(Some(out))
}

/// A whole dependency string (`name[extras] specifiers ; marker`) with its specifiers widened by
/// [`widen_specifiers`]: name, extras, marker and spacing stay byte for byte. `None` when `new`
/// is allowed already; a url requirement (`name @ url`) is never widened.
pub fn widen_requirement(text: &str, new: &Version) -> Result<Option<String>, String> {
    let req = Requirement::parse(text)?;
    if req.specifiers.starts_with('@') {
        return Ok(None);
    }
    let marker_at = text.find(';').unwrap_or(text.len());
    let head = &text[..marker_at];
    // The specifiers start after the name and the extras; they are what is left of the head.
    let after_name = head.find(req.raw_name.as_str()).map_or(0, |i| i + req.raw_name.len());
    let after_extras = if req.extras.is_empty() {
        after_name
    } else {
        head[after_name..].find(']').map_or(after_name, |i| after_name + i + 1)
    };
    let region = &head[after_extras..];
    Ok(widen_specifiers(region, new)?.map(|w| format!("{}{w}{}", &text[..after_extras], &text[marker_at..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise() {
        for (a, b) in [
            ("Foo_Bar.baz", "foo-bar-baz"),
            ("llama-index-core", "llama-index-core"),
            ("SQLAlchemy", "sqlalchemy"),
            ("a--_b", "a-b"),
        ] {
            assert_eq!(PackageName::new(a).as_str(), b);
        }
    }

    #[test]
    fn parses_the_tricky_specifiers() {
        // The original's regex turned `~=` and `!=` into names ending in `~` and `!`.
        let cases = [
            ("aiohttp~=3.0", "aiohttp", "", "~=3.0", ""),
            ("x!=1", "x", "", "!=1", ""),
            ("llama-index-core>=0.14.12,<0.15.0", "llama-index-core", "", ">=0.14.12,<0.15.0", ""),
            (
                "pkg[extra1, extra2] >= 1.0 ; python_version < '3.10'",
                "pkg",
                "[extra1, extra2]",
                ">= 1.0",
                "python_version < '3.10'",
            ),
            ("pkg @ https://example.invalid/p.whl", "pkg", "", "@ https://example.invalid/p.whl", ""),
            ("opengauss_sqlalchemy===1.0", "opengauss-sqlalchemy", "", "===1.0", ""),
            ("bare", "bare", "", "", ""),
        ];
        for (text, name, extras, spec, marker) in cases {
            let r = Requirement::parse(text).unwrap();
            assert_eq!(
                (r.name.as_str(), r.extras.as_str(), r.specifiers.as_str(), r.marker.as_str()),
                (name, extras, spec, marker),
                "{text}"
            );
        }
    }

    #[test]
    fn parses_strictly() {
        let check = |text: &str, want: expect_test::Expect| want.assert_eq(&Requirement::parse(text).unwrap_err());
        check("pkg >= 1.0 garbage", expect_test::expect!["`pkg >= 1.0 garbage`: `>= 1.0 garbage` is not a version specifier: expected one version after `>=`; separate specifiers with commas (`>=1.0,<2.0`)"]);
        check("pkg >=1.0 <2.0", expect_test::expect!["`pkg >=1.0 <2.0`: `>=1.0 <2.0` is not a version specifier: expected one version after `>=`; separate specifiers with commas (`>=1.0,<2.0`)"]);
        check(
            "pkg;",
            expect_test::expect!["`pkg;` has an empty environment marker after `;`; remove the `;` or add a marker"],
        );
        check("-bad", expect_test::expect!["`-bad` is not a dependency: it must start with a package name (letters, digits, `-`, `_`, `.`, beginning and ending with a letter or digit)"]);
        check("pkg garbage", expect_test::expect!["`pkg garbage`: expected version specifiers (`>=1.0`), `@ URL` or `; marker` after `pkg`, found `garbage`"]);
        check("pkg==1.0rc1.*", expect_test::expect!["`pkg==1.0rc1.*`: `==1.0rc1.*`: a `.*` wildcard must follow release numbers only (like `==1.0.*`), not a pre-, post-, dev or local part"]);
        check("pkg>=1,,<2", expect_test::expect!["`pkg>=1,,<2`: `>=1,,<2` has an empty specifier between commas"]);
        check("pkg[a,-b]", expect_test::expect!["`pkg[a,-b]`: `-b` is not the name of an extra"]);
        check("pkg @ ", expect_test::expect!["`pkg @` has no URL after `@`"]);
        for bad in ["", ">=1", "x[a", "bad-", "x (>=1", "x~=1"] {
            assert!(Requirement::parse(bad).is_err(), "{bad:?} parsed");
        }
        for good in ["x (>=1.0,<2)", "x[]", "x ; python_version<'3.10'", "x===anything", "A.b_c-D>=1"] {
            assert!(Requirement::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn rewrites_keep_extras_and_markers() {
        let r = Requirement::parse("llama-index-core[extra]>=0.14.12,<0.15.0; python_version>='3.9'").unwrap();
        assert_eq!(
            r.with_specifiers(">=0.14.13,<0.15.0").to_string(),
            "llama-index-core[extra]>=0.14.13,<0.15.0; python_version>='3.9'"
        );
    }

    #[test]
    fn specifiers_match() {
        let cases = [
            (">=0.14.13,<0.15.0", "0.14.13", true),
            (">=0.14.13,<0.15.0", "0.15.0", false),
            (">=0.14.13,<0.15.0", "0.14.12", false),
            ("~=0.14.0", "0.14.9", true),
            ("~=0.14.0", "0.15.0", false),
            ("~=1.4", "1.9", true),
            ("~=1.4", "2.0", false),
            ("==1.2.*", "1.2.7", true),
            ("==1.2.*", "1.3", false),
            ("!=1.0", "1.0.0", false),
            ("", "9", true),
            ("==1.0", "1.0+local", true),
            // The review's cases, each wrong before PEP 440's exclusive and local rules.
            ("<0.15.0", "0.15.0rc1", false),
            (">=0.14.12,<0.15.0", "0.15.0.dev0", false),
            ("<1.0", "1.0.dev0", false),
            (">1.0", "1.0.post1", false),
            (">1.0.post1", "1.0.post2", true),
            ("<1.0rc2", "1.0rc1", true),
            ("==1.0+abc", "1.0+abc", true),
            ("!=1.0+abc", "1.0+abc", false),
            ("!=1.0+abc", "1.0+xyz", true),
            ("==1.1.*", "1", false),
        ];
        for (spec, version, want) in cases {
            let r = Requirement::parse(&format!("x{spec}")).unwrap();
            assert_eq!(r.allows(&version.parse().unwrap()).unwrap(), want, "{spec} {version}");
        }
        let malformed = Requirement::parse("x").unwrap().with_specifiers(">>1");
        assert!(malformed.allows(&"1".parse().unwrap()).is_err());
    }

    #[test]
    fn widening_keeps_the_lower_bound_and_the_style() {
        let check = |text: &str, new: &str, want: Option<&str>| {
            assert_eq!(widen_requirement(text, &new.parse().unwrap()).unwrap().as_deref(), want, "{text} for {new}");
        };
        // The real v0.14.0 commit: 581 two-part bounds, one three-part.
        check("llama-index-core>=0.13.0,<0.14", "0.14.0", Some("llama-index-core>=0.13.0,<0.15"));
        check("llama-index-core>=0.13.0,<0.14.0", "0.14.0", Some("llama-index-core>=0.13.0,<0.15.0"));
        check(
            "llama-index-core[openai] >= 0.13.0, < 0.14 ; python_version >= '3.10'",
            "0.14.0",
            Some("llama-index-core[openai] >= 0.13.0, < 0.15 ; python_version >= '3.10'"),
        );
        check("llama-index-core<0.14,>=0.13", "0.14.0", Some("llama-index-core<0.15,>=0.13"));
        check("llama-index-core>=0.13.0,<1", "1.0.0", Some("llama-index-core>=0.13.0,<2"));
        check("llama-index-core>=0.14.0,<0.15", "1.0.0", Some("llama-index-core>=0.14.0,<1.1"));
        // Each bound keeps its shape: a major bound moves to the next major.
        check("store>=4.2,<5.0.0", "5.0.0", Some("store>=4.2,<6.0.0"));
        check("store>=4.2,<5", "5.0.0", Some("store>=4.2,<6"));
        check("store>=4.2,<5.0", "5.1.0", Some("store>=4.2,<6.0"));
        check("client>=0.14,<0.15", "0.15.0", Some("client>=0.14,<0.16"));
        check("client>=0.14,<0.15.0", "0.15.0", Some("client>=0.14,<0.16.0"));
        check("client>=1.4,<1.5.0", "1.5.0", Some("client>=1.4,<1.6.0"));
        // Already allowed, or nothing to widen.
        check("llama-index-core>=0.13.0,<0.15", "0.14.0", None);
        check("llama-index-core", "0.14.0", None);
        check("llama-index-core @ file:///core", "0.14.0", None);
        for (text, new) in [
            ("llama-index-core==0.13.6", "0.14.0"),
            ("llama-index-core~=0.13.0", "0.14.0"),
            ("llama-index-core<=0.13.9", "0.14.0"),
            ("llama-index-core>=0.15,<0.16", "0.14.0"),
        ] {
            let err = widen_requirement(text, &new.parse().unwrap()).unwrap_err();
            assert!(err.contains("by more than its upper bound"), "{text}: {err}");
        }
        assert!(widen_requirement("llama-index-core<<0.14", &"0.14.0".parse().unwrap()).is_err());
        assert_eq!(series_bound(&"0.14".parse().unwrap(), &"1!2.3.4".parse().unwrap()).to_string(), "1!2.4");
    }
}
