//! `cargo xtask rehearse`: a whole release of a generated sample monorepo, against a real local
//! package index (pypiserver) and the GitHub stand-in, with no network and no credentials.
//!
//! It runs the same commands a maintainer runs, as child processes, so what it prints is what a
//! maintainer sees: seed the index with the previous release, `release prepare --pr`, the merge
//! of the release pull request, then `release publish`. [`Stage`] is what every shape stands on;
//! `--shape independent` releases packages of a monorepo of independent packages
//! (`rehearsal/independent.rs`).

mod independent;

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Stdio},
};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{
    pypiserver::PypiServer,
    sample::{Shape, UMBRELLA_VERSION},
};
use crate::{exec, flags, git, graph::Graph, monorepo::Monorepo, output, requirement::PackageName};

/// A child process that is stopped when the rehearsal ends, however it ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Neither the GitHub stand-in nor the local index checks tokens; these only show that the tool
/// passes one, through the environment.
const STANDIN_TOKEN: &str = "rehearsal-github-token";
const INDEX_TOKEN: &str = "rehearsal-index-token";

/// What every rehearsal stands on: the sample with its origin, the local index and the GitHub
/// stand-in, and the environment the xtask runs in (the stand-in's tokens, never the user's).
pub(super) struct Stage {
    pub dir: PathBuf,
    pub repo: PathBuf,
    /// The local index's package directory.
    pub packages: PathBuf,
    pub index_url: String,
    pub publish_url: String,
    /// The stand-in's address.
    pub addr: String,
    me: PathBuf,
    env: Vec<(&'static str, String)>,
    _index: PypiServer,
    _github: Service,
}

impl Stage {
    /// Runs the xtask at `root` as a maintainer would, its command shown first.
    pub fn xtask_at(&self, root: &Path, args: &[&str]) -> Result<()> {
        // The rehearsal's own stand-in tokens (`env`), never the user's: the edge gives none.
        let mut c = exec::Cmd::new(&self.me).arg("--root").arg(root).args(args).env_remove("GITHUB_STEP_SUMMARY");
        for (k, v) in &self.env {
            c = c.env(k, v);
        }
        output::note(&format!("\n$ cargo xtask {}", args.join(" ")));
        let status = c.status().context("cannot run the xtask")?;
        if !status.success() {
            bail!("`cargo xtask {}` failed; the rehearsal's files are in {}", args.join(" "), self.dir.display());
        }
        Ok(())
    }

    pub fn xtask(&self, args: &[&str]) -> Result<()> {
        self.xtask_at(&self.repo, args)
    }

    /// What the stand-in holds: `{"releases": [...], "pulls": [...]}`, also kept in the
    /// rehearsal's directory.
    pub fn github_state(&self) -> Result<serde_json::Value> {
        let state = ureq::get(&format!("http://{}/__state", self.addr)).call()?.into_body().read_to_string()?;
        std::fs::write(self.dir.join("github-state.json"), &state)?;
        serde_json::from_str(&state).context("the stand-in's state is not JSON")
    }

    /// The maintainer squash-merges the release pull request `branch` with `title (#N)`.
    pub fn merge(&self, sh: &Shell, branch: &str, title: &str) -> Result<()> {
        let number = open_pr_number(&self.addr)?.unwrap_or(1);
        let _cd = sh.push_dir(&self.repo);
        git::quickstart::switch(sh, "main")?;
        git::quickstart::squash_merge(sh, branch)?;
        git::quickstart::commit_as(sh, "Maintainer", "maintainer@example.com", &format!("{title} (#{number})"))?;
        git::push(sh, "origin", "main")
    }
}

impl flags::Rehearse {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let stage = self.stage(sh)?;
        match self.shape {
            Some(Shape::Independent) => independent::rehearse(sh, &stage),
            _ => llama_index(sh, &stage),
        }
    }

    /// The sample, its origin, the index and the stand-in.
    fn stage(&self, sh: &Shell) -> Result<Stage> {
        let dir = match &self.dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => std::env::current_dir()?.join(d),
            None => sh.current_dir().join("target/rehearsal"),
        };
        let me = std::env::current_exe().context("cannot find the xtask binary")?;
        let standin = me.with_file_name("standin");
        if !standin.is_file() {
            bail!(
                "the GitHub stand-in `{}` is not built; run `cargo build --package xtask --package standin` first",
                standin.display()
            );
        }
        let pypi_server = exec::require("pypi-server", "to serve the rehearsal's package index")?;
        exec::require("git", "for the sample's history")?;
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let repo = dir.join("monorepo");
        let origin = dir.join("origin.git");
        let packages = dir.join("index");
        for old in [&origin, &packages] {
            if old.exists() {
                std::fs::remove_dir_all(old).with_context(|| format!("cannot clear {}", old.display()))?;
            }
        }
        std::fs::create_dir_all(&packages)?;

