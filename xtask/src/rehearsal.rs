//! `cargo xtask rehearse`: a whole release of a generated sample monorepo, against a real local
//! package index (pypiserver) and the GitHub stand-in, with no network and no credentials.
//!
//! It runs the same commands a maintainer runs, as child processes, so what it prints is what a
//! maintainer sees: seed the index with the previous release, `release prepare --pr`, the merge
//! of the release pull request, then `release publish`.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{
    exec, flags, git, graph::Graph, monorepo::Monorepo, output, pypiserver::PypiServer, sample::UMBRELLA_VERSION,
};

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

impl flags::Rehearse {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let dir = match &self.dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => std::env::current_dir()?.join(d),
            None => sh.current_dir().join("target/rehearsal"),
        };
        let me = std::env::current_exe().context("cannot find the xtask binary")?;
        let standin = me.with_file_name("standin");
        if !standin.is_file() {
            bail!(
                "the GitHub stand-in `{}` is not built; run `cargo build --package xtask --bins` first",
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
        let n = self.packages.unwrap_or(40).to_string();
        let prs = self.prs.unwrap_or(40).to_string();
        exec::run(cmd!(sh, "{me} sample {repo} --packages {n} --prs {prs} --force"))?;
        git::init_bare(sh, &origin)?;
        {
            let _cd = sh.push_dir(&repo);
            git::add_remote(sh, "origin", &origin)?;
            git::push_with_tags(sh, "origin", "main")?;
        }

        step("a local package index (pypiserver) and the GitHub stand-in, on loopback");
        let index = PypiServer::start(&pypi_server, &packages, &dir.join("pypiserver.log"))?;
        let index_url = index.url();
        let publish_url = format!("{index_url}/");
        let pulls = dir.join("github-pulls.json");
        std::fs::write(&pulls, pull_requests(sh, &repo)?.to_string())?;
        let mut github = Command::new(&standin)
            .args(["--port", "0", "--pulls"])
            .arg(&pulls)
            .arg("--log")
            .arg(dir.join("github-requests.jsonl"))
            .stdout(Stdio::piped())
            .spawn()
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
        let xtask = |args: &[&str]| -> Result<()> {
            let mut c = Command::new(&me);
            c.arg("--root").arg(&repo).args(args).env_remove("GITHUB_TOKEN").env_remove("GITHUB_STEP_SUMMARY");
            for (k, v) in &env {
                c.env(k, v);
            }
            output::note(&format!("\n$ cargo xtask {}", args.join(" ")));
            let status = c.status().context("cannot run the xtask")?;
            if !status.success() {
                bail!("`cargo xtask {}` failed; the rehearsal's files are in {}", args.join(" "), dir.display());
            }
            Ok(())
        };

        step(&format!("the index as it was after v{UMBRELLA_VERSION}: the released packages this release depends on"));
        let seeds = previous_release(&repo)?;
        let mut args = vec!["publish", "--index-url", &index_url, "--publish-url", &publish_url];
        args.extend(seeds.iter().map(String::as_str));
        xtask(&args)?;

        step("phase 1: prepare the release and open its pull request");
        xtask(&["release", "prepare", "--bump", "patch", "--pr", "--index-url", &index_url])?;
        let version = crate::monorepo::Monorepo::load(&repo)?.umbrella()?.version.clone();
        let branch = format!("release/v{version}");

        step("a maintainer squash-merges the release pull request");
        let number = open_pr_number(&addr)?.unwrap_or(1);
        {
            let _cd = sh.push_dir(&repo);
            let subject = format!("Release {version} (#{number})");
            git::switch(sh, "main")?;
            git::squash_merge(sh, &branch)?;
            git::commit_as(sh, "Maintainer", "maintainer@example.com", &subject)?;
            git::push(sh, "origin", "main")?;
        }

        step("phase 2: publish the merged release commit");
        xtask(&["release", "publish", "--index-url", &index_url, "--publish-url", &publish_url, "--wait", "2m"])?;

        let tag = format!("v{version}");
        let state = dir.join("github-state.json");
        let body = ureq::get(&format!("http://{addr}/__state")).call()?.into_body().read_to_string()?;
        std::fs::write(&state, body)?;
        output::note(&format!(
            "\nThe rehearsal released {version}:\n  \
             the changelog:        {}\n  \
             the packages:         {index_url}/simple/ (files in {})\n  \
             the tag:              {tag} in {} and {}\n  \
             the GitHub release:   {} (what the stand-in recorded: the release and the pull request)\n  \
             GitHub requests:      {}\n\
             Run the same commands against the sample yourself with `--root {}`.",
            repo.join("CHANGELOG.md").display(),
            packages.display(),
            repo.display(),
            origin.display(),
            state.display(),
            dir.join("github-requests.jsonl").display(),
            repo.display()
        ));
        drop(github);
        drop(index);
        Ok(())
    }
}

fn step(what: &str) {
    output::note(&format!("\n{} {what}", output::green("==>")));
}

/// The packages of the previous release that this one needs on the index: the internal
/// dependencies of every package whose version has not changed since the previous release tag.
fn previous_release(root: &Path) -> Result<Vec<String>> {
    let repo = Monorepo::load(root)?;
    let graph = Graph::new(&repo.packages);
    let sh = Shell::new()?;
    sh.change_dir(root);
    let changed = crate::publish::changed_since(&sh, &repo, &format!("v{UMBRELLA_VERSION}"))?;
    let needed: BTreeSet<usize> = (0..repo.packages.len()).flat_map(|j| graph.dependencies(j).to_vec()).collect();
    Ok(needed.difference(&changed).map(|&i| repo.packages[i].dir.clone()).collect())
}

/// What the stand-in answers for the pull requests of the sample's history: the squash
/// subjects' titles, as GitHub would.
fn pull_requests(sh: &Shell, repo: &Path) -> Result<serde_json::Value> {
    let _cd = sh.push_dir(repo);
    let mut pulls = serde_json::Map::new();
    for subject in &git::subjects(sh)? {
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
