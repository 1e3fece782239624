//! `cargo xtask changelog`: the pull requests merged since the last release, by package, written
//! at the placeholder of the changelog file; and `changelog notes`, one release's section.
//!
//! The edges are here (git, `gh`, the clock, the file); what they return goes through the pure
//! functions of `history` (commits → pull requests → packages) and `render` (text, notes).

pub mod history;
pub mod package;
mod render;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use xshell::Shell;

use crate::time;
use crate::{changeset, flags, git, github, monorepo::Monorepo, output, usage::usage};
use history::{Attribution, Commit};
use render::{Entry, Release, Section};

impl flags::Changelog {
    pub fn run(self, sh: &Shell) -> Result<()> {
        match self.subcommand {
            flags::ChangelogCmd::Generate(cmd) => cmd.run(sh),
            flags::ChangelogCmd::Notes(cmd) => cmd.run(sh),
        }
    }
}

/// Where titles come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Git,
    GitHub,
}

impl flags::Generate {
    fn run(self, sh: &Shell) -> Result<()> {
        let date = match &self.date {
            Some(d) => time::parse_date(d)?,
            None => time::today_utc(),
        };
        let repo = Monorepo::load(&sh.current_dir())?;
        for w in &repo.warnings {
            output::warn(w);
        }
        if let Some(path) = &self.package {
            if self.since.is_some() {
                return Err(usage("--since is not for --package: a package's notes start at its own last tag"));
            }
            return self.run_package(sh, &repo, path, &date);
        }
        let generated = generate(sh, &repo, self.since.as_deref(), date, self.offline)?;
        let present = has_section(&generated);
        if self.json {
            let mut json = generated.json.clone();
            json["written"] = Value::Bool(!self.dry_run && !present);
            json["already_present"] = Value::Bool(present);
            output::json(&json);
        } else {
            output::data(&generated.section);
        }
        output::note(&generated.audit);
        let display = &generated.change.display;
        if present {
            output::status(
                "unchanged",
                &format!("{display} already has this section (a run for the same range wrote it); nothing was written"),
            );
            return Ok(());
        }
        if self.dry_run {
            output::note(&format!("dry run: {display} was not changed"));
            return Ok(());
        }
        changeset::write_atomic(&generated.change.path, &generated.change.new)
            .with_context(|| format!("cannot update {display}; it was left as it was"))?;
        output::status(
            "updated",
            &format!("{display} with {} pull requests in {} sections", generated.prs, generated.sections),
        );
        output::github_summary(&generated.section);
        Ok(())
    }
}

impl flags::Generate {
    /// `changelog --package PATH`: one package's notes since its own tag.
    fn run_package(&self, sh: &Shell, repo: &Monorepo, path: &str, date: &str) -> Result<()> {
        git::ensure_repo(sh)?;
        let p = repo.resolve(path)?;
        repo.require_versions(&[p])?;
        let notes = package::notes(sh, repo, repo.index_of(p), &p.version, date, self.offline)?;
        let written = !self.dry_run && notes.change.as_ref().is_some_and(|c| !c.old.contains(notes.text.trim()));
        if self.json {
            let mut json = notes.json.clone();
            json["written"] = Value::Bool(written);
            output::json(&json);
        } else {
            output::data(&notes.text);
        }
        let since = notes.since.as_deref().map_or_else(|| "all history (no tag yet)".to_string(), |t| format!("`{t}`"));
        output::note(&format!("{} pull request{} since {since}", notes.prs, if notes.prs == 1 { "" } else { "s" }));
        let Some(change) = &notes.change else {
            let file = repo.config.package_changelog.replace("{path}", &p.dir).replace("{name}", &p.display_name);
            output::note(&format!(
                "no `{file}` (`changelog.package-file`): nothing is written; the notes go to the release pull request and the GitHub release"
            ));
            return Ok(());
        };
        if !written {
            let why = if self.dry_run { "dry run" } else { "it has these notes already" };
            output::note(&format!("{}: {why}; nothing was written", change.display));
            return Ok(());
        }
        changeset::write_atomic(&change.path, &change.new)
            .with_context(|| format!("cannot update {}; it was left as it was", change.display))?;
        output::status("updated", &format!("{} with {} pull requests", change.display, notes.prs));
        Ok(())
    }
}

