//! The pure half of reading history: parsing one `git log` walk, finding the pull request of a
//! squash subject, choosing the latest release tag, and attributing pull requests to packages.

use std::collections::{BTreeMap, BTreeSet};

use crate::{config::Config, version::Version};

/// One commit of the range, as `git log` printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub id: String,
    pub subject: String,
    /// Changed paths, `/`-separated and relative to the root.
    pub files: Vec<String>,
}

/// The `git log` format that [`parse_log`] reads: every record starts with an RS byte, the
/// fields end with a US byte, and `-z` ends the subject and each path with a NUL. A subject
/// cannot contain NUL, so any characters in it parse.
pub const LOG_FORMAT: &str = "--format=%x1e%H%x1f%s%x1f";

/// Parses the output of `git log -z --name-only` with [`LOG_FORMAT`], newest commit first.
pub fn parse_log(out: &str) -> Vec<Commit> {
    out.split('\u{1e}')
        .filter(|record| !record.trim_matches(['\0', '\n']).is_empty())
        .map(|record| {
            let (id, rest) = record.split_once('\u{1f}').unwrap_or((record, ""));
            let (subject, files) =
                rest.split_once("\u{1f}\0").unwrap_or((rest.trim_end_matches(['\u{1f}', '\0', '\n']), ""));
            let files = files
                .split('\0')
                .map(|f| f.trim_start_matches('\n'))
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect();
            Commit { id: id.trim().to_string(), subject: subject.to_string(), files }
        })
        .collect()
}

/// The pull request of a squash subject: the `(#N)` at the very end (trailing spaces allowed).
/// An earlier `(#N)` is usually an issue or a cherry-picked PR, never the squash-merged one.
pub fn pr_number(subject: &str) -> Option<u64> {
    let (_, number) = split_suffix(subject)?;
    Some(number)
}

/// The subject without its `(#N)` suffix: the offline title.
pub fn subject_title(subject: &str) -> &str {
    split_suffix(subject).map_or(subject.trim(), |(title, _)| title)
}

fn split_suffix(subject: &str) -> Option<(&str, u64)> {
    let rest = subject.trim_end().strip_suffix(')')?;
    let open = rest.rfind("(#")?;
    let digits = &rest[open + 2..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((rest[..open].trim_end(), digits.parse().ok()?))
}

/// The release tag with the highest version among `tags` (those that are ancestors of HEAD),
/// ignoring tags that do not match the configured pattern.
pub fn latest_tag<'a>(config: &Config, tags: impl IntoIterator<Item = &'a str>) -> Option<(String, Version)> {
    tags.into_iter()
        .filter_map(|t| config.version_of_tag(t.trim()).map(|v| (t.trim().to_string(), v)))
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
}

/// A pull request found in the range, with what it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    /// The squash subject without `(#N)`: the title when GitHub is not asked.
    pub subject_title: String,
    pub commits: Vec<String>,
    /// Indexes of the packages whose files it changed (lock files aside, as `owner` says).
    pub packages: BTreeSet<usize>,
    /// Changed paths that credit no package.
    pub unowned: Vec<String>,
}

/// A commit whose subject names no pull request: a direct push or a revert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub commit: String,
    pub subject: String,
    pub packages: BTreeSet<usize>,
}

#[derive(Debug, Default)]
pub struct Attribution {
    pub commits: usize,
    pub prs: BTreeMap<u64, PullRequest>,
    pub orphans: Vec<Orphan>,
    /// Pull requests reverted within the range: left out of `prs`, and their reverts out of
    /// `prs` or `orphans`, since together they changed nothing.
    pub reverted: Vec<Reverted>,
}

/// A pull request and the commit that reverted it, both in the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reverted {
    pub number: u64,
    pub subject_title: String,
    /// The revert's own pull request, when it was merged as one.
    pub by_pr: Option<u64>,
    pub by_commit: String,
}

