//! `cargo xtask verify`: proof that a release installs. In a fresh virtual environment outside
//! the monorepo, `uv pip install` the release's packages from the index's simple API (with
//! `--built`, from the release's builds plus the index, before anything is uploaded; with
//! `--local`, the umbrella's wheel built from the working tree), then import each one's
//! top-level modules. `release publish` runs the check before its first upload and the proof
//! as its last step.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use xshell::Shell;

mod imports;

pub use imports::{error as import_error, Failure as ImportFailure};

use crate::scratch::Scratch;
use crate::usage::usage;
use crate::{
    backoff::{self, Attempt, Backoff, Limit},
    config, exec, flags,
    graph::Graph,
    index::Index,
    monorepo::{Monorepo, Package},
    output, publish,
    version::Version,
};

impl flags::Verify {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let repo = Monorepo::load(&sh.current_dir())?;
        let index_url = self.index_url.clone().map_or_else(|| repo.config.index_url.clone(), |u| u.0);
        let wait = flags::Wait::or(self.wait, Duration::from_secs(600));
        if self.local {
            if self.version.is_some() || self.since.is_some() || self.built {
                return Err(usage(
                    "--local proves the working tree's build of the umbrella; --version, --since and --built name a release",
                ));
            }
            return local(&repo, &index_url);
        }
        let umbrella = repo.umbrella()?;
        let version: Version = match &self.version {
            Some(v) => v.parse().map_err(|e| usage(format!("`--version {v}` is not a PEP 440 version: {e}")))?,
            None => umbrella.version.clone(),
        };
        if umbrella.version != version {
            bail!(
                "the working tree's umbrella is at `{}`, not `{version}`; check out the release commit of `{version}` to prove it",
                umbrella.version
            );
        }
        let since = match &self.since {
            Some(tag) => tag.clone(),
            None => crate::changelog::latest_tag(sh, &repo)?,
        };
        let index = Index::new(&index_url);
        let set = release_set(sh, &repo, &since)?;
        let members = members_of(&repo, &index, &set)?;
        members.refuse_unsatisfiable()?;
        members.warn_apart();
        let scratch = Scratch::new("verify")?;
        let simple = simple_url(&index_url);
        if !self.built {
            let from = Sources { simple: &simple, built: &[] };
            return prove(scratch.path(), &from, &members.requirements(), &members.dists(), wait);
        }
        let options = publish::Options::for_build(&repo, &index_url, wait);
        let built = publish::build_only(sh, &repo, &set, &options)?.all_or_error(&repo)?;
        let from = Sources { simple: &simple, built: &built };
        prove(scratch.path(), &from, &members.requirements(), &members.dists(), Duration::ZERO)
    }
}

/// `--local`: the umbrella's wheel built from the working tree, installed with the index.
fn local(repo: &Monorepo, index_url: &str) -> Result<()> {
    let scratch = Scratch::new("verify")?;
    let umbrella = repo.umbrella()?;
    let dist = scratch.join("dist");
    let uv = exec::require("uv", "to build and install the umbrella")?;
    let dir = repo.root.join(&umbrella.dir);
    output::status("building", &format!("`{}` from the working tree", umbrella.name));
    exec::Cmd::new(&uv).args(["build", "--quiet", "--wheel", "--out-dir"]).arg(&dist).dir(&dir).run()?;
    let wheel = std::fs::read_dir(&dist)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("`uv build` wrote no wheel of `{}`", umbrella.name))?;
    let install = vec![wheel.display().to_string()];
    let from = Sources { simple: &simple_url(index_url), built: &[] };
    prove(scratch.path(), &from, &install, &[umbrella.name.to_string()], Duration::ZERO)
}

/// The packages a release at HEAD publishes: the umbrella, core and every package whose
/// version changed since `since`.
pub fn release_set(sh: &Shell, repo: &Monorepo, since: &str) -> Result<BTreeSet<usize>> {
    let mut set = publish::changed_since(sh, repo, since)?;
    set.insert(repo.index_of(repo.umbrella()?));
    set.insert(repo.index_of(repo.core()?));
    Ok(set)
}