/// A release's changelog section and the edit that inserts it, computed without writing.
pub struct Generated {
    pub section: String,
    /// The changelog file, before and after the insertion.
    pub change: changeset::FileChange,
    /// Everything found, for `--json` (`written` is false until the caller writes).
    pub json: Value,
    /// The completeness audit, for stderr.
    pub audit: String,
    /// The start of the range.
    pub since: String,
    pub prs: usize,
    pub sections: usize,
}

/// Builds the section of the release from `since` (default: the latest release tag) to HEAD.
/// Versions come from `repo`, so a caller may pass the model as it will be after a bump.
/// Whether the changelog file already holds the generated section: an earlier run for the same
/// range wrote it, maybe on another day, so the date line is left out of the comparison.
pub fn has_section(generated: &Generated) -> bool {
    let body = generated.section.split_once('\n').map_or("", |(_, rest)| rest).trim();
    !body.is_empty() && generated.change.old.contains(body)
}

pub fn generate(sh: &Shell, repo: &Monorepo, since: Option<&str>, date: String, offline: bool) -> Result<Generated> {
    let source = if offline || github::token_variable().is_none() { Source::Git } else { Source::GitHub };
    git::ensure_repo(sh)?;
    let since = match since {
        Some(rev) => {
            git::ensure_commit(sh, rev)?;
            rev.to_string()
        }
        None => latest_tag(sh, repo)?,
    };
    let commits = walk(sh, &since)?;
    // A pull request credits the packages whose files it changed, lock files aside: one that
    // only relocked (`uv.lock`) needs no release of them, and gets no line there.
    let shipped = crate::shipped::Shipped::new(repo);
    let found = history::attribute(&commits, |path| shipped.credited(path));
    if found.prs.is_empty() {
        bail!(
            "no pull requests since `{since}`: {} commit{} in the range, none with a `(#N)` suffix; \
             pass --since with an older ref if the range is wrong",
            found.commits,
            if found.commits == 1 { "" } else { "s" }
        );
    }
    let titles = match source {
        Source::Git => Titles::default(),
        Source::GitHub => fetch_titles(sh, repo, &found)?,
    };
    let release = build(repo, &found, &titles, date);
    let section = render::render(&release);
    let report = Report { repo, release: &release, found: &found, titles: &titles, since: &since, source };

    // Validate the edit before anything is printed or written.
    let path = repo.root.join(&repo.config.changelog);
    let display = repo.config.changelog.display().to_string();
    let old = std::fs::read_to_string(&path).with_context(|| {
        format!("cannot read the changelog `{display}`; create it with a `# ChangeLog` title and the placeholder line, or set `changelog.file` in release.toml")
    })?;
    let new = render::insert(&display, &old, &repo.config.placeholder, &section)?;
    Ok(Generated {
        json: report.to_json(&section, false),
        audit: report.audit(),
        prs: found.prs.len(),
        sections: release.sections.len(),
        since,
        change: changeset::FileChange { path, display, old, new },
        section,
    })
}

/// Appends lines no pull request carries (the compatibility wave's `- name [version]: Allow
/// llama-index-core 0.15`) under `### {heading}` at the end of the section, and redoes the
/// insertion. At the end, so that the section without them is still found whole in the file.
pub fn append_block(generated: &mut Generated, repo: &Monorepo, heading: &str, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let bullets: String = lines.iter().map(|l| format!("- {l}\n")).collect();
    generated.section = format!("{}\n### {heading}\n\n{bullets}", generated.section);
    let change = &mut generated.change;
    change.new = render::insert(&change.display, &change.old, &repo.config.placeholder, &generated.section)?;
    generated.json["text"] = Value::String(generated.section.clone());
    generated.json[heading.to_lowercase()] = json!(lines);
    Ok(())
}

