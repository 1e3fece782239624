//! The notes of one package since its own last tag (`changelog --package PATH`): the pull
//! requests that changed its shipped files, grouped by conventional-commit type, written into
//! `changelog.package-file` when that file exists, and otherwise only printed (for the release
//! pull request's body and the package's GitHub release).

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Value};
use xshell::Shell;

use super::{history, Source, Titles};
use crate::{changeset::FileChange, conventional, git, github, monorepo::Monorepo, version::Version};

/// One package's notes, computed without writing.
pub struct PackageNotes {
    /// `## acme-store 5.0.0 (2026-02-01)` and the grouped entries.
    pub text: String,
    /// The last release's tag; `None` when the package has none (all history counts).
    pub since: Option<String>,
    pub prs: usize,
    /// The package's changelog file and its edit, when the file exists.
    pub change: Option<FileChange>,
    pub json: Value,
}

/// An entry of the notes.
struct Line {
    number: u64,
    heading: &'static str,
    title: String,
    url: String,
}

/// The notes of package `i` at `version` (its new version in a release, else its current one).
pub fn notes(
    sh: &Shell,
    repo: &Monorepo,
    i: usize,
    version: &Version,
    date: &str,
    offline: bool,
) -> Result<PackageNotes> {
    notes_since(sh, repo, i, version, date, offline, repo.merged_tags()?)
}

/// [`notes`] with the tags HEAD descends from given: a release's own new tag left out, so that
/// its notes still start at the tag before.
pub fn notes_since(
    sh: &Shell,
    repo: &Monorepo,
    i: usize,
    version: &Version,
    date: &str,
    offline: bool,
    tags: &[String],
) -> Result<PackageNotes> {
    let p = &repo.packages[i];
    let since = repo.last_release(i, tags).map(|(tag, _)| tag);
    let range = since.as_ref().map_or_else(|| "HEAD".to_string(), |t| format!("{t}..HEAD"));
    let out = git::log_with_paths_in(sh, history::LOG_FORMAT, &range, &p.dir)?;
    // The release commits of earlier runs (`release(acme-store): 5.0.0 (#70)`) are no change of their own.
    let mut commits = history::parse_log(&out);
    commits.retain(|c| !c.subject.starts_with("release(") && !c.subject.starts_with("release:"));
    // Only this package's shipped files credit it (`shipped.rs`: the bump check's rule too).
    let shipped = crate::shipped::Shipped::new(repo);
    let owner = |path: &str| shipped.owner(path).filter(|&j| j == i);
    let mut found = history::attribute(&commits, owner);
    found.prs.retain(|_, pr| !pr.packages.is_empty());
    let source = if offline || github::token_variable().is_none() { Source::Git } else { Source::GitHub };
    let titles = match source {
        Source::GitHub if !found.prs.is_empty() => super::fetch_titles(sh, repo, &found)?,
        _ => Titles::default(),
    };
    let lines: Vec<Line> = found
        .prs
        .values()
        .rev()
        .map(|pr| {
            let (title, url) = match titles.found.get(&pr.number) {
                Some(gh) => (gh.title.clone(), gh.url.clone()),
                None => (pr.subject_title.clone(), repo.config.pull_request_url(pr.number)),
            };
            let kind = conventional::parse(&title, "");
            Line { number: pr.number, heading: conventional::heading(&kind), title, url }
        })
        .collect();
    let text = render(&p.display_name, version, date, &lines);
    let change = file_change(repo, i, &text)?;
    let json = json!({
        "package": p.display_name,
        "path": p.dir,
        "version": version.to_string(),
        "since": since,
        "file": change.as_ref().map(|c| c.display.clone()),
        "titles_from": match source { Source::Git => "git", Source::GitHub => "github" },
        "pull_requests": lines.iter().map(|l| json!({"number": l.number, "title": l.title, "url": l.url, "heading": l.heading})).collect::<Vec<_>>(),
        "text": text,
    });
    Ok(PackageNotes { prs: lines.len(), text, since, change, json })
}

/// `## name version (date)`, then one `###` heading per conventional type, newest first within.
fn render(name: &str, version: &Version, date: &str, lines: &[Line]) -> String {
    let mut by_heading: BTreeMap<usize, Vec<&Line>> = BTreeMap::new();
    for l in lines {
        let order = conventional::HEADINGS.iter().position(|h| *h == l.heading).unwrap_or(usize::MAX);
        by_heading.entry(order).or_default().push(l);
    }
    let mut text = format!("## {name} {version} ({date})\n");
    if lines.is_empty() {
        text += "\nNo pull request changed what this package ships since its last release.\n";
    }
    for (order, entries) in by_heading {
        let heading = conventional::HEADINGS.get(order).copied().unwrap_or("Other changes");
        text += &format!("\n### {heading}\n\n");
        for l in entries {
            text += &format!("- {} ([#{}]({}))\n", super::render::escape_title(&l.title), l.number, l.url);
        }
    }
    text
}

/// The edit of the package's changelog file (`changelog.package-file`), when it exists: at the
/// placeholder when it has one, else below its title.
fn file_change(repo: &Monorepo, i: usize, text: &str) -> Result<Option<FileChange>> {
    let p = &repo.packages[i];
    let display = repo.config.package_changelog.replace("{path}", &p.dir).replace("{name}", &p.display_name);
    let display = crate::monorepo::normalize_rel(std::path::Path::new(&display));
    let path = repo.root.join(&display);
    let Ok(old) = std::fs::read_to_string(&path) else { return Ok(None) };
    let new = if old.lines().any(|l| l.trim() == repo.config.placeholder) {
        super::render::insert(&display, &old, &repo.config.placeholder, text)?
    } else {
        let title_end = old.find('\n').filter(|_| old.starts_with("# ")).map_or(0, |n| n + 1);
        format!("{}\n{text}\n{}", &old[..title_end], old[title_end..].trim_start_matches('\n'))
    };
    Ok(Some(FileChange { path, display, old, new }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_grouped_by_type() {
        let line = |number, title: &str| {
            let heading = conventional::heading(&conventional::parse(title, ""));
            Line {
                number,
                heading,
                title: title.to_string(),
                url: format!("https://github.com/acme/libs/pull/{number}"),
            }
        };
        let lines = [
            line(14, "fix(store): close the connection on error"),
            line(12, "feat(store)!: drop the v1 protocol"),
            line(11, "feat(store): add a cache option"),
            line(9, "Update the README"),
        ];
        expect_test::expect![[r#"
            ## acme-store 5.0.0 (2026-02-01)

            ### Breaking changes

            - feat(store)!: drop the v1 protocol ([#12](https://github.com/acme/libs/pull/12))

            ### Features

            - feat(store): add a cache option ([#11](https://github.com/acme/libs/pull/11))

            ### Fixes

            - fix(store): close the connection on error ([#14](https://github.com/acme/libs/pull/14))

            ### Other changes

            - Update the README ([#9](https://github.com/acme/libs/pull/9))
        "#]]
        .assert_eq(&render("acme-store", &"5.0.0".parse().unwrap(), "2026-02-01", &lines));
    }
}
