//! The build frontend: one long-lived Python process per build worker, in the run's shared build
//! environment ([`super::buildenv`]), that imports each backend once and builds package after
//! package through the PEP 517 hooks, the way `uv build` calls them (`frontend.py` beside this
//! file says exactly how, and why the bytes are the same).
//!
//! Measured on the sample's hatchling packages: `uv build --no-build-isolation` spends about a
//! second per package starting uv, then Python, then importing the backend, twice (sdist, then
//! wheel); the hooks themselves take under a tenth of that. A package the frontend cannot build
//! (its backend is not in the environment, the hooks fail) is built by `uv build` as before;
//! [`way`] says ahead of time which way each package goes, for the plan.

use std::{
    io::{BufRead, Write},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::{config::Backend, exec, monorepo::Package};

/// The frontend's source, written into the build environment when a run starts it.
const SCRIPT: &str = include_str!("frontend.py");

/// How one package is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Way {
    /// Through the hooks of this backend (`module:object`) in the run's frontend.
    Frontend(String),
    /// By the tool's own build command, and why not by the frontend.
    Tool(String),
    /// By `uv build` in an isolated environment of its own, and why not in the shared one.
    Isolated(String),
}

impl Way {
    /// The plan's line for it.
    pub fn note(&self, backend: Backend) -> String {
        match self {
            Way::Frontend(b) => format!("build: in the build frontend ({b}), with `uv build` if that fails"),
            Way::Tool(why) => format!("build: `{backend} build` ({why})"),
            Way::Isolated(why) => format!("build: `{backend} build` in its own environment ({why})"),
        }
    }
}

/// How `p` will be built; `shared`: whether the run builds in a shared environment (uv, more
/// than one package to build), without which there is no frontend either; `enabled`: not
/// turned off by `--no-build-frontend`; `scm`: whether that environment has setuptools-scm
/// ([`super::buildenv::brings_scm`]).
pub fn way(root: &Path, p: &Package, backend: Backend, shared: bool, enabled: bool, scm: bool) -> Way {
    if backend != Backend::Uv {
        return Way::Tool("the backend is poetry: `--backend`, `build.backend`".into());
    }
    if !shared {
        return Way::Tool("the only package to build, in its own environment".into());
    }
    // setuptools-scm registers a `setuptools.file_finders` entry point that every setuptools
    // build in its environment calls, whether the package asked for it or not: the sdist would
    // then carry every file git tracks in the package (its uv.lock, ...), which `uv build` in
    // the package's own environment leaves out. Neither the frontend nor `uv build
    // --no-build-isolation` can keep it out, so such a package is built isolated.
    if scm && setuptools_without_scm(root, p) {
        return Way::Isolated(
            "setuptools without setuptools-scm, which the shared environment has for another package".into(),
        );
    }
    if !enabled {
        return Way::Tool("--no-build-frontend".into());
    }
    match backend_of(root, p) {
        Ok(b) => Way::Frontend(b),
        Err(why) => Way::Tool(why),
    }
}

/// The `build-backend` that the frontend can call for `p`, or why it cannot.
fn backend_of(root: &Path, p: &Package) -> Result<String, String> {
    let path = p.pyproject_path(root);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", p.pyproject_display()))?;
    let doc: toml_edit::Document<String> =
        toml_edit::Document::parse(text).map_err(|e| format!("{}: {e}", p.pyproject_display()))?;
    let system = doc.get("build-system");
    let Some(name) = system.and_then(|s| s.get("build-backend")).and_then(|b| b.as_str()) else {
        return Err("no `build-backend` in `[build-system]`".into());
    };
    if system.and_then(|s| s.get("backend-path")).is_some() {
        return Err("an in-tree backend, `backend-path`".into());
    }
    if name.split(':').next().is_some_and(|m| m == "uv_build" || m.starts_with("uv_build.")) {
        return Err("uv builds its own backend without Python".into());
    }
    Ok(name.to_string())
}

/// Whether `p` builds with setuptools (named, or PEP 517's default without a `build-backend`)
/// and does not ask for setuptools-scm in `[build-system] requires`.
fn setuptools_without_scm(root: &Path, p: &Package) -> bool {
    let Ok(text) = std::fs::read_to_string(p.pyproject_path(root)) else { return false };
    let Ok(doc) = toml_edit::Document::parse(text) else { return false };
    let system = doc.get("build-system");
    let setuptools = match system.and_then(|s| s.get("build-backend")).and_then(|b| b.as_str()) {
        Some(name) => name.split(':').next().is_some_and(|m| m == "setuptools" || m.starts_with("setuptools.")),
        None => true,
    };
    let requires = system.and_then(|s| s.get("requires")).and_then(|r| r.as_array());
    let names_scm = requires.is_some_and(|list| {
        list.iter().filter_map(|v| v.as_str()).any(|r| super::buildenv::requirement_name(r) == "setuptools-scm")
    });
    setuptools && !names_scm
}

/// The frontends of a run: at most one per worker, started when a worker first needs one and
/// handed from build to build; all of them killed and reaped when the pool is dropped.
pub struct Pool {
    env: PathBuf,
    script: PathBuf,
    idle: Mutex<Vec<exec::Piped>>,
    logs: AtomicUsize,
}

impl Pool {
    /// A pool over the shared environment `env`, into which it writes the frontend's script.
    pub fn new(env: &Path) -> Result<Pool> {
        let script = env.join("xtask-frontend.py");
        std::fs::write(&script, SCRIPT).with_context(|| format!("cannot write {}", script.display()))?;
        Ok(Pool { env: env.to_path_buf(), script, idle: Mutex::new(Vec::new()), logs: AtomicUsize::new(0) })
    }

