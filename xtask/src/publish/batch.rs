//! Building the packages of a run: the build hooks of `[build.hooks]` start at once, on a
//! thread of their own, while the shared build environment is made, the frontends start and
//! every package without hooks builds; a package with hooks builds when they have finished.
//!
//! Core's hooks (`uv sync` and three `uv run python`) take seconds: run first inside its build,
//! they were the longest stretch of the building phase. A package whose directory holds a
//! package with hooks (the umbrella at the root holds core) waits for those hooks too: its sdist
//! takes in the files they write.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Condvar, Mutex},
    time::{Duration, Instant},
};

use super::{
    build::{self, Build},
    buildenv, frontend, hooks,
    report::Outcome,
    run::{label, Ctx},
    timing::Part,
};
use crate::{config::Backend, monorepo::Package, output, parallel};

/// The outcome of each package's hooks as they finish: how long they took, or why they failed.
struct Gate {
    done: Mutex<BTreeMap<usize, Result<Duration, String>>>,
    finished: Condvar,
}

impl Gate {
    fn set(&self, i: usize, result: Result<Duration, String>) {
        self.done.lock().expect("no panics under the lock").insert(i, result);
        self.finished.notify_all();
    }

    /// Waits until the hooks of `i` have finished; their result.
    fn wait(&self, i: usize) -> Result<Duration, String> {
        let mut done = self.done.lock().expect("no panics under the lock");
        loop {
            if let Some(result) = done.get(&i) {
                return result.clone();
            }
            done = self.finished.wait(done).expect("no panics under the lock");
        }
    }
}

/// Whether the directory of `outer` holds the directory of `inner` (the root holds every one).
fn holds(outer: &Package, inner: &Package) -> bool {
    let (o, i) = (outer.dir.trim_end_matches('/'), inner.dir.trim_end_matches('/'));
    o != i && (o.is_empty() || o == "." || i.starts_with(&format!("{o}/")))
}

/// Builds `to_build` on `ctx.options.jobs` workers; a failure goes to `finish`.
pub fn build_all(
    ctx: &Ctx,
    tool: &Path,
    to_build: &[usize],
    finish: &(impl Fn(usize, Outcome) + Sync),
) -> BTreeMap<usize, Build> {
    let (repo, options) = (ctx.repo, ctx.options);
    let fresh: Vec<usize> = to_build
        .iter()
        .copied()
        .filter(|&i| build::reusable(&repo.root, &repo.packages[i], options.backend).is_none())
        .collect();
    let hooked: Vec<usize> =
        fresh.iter().copied().filter(|&i| !hooks::of(&options.hooks, &repo.packages[i]).is_empty()).collect();
    let gate = Gate { done: Mutex::new(BTreeMap::new()), finished: Condvar::new() };
    let run_hooks = || {
        for &i in &hooked {
            let p = &repo.packages[i];
            let started = Instant::now();
            let ran = hooks::run(&repo.root, p, hooks::of(&options.hooks, p), ctx.credentials);
            gate.set(i, ran.map(|()| started.elapsed()).map_err(|e| format!("{e:#}")));
        }
    };
    let build_rest = || {
        let fresh: Vec<&Package> = fresh.iter().map(|&i| &repo.packages[i]).collect();
        let shared_env = match options.backend {
            Backend::Uv if fresh.len() > 1 => buildenv::create(&repo.root, tool, &fresh),
            _ => None,
        };
        // Declared after the environment, so dropped (its frontends killed and reaped) before it.
        let frontends = shared_env.as_ref().filter(|_| options.build_frontend).and_then(|env| {
            frontend::Pool::new(env.path())
                .map_err(|e| output::note(&format!("building with `uv build` only: {e:#}")))
                .ok()
        });
        let builds = Mutex::new(BTreeMap::new());
        // What waits for hooks goes last: the workers build everything else meanwhile.
        let waits = |i: usize| hooked.iter().any(|&h| h == i || holds(&repo.packages[i], &repo.packages[h]));
        let mut order = to_build.to_vec();
        order.sort_by_key(|&i| waits(i));
        parallel::map(&order, options.jobs, |&i| {
            let p = &repo.packages[i];
            // The hooks of the packages this one holds: their files go into its sdist.
            for &h in hooked.iter().filter(|&&h| holds(p, &repo.packages[h])) {
                let _ = gate.wait(h);
            }
            let own = || match hooked.contains(&i) {
                true => gate.wait(i).map_err(anyhow::Error::msg),
                false => Ok(Duration::ZERO),
            };
            output::status("building", &format!("{} ({})", label(p), p.dir));
            let shared =
                shared_env.as_ref().map(|env| build::Shared { env: env.path(), frontends: frontends.as_ref() });
            match build::build(&repo.root, p, options.backend, tool, ctx.credentials, shared, own) {
                Ok((b, took)) => {
                    if !b.reused {
                        ctx.timing.add(Part::Hooks, took.hooks);
                        ctx.timing
                            .add(if took.by_frontend { Part::FrontendBuild } else { Part::ToolBuild }, took.build);
                    }
                    let files = b.manifest.files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>().join(", ");
                    let reused = if b.reused { " (unchanged since the last build)" } else { "" };
                    output::status("built", &format!("{}{reused}: {files}", label(p)));
                    builds.lock().expect("no panics under the lock").insert(i, b);
                }
                Err(e) => finish(i, Outcome::Failed(format!("{e:#}"))),
            }
        });
        builds.into_inner().expect("threads are done")
    };
    parallel::join(run_hooks, build_rest).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(dir: &str) -> Package {
        Package::sample(dir, "p", "1.0", &[])
    }

    #[test]
    fn a_directory_holds_the_packages_under_it_only() {
        let (root, core, integration) = (pkg("."), pkg("llama-index-core"), pkg("llama-index-integrations/llms/x"));
        assert!(holds(&root, &core) && holds(&root, &integration));
        assert!(!holds(&core, &root) && !holds(&core, &core) && !holds(&core, &integration));
        assert!(!holds(&pkg("llama-index-core"), &pkg("llama-index-core-extra")));
        assert!(holds(&pkg("llama-index-integrations/"), &integration));
    }
}