impl flags::Notes {
    fn run(self, sh: &Shell) -> Result<()> {
        let repo = Monorepo::load(&sh.current_dir())?;
        let version: crate::version::Version = self
            .version
            .parse()
            .map_err(|e| usage(format!("`--version {}` is not a PEP 440 version: {e}", self.version)))?;
        output::data(&notes(sh, &repo, &version, None)?);
        Ok(())
    }
}

/// The release notes of `version`: its section of the changelog under the notes header. With
/// `previous` (the previous release's tag), the section this release added counts too.
pub fn notes(sh: &Shell, repo: &Monorepo, version: &crate::version::Version, previous: Option<&str>) -> Result<String> {
    let display = repo.config.changelog.display().to_string();
    let text = std::fs::read_to_string(repo.root.join(&repo.config.changelog)).with_context(|| {
        format!("cannot read the changelog `{display}`; set `changelog.file` in release.toml if it lives elsewhere")
    })?;
    let before = match previous {
        Some(tag) => git::files_at(sh, tag, std::slice::from_ref(&display))?.pop().flatten(),
        None => None,
    };
    let tag_date = git::tag_date(sh, &repo.config.tag_for(version))?;
    let names = [repo.core()?.display_name.as_str(), repo.umbrella()?.display_name.as_str()];
    let find = render::Find { names: &names, version, before: before.as_deref(), tag_date: tag_date.as_deref() };
    render::notes(&display, &text, &repo.config.placeholder, &repo.config.notes_header, &find)
}

/// The highest release tag that is an ancestor of HEAD.
pub fn latest_tag(sh: &Shell, repo: &Monorepo) -> Result<String> {
    let tags = git::merged_tags(sh)?;
    match history::latest_tag(&repo.config, tags.iter().map(String::as_str)) {
        Some((tag, _)) => Ok(tag),
        None => bail!(
            "no release tag (`{}`) is an ancestor of HEAD, so the changelog has no start; \
             pass --since with the last release's commit or tag, or fetch the tags (`git fetch --tags`)",
            repo.config.tag
        ),
    }
}

/// The one `git log` walk: every commit of `since..HEAD` with its changed paths.
fn walk(sh: &Shell, since: &str) -> Result<Vec<Commit>> {
    let range = format!("{since}..HEAD");
    let format = history::LOG_FORMAT;
    let out = git::log_with_paths(sh, format, &range)?;
    Ok(history::parse_log(&out))
}

/// What GitHub said about the pull requests.
#[derive(Debug, Default)]
struct Titles {
    found: BTreeMap<u64, github::PullRequest>,
    unknown: BTreeSet<u64>,
    failed: BTreeSet<u64>,
}

fn fetch_titles(sh: &Shell, repo: &Monorepo, found: &Attribution) -> Result<Titles> {
    let numbers: Vec<u64> = found.prs.keys().copied().collect();
    let lookups = github::pull_requests(sh, &repo.config.repository, &numbers)?;
    let mut titles = Titles::default();
    let mut errors: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (number, lookup) in lookups {
        match lookup {
            github::Lookup::Found(pr) => {
                titles.found.insert(number, pr);
            }
            github::Lookup::Unknown => {
                titles.unknown.insert(number);
            }
            github::Lookup::Failed(e) => {
                titles.failed.insert(number);
                errors.entry(e).or_default().push(number);
            }
        }
    }
    if titles.found.is_empty() {
        let why = errors
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| format!("GitHub knows none of them in `{}`", repo.config.repository));
        bail!(
            "could not fetch any of the {} pull requests from GitHub: {why}\n\
             check `github.repository` in release.toml and the token, or rerun with --offline to use the commit subjects",
            numbers.len()
        );
    }
    for number in &titles.unknown {
        output::warn(&format!(
            "GitHub does not know pull request #{number}; its title is taken from the commit subject: `{}`",
            found.prs[number].subject_title
        ));
    }
    for (error, numbers) in &errors {
        let list: Vec<String> = numbers.iter().map(|n| format!("#{n}")).collect();
        output::warn(&format!(
            "could not fetch {} from GitHub, so their titles are the commit subjects: {error}",
            list.join(" ")
        ));
    }
    Ok(titles)
}

