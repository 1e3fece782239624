//! `cargo xtask pkg`: list packages, print a version, bump versions, run a command in packages.

use std::{
    collections::BTreeSet,
    sync::atomic::{AtomicBool, Ordering},
    sync::Mutex,
};

use anyhow::{bail, Result};
use serde_json::json;
use xshell::Shell;

use crate::{
    changeset::Changeset,
    exec, flags, git,
    graph::Graph,
    monorepo::{Monorepo, Owner},
    output, parallel,
    usage::usage,
};

impl flags::Pkg {
    pub fn run(self, sh: &Shell, trailing: Vec<String>) -> Result<()> {
        let repo = Monorepo::load(&sh.current_dir())?;
        for w in &repo.warnings {
            output::warn(w);
        }
        match self.subcommand {
            flags::PkgCmd::Info(cmd) => cmd.run(&repo),
            flags::PkgCmd::Version(cmd) => cmd.run(&repo),
            flags::PkgCmd::Changed(cmd) => cmd.run(sh, &repo),
            flags::PkgCmd::Bump(cmd) => cmd.run(&repo),
            flags::PkgCmd::Exec(cmd) => cmd.run(&repo, trailing),
        }
    }
}

impl flags::Info {
    fn run(self, repo: &Monorepo) -> Result<()> {
        let packages = repo.select(&self.paths, self.all)?;
        if self.json {
            let list: Vec<_> = packages
                .iter()
                .map(|p| json!({"name": p.display_name, "version": p.version.to_string(), "path": p.dir}))
                .collect();
            output::json(&serde_json::Value::Array(list));
        } else {
            let rows: Vec<Vec<String>> =
                packages.iter().map(|p| vec![p.display_name.clone(), p.version.to_string(), p.dir.clone()]).collect();
            output::data(&output::table(&["Name", "Version", "Path"], &rows));
        }
        Ok(())
    }
}

impl flags::Version {
    fn run(self, repo: &Monorepo) -> Result<()> {
        let package = match &self.path {
            Some(path) => repo.resolve(path)?,
            None => repo.umbrella()?,
        };
        repo.require_versions(&[package])?;
        output::data(&package.version.to_string());
        Ok(())
    }
}

impl flags::Changed {
    fn run(self, sh: &Shell, repo: &Monorepo) -> Result<()> {
        let files = git::changed_files(sh, &self.base_ref)?;
        let mut changed = BTreeSet::new();
        let mut unowned = Vec::new();
        for file in &files {
            match repo.owner_of(file) {
                Owner::Package(i) => {
                    changed.insert(i);
                }
                Owner::Nobody => unowned.push(file.clone()),
            }
        }
        let dependants =
            if self.dependants { Graph::new(&repo.packages).dependants(&changed, true) } else { BTreeSet::new() };
        let names = |set: &BTreeSet<usize>| -> Vec<serde_json::Value> {
            set.iter().map(|&i| json!({"name": repo.packages[i].display_name, "path": repo.packages[i].dir})).collect()
        };
        if self.json {
            output::json(
                &json!({"changed": names(&changed), "dependants": names(&dependants), "unowned_files": unowned}),
            );
        } else {
            let rows: Vec<Vec<String>> = changed
                .iter()
                .map(|&i| (i, "changed"))
                .chain(dependants.iter().map(|&i| (i, "dependant")))
                .map(|(i, why)| {
                    vec![repo.packages[i].display_name.clone(), why.to_string(), repo.packages[i].dir.clone()]
                })
                .collect();
            output::data(&output::table(&["Name", "Why", "Path"], &rows));
        }
        if !unowned.is_empty() {
            output::note(&format!(
                "{} changed file{} belong to no package: {}",
                unowned.len(),
                if unowned.len() == 1 { "" } else { "s" },
                unowned.join(", ")
            ));
        }
        Ok(())
    }
}

impl flags::Bump {
    fn run(self, repo: &Monorepo) -> Result<()> {
        let kind = self.kind()?;
        let packages = repo.select(&self.paths, self.all)?;
        let mut plan = Changeset::default();
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for p in &packages {
            let display = p.pyproject_display();
            let edit = p
                .version
                .bump(kind)
                .map_err(|e| anyhow::anyhow!("{display}: {e}"))
                .and_then(|v| Ok((crate::bump::version_edit(&repo.root, p, &v)?, v)));
            match edit {
                Ok((change, new_version)) => {
                    // A version from tags has no file: its next tag is the bump.
                    plan.extend(change);
                    rows.push((p, new_version));
                }
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            bail!("nothing was bumped, because:\n  {}", errors.join("\n  "));
        }
        if self.json {
            let list: Vec<_> = rows
                .iter()
                .map(|(p, new)| json!({"name": p.display_name, "path": p.dir, "old": p.version.to_string(), "new": new.to_string()}))
                .collect();
            output::json(&json!({"dry_run": self.dry_run, "packages": list}));
        } else {
            let verb = if self.dry_run { "Would bump" } else { "Bump" };
            let mut text = String::new();
            for (p, new) in &rows {
                text += &format!("{verb} {} ({}) from {} to {new}\n", p.display_name, p.dir, p.version);
            }
            text += &plan.diff();
            output::data(&text);
        }
        if self.dry_run {
            output::note("dry run: no file was changed");
            return Ok(());
        }
        plan.apply()?;
        output::status("bumped", &format!("{} package{}", rows.len(), if rows.len() == 1 { "" } else { "s" }));
        Ok(())
    }
}

impl flags::Exec {
    fn run(self, repo: &Monorepo, command: Vec<String>) -> Result<()> {
        let Some((program, args)) = command.split_first() else {
            return Err(usage("give the command after `--`, as in `cargo xtask pkg exec --all -- uv build`"));
        };
        let packages = repo.select(&self.paths, self.all)?;
        let jobs = self.jobs.map_or(1, |n| n.0);
        let stop = AtomicBool::new(false);
        let failed = Mutex::new(Vec::new());
        let shown = command.join(" ");
        let ran = parallel::map(&packages, jobs, |p| {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let (ok, status, text) = run_in(&repo.root.join(&p.dir), program, args);
            // One package's report at a time, so parallel output never interleaves.
            let mut failed = failed.lock().expect("no panics while holding the lock");
            if !text.is_empty() {
                output::data(&text);
            }
            if ok {
                output::status("ok", &format!("`{shown}` in {} ({status})", p.dir));
            } else {
                output::status("failed", &format!("`{shown}` in {} ({status})", p.dir));
                failed.push(p.dir.clone());
                if self.fail_fast {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            true
        });
        let failed = failed.into_inner().expect("threads are done");
        if !failed.is_empty() {
            let ran = ran.iter().filter(|&&ran| ran).count();
            bail!("`{shown}` failed in {} of {ran} packages: {}", failed.len(), failed.join(", "));
        }
        Ok(())
    }
}

/// Runs one command in `dir` with its output captured (stderr merged into stdout): whether it
/// succeeded, how it exited (for the report), and what it printed.
fn run_in(dir: &std::path::Path, program: &str, args: &[String]) -> (bool, String, String) {
    // The user's own command, run as if they had typed it: it keeps every credential
    // (`pkg exec --help` says so), and its output is still redacted.
    match exec::Cmd::new(program).args(args).dir(dir).all_credentials().capture_status() {
        Ok((status, text)) => (status.success(), exec::describe(status), text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (false, "did not start".into(), format!("cannot run `{program}`: not found on PATH"))
        }
        Err(e) => (false, "did not start".into(), format!("cannot run `{program}`: {e}")),
    }
}
