//! The pure half of writing: a release's section as Markdown (the date passed in), the title
//! escaping, the placeholder replacement, and extracting one release's notes.

use anyhow::{bail, Result};

use crate::version::Version;

/// One pull request line: `- <title> ([#N](<url>))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub number: u64,
    /// The title as GitHub or the subject has it; escaped only when rendered.
    pub title: String,
    pub url: String,
    pub author: Option<String>,
}

/// `### <project.name> [<version>]` and its pull requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub version: String,
    pub path: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Sorted by name, entries by number.
    pub sections: Vec<Section>,
    /// Pull requests that touched no package, when the configuration gives them a section.
    pub other: Vec<Entry>,
}

/// The heading of the section for pull requests that touched no package.
pub const OTHER_HEADING: &str = "Other changes";

/// The text inserted after the placeholder: prettier-stable, so a blank line after every
/// heading, one between blocks, and a trailing newline.
pub fn render(release: &Release) -> String {
    let mut out = format!("## [{}]\n", release.date);
    let bullets = |out: &mut String, entries: &[Entry]| {
        out.push('\n');
        for e in entries {
            out.push_str(&format!("- {} ([#{}]({}))\n", escape_title(&e.title), e.number, e.url));
        }
    };
    for s in &release.sections {
        out.push_str(&format!("\n### {} [{}]\n", s.name, s.version));
        bullets(&mut out, &s.entries);
    }
    if !release.other.is_empty() {
        out.push_str(&format!("\n### {OTHER_HEADING}\n"));
        bullets(&mut out, &release.other);
    }
    out
}

/// Makes a title safe to place after `- ` on one line, so it cannot change the structure of
/// the file around it. The scheme, chosen to keep titles readable both raw and rendered:
///
/// - line breaks, tabs and other control characters become one space; the ends are trimmed;
/// - a balanced code span (`` `x` ``, ``` ``x`` ```) is kept verbatim: it renders literally;
/// - elsewhere `\`, `[`, `]` and `<` get a backslash, so no title makes a link, a reference,
///   HTML, or a comment (such as a second changelog placeholder); an unbalanced backtick too;
/// - a first character that would open a block inside the list item (`#` heading, `>` quote,
///   `- `/`+ `/`* ` list, `---` break, `~~~` fence) gets a backslash, as does the `.` or `)`
///   of a leading `1.`/`1)` (an ordered list);
/// - emphasis (`*`, `_`) is left alone: it cannot reach beyond the line.
pub fn escape_title(title: &str) -> String {
    let flat: String = title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = flat.split(' ').filter(|w| !w.is_empty()).collect();
    let text = words.join(" ");
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            let run = chars[i..].iter().take_while(|&&c| c == '`').count();
            if let Some(end) = closing_run(&chars, i + run, run) {
                out.extend(&chars[i..end + run]);
                i = end + run;
                continue;
            }
            for _ in 0..run {
                out.push_str("\\`");
            }
            i += run;
            continue;
        }
        if matches!(c, '\\' | '[' | ']' | '<') || (i == 0 && starts_block(&chars)) {
            out.push('\\');
        }
        if matches!(c, '.' | ')') && i > 0 && chars[..i].iter().all(char::is_ascii_digit) {
            out.push('\\');
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Whether a line starting with `chars` would open a block (heading, quote, list item,
/// thematic break, fence) rather than continue a paragraph.
fn starts_block(chars: &[char]) -> bool {
    let next = chars.get(1).copied();
    match chars.first() {
        Some('#' | '>') => true,
        Some(&c @ ('-' | '+' | '*')) => next.is_none_or(|n| n == ' ' || n == c),
        Some('_') => chars.iter().all(|&c| c == '_' || c == ' '),
        Some('~') => chars.starts_with(&['~', '~', '~']),
        _ => false,
    }
}

/// Where a backtick run of exactly `len` closes a code span opened before `from`.
fn closing_run(chars: &[char], from: usize, len: usize) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == '`' {
            let run = chars[j..].iter().take_while(|&&c| c == '`').count();
            if run == len {
                return Some(j);
            }
            j += run;
        } else {
            j += 1;
        }
    }
    None
}

/// The changelog with `section` inserted after the placeholder, which stays on top for the
/// next release. The placeholder must appear exactly once on a line of its own (an escaped
/// title that quotes it is text, not the placeholder).
pub fn insert(file: &str, content: &str, placeholder: &str, section: &str) -> Result<String> {
    let lines: Vec<usize> = line_starts(content)
        .filter(|&i| content[i..].lines().next().is_some_and(|l| l.trim() == placeholder))
        .collect();
    let count = lines.len();
    match count {
        0 => bail!(
            "{file} has no placeholder `{placeholder}`; add it on a line of its own where new releases go \
             (below the title), or set `changelog.placeholder` in release.toml"
        ),
        1 => {}
        n => bail!("{file} has the placeholder `{placeholder}` {n} times; keep only the one above the newest release"),
    }
    let at = lines[0] + content[lines[0]..].find(placeholder).unwrap_or(0);
    let (before, after) = (&content[..at], &content[at + placeholder.len()..]);
    let after = after.trim_start_matches(['\n', '\r']);
    let rest = if after.is_empty() { String::new() } else { format!("\n{after}") };
    Ok(format!("{before}{placeholder}\n\n{section}{rest}"))
}