    /// Builds the package in `src` with `backend` into `out`: its sdist, then its wheel from the
    /// sdist. Returns their file names; an error carries the backend's output.
    pub fn build(&self, src: &Path, out: &Path, backend: &str) -> Result<Vec<String>> {
        let taken = self.idle.lock().map_err(|_| anyhow!("the frontend pool is poisoned"))?.pop();
        let mut frontend = match taken {
            Some(f) => f,
            None => self.start()?,
        };
        let log = self.env.join(format!("xtask-frontend-{}.log", self.logs.fetch_add(1, Ordering::Relaxed)));
        let request = json!({"src": src, "out": out, "backend": backend, "log": log});
        // A frontend that fails to answer is dropped (killed), never handed on.
        let answer = ask(&mut frontend, &request)?;
        let _ = std::fs::remove_file(&log);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(frontend);
        }
        if answer["ok"] == true {
            let files = answer["files"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(String::from));
            return Ok(files.map(Iterator::collect).unwrap_or_default());
        }
        let error = answer["error"].as_str().unwrap_or("no reason given");
        bail!("{error}\n{}", exec::tail(answer["log"].as_str().unwrap_or(""), 15))
    }

    fn start(&self) -> Result<exec::Piped> {
        let bin = self.env.join(if cfg!(windows) { "Scripts" } else { "bin" });
        let python = bin.join(if cfg!(windows) { "python.exe" } else { "python" });
        // What `uv build` sets for its hooks, on top of the environment it was given.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&path)))?;
        // No credential: the build backends and their plugins run in this process.
        let cmd = exec::Cmd::new(&python).arg(&self.script).dir(&self.env).env("PATH", path);
        let cmd = cmd.env("VIRTUAL_ENV", &self.env).env("CLICOLOR_FORCE", "1");
        cmd.env("PYTHONIOENCODING", "utf-8:backslashreplace")
            .spawn_piped()
            .with_context(|| format!("cannot start the build frontend with {}", python.display()))
    }
}

/// One request and its answer, a line each.
fn ask(frontend: &mut exec::Piped, request: &Value) -> Result<Value> {
    writeln!(frontend.stdin, "{request}")
        .and_then(|()| frontend.stdin.flush())
        .context("the build frontend stopped")?;
    let mut line = String::new();
    if frontend.stdout.read_line(&mut line).context("the build frontend stopped")? == 0 {
        bail!("the build frontend exited without an answer");
    }
    serde_json::from_str(&line).with_context(|| format!("the build frontend answered `{}`", line.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_says_which_way_each_package_is_built() {
        let scratch = crate::scratch::Scratch::new("frontend-way").unwrap();
        let root = scratch.path();
        let write = |dir: &str, system: &str| {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join("pyproject.toml"), format!("[build-system]\n{system}\n")).unwrap();
            Package::sample(dir, dir, "1.0.0", &[])
        };
        let hatch = write("hatch", "requires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"");
        let legacy =
            write("legacy", "requires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta:__legacy__\"");
        let none = write("none", "requires = [\"setuptools\"]");
        let in_tree = write("tree", "requires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]");
        let uv = write("uv", "requires = [\"uv_build\"]\nbuild-backend = \"uv_build\"");
        let scm = write(
            "scm",
            "requires = [\"setuptools>=64\", \"setuptools_scm[toml]>=8\"]\nbuild-backend = \"setuptools.build_meta\"",
        );
        let setuptools =
            write("setuptools", "requires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"");
        let note = |p: &Package, backend, shared, enabled| way(root, p, backend, shared, enabled, false).note(backend);
        let with_scm = |p: &Package, enabled| way(root, p, Backend::Uv, true, enabled, true).note(Backend::Uv);
        let notes = [
            note(&hatch, Backend::Uv, true, true),
            note(&legacy, Backend::Uv, true, true),
            note(&none, Backend::Uv, true, true),
            note(&in_tree, Backend::Uv, true, true),
            note(&uv, Backend::Uv, true, true),
            note(&hatch, Backend::Uv, false, true),
            note(&hatch, Backend::Uv, true, false),
            note(&hatch, Backend::Poetry, true, true),
            note(&setuptools, Backend::Uv, true, true),
            with_scm(&setuptools, true),
            with_scm(&legacy, false),
            with_scm(&none, true),
            with_scm(&scm, true),
            with_scm(&hatch, true),
        ];
        expect_test::expect![[r#"
            build: in the build frontend (hatchling.build), with `uv build` if that fails
            build: in the build frontend (setuptools.build_meta:__legacy__), with `uv build` if that fails
            build: `uv build` (no `build-backend` in `[build-system]`)
            build: `uv build` (an in-tree backend, `backend-path`)
            build: `uv build` (uv builds its own backend without Python)
            build: `uv build` (the only package to build, in its own environment)
            build: `uv build` (--no-build-frontend)
            build: `poetry build` (the backend is poetry: `--backend`, `build.backend`)
            build: in the build frontend (setuptools.build_meta), with `uv build` if that fails
            build: `uv build` in its own environment (setuptools without setuptools-scm, which the shared environment has for another package)
            build: `uv build` in its own environment (setuptools without setuptools-scm, which the shared environment has for another package)
            build: `uv build` in its own environment (setuptools without setuptools-scm, which the shared environment has for another package)
            build: in the build frontend (setuptools.build_meta), with `uv build` if that fails
            build: in the build frontend (hatchling.build), with `uv build` if that fails"#]]
        .assert_eq(&notes.join("\n"));
    }
}