        step("a sample monorepo with its history, and a remote to push to");
        let independent = self.shape == Some(Shape::Independent);
        let n = self.packages.unwrap_or(if independent { independent::PACKAGES } else { 40 }).to_string();
        let prs = self.prs.unwrap_or(40).to_string();
        let shape = if independent { "independent" } else { "llama-index" };
        exec::Cmd::new(&me)
            .arg("sample")
            .arg(&repo)
            .args(["--packages", &n, "--prs", &prs, "--shape", shape, "--force"])
            .run()?;
        git::quickstart::init_bare(sh, &origin)?;
        {
            let _cd = sh.push_dir(&repo);
            git::quickstart::add_remote(sh, "origin", &origin)?;
            git::quickstart::push_with_tags(sh, "origin", "main")?;
        }

        step("a local package index (pypiserver) and the GitHub stand-in, on loopback");
        let index = PypiServer::start(&pypi_server, &packages, &dir.join("pypiserver.log"))?;
        let index_url = index.url();
        let publish_url = format!("{index_url}/");
        let pulls = dir.join("github-pulls.json");
        std::fs::write(&pulls, pull_requests(sh, &repo)?.to_string())?;
        let mut github = exec::Cmd::new(&standin)
            .args(["--port", "0", "--pulls"])
            .arg(&pulls)
            .arg("--log")
            .arg(dir.join("github-requests.jsonl"))
            .spawn(Stdio::piped(), Stdio::inherit())
            .context("cannot start the GitHub stand-in")?;
        let mut line = String::new();
        BufReader::new(github.stdout.take().expect("piped")).read_line(&mut line)?;
        let github = Service(github);
        let addr =
            line.trim().strip_prefix("listening on ").context("the stand-in did not say where it listens")?.to_string();
        let gh_config = dir.join("gh-config");
        std::fs::create_dir_all(&gh_config)?;
        let env: Vec<(&str, String)> = vec![
            ("GH_HOST", "github.localhost".into()),
            ("HTTP_PROXY", format!("http://{addr}")),
            // gh reaches the stand-in through the proxy; the local index is reached directly.
            ("NO_PROXY", "127.0.0.1".into()),
            ("no_proxy", "127.0.0.1".into()),
            ("GH_CONFIG_DIR", gh_config.display().to_string()),
            ("GH_TOKEN", STANDIN_TOKEN.into()),
            ("UV_PUBLISH_TOKEN", INDEX_TOKEN.into()),
            ("GIT_AUTHOR_NAME", "Release Rehearsal".into()),
            ("GIT_AUTHOR_EMAIL", "rehearsal@example.com".into()),
            ("GIT_COMMITTER_NAME", "Release Rehearsal".into()),
            ("GIT_COMMITTER_EMAIL", "rehearsal@example.com".into()),
        ];
        Ok(Stage { dir, repo, packages, index_url, publish_url, addr, me, env, _index: index, _github: github })
    }
}

/// The LlamaIndex-shaped release: the umbrella and core's, tagged `v{version}`.
fn llama_index(sh: &Shell, stage: &Stage) -> Result<()> {
    let (repo, index_url, publish_url) = (&stage.repo, &stage.index_url, &stage.publish_url);
    step(&format!("the index as it was after v{UMBRELLA_VERSION}: the previous release of what this one depends on"));
    seed_previous_release(sh, repo, &stage.dir.join("previous-release"), (index_url, publish_url), stage)?;

    step("phase 1: prepare the release and open its pull request");
    stage.xtask(&["release", "prepare", "--bump", "patch", "--pr", "--index-url", index_url])?;
    let version = crate::monorepo::Monorepo::load(repo)?.umbrella()?.version.clone();

    step("a maintainer squash-merges the release pull request");
    stage.merge(sh, &format!("release/v{version}"), &format!("Release {version}"))?;

    step("phase 2: publish the merged release commit");
    let before = index_files(&stage.packages)?;
    stage.xtask(&["release", "publish", "--index-url", index_url, "--publish-url", publish_url, "--wait", "2m"])?;

    let results = Results {
        version: &version,
        notes: {
            let _cd = sh.push_dir(repo);
            crate::changelog::notes(sh, &Monorepo::load(repo)?, &version, Some(&format!("v{UMBRELLA_VERSION}")))?
        },
        uploaded: index_files(&stage.packages)?.difference(&before).cloned().collect(),
        tag: {
            let _cd = sh.push_dir(repo);
            let tag = format!("v{version}");
            git::quickstart::short_subject(sh, &tag)?
        },
        github: stage.github_state()?,
    };
    output::note(&results.render(&stage.dir, index_url));
    Ok(())
}

/// What the rehearsal made, shown at its end.
struct Results<'a> {
    version: &'a crate::version::Version,
    /// The release's section of the changelog, as the GitHub release's notes.
    notes: String,
    /// The files this release added to the local index.
    uploaded: Vec<String>,
    /// The tagged commit: short hash and subject.
    tag: String,
    /// What the stand-in recorded: `{"releases": [...], "pulls": [...]}`.
    github: serde_json::Value,
}