/// How to find one release's section, in order of trust.
pub struct Find<'a> {
    /// The package names whose `### <name> [<version>]` heading marks the release (core, umbrella).
    pub names: &'a [&'a str],
    pub version: &'a Version,
    /// The changelog as it was at the previous release: a section not in it is this release's.
    pub before: Option<&'a str>,
    /// The release tag's date (`YYYY-MM-DD`), when the tag exists: the section of that date.
    pub tag_date: Option<&'a str>,
}

/// The notes of one release: its `## [` section with `header` on top. The section is the one
/// with a heading `### <core or umbrella> [<version>]`, else the one the release added since
/// the previous release, else the one dated like the release tag. None of those: an error,
/// never another release's notes.
pub fn notes(file: &str, content: &str, placeholder: &str, header: &str, find: &Find) -> Result<String> {
    let sections = sections(content, placeholder);
    let version = find.version;
    // Versions are compared as versions: `0.14.13` finds `[0.14.13.0]` too.
    let is_heading = |line: &str| {
        find.names.iter().any(|name| {
            line.trim_end()
                .strip_prefix(&format!("### {name} ["))
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|v| v.parse::<Version>().ok())
                .as_ref()
                == Some(version)
        })
    };
    let by_heading = sections.iter().find(|s| s.lines().any(is_heading));
    let by_diff = || find.before.and_then(|old| sections.iter().find(|s| !old.contains(s.trim_end())));
    let by_date = || {
        find.tag_date.and_then(|d| {
            let line = format!("## [{d}]");
            sections.iter().find(|s| s.lines().next().is_some_and(|l| l.trim_end() == line))
        })
    };
    let Some(section) = by_heading.or_else(by_diff).or_else(by_date) else {
        let headings: Vec<String> = find.names.iter().map(|n| format!("`### {n} [{version}]`")).collect();
        let date = match find.tag_date {
            Some(d) => format!("no section dated `{d}`, the date of its release tag"),
            None => "no release tag to date it by".to_string(),
        };
        bail!(
            "{file} has no section for version `{version}`: no {} heading, and {date}; pass the version of a release the changelog has",
            headings.join(" or ")
        );
    };
    Ok(format!("{header}\n\n{}\n", section.trim_end()))
}

/// The byte offsets at which the lines of `text` start.
fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).filter(move |&i| i < text.len())
}