/// [`members`] of `release`, with the versions the index holds of their internal dependencies.
pub fn members_of(repo: &Monorepo, index: &Index, release: &BTreeSet<usize>) -> Result<Members> {
    let graph = Graph::new(&repo.packages);
    let deps: BTreeSet<usize> = release.iter().flat_map(|&i| graph.dependencies(i).iter().copied()).collect();
    let projects = publish::projects(index, repo, &deps)?;
    let on_index = projects
        .into_iter()
        .map(|(i, p)| {
            let versions = p.map_or_else(Vec::new, |p| {
                p.releases.into_iter().filter(|(_, files)| files.iter().any(|f| !f.yanked)).map(|(v, _)| v).collect()
            });
            (i, versions)
        })
        .collect();
    Ok(members(&repo.packages, &graph, release, &on_index))
}

/// A release's packages as they install together.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Members {
    /// `(name, version)` of each package installed with the release (the umbrella included).
    pub install: Vec<(String, String)>,
    /// Packages that install, but not with this release: a requirement on a package of the
    /// release excludes its version and an older one on the index satisfies it (an integration
    /// still on the previous core series). Published as they are, as the monorepo always did,
    /// and said out loud instead of failing the proof.
    pub apart: Vec<String>,
    /// Requirements on a package of the monorepo that nothing satisfies, neither the release
    /// nor any version on the index: no one could install the package.
    pub unsatisfiable: Vec<String>,
    /// The packages of `install`, by index into the monorepo's packages.
    pub together: BTreeSet<usize>,
    /// The packages of `unsatisfiable`, each with its first message.
    pub cannot: BTreeMap<usize, String>,
}

impl Members {
    /// What `uv pip install` is given: `name==version` of each package installed together.
    pub fn requirements(&self) -> Vec<String> {
        self.install.iter().map(|(n, v)| format!("{n}=={v}")).collect()
    }
    /// The distributions whose modules are imported.
    pub fn dists(&self) -> Vec<String> {
        self.install.iter().map(|(n, _)| n.clone()).collect()
    }
    pub fn warn_apart(&self) {
        for why in &self.apart {
            output::warn(why);
        }
    }
    /// No one could install a package whose requirement nothing satisfies: an error naming each.
    pub fn refuse_unsatisfiable(&self) -> Result<()> {
        if self.unsatisfiable.is_empty() {
            return Ok(());
        }
        bail!(
            "the release would not install:\n  {}\nfix the requirement or ship the version it needs, and rerun",
            self.unsatisfiable.join("\n  ")
        )
    }
}

/// Sorts the packages of `release` by whether they install with it: pure, over each required
/// internal dependency's version in the release and `on_index` (its versions with files that
/// are not yanked).
pub fn members(
    packages: &[Package],
    graph: &Graph,
    release: &BTreeSet<usize>,
    on_index: &BTreeMap<usize, Vec<Version>>,
) -> Members {
    let mut m = Members::default();
    for &i in release {
        let p = &packages[i];
        let mut apart = None;
        for &d in graph.dependencies(i) {
            let dep = &packages[d];
            for r in p.dependencies.iter().filter(|r| r.name == dep.name && !r.optional) {
                let allows = |v: &Version| r.allows(v) == Ok(true);
                if release.contains(&d) && allows(&dep.version) {
                    continue;
                }
                let on_index = on_index.get(&d).is_some_and(|vs| vs.iter().any(allows));
                let wanted = format!("`{}` {} requires `{}{}`", p.name, p.version, r.raw_name, r.specifiers);
                match (on_index, release.contains(&d)) {
                    (true, false) => {}
                    (true, true) => {
                        apart.get_or_insert(format!(
                            "{wanted}, which excludes this release's {}; it is published, but cannot be installed with this release",
                            dep.version
                        ));
                    }
                    (false, true) => cannot(
                        &mut m,
                        i,
                        format!(
                            "{wanted}, which neither this release's {} nor any version on the index satisfies",
                            dep.version
                        ),
                    ),
                    (false, false) => cannot(
                        &mut m,
                        i,
                        format!(
                            "{wanted}, which no version on the index satisfies, and the release does not ship `{}`",
                            dep.name
                        ),
                    ),
                }
            }
        }
        match apart {
            Some(why) => m.apart.push(why),
            None => {
                m.install.push((p.name.to_string(), p.version.to_string()));
                m.together.insert(i);
            }
        }
    }
    m
}