/// Maps every commit to its pull request and every changed path to its package (`owner`), so a
/// package is credited from git, not from GitHub's (capped) file lists.
pub fn attribute(commits: &[Commit], owner: impl Fn(&str) -> Option<usize>) -> Attribution {
    let mut out = Attribution { commits: commits.len(), ..Attribution::default() };
    for c in commits {
        let mut packages = BTreeSet::new();
        let mut unowned = Vec::new();
        for f in &c.files {
            match owner(f) {
                Some(i) => {
                    packages.insert(i);
                }
                None => unowned.push(f.clone()),
            }
        }
        match pr_number(&c.subject) {
            Some(number) => {
                let pr = out.prs.entry(number).or_insert_with(|| PullRequest {
                    number,
                    // Newest first: a PR squashed twice keeps its latest subject.
                    subject_title: subject_title(&c.subject).to_string(),
                    commits: Vec::new(),
                    packages: BTreeSet::new(),
                    unowned: Vec::new(),
                });
                pr.commits.push(c.id.clone());
                pr.packages.extend(packages);
                pr.unowned.extend(unowned);
            }
            None => out.orphans.push(Orphan { commit: c.id.clone(), subject: c.subject.clone(), packages }),
        }
    }
    pair_reverts(commits, &mut out);
    out
}

