//! The publish plan, as pure functions of the monorepo and the index's state (and of the
//! clock, passed in): which packages changed, the waves of the dependency order, what each
//! package waits for, what is blocked from the start, which versions the index closed to new
//! files, and which built files to upload, skip or refuse.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, SystemTime},
};

use anyhow::Result;

use crate::{
    graph::Graph, index::Project, monorepo::Package, pyproject::Pyproject, requirement::Requirement, version::Version,
};

/// The packages whose version differs from the one in `old` (`pyproject.toml` at the ref, one
/// per package, `None` where the package did not exist there: new packages count as changed).
pub fn changed_since(packages: &[Package], old: &[Option<String>]) -> BTreeSet<usize> {
    let mut changed = BTreeSet::new();
    for (i, (p, text)) in packages.iter().zip(old).enumerate() {
        // An old file that no longer parses has no comparable version: publish what is there now.
        let before =
            text.as_deref().and_then(|t| Pyproject::parse(std::path::Path::new(&p.pyproject_display()), t).ok());
        if before.is_none_or(|b| b.version != p.version) {
            changed.insert(i);
        }
    }
    changed
}

#[derive(Debug)]
pub struct Plan {
    /// Indices into the monorepo's packages, in waves of the dependency order.
    pub waves: Vec<Vec<usize>>,
    pub items: BTreeMap<usize, Item>,
}

#[derive(Debug)]
pub struct Item {
    /// The files of this very version already on the index (empty when it is not there).
    pub on_index: Vec<crate::index::DistFile>,
    /// Internal dependencies that must be visible on the index before the upload.
    pub needs: Vec<Need>,
    /// Why the package cannot be published at all, known before anything runs.
    pub blocked: Option<String>,
    pub state: State,
    /// The index does not know the project: uploading creates it (the index's quota counts it).
    pub new_project: bool,
    /// A new project past the index's quota for this run: left for a later run.
    pub deferred: bool,
    /// The newest release below this version with files that are not yanked, for the artifact
    /// check.
    pub previous: Option<(Version, Vec<crate::index::DistFile>)>,
}

/// What the index holds of the version being published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Nothing: build and upload.
    New,
    /// A wheel and an sdist that are not yanked: published, whoever built it; nothing is built.
    OnIndex,
    /// Some files, a kind missing: our own interrupted upload (same sha256: upload the rest) or
    /// another build's (upload nothing but warn); only a build tells them apart. `closed`: the
    /// index no longer accepts files for the version, so the missing kinds are never uploaded.
    Partial { missing: Vec<&'static str>, closed: Option<Closed> },
    /// Only yanked files: the version is spent (file names can never be uploaded again).
    Yanked,
}

/// The kinds of distribution a build makes and a version on the index must have.
pub const KINDS: [&str; 2] = ["wheel", "sdist"];

/// The kinds `files` lack, counting only files that are not yanked.
pub fn missing_kinds(files: &[crate::index::DistFile]) -> Vec<&'static str> {
    KINDS
        .into_iter()
        .filter(|k| !files.iter().any(|f| !f.yanked && super::artifact::kind_of(&f.filename) == Some(k)))
        .collect()
}

/// A version the index no longer accepts files for: its first file is older than the index's
/// `closed-after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// How long ago the first file of the version was uploaded.
    pub age: Duration,
    /// The index's `closed-after`.
    pub after: Duration,
}

impl Closed {
    /// Why nothing can be added, for the plan, the outcome and the JSON.
    pub fn reason(&self) -> String {
        format!(
            "{CLOSED} (its first file is {} old; the index closes a version {} after its first file)",
            crate::time::human(self.age),
            crate::time::human(self.after)
        )
    }
}

/// What a closed version is reported as, wherever it shows.
pub const CLOSED: &str = "closed: the index no longer accepts files for this version";

/// What the index allows, and the time now: the inputs of the plan that are not the index's
/// state.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How many new projects the index accepts in this run (`None`: no limit).
    pub new_projects: Option<u32>,
    /// How long after its first file the index accepts files for a version (`None`: for ever).
    pub closed_after: Option<Duration>,
    pub now: SystemTime,
}