/// The release's sections: packages by name (PEP 503 form), pull requests by number.
fn build(repo: &Monorepo, found: &Attribution, titles: &Titles, date: String) -> Release {
    let entry = |number: u64| -> Entry {
        match titles.found.get(&number) {
            Some(pr) => Entry { number, title: pr.title.clone(), url: pr.url.clone(), author: pr.author.clone() },
            None => Entry {
                number,
                title: found.prs[&number].subject_title.clone(),
                url: repo.config.pull_request_url(number),
                author: None,
            },
        }
    };
    let mut by_package: BTreeMap<usize, Vec<Entry>> = BTreeMap::new();
    let mut other = Vec::new();
    for (&number, pr) in &found.prs {
        for &i in &pr.packages {
            by_package.entry(i).or_default().push(entry(number));
        }
        if pr.packages.is_empty() && repo.config.other_section {
            other.push(entry(number));
        }
    }
    let mut sections: Vec<Section> = by_package
        .into_iter()
        .map(|(i, entries)| {
            let p = &repo.packages[i];
            Section { name: p.display_name.clone(), version: p.version.to_string(), path: p.dir.clone(), entries }
        })
        .collect();
    sections.sort_by(|a, b| {
        crate::requirement::PackageName::new(&a.name)
            .cmp(&crate::requirement::PackageName::new(&b.name))
            .then(a.name.cmp(&b.name))
    });
    Release { date, sections, other }
}

fn entry_json(e: &Entry) -> Value {
    json!({"number": e.number, "title": e.title, "url": e.url, "author": e.author})
}

/// Everything the run found, for the JSON output and the audit.
struct Report<'a> {
    repo: &'a Monorepo,
    release: &'a Release,
    found: &'a Attribution,
    titles: &'a Titles,
    since: &'a str,
    source: Source,
}