fn cannot(m: &mut Members, i: usize, why: String) {
    m.cannot.entry(i).or_insert_with(|| why.clone());
    m.unsatisfiable.push(why);
}

/// The simple API next to a JSON API base: `…/pypi` becomes `…/simple/`, a pypiserver's root
/// gets `/simple/`.
pub fn simple_url(json_base: &str) -> String {
    let base = json_base.trim_end_matches('/');
    format!("{}/simple/", base.strip_suffix("/pypi").unwrap_or(base))
}

/// Where [`prove`] installs from: the simple index `simple` (third-party dependencies from the
/// public index when it is another) and, before anything is uploaded, the directories of the
/// release's builds, whose files stand in for the versions the index does not have yet.
pub struct Sources<'a> {
    pub simple: &'a str,
    pub built: &'a [PathBuf],
}

/// What installing a set of packages into a fresh environment and importing them found.
#[derive(Debug)]
pub enum Found {
    /// Installed, and every distribution imported.
    Ok,
    /// The install failed (after retrying until the wait was up): the resolver's error.
    NotInstalled(anyhow::Error),
    /// Installed, but these distributions do not import.
    NotImported(Vec<ImportFailure>),
}

/// Installs `install` (requirements or wheel paths) into a fresh environment in `dir` from
/// `from`, retrying resolver failures until `wait` is up, then imports the top-level modules
/// of `dists`. The error carries the resolver's or Python's message.
pub fn prove(dir: &Path, from: &Sources, install: &[String], dists: &[String], wait: Duration) -> Result<()> {
    match check(dir, from, install, dists, wait)? {
        Found::Ok => Ok(()),
        Found::NotInstalled(e) => Err(e).context("the release does not install; the resolver said why"),
        Found::NotImported(failed) => Err(imports::error(&failed)),
    }
}

/// [`prove`], with what failed as data: only a tool that cannot run is an error.
pub fn check(dir: &Path, from: &Sources, install: &[String], dists: &[String], wait: Duration) -> Result<Found> {
    let uv = exec::require("uv", "to install the release in a fresh environment")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let venv = dir.join("venv");
    // Without credentials, as every child: the packages' imports below run code that is not ours.
    exec::Cmd::new(&uv).args(["venv", "--quiet"]).arg(&venv).dir(dir).run()?;
    let python = if cfg!(windows) { venv.join("Scripts/python.exe") } else { venv.join("bin/python") };
    let public = simple_url(config::PUBLIC_INDEX_URL);
    let simple = from.simple;
    // uv asks an `--extra-index-url` before the `--index-url`, and takes each name from the
    // first index that has it: the release's index first for the monorepo's packages, the
    // public one (when it is another) only for the rest, as users get them. Files under
    // `--find-links` join whichever index has the name, so the builds add the versions the
    // index lacks.
    let mut sources = vec!["--index-url".to_string(), public.clone()];
    if simple != public {
        sources.extend(["--extra-index-url".to_string(), simple.to_string()]);
    }
    for dir in from.built {
        sources.extend(["--find-links".to_string(), dir.display().to_string()]);
    }
    let builds = match from.built.len() {
        0 => String::new(),
        n => format!(" and {n} build{} of this run", if n == 1 { "" } else { "s" }),
    };
    output::status("installing", &format!("{} from {simple}{builds} into a fresh environment", install.join(" ")));
    let attempt = |_| {
        let install_cmd = exec::Cmd::new(&uv).args(["pip", "install", "--quiet", "--refresh", "--python"]).arg(&python);
        match install_cmd.args(&sources).args(install).dir(dir).run() {
            Ok(()) => Ok::<_, anyhow::Error>(Attempt::Done(())),
            Err(e) => Ok(Attempt::Again(e, None)),
        }
    };
    let status = |e: &anyhow::Error, _: &backoff::Pause| {
        output::status("waiting", &format!("the index does not serve it all yet ({}); retrying", first_line(e)))
    };
    if let Err(gave_up) = backoff::retry(INSTALL_BACKOFF, Limit::Within(wait), attempt, status)? {
        return Ok(Found::NotInstalled(gave_up.last));
    }
    if dists.is_empty() {
        return Ok(Found::Ok);
    }
    let imported = imports::run(dir, &python, dists)?;
    if !imported.failed.is_empty() {
        return Ok(Found::NotImported(imported.failed));
    }
    output::status("imported", &imported.done.join("; "));
    Ok(Found::Ok)
}

