//! Package names (PEP 503) and dependency requirements (the PEP 508 subset a pyproject uses):
//! `name[extras] specifiers ; marker` or `name @ url ; marker`.

use std::fmt;

use crate::version::Version;

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
}

impl Requirement {
    pub fn parse(text: &str) -> Result<Requirement, String> {
        let text = text.trim();
        let name_end =
            text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(text.len());
        let raw_name = &text[..name_end];
        if raw_name.is_empty() {
            return Err(format!("`{text}` is not a dependency: it does not start with a package name"));
        }
        let mut rest = text[name_end..].trim_start();
        let mut extras = String::new();
        if rest.starts_with('[') {
            let close = rest.find(']').ok_or_else(|| format!("`{text}` has an unclosed `[` in its extras"))?;
            extras = rest[..=close].to_string();
            rest = rest[close + 1..].trim_start();
        }
        let (specifiers, marker) = match rest.split_once(';') {
            Some((s, m)) => (s.trim(), m.trim()),
            None => (rest.trim(), ""),
        };
        Ok(Requirement {
            raw_name: raw_name.to_string(),
            name: PackageName::new(raw_name),
            extras,
            specifiers: specifiers.to_string(),
            marker: marker.to_string(),
        })
    }

    /// The same requirement with other version specifiers; name, extras and marker are kept.
    pub fn with_specifiers(&self, specifiers: &str) -> Requirement {
        Requirement { specifiers: specifiers.to_string(), ..self.clone() }
    }

    /// Whether `version` satisfies the specifiers (a url requirement never does).
    pub fn allows(&self, version: &Version) -> Result<bool, String> {
        if self.specifiers.starts_with('@') {
            return Ok(false);
        }
        let spec = self.specifiers.trim_start_matches('(').trim_end_matches(')');
        for one in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !specifier_allows(one, version)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
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

fn specifier_allows(spec: &str, v: &Version) -> Result<bool, String> {
    let op_len = spec.find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~')).unwrap_or(spec.len());
    let (op, operand) = (&spec[..op_len], spec[op_len..].trim());
    let bad = || format!("`{spec}` is not a version specifier");
    if op == "===" {
        return Ok(v.to_string() == operand);
    }
    if let Some(prefix) = operand.strip_suffix(".*") {
        let want: Version = prefix.parse().map_err(|_| bad())?;
        let matches = v.epoch() == want.epoch()
            && (0..want.release().len()).all(|i| v.release().get(i).copied().unwrap_or(0) == want.release()[i]);
        return match op {
            "==" => Ok(matches),
            "!=" => Ok(!matches),
            _ => Err(bad()),
        };
    }
    let want: Version = operand.parse().map_err(|_| bad())?;
    let v = &v.public();
    Ok(match op {
        "==" => *v == want,
        "!=" => *v != want,
        ">=" => *v >= want,
        "<=" => *v <= want,
        ">" => *v > want,
        "<" => *v < want,
        "~=" => {
            let n = want.release().len();
            if n < 2 {
                return Err(format!("`{spec}` needs at least two release numbers after `~=`"));
            }
            let prefix_ok = (0..n - 1).all(|i| v.release().get(i).copied().unwrap_or(0) == want.release()[i]);
            *v >= want && prefix_ok && v.epoch() == want.epoch()
        }
        _ => return Err(bad()),
    })
}

/// The first version of the series after `new`, written with as many release numbers as `bound`
/// (`0.14` → `0.15`, `0.14.0` → `0.15.0`, `1` → `2`): the upper bound that admits `new`'s series in
/// the style the requirement already uses. `new`'s epoch is kept.
pub fn series_bound(bound: &Version, new: &Version) -> Version {
    let (major, minor) = (new.release().first().copied().unwrap_or(0), new.release().get(1).copied().unwrap_or(0));
    let parts = bound.release().len().max(1);
    let mut release = if parts == 1 { vec![major + 1] } else { vec![major, minor + 1] };
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
        assert!(Requirement::parse("").is_err());
        assert!(Requirement::parse(">=1").is_err());
        assert!(Requirement::parse("x[a").is_err());
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
        ];
        for (spec, version, want) in cases {
            let r = Requirement::parse(&format!("x{spec}")).unwrap();
            assert_eq!(r.allows(&version.parse().unwrap()).unwrap(), want, "{spec} {version}");
        }
        assert!(Requirement::parse("x>>1").unwrap().allows(&"1".parse().unwrap()).is_err());
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