impl Results<'_> {
    fn render(&self, dir: &Path, index_url: &str) -> String {
        let v = self.version;
        let mut out = format!("\n{} The rehearsal released {v}\n\n", output::green("==>"));
        out += &format!("The new section of CHANGELOG.md:\n\n{}\n", self.notes.trim_end());
        out += &format!("\nThe files it added to the local index ({index_url}/simple/):\n");
        for f in &self.uploaded {
            out += &format!("  {f}\n");
        }
        out += &format!("\nThe tag: v{v} at {}, in the sample and on its origin\n", self.tag);
        for r in self.github["releases"].as_array().into_iter().flatten() {
            out += &format!(
                "\nThe GitHub release (in the stand-in): {} at {}, titled `{}`\n",
                r["tag"].as_str().unwrap_or("?"),
                r["target"].as_str().map_or("?", |t| &t[..t.len().min(10)]),
                r["title"].as_str().unwrap_or("")
            );
            for a in r["assets"].as_array().into_iter().flatten() {
                out += &format!("  asset {} ({} bytes)\n", a["name"].as_str().unwrap_or("?"), a["size"]);
            }
        }
        out + &epilogue(dir, &self.github)
    }
}

/// The end of the results of every shape: the pull request, and where everything is.
pub(super) fn epilogue(dir: &Path, github: &serde_json::Value) -> String {
    let mut out = String::new();
    for p in github["pulls"].as_array().into_iter().flatten() {
        out += &format!(
            "The release pull request: #{} {} from {}\n",
            p["number"],
            p["title"].as_str().unwrap_or("?"),
            p["head"].as_str().unwrap_or("?")
        );
    }
    out += &format!(
        "\nEverything is under {}; run the same commands against the sample yourself with `--root {}`.",
        dir.display(),
        dir.join("monorepo").display()
    );
    out
}

/// The file names in the local index's package directory.
pub(super) fn index_files(dir: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        names.insert(entry?.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

pub(super) fn step(what: &str) {
    output::note(&format!("\n{} {what}", output::green("==>")));
}

/// Publishes the previous release as it was at its tag, from a worktree checked out there:
/// every package that a package of the release (at the tag or now) depends on, directly or not.
/// Seeding from the working tree instead would publish today's versions under old names, and
/// leave out the previous release of every package whose version changed since.
fn seed_previous_release(sh: &Shell, repo: &Path, tree: &Path, urls: (&str, &str), stage: &Stage) -> Result<()> {
    let tag = format!("v{UMBRELLA_VERSION}");
    let _cd = sh.push_dir(repo);
    if tree.exists() {
        let _ = git::quickstart::worktree_remove(sh, tree);
        let _ = std::fs::remove_dir_all(tree);
    }
    git::quickstart::worktree_add_detached(sh, tree, &tag)?;
    let seeds = previous_release(&Monorepo::load(repo)?, &Monorepo::load(tree)?);
    let mut args = vec!["publish", "--index-url", urls.0, "--publish-url", urls.1];
    args.extend(seeds.iter().map(String::as_str));
    stage.xtask_at(tree, &args)?;
    git::quickstart::worktree_remove(sh, tree)?;
    Ok(())
}

/// The directories, at the previous release, of the packages that some package depends on now
/// or depended on then, with what those depend on in turn.
fn previous_release(now: &Monorepo, then: &Monorepo) -> Vec<String> {
    let needed = |repo: &Monorepo| -> BTreeSet<PackageName> {
        let graph = Graph::new(&repo.packages);
        (0..repo.packages.len())
            .flat_map(|j| graph.dependencies(j).to_vec())
            .map(|i| repo.packages[i].name.clone())
            .collect()
    };
    let mut names = needed(now);
    names.extend(needed(then));
    let graph = Graph::new(&then.packages);
    let mut seeds: BTreeSet<usize> =
        then.packages.iter().enumerate().filter(|(_, p)| names.contains(&p.name)).map(|(i, _)| i).collect();
    // Everything a seed needs must be on the index too.
    let mut todo: Vec<usize> = seeds.iter().copied().collect();
    while let Some(i) = todo.pop() {
        for &d in graph.dependencies(i) {
            if seeds.insert(d) {
                todo.push(d);
            }
        }
    }
    seeds.into_iter().map(|i| then.packages[i].dir.clone()).collect()
}

/// What the stand-in answers for the pull requests of the sample's history: the squash
/// subjects' titles, as GitHub would.
fn pull_requests(sh: &Shell, repo: &Path) -> Result<serde_json::Value> {
    let _cd = sh.push_dir(repo);
    let mut pulls = serde_json::Map::new();
    for subject in &git::quickstart::subjects(sh)? {
        if let Some(n) = crate::changelog::history::pr_number(subject) {
            let title = crate::changelog::history::subject_title(subject);
            pulls.insert(n.to_string(), serde_json::json!({"title": title, "author": "contributor", "files": []}));
        }
    }
    Ok(serde_json::Value::Object(pulls))
}

/// The number of the release pull request the stand-in recorded.
fn open_pr_number(addr: &str) -> Result<Option<u64>> {
    let body = ureq::get(&format!("http://{addr}/__state")).call()?.into_body().read_to_string()?;
    let state: serde_json::Value = serde_json::from_str(&body)?;
    Ok(state["pulls"].as_array().and_then(|p| p.last()).and_then(|p| p["number"].as_u64()))
}