fn first_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string()
}

/// The pauses between installs while the index's simple pages catch up: 2 s doubling to 30 s.
const INSTALL_BACKOFF: Backoff = Backoff { first: Duration::from_secs(2), max: Duration::from_secs(30), jitter: false };

#[cfg(test)]
mod tests {
    #[test]
    fn the_simple_api_sits_beside_the_json_api() {
        assert_eq!(super::simple_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080/simple/");
        assert_eq!(super::simple_url("https://index.example/pypi/"), "https://index.example/simple/");
    }

    #[test]
    fn members_install_together_apart_or_not_at_all() {
        use crate::{graph::Graph, monorepo::Package};
        let pkg =
            |name: &str, version: &str, deps: &[&str]| Package::sample(&format!("dir/{name}"), name, version, deps);
        let packages = vec![
            pkg("core", "0.15.0", &[]),
            pkg("umbrella", "0.15.0", &["core>=0.15,<0.16"]),
            pkg("old-series", "0.3.1", &["core>=0.14,<0.15"]),
            pkg("from-the-future", "0.2.0", &["core>=0.16"]),
            pkg("needs-unreleased", "1.0.1", &["helper>=2"]),
            pkg("helper", "1.0.0", &[]),
            pkg("with-extra", "1.0.0", &["core>=0.15", "helper>=9 ; extra == 'x'"]),
        ];
        let mut packages = packages;
        packages[6].dependencies[1].optional = true;
        let graph = Graph::new(&packages);
        let release = [0, 1, 2, 3, 4, 6].into_iter().collect();
        let on_index =
            [(0, vec!["0.14.2".parse().unwrap()]), (5, vec!["1.0.0".parse().unwrap()])].into_iter().collect();
        let m = super::members(&packages, &graph, &release, &on_index);
        let shown = format!(
            "install: {:?}\napart:\n  {}\nunsatisfiable:\n  {}",
            m.install,
            m.apart.join("\n  "),
            m.unsatisfiable.join("\n  ")
        );
        expect_test::expect![[r#"
            install: [("core", "0.15.0"), ("umbrella", "0.15.0"), ("from-the-future", "0.2.0"), ("needs-unreleased", "1.0.1"), ("with-extra", "1.0.0")]
            apart:
              `old-series` 0.3.1 requires `core>=0.14,<0.15`, which excludes this release's 0.15.0; it is published, but cannot be installed with this release
            unsatisfiable:
              `from-the-future` 0.2.0 requires `core>=0.16`, which neither this release's 0.15.0 nor any version on the index satisfies
              `needs-unreleased` 1.0.1 requires `helper>=2`, which no version on the index satisfies, and the release does not ship `helper`"#]].assert_eq(&shown);
    }
}