/// Whether the version of `files` is closed: its earliest upload time is older than
/// `closed_after`. Without upload times (pypiserver), nothing is known to be closed.
pub fn closed(files: &[crate::index::DistFile], limits: &Limits) -> Option<Closed> {
    let after = limits.closed_after?;
    let first = files.iter().filter_map(|f| f.uploaded).min()?;
    // A first file "from the future" (a skewed clock) is taken as just uploaded.
    let age = limits.now.duration_since(first).unwrap_or(Duration::ZERO);
    (age > after).then_some(Closed { age, after })
}

fn state(files: &[crate::index::DistFile], limits: &Limits) -> State {
    if files.is_empty() {
        State::New
    } else if files.iter().all(|f| f.yanked) {
        State::Yanked
    } else {
        match missing_kinds(files) {
            missing if missing.is_empty() => State::OnIndex,
            missing => State::Partial { missing, closed: closed(files, limits) },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Need {
    pub dep: usize,
    pub requirement: Requirement,
    /// Whether the dependency is published in this run (then its outcome matters).
    pub selected: bool,
    /// The version to wait for: the one being published when the requirement allows it;
    /// otherwise any version the requirement allows.
    pub exact: Option<Version>,
}

impl Need {
    /// Whether `project` shows a release that satisfies this need (files present, not yanked).
    pub fn satisfied_by(&self, project: Option<&Project>) -> bool {
        let Some(project) = project else { return false };
        project.releases.iter().any(|(v, files)| {
            !files.is_empty()
                && files.iter().any(|f| !f.yanked)
                && match &self.exact {
                    Some(exact) => v == exact,
                    None => self.requirement.allows(v).unwrap_or(false),
                }
        })
    }
}

/// Plans the publication of `selected`. `remote` holds what the index knows about every
/// selected package and every internal dependency of one (`None`: the project is not there).
pub fn plan(
    packages: &[Package],
    graph: &Graph,
    selected: &BTreeSet<usize>,
    remote: &BTreeMap<usize, Option<Project>>,
    limits: &Limits,
) -> Result<Plan> {
    let waves = graph.waves(selected, packages)?;
    let mut items: BTreeMap<usize, Item> = BTreeMap::new();
    let mut quota_left = limits.new_projects;
    for wave in &waves {
        for &i in wave {
            let p = &packages[i];
            let project = remote.get(&i).and_then(|r| r.as_ref());
            let on_index = project.and_then(|r| r.releases.get(&p.version)).cloned().unwrap_or_default();
            let previous = project.and_then(|r| {
                r.releases
                    .range(..p.version.clone())
                    .rev()
                    .find(|(_, files)| files.iter().any(|f| !f.yanked))
                    .map(|(v, files)| (v.clone(), files.iter().filter(|f| !f.yanked).cloned().collect()))
            });
            let mut needs = Vec::new();
            let mut blocked = Vec::new();
            for &d in graph.dependencies(i) {
                let dep = &packages[d];
                // A package may name the same dependency twice (with markers); each must hold.
                for requirement in p.dependencies.iter().filter(|r| r.name == dep.name) {
                    let is_selected = selected.contains(&d);
                    // Checked here once, so that `satisfied_by` never meets a malformed one.
                    let allows = requirement.allows(&dep.version).map_err(|e| {
                        anyhow::anyhow!("{}: malformed requirement `{requirement}`: {e}", p.pyproject_display())
                    })?;
                    let exact = (is_selected && allows).then(|| dep.version.clone());
                    let need = Need { dep: d, requirement: requirement.clone(), selected: is_selected, exact };
                    if !is_selected && !need.satisfied_by(remote.get(&d).and_then(|r| r.as_ref())) {
                        blocked.push(format!(
                            "needs `{requirement}`, which is neither on the index nor selected; publish `{}` too (add `{}`)",
                            dep.display_name, dep.dir
                        ));
                    }
                    needs.push(need);
                }
            }
            // A selected dependency that will not be published blocks this one too: the dry
            // run says what the real run would.
            for need in needs.iter().filter(|n| n.selected) {
                if let Some(dep) = items.get(&need.dep) {
                    let why = if dep.deferred { "deferred by the new-project quota" } else { "blocked" };
                    if (dep.blocked.is_some() || dep.deferred) && !blocked.iter().any(|b: &String| b.contains(why)) {
                        blocked.push(format!("its dependency `{}` is {why}", packages[need.dep].display_name));
                    }
                }
            }
            let state = state(&on_index, limits);
            if state == State::Yanked {
                blocked.push(format!(
                    "every file of {} on the index is yanked, and a file name can never be uploaded again; bump the version (`cargo xtask pkg bump {}`)",
                    p.version, p.dir
                ));
            }
            let blocked = (!blocked.is_empty()).then(|| blocked.join("; "));
            let new_project = project.is_none();
            let mut deferred = false;
            if new_project && blocked.is_none() {
                match &mut quota_left {
                    Some(0) => deferred = true,
                    Some(n) => *n -= 1,
                    None => {}
                }
            }
            items.insert(i, Item { on_index, needs, blocked, state, new_project, deferred, previous });
        }
    }
    Ok(Plan { waves, items })
}

impl Item {
    /// Whether this run builds the package: a version the index lacks, or lacks a kind of.
    pub fn builds(&self) -> bool {
        self.blocked.is_none() && !self.deferred && matches!(self.state, State::New | State::Partial { .. })
    }

    /// Whether this run may upload files of the package: it builds it, and the index still
    /// accepts files for the version.
    pub fn may_upload(&self) -> bool {
        self.builds() && !matches!(self.state, State::Partial { closed: Some(_), .. })
    }
}

/// What to do with each built file, given the files of the same version on the index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileDecision {
    pub upload: Vec<String>,
    /// Already there with the same sha256.
    pub same: Vec<String>,
    /// Already there with other content: (filename, ours, theirs).
    pub conflicts: Vec<(String, String, String)>,
}

/// `local`: (filename, sha256) of the build; `remote`: (filename, sha256) on the index.
pub fn decide(local: &[(String, String)], remote: &[(String, String)]) -> FileDecision {
    let remote: BTreeMap<&str, &str> = remote.iter().map(|(f, s)| (f.as_str(), s.as_str())).collect();
    let mut d = FileDecision::default();
    for (file, ours) in local {
        match remote.get(file.as_str()) {
            None => d.upload.push(file.clone()),
            Some(theirs) if theirs.eq_ignore_ascii_case(ours) => d.same.push(file.clone()),
            Some(theirs) => d.conflicts.push((file.clone(), ours.clone(), theirs.to_string())),
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::DistFile;

    /// A clock far from any upload time of these tests, and no closing.
    fn open(new_projects: Option<u32>) -> Limits {
        Limits { new_projects, closed_after: None, now: SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 31) }
    }

    fn pkg(name: &str, version: &str, deps: &[&str]) -> Package {
        Package::sample(&format!("dir/{name}"), name, version, deps)
    }

    fn project(name: &str, versions: &[&str]) -> Option<Project> {
        let file = |v: &str| DistFile {
            filename: format!("{name}-{v}.tar.gz"),
            sha256: None,
            yanked: false,
            url: None,
            uploaded: None,
        };
        Some(Project {
            name: name.to_string(),
            releases: versions.iter().map(|v| (v.parse().unwrap(), vec![file(v)])).collect(),
        })
    }

    #[test]
    fn waves_needs_and_blocked_packages() {
        let packages = vec![
            pkg("core", "0.2.0", &[]),
            pkg("emb", "0.1.1", &["core>=0.2"]),
            pkg("vs", "0.3.0", &["core>=0.1", "emb>=0.1.0"]),
            pkg("pack", "0.5.0", &["vs>=9"]),
            pkg("lonely", "1.0.0", &["missing-dep>=1", "other>=2"]),
            pkg("other", "1.0.0", &[]),
        ];
        let graph = Graph::new(&packages);
        let selected: BTreeSet<usize> = [0, 1, 2, 3, 4].into_iter().collect();
        let remote: BTreeMap<usize, Option<Project>> = [
            (0, project("core", &["0.1.0"])),
            (1, None),
            (2, project("vs", &["0.3.0"])),
            (3, None),
            (4, None),
            (5, project("other", &["1.0.0"])),
        ]
        .into_iter()
        .collect();
        let plan = plan(&packages, &graph, &selected, &remote, &open(None)).unwrap();
        assert_eq!(plan.waves, vec![vec![0, 4], vec![1], vec![2], vec![3]]);
        let show = |i: usize| {
            let item = &plan.items[&i];
            let needs: Vec<String> = item
                .needs
                .iter()
                .map(|n| {
                    format!("{} {}", n.requirement, n.exact.as_ref().map_or("any".to_string(), |v| format!("={v}")))
                })
                .collect();
            format!(
                "{} on_index={} needs=[{}] blocked={:?}",
                packages[i].name,
                item.on_index.len(),
                needs.join(", "),
                item.blocked
            )
        };
        let shown: Vec<String> = (0..5).map(show).collect();
        expect_test::expect![[r#"
            core on_index=0 needs=[] blocked=None
            emb on_index=0 needs=[core>=0.2 =0.2.0] blocked=None
            vs on_index=1 needs=[core>=0.1 =0.2.0, emb>=0.1.0 =0.1.1] blocked=None
            pack on_index=0 needs=[vs>=9 any] blocked=None
            lonely on_index=0 needs=[other>=2 any] blocked=Some("needs `other>=2`, which is neither on the index nor selected; publish `other` too (add `dir/other`)")"#]]
        .assert_eq(&shown.join("\n"));
    }

    #[test]
    fn a_malformed_requirement_is_named_not_reported_missing() {
        let mut packages = vec![pkg("core", "0.2.0", &[]), pkg("emb", "0.1.1", &["core"])];
        packages[1].dependencies[0] = packages[1].dependencies[0].with_specifiers(">=0.2 garbage");
        let graph = Graph::new(&packages);
        let selected: BTreeSet<usize> = [1].into_iter().collect();
        let remote = [(0, project("core", &["0.2.0"])), (1, None)].into_iter().collect();
        let err = plan(&packages, &graph, &selected, &remote, &open(None)).unwrap_err().to_string();
        expect_test::expect!["dir/emb/pyproject.toml: malformed requirement `core>=0.2 garbage`: `>=0.2 garbage` is not a version specifier: expected one version after `>=`; separate specifiers with commas (`>=1.0,<2.0`)"].assert_eq(&err);
    }

    #[test]
    fn states_the_quota_and_what_it_blocks() {
        let packages = vec![
            pkg("core", "0.2.0", &[]),
            pkg("a", "1.0.0", &[]),
            pkg("b", "1.0.0", &[]),
            pkg("c", "1.0.0", &["b>=1"]),
            pkg("old", "2.0.0", &[]),
            pkg("half", "3.0.0", &[]),
        ];
        let graph = Graph::new(&packages);
        let selected: BTreeSet<usize> = (0..6).collect();
        let file =
            |f: &str, yanked: bool| DistFile { filename: f.into(), sha256: None, yanked, url: None, uploaded: None };
        let with = |files: Vec<DistFile>| {
            Some(Project {
                name: "x".into(),
                releases: [
                    ("1.0.0".parse().unwrap(), vec![file("x-1.0.0.tar.gz", false)]),
                    (packages[4].version.clone(), files),
                ]
                .into_iter()
                .collect(),
            })
        };
        let remote: BTreeMap<usize, Option<Project>> = [
            (0, None),
            (1, None),
            (2, None),
            (3, None),
            (4, with(vec![file("old-2.0.0.tar.gz", true), file("old-2.0.0-py3-none-any.whl", true)])),
            (
                5,
                Some(Project {
                    name: "half".into(),
                    releases: [("3.0.0".parse().unwrap(), vec![file("half-3.0.0-py3-none-any.whl", false)])]
                        .into_iter()
                        .collect(),
                }),
            ),
        ]
        .into_iter()
        .collect();
        let plan = plan(&packages, &graph, &selected, &remote, &open(Some(2))).unwrap();
        let show: Vec<String> = (0..6)
            .map(|i| {
                let it = &plan.items[&i];
                format!(
                    "{} {:?} new={} deferred={} blocked={:?}",
                    packages[i].name, it.state, it.new_project, it.deferred, it.blocked
                )
            })
            .collect();
        expect_test::expect![[r#"
            core New new=true deferred=false blocked=None
            a New new=true deferred=false blocked=None
            b New new=true deferred=true blocked=None
            c New new=true deferred=false blocked=Some("its dependency `b` is deferred by the new-project quota")
            old Yanked new=false deferred=false blocked=Some("every file of 2.0.0 on the index is yanked, and a file name can never be uploaded again; bump the version (`cargo xtask pkg bump dir/old`)")
            half Partial { missing: ["sdist"], closed: None } new=false deferred=false blocked=None"#]]
        .assert_eq(&show.join("\n"));
        assert_eq!(plan.items[&4].previous.as_ref().map(|(v, _)| v.to_string()), Some("1.0.0".into()));
    }

    #[test]
    fn versions_close_after_their_first_file() {
        let day = Duration::from_secs(86_400);
        let now = SystemTime::UNIX_EPOCH + 20_000 * day;
        let file = |f: &str, days_ago: Option<u32>| DistFile {
            filename: f.into(),
            sha256: None,
            yanked: false,
            url: None,
            uploaded: days_ago.map(|d| now - d * day),
        };
        let one = |name: &str, files: Vec<DistFile>| {
            Some(Project { name: name.into(), releases: [("1.0.0".parse().unwrap(), files)].into_iter().collect() })
        };
        let wheel = |n: &str, days: Option<u32>| file(&format!("{n}-1.0.0-py3-none-any.whl"), days);
        let sdist = |n: &str, days: Option<u32>| file(&format!("{n}-1.0.0.tar.gz"), days);
        let cases = [
            ("old-half", one("old-half", vec![wheel("old-half", Some(20))])),
            // The first file decides: a later upload of another kind does not reopen it.
            ("mixed", one("mixed", vec![file("mixed-1.0.0-cp312-x.whl", Some(15)), wheel("mixed", Some(1))])),
            ("fresh-half", one("fresh-half", vec![wheel("fresh-half", Some(3))])),
            ("edge", one("edge", vec![sdist("edge", Some(14))])),
            ("no-times", one("no-times", vec![wheel("no-times", None)])),
            ("old-whole", one("old-whole", vec![wheel("old-whole", Some(400)), sdist("old-whole", Some(400))])),
            // Uploaded "tomorrow" by a skewed clock: open.
            (
                "future",
                one("future", vec![wheel("future", Some(0)).clone()]).map(|mut p| {
                    p.releases.values_mut().for_each(|f| f[0].uploaded = Some(now + day));
                    p
                }),
            ),
        ];
        let packages: Vec<Package> = cases.iter().map(|(n, _)| pkg(n, "1.0.0", &[])).collect();
        let graph = Graph::new(&packages);
        let selected: BTreeSet<usize> = (0..packages.len()).collect();
        let remote: BTreeMap<usize, Option<Project>> = cases.into_iter().map(|(_, p)| p).enumerate().collect();
        let show = |closed_after: Option<Duration>| {
            let limits = Limits { new_projects: None, closed_after, now };
            let plan = plan(&packages, &graph, &selected, &remote, &limits).unwrap();
            let lines: Vec<String> = plan
                .items
                .iter()
                .map(|(&i, it)| match &it.state {
                    State::Partial { missing, closed: Some(c) } => {
                        format!("{}: without {}: {}", packages[i].name, missing.join("+"), c.reason())
                    }
                    other => format!("{}: {other:?}", packages[i].name),
                })
                .collect();
            lines.join("\n")
        };
        expect_test::expect![[r#"
            old-half: without sdist: closed: the index no longer accepts files for this version (its first file is 20d old; the index closes a version 14d after its first file)
            mixed: without sdist: closed: the index no longer accepts files for this version (its first file is 15d old; the index closes a version 14d after its first file)
            fresh-half: Partial { missing: ["sdist"], closed: None }
            edge: Partial { missing: ["wheel"], closed: None }
            no-times: Partial { missing: ["sdist"], closed: None }
            old-whole: OnIndex
            future: Partial { missing: ["sdist"], closed: None }"#]]
        .assert_eq(&show(Some(14 * day)));
        // An index that never closes a version (any but the public one, by default).
        assert!(!show(None).contains("closed: the index"), "{}", show(None));
    }

    #[test]
    fn changed_versions_and_new_packages() {
        let packages = vec![pkg("a", "1.0.1", &[]), pkg("b", "2.0.0", &[]), pkg("c", "0.1.0", &[])];
        let old = |v: &str| Some(format!("[project]\nname = \"x\"\nversion = \"{v}\"\n"));
        let changed = changed_since(&packages, &[old("1.0.0"), old("2.0"), None]);
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), vec![0, 2], "2.0 == 2.0.0; new packages count");
    }

    #[test]
    fn file_decisions() {
        let s = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        let d = decide(
            &s(&[("a.whl", "11"), ("a.tar.gz", "22"), ("b.whl", "33")]),
            &s(&[("a.whl", "11"), ("a.tar.gz", "99")]),
        );
        assert_eq!(d.upload, ["b.whl"]);
        assert_eq!(d.same, ["a.whl"]);
        assert_eq!(d.conflicts, [("a.tar.gz".to_string(), "22".to_string(), "99".to_string())]);
    }
}
