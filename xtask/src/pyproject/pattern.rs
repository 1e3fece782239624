//! Hatch's custom version `pattern` (`[tool.hatch.version] pattern = 'BUILD = "(?P<version>[^"]+)"'`):
//! the part of a regular expression such patterns use, read without a regex engine. Before the
//! `version` group: literal characters, escapes (`\.`, `\(`), whitespace (`\s*`, `\s+`, ` *`,
//! ` +`), one-character classes (`['"]`) and `^`; after it, the first character or class says
//! where the version ends. Anything else is refused with the pattern named, never guessed.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Ws { min: usize },
    Class(Vec<char>),
}

/// A parsed pattern: what comes before the version, and the characters that end it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    anchored: bool,
    before: Vec<Tok>,
    stop: Vec<char>,
}

const GROUP: &str = "(?P<version>";

/// Reads `pattern`, or says why it cannot.
pub fn parse(pattern: &str) -> Result<Pattern, String> {
    let refuse = |what: &str| {
        Err(format!("hatch's `pattern` `{pattern}` uses {what}, which the release tool does not read; write the version as `__version__ = \"…\"` or use a simpler pattern"))
    };
    let Some((head, tail)) = pattern.split_once(GROUP) else { return refuse("no `(?P<version>…)` group") };
    let (anchored, head) = match head.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, head),
    };
    let before = match tokens(head) {
        Ok(t) => t,
        Err(what) => return refuse(what),
    };
    // The group's own body is skipped; the first thing after it ends the version.
    let mut depth = 1;
    let mut chars = tail.char_indices();
    let mut after = "";
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    after = &tail[i + 1..];
                    break;
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return refuse("an unclosed group");
    }
    let stop = match tokens(after).ok().and_then(|t| t.into_iter().next()) {
        Some(Tok::Lit(c)) => vec![c],
        Some(Tok::Class(set)) => set,
        _ => vec!['"', '\'', ' ', '\t'],
    };
    Ok(Pattern { anchored, before, stop })
}

/// The tokens of a plain part of a pattern, or what it holds that is not plain.
fn tokens(text: &str) -> Result<Vec<Tok>, &'static str> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let quantified = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| match chars.peek() {
            Some('*') => {
                chars.next();
                Some(0)
            }
            Some('+') => {
                chars.next();
                Some(1)
            }
            _ => None,
        };
        match c {
            '\\' => match chars.next() {
                Some('s') => out.push(Tok::Ws { min: quantified(&mut chars).unwrap_or(1) }),
                Some(e) if !e.is_ascii_alphanumeric() => out.push(Tok::Lit(e)),
                _ => return Err("an escape other than `\\s` or a punctuation character"),
            },
            ' ' => match quantified(&mut chars) {
                Some(min) => out.push(Tok::Ws { min }),
                None => out.push(Tok::Lit(' ')),
            },
            '[' => {
                let mut set = Vec::new();
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some('\\') => set.extend(chars.next()),
                        Some('^') if set.is_empty() => return Err("a negated class before the version"),
                        Some(c) => set.push(c),
                        None => return Err("an unclosed class"),
                    }
                }
                out.push(Tok::Class(set));
            }
            '.' | '(' | ')' | '|' | '*' | '+' | '?' | '{' | '}' | '$' | '^' => {
                return Err("regular-expression operators outside the version group")
            }
            c => out.push(Tok::Lit(c)),
        }
        if matches!(chars.peek(), Some('*' | '+' | '?' | '{')) {
            return Err("a quantifier on something other than whitespace");
        }
    }
    Ok(out)
}

impl Pattern {
    /// The version's byte range in `text`: the first line where the pattern matches.
    pub fn find(&self, text: &str) -> Option<Range<usize>> {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let starts: Vec<usize> =
                if self.anchored { vec![0] } else { line.char_indices().map(|(i, _)| i).collect() };
            for start in starts {
                if let Some(r) = self.at(line, start) {
                    return Some(offset + r.start..offset + r.end);
                }
            }
            offset += line.len();
        }
        None
    }

    fn at(&self, line: &str, start: usize) -> Option<Range<usize>> {
        let mut rest = &line[start..];
        for tok in &self.before {
            rest = match tok {
                Tok::Lit(c) => rest.strip_prefix(*c)?,
                Tok::Class(set) => rest.strip_prefix(|c: char| set.contains(&c))?,
                Tok::Ws { min } => {
                    let trimmed = rest.trim_start_matches([' ', '\t']);
                    (rest.len() - trimmed.len() >= *min).then_some(trimmed)?
                }
            };
        }
        let from = line.len() - rest.len();
        let len = rest.find(|c: char| self.stop.contains(&c) || c == '\n' || c == '\r').unwrap_or(rest.len());
        (len > 0).then_some(from..from + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_patterns_people_write() {
        let cases = [
            (r#"BUILD = "(?P<version>[^"]+)""#, "X = 1\nBUILD = \"2.0.1\"\n", Some("2.0.1")),
            (r#"^__version__\s*=\s*['"](?P<version>[^'"]+)['"]"#, "__version__ ='1.4'\n", Some("1.4")),
            (r"VERSION = \((?P<version>[0-9.]+)\)", "VERSION = (3.2.1)\n", Some("3.2.1")),
            (r#"version: "(?P<version>.+?)""#, "  version: \"0.9\"\n", Some("0.9")),
            (r#"^v = "(?P<version>[^"]+)""#, "  v = \"1\"\n", None),
        ];
        for (pattern, text, want) in cases {
            let p = parse(pattern).unwrap();
            assert_eq!(p.find(text).map(|r| &text[r]), want, "{pattern}");
        }
        for bad in [r"(\d+)\.(?P<version>.*)", "version = (?P<version>.*", r"v.*(?P<version>.*)", "no group"] {
            let err = parse(bad).unwrap_err();
            assert!(err.starts_with(&format!("hatch's `pattern` `{bad}` uses ")), "{err}");
        }
    }
}