/// Takes out every pull request whose revert is in the range, with the revert. A revert is a
/// subject `Revert "<the original subject>"` (what git and GitHub write), matched on the
/// original's number and title both, so a quoted number alone never pairs the wrong one. Newest
/// first, so that a reverted revert puts its original back.
fn pair_reverts(commits: &[Commit], out: &mut Attribution) {
    let mut gone_prs = BTreeSet::new();
    let mut gone_orphans = BTreeSet::new();
    for c in commits {
        let own = pr_number(&c.subject);
        if own.is_some_and(|n| gone_prs.contains(&n)) {
            continue;
        }
        let Some(inner) = subject_title(&c.subject).strip_prefix("Revert \"").and_then(|t| t.strip_suffix('"')) else {
            continue;
        };
        let Some(number) = pr_number(inner).filter(|n| Some(*n) != own && !gone_prs.contains(n)) else {
            continue;
        };
        let Some(original) = out.prs.get(&number).filter(|p| p.subject_title == subject_title(inner)) else {
            continue;
        };
        let subject_title = original.subject_title.clone();
        gone_prs.insert(number);
        match own {
            Some(revert) => gone_prs.insert(revert),
            None => gone_orphans.insert(c.id.clone()),
        };
        out.reverted.push(Reverted { number, subject_title, by_pr: own, by_commit: c.id.clone() });
    }
    out.prs.retain(|n, _| !gone_prs.contains(n));
    out.orphans.retain(|o| !gone_orphans.contains(&o.commit));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_number_is_the_suffix() {
        let cases: &[(&str, Option<u64>, &str)] = &[
            ("feat: add streaming (#123)", Some(123), "feat: add streaming"),
            ("Fix: handle tool calls (#20237) (#20246)", Some(20246), "Fix: handle tool calls (#20237)"),
            ("trailing space (#7)  ", Some(7), "trailing space"),
            ("Revert \"feat: x (#122)\"", None, "Revert \"feat: x (#122)\""),
            ("Update unit test workflow", None, "Update unit test workflow"),
            ("#131 starts with a hash (#131)", Some(131), "#131 starts with a hash"),
            ("not a number (#12a)", None, "not a number (#12a)"),
            ("empty (#)", None, "empty (#)"),
            ("mentions (#5) in the middle", None, "mentions (#5) in the middle"),
            ("Unterstützung 🚀 (#9)", Some(9), "Unterstützung 🚀"),
        ];
        for &(subject, number, title) in cases {
            assert_eq!(pr_number(subject), number, "{subject}");
            assert_eq!(subject_title(subject), title, "{subject}");
        }
    }

    #[test]
    fn latest_tag_is_the_highest_version_not_the_newest_string() {
        let c = Config::default();
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["v0.14.9", "v0.14.10", "v0.14.12"], Some("v0.14.12")),
            (&["v0.9.0", "v0.10.0"], Some("v0.10.0")),
            (&["v1.0.0rc1", "v0.99.0"], Some("v1.0.0rc1")),
            (&["v1.0.0rc1", "v1.0.0"], Some("v1.0.0")),
            (&["nightly", "vnext", "release-1.0"], None),
            (&[], None),
        ];
        for &(tags, want) in cases {
            assert_eq!(latest_tag(&c, tags.iter().copied()).map(|t| t.0).as_deref(), want, "{tags:?}");
        }
    }

    #[test]
    fn parses_any_subject_and_attributes_paths() {
        let log = "\u{1e}aaa\u{1f}Fix: weird \u{1f} [x] (#1) (#2)\u{1f}\0\npkg/a/x.py\0docs/i.md\0\
                   \u{1e}bbb\u{1f}Revert \"y (#3)\"\u{1f}\0\npkg/b/y.py\0\
                   \u{1e}ccc\u{1f}docs only (#4)\u{1f}\0\ndocs/i.md\0\
                   \u{1e}ddd\u{1f}empty commit (#5)\u{1f}\0";
        let commits = parse_log(log);
        assert_eq!(commits.len(), 4);
        assert_eq!(commits[0].subject, "Fix: weird \u{1f} [x] (#1) (#2)");
        assert_eq!(commits[0].files, ["pkg/a/x.py", "docs/i.md"]);
        assert!(commits[3].files.is_empty());
        let owner = |p: &str| {
            if p.starts_with("pkg/a/") {
                Some(0)
            } else if p.starts_with("pkg/b/") {
                Some(1)
            } else {
                None
            }
        };
        let a = attribute(&commits, owner);
        assert_eq!(a.commits, 4);
        assert_eq!(a.prs.keys().copied().collect::<Vec<_>>(), [2, 4, 5]);
        assert_eq!(a.prs[&2].packages, BTreeSet::from([0]));
        assert_eq!(a.prs[&2].unowned, ["docs/i.md"]);
        assert!(a.prs[&4].packages.is_empty());
        assert_eq!(
            a.orphans,
            [Orphan { commit: "bbb".into(), subject: "Revert \"y (#3)\"".into(), packages: BTreeSet::from([1]) }]
        );
    }

    #[test]
    fn a_pull_request_reverted_in_the_range_goes_out_with_its_revert() {
        let commit = |id: &str, subject: &str| Commit { id: id.into(), subject: subject.into(), files: vec![] };
        // Newest first, as `git log` prints them.
        let commits = [
            commit("f", "Revert \"Revert \"feat: c (#3)\" (#5)\" (#6)"),
            commit("e", "Revert \"feat: c (#3)\" (#5)"),
            commit("d", "Revert \"feat: b (#2)\""),
            commit("g", "Revert \"feat: not this one (#1)\""),
            commit("c", "feat: c (#3)"),
            commit("b", "feat: b (#2)"),
            commit("a", "feat: a (#1)"),
        ];
        let a = attribute(&commits, |_| None);
        assert_eq!(a.prs.keys().copied().collect::<Vec<_>>(), [1, 3], "#3 is back: its revert was reverted");
        assert_eq!(a.orphans.iter().map(|o| o.commit.as_str()).collect::<Vec<_>>(), ["g"], "a title that differs");
        assert_eq!(
            a.reverted,
            [
                Reverted {
                    number: 5,
                    subject_title: "Revert \"feat: c (#3)\"".into(),
                    by_pr: Some(6),
                    by_commit: "f".into()
                },
                Reverted { number: 2, subject_title: "feat: b".into(), by_pr: None, by_commit: "d".into() },
            ]
        );
    }
}