/// The `## [` sections below the placeholder, newest first.
fn sections<'a>(content: &'a str, placeholder: &str) -> Vec<&'a str> {
    let start = line_starts(content)
        .find(|&i| content[i..].lines().next().is_some_and(|l| l.trim() == placeholder))
        .map_or(0, |i| i + content[i..].lines().next().map_or(0, str::len));
    let body = &content[start..];
    let mut offsets: Vec<usize> = body.match_indices("\n## [").map(|(i, _)| i + 1).collect();
    if body.starts_with("## [") {
        offsets.insert(0, 0);
    }
    offsets
        .iter()
        .enumerate()
        .map(|(k, &from)| &body[from..offsets.get(k + 1).copied().unwrap_or(body.len())])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn entry(number: u64, title: &str) -> Entry {
        Entry { number, title: title.into(), url: format!("https://github.com/o/r/pull/{number}"), author: None }
    }

    #[test]
    fn escaping_keeps_titles_on_their_line() {
        let cases = [
            "plain title",
            "fix: escape `[tag]` ] and *stars* in titles",
            "#131 is a title that starts with a hash",
            "# a heading",
            "[WIP] link-like [text](http://x) and ![img](y)",
            "<!--- generated changelog ---> <b>html</b> a -> b",
            "> quote",
            "- dash",
            "--- rule",
            "*stars* first",
            "__init__ fix",
            "1. ordered",
            "10) ordered",
            "unbalanced ` backtick",
            "``code with ` inside``",
            "back\\slash \\[",
            "line\nbreak\ttab  spaces ",
            "Unterstützung für Umlaute 🚀",
        ];
        let shown: String = cases.iter().map(|c| format!("{:?}\n  -> {}\n", c, escape_title(c))).collect();
        expect![[r##"
            "plain title"
              -> plain title
            "fix: escape `[tag]` ] and *stars* in titles"
              -> fix: escape `[tag]` \] and *stars* in titles
            "#131 is a title that starts with a hash"
              -> \#131 is a title that starts with a hash
            "# a heading"
              -> \# a heading
            "[WIP] link-like [text](http://x) and ![img](y)"
              -> \[WIP\] link-like \[text\](http://x) and !\[img\](y)
            "<!--- generated changelog ---> <b>html</b> a -> b"
              -> \<!--- generated changelog ---> \<b>html\</b> a -> b
            "> quote"
              -> \> quote
            "- dash"
              -> \- dash
            "--- rule"
              -> \--- rule
            "*stars* first"
              -> *stars* first
            "__init__ fix"
              -> __init__ fix
            "1. ordered"
              -> 1\. ordered
            "10) ordered"
              -> 10\) ordered
            "unbalanced ` backtick"
              -> unbalanced \` backtick
            "``code with ` inside``"
              -> ``code with ` inside``
            "back\\slash \\["
              -> back\\slash \\\[
            "line\nbreak\ttab  spaces "
              -> line break tab spaces
            "Unterstützung für Umlaute 🚀"
              -> Unterstützung für Umlaute 🚀
        "##]]
        .assert_eq(&shown);
    }

    #[test]
    fn renders_the_prettier_stable_layout() {
        let release = Release {
            date: "2026-01-21".into(),
            sections: vec![
                Section {
                    name: "llama-index-core".into(),
                    version: "0.14.13".into(),
                    path: "llama-index-core".into(),
                    entries: vec![entry(7, "feat: x"), entry(12, "[bug] y")],
                },
                Section {
                    name: "llama-index-vector-stores-volcengine-mysql".into(),
                    version: "0.2.1".into(),
                    path: "v".into(),
                    entries: vec![entry(12, "[bug] y")],
                },
            ],
            other: vec![entry(9, "docs: z")],
        };
        expect![[r#"
            ## [2026-01-21]

            ### llama-index-core [0.14.13]

            - feat: x ([#7](https://github.com/o/r/pull/7))
            - \[bug\] y ([#12](https://github.com/o/r/pull/12))

            ### llama-index-vector-stores-volcengine-mysql [0.2.1]

            - \[bug\] y ([#12](https://github.com/o/r/pull/12))

            ### Other changes

            - docs: z ([#9](https://github.com/o/r/pull/9))
        "#]]
        .assert_eq(&render(&release));
    }

    #[test]
    fn inserts_below_the_placeholder_or_fails() {
        let p = "<!--- generated changelog --->";
        let section = "## [2026-01-21]\n\n### a [1]\n\n- x ([#1](u))\n";
        let old = format!("# ChangeLog\n\n{p}\n\n## [2026-01-01]\n\n- old\n");
        expect![[r#"
            # ChangeLog

            <!--- generated changelog --->

            ## [2026-01-21]

            ### a [1]

            - x ([#1](u))

            ## [2026-01-01]

            - old
        "#]]
        .assert_eq(&insert("CHANGELOG.md", &old, p, section).unwrap());
        assert_eq!(insert("C", &format!("# C\n\n{p}\n"), p, section).unwrap(), format!("# C\n\n{p}\n\n{section}"));
        let err = insert("CHANGELOG.md", "# ChangeLog\n", p, section).unwrap_err().to_string();
        assert!(err.starts_with("CHANGELOG.md has no placeholder `<!--- generated changelog --->`"), "{err}");
        let err = insert("CHANGELOG.md", &format!("{p}\n{p}\n"), p, section).unwrap_err().to_string();
        assert!(err.contains("2 times"), "{err}");
    }

    #[test]
    fn notes_are_found_by_heading_then_by_what_the_release_added_then_by_the_tag_date() {
        let p = "<!--- generated changelog --->";
        let file = format!(
            "# ChangeLog\n\n{p}\n\n## [2026-01-21]\n\n### llama-index-core [0.14.13]\n\n- new\n\n\
             ## [2026-01-10]\n\n### llama-index [0.14.12]\n\n- old\n\n\
             ## [2025-12-30]\n\n### llama-index-llms-openai [0.6.1]\n\n- older, no core or umbrella heading\n"
        );
        let notes = |v: &str, before: Option<&str>, tag_date: Option<&str>| {
            let version = v.parse().unwrap();
            let find = Find { names: &["llama-index-core", "llama-index"], version: &version, before, tag_date };
            notes("CHANGELOG.md", &file, p, "# Release Notes", &find)
        };
        expect![[r#"
            # Release Notes

            ## [2026-01-21]

            ### llama-index-core [0.14.13]

            - new
        "#]]
        .assert_eq(&notes("0.14.13", None, None).unwrap());
        // The umbrella's heading, versions compared as versions.
        assert!(notes("0.14.12.0", None, None).unwrap().contains("- old"));
        // A release with neither heading: by the tag's date.
        assert!(notes("0.14.11", None, Some("2025-12-30")).unwrap().contains("- older"));
        // The section the release added, whatever its headings.
        let before = file.replace("## [2026-01-21]\n\n### llama-index-core [0.14.13]\n\n- new\n\n", "");
        assert!(notes("0.14.14", Some(&before), None).unwrap().contains("- new"));
        // Nothing matches: an error, never the newest section.
        let err = notes("0.14.11", None, Some("2025-11-01")).unwrap_err().to_string();
        expect![[r#"CHANGELOG.md has no section for version `0.14.11`: no `### llama-index-core [0.14.11]` or `### llama-index [0.14.11]` heading, and no section dated `2025-11-01`, the date of its release tag; pass the version of a release the changelog has"#]].assert_eq(&err);
        let err = notes("0.14.13.1", None, None).unwrap_err().to_string();
        assert!(err.contains("no release tag to date it by"), "{err}");
    }
}