impl Report<'_> {
    fn to_json(&self, section: &str, written: bool) -> Value {
        let Report { repo, release, found, titles, since, source } = *self;
        let names = |set: &BTreeSet<usize>| -> Vec<&str> {
            set.iter().map(|&i| repo.packages[i].display_name.as_str()).collect()
        };
        let packages: Vec<Value> = release
        .sections
        .iter()
        .map(|s| json!({"name": s.name, "version": s.version, "path": s.path, "pull_requests": s.entries.iter().map(entry_json).collect::<Vec<_>>()}))
        .collect();
        let no_package: Vec<u64> = found.prs.values().filter(|p| p.packages.is_empty()).map(|p| p.number).collect();
        json!({
            "date": release.date,
            "since": since,
            "titles_from": match source { Source::Git => "git", Source::GitHub => "github" },
            "file": repo.config.changelog.display().to_string(),
            "written": written,
            "packages": packages,
            "other": release.other.iter().map(entry_json).collect::<Vec<_>>(),
            "orphans": found.orphans.iter().map(|o| json!({"commit": o.commit, "subject": o.subject, "packages": names(&o.packages)})).collect::<Vec<_>>(),
            "audit": {
                "commits": found.commits,
                "pull_requests": found.prs.len(),
                "without_package": no_package,
                "unknown_on_github": titles.unknown,
                "failed_on_github": titles.failed,
                "reverted": found.reverted.iter().map(|r| json!({"number": r.number, "title": r.subject_title, "reverted_by": {"pull_request": r.by_pr, "commit": r.by_commit}})).collect::<Vec<_>>(),
                "title_differs": title_differs(found, titles).iter().map(|(n, s, g)| json!({"number": n, "subject": s, "github": g})).collect::<Vec<_>>(),
            },
            "text": section,
        })
    }

    /// The completeness audit on stderr: nothing in the range goes unaccounted for.
    fn audit(&self) -> String {
        let Report { repo, found, titles, since, source, .. } = *self;
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut per_package: BTreeMap<&str, usize> = BTreeMap::new();
        for pr in found.prs.values() {
            for &i in &pr.packages {
                *per_package.entry(repo.packages[i].display_name.as_str()).or_default() += 1;
            }
        }
        let mut out = format!(
            "audit of {since}..HEAD: {}, {}, {} (titles from {})\n",
            plural(found.commits, "commit", "commits"),
            plural(found.prs.len(), "pull request", "pull requests"),
            plural(per_package.len(), "package", "packages"),
            if source == Source::GitHub { "GitHub" } else { "the commit subjects" }
        );
        // A heading gets its colon only when something follows it.
        let listed = |head: String, items: String| {
            if items.is_empty() {
                format!("  {head}\n")
            } else {
                format!("  {head}: {items}\n")
            }
        };
        let counts: Vec<String> = per_package.iter().map(|(name, n)| format!("{name} {n}")).collect();
        out += &listed("pull requests per package".into(), counts.join(", "));
        let orphans = plural(found.orphans.len(), "commit", "commits");
        out += &format!(
            "  {orphans} without a pull request (not in the changelog){}\n",
            if found.orphans.is_empty() { "" } else { ":" }
        );
        for o in found.orphans.iter().take(AUDIT_LIST) {
            out += &format!("    {} {}\n", &o.commit[..o.commit.len().min(10)], o.subject);
        }
        if found.orphans.len() > AUDIT_LIST {
            out += &format!("    … and {} more (all of them are in --json)\n", found.orphans.len() - AUDIT_LIST);
        }
        let none: Vec<String> =
            found.prs.values().filter(|p| p.packages.is_empty()).map(|p| format!("#{}", p.number)).collect();
        let placed = if repo.config.other_section {
            format!("under \"{}\"", render::OTHER_HEADING)
        } else {
            "not in the changelog".to_string()
        };
        out += &listed(
            format!("{} touching no package ({placed})", plural(none.len(), "pull request", "pull requests")),
            none.join(" "),
        );
        if !found.reverted.is_empty() {
            let pairs: Vec<String> = found
                .reverted
                .iter()
                .map(|r| match r.by_pr {
                    Some(by) => format!("#{} (reverted by #{by})", r.number),
                    None => format!("#{} (reverted by {})", r.number, &r.by_commit[..r.by_commit.len().min(10)]),
                })
                .collect();
            let head = plural(pairs.len(), "pull request", "pull requests");
            out += &listed(format!("{head} reverted within the range (left out, with the revert)"), pairs.join(" "));
        }
        if source == Source::GitHub {
            let differs: Vec<String> = title_differs(found, titles).iter().map(|(n, _, _)| format!("#{n}")).collect();
            let mut shown = differs.iter().take(AUDIT_LIST).cloned().collect::<Vec<_>>();
            if differs.len() > AUDIT_LIST {
                shown.push(format!("… and {} more", differs.len() - AUDIT_LIST));
            }
            let head = plural(differs.len(), "pull request", "pull requests");
            out += &listed(format!("{head} titled differently on GitHub than in the subject"), shown.join(" "));
        }
        out.trim_end().to_string()
    }
}

fn title_differs<'a>(found: &'a Attribution, titles: &'a Titles) -> Vec<(u64, &'a str, &'a str)> {
    titles
        .found
        .iter()
        .filter_map(|(n, pr)| {
            found
                .prs
                .get(n)
                .filter(|p| p.subject_title != pr.title)
                .map(|p| (*n, p.subject_title.as_str(), pr.title.as_str()))
        })
        .collect()
}

/// How many items the audit lists before it summarises the rest (JSON has them all).
const AUDIT_LIST: usize = 20;
