//! Conventional commit subjects (`feat(store)!: drop the v1 API (#12)`): their type, and the
//! bump they call for (`--bump auto`). Pure.

use crate::version::{Bump, Version};

/// What a subject says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    /// `feat`, `fix`, `docs`, … in lower case; `None` when the subject is not conventional.
    pub kind: Option<String>,
    /// `!` after the type, or a `BREAKING CHANGE:` footer in the body.
    pub breaking: bool,
}

/// Reads `subject` (and the commit's `body`, for the footer).
pub fn parse(subject: &str, body: &str) -> Kind {
    let footer = body.lines().any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    let Some((head, _)) = subject.split_once(':') else { return Kind { kind: None, breaking: footer } };
    let (head, bang) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let kind = match head.split_once('(') {
        Some((kind, scope)) if scope.ends_with(')') => kind,
        Some(_) => return Kind { kind: None, breaking: footer },
        None => head,
    };
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Kind { kind: None, breaking: footer };
    }
    Kind { kind: Some(kind.to_ascii_lowercase()), breaking: bang || footer }
}

/// The section a subject's notes go under.
pub fn heading(kind: &Kind) -> &'static str {
    match (kind.breaking, kind.kind.as_deref()) {
        (true, _) => "Breaking changes",
        (_, Some("feat")) => "Features",
        (_, Some("fix")) => "Fixes",
        (_, Some("perf")) => "Performance",
        (_, Some("docs")) => "Documentation",
        _ => "Other changes",
    }
}

/// The order of the headings in the notes.
pub const HEADINGS: [&str; 6] =
    ["Breaking changes", "Features", "Fixes", "Performance", "Documentation", "Other changes"];

/// The bump `subjects` (with bodies) call for from `version`, and why, in words: breaking →
/// major, `feat` → minor, the rest → patch; below 1.0 one level lower (breaking → minor,
/// `feat` → patch), as release-plz, python-semantic-release and commitizen do.
pub fn bump(version: &Version, commits: &[(String, String)]) -> (Bump, String) {
    let kinds: Vec<(Kind, &str)> = commits.iter().map(|(s, b)| (parse(s, b), s.as_str())).collect();
    let breaking = kinds.iter().find(|(k, _)| k.breaking);
    let feature = kinds.iter().find(|(k, _)| k.kind.as_deref() == Some("feat"));
    let below_one = version.release().first().copied().unwrap_or(0) == 0;
    let n = commits.len();
    let (bump, why) = match (breaking, feature) {
        (Some((_, s)), _) if below_one => (Bump::Minor, format!("a breaking change below 1.0 (`{s}`)")),
        (Some((_, s)), _) => (Bump::Major, format!("a breaking change (`{s}`)")),
        (None, Some((_, s))) if below_one => (Bump::Patch, format!("a feature below 1.0 (`{s}`)")),
        (None, Some((_, s))) => (Bump::Minor, format!("a feature (`{s}`)")),
        (None, None) if n == 0 => (Bump::Patch, "no commit since the last release: the smallest bump".to_string()),
        (None, None) => {
            (Bump::Patch, format!("no feature and no breaking change in {n} commit{}", crate::output::plural(n)))
        }
    };
    (bump, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commits(subjects: &[&str]) -> Vec<(String, String)> {
        subjects.iter().map(|s| (s.to_string(), String::new())).collect()
    }

    #[test]
    fn reads_subjects() {
        let k = |s: &str| parse(s, "");
        assert_eq!(k("feat(store): add ttl (#3)"), Kind { kind: Some("feat".into()), breaking: false });
        assert_eq!(k("fix!: drop py3.8"), Kind { kind: Some("fix".into()), breaking: true });
        assert_eq!(k("Fix: typo"), Kind { kind: Some("fix".into()), breaking: false });
        assert_eq!(k("Update README: typo"), Kind { kind: None, breaking: false });
        assert_eq!(k("feat(x: y"), Kind { kind: None, breaking: false });
        assert!(parse("refactor: x", "body\n\nBREAKING CHANGE: the API").breaking);
        assert_eq!(heading(&k("chore: x")), "Other changes");
    }

    #[test]
    fn chooses_the_bump_and_says_why() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        let cases = [
            ("4.2.0", vec!["fix: a", "feat(store): b", "feat!: c"], "major: a breaking change (`feat!: c`)"),
            ("4.2.0", vec!["fix: a", "feat(store): b"], "minor: a feature (`feat(store): b`)"),
            ("0.4.3", vec!["feat!: c"], "minor: a breaking change below 1.0 (`feat!: c`)"),
            ("0.4.3", vec!["feat: b", "docs: d"], "patch: a feature below 1.0 (`feat: b`)"),
            ("1.0.0", vec!["fix: a", "chore: e"], "patch: no feature and no breaking change in 2 commits"),
            ("1.0.0", vec![], "patch: no commit since the last release: the smallest bump"),
        ];
        for (version, subjects, want) in cases {
            let (bump, why) = bump(&v(version), &commits(&subjects));
            assert_eq!(format!("{bump}: {why}"), want);
        }
    }
}
