//! Building one package with the configured backend into `target/publish/<name>-<version>/`,
//! through a staging directory renamed into place, so that a killed build never leaves a
//! manifest behind and a finished one is reused while its sources stay the same.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, Context, Result};

use super::{
    frontend::{self, Pool, Way},
    manifest::{self, Manifest},
    upload::Credentials,
};
use crate::{config::Backend, exec, monorepo::Package};

/// Where the builds of a run go: `target/publish/` under the monorepo's root.
pub fn builds_dir(root: &Path) -> PathBuf {
    root.join("target").join("publish")
}

/// The directory of one package's build.
pub fn out_dir(root: &Path, p: &Package) -> PathBuf {
    builds_dir(root).join(format!("{}-{}", p.name, p.version))
}

/// A finished build: its manifest and its directory.
#[derive(Debug, Clone)]
pub struct Build {
    pub manifest: Manifest,
    pub dir: PathBuf,
    /// Reused from an earlier run instead of built now.
    pub reused: bool,
}

impl Build {
    pub fn path(&self, filename: &str) -> PathBuf {
        self.dir.join(filename)
    }
}

/// The build of `p` from an earlier run, when its sources have not changed since. Complete
/// only: the manifest lists a wheel and an sdist, and both are on disk with their sha256.
pub fn reusable(root: &Path, p: &Package, backend: Backend) -> Option<Build> {
    let dir = out_dir(root, p);
    let manifest = Manifest::load_intact(&dir)?;
    let complete = super::plan::KINDS
        .iter()
        .all(|k| manifest.files.iter().any(|f| super::artifact::kind_of(&f.filename) == Some(k)));
    let source = manifest::source_digest(&root.join(&p.dir)).ok()?;
    (complete
        && manifest.source == source
        && manifest.backend == backend.to_string()
        && manifest.version == p.version.to_string())
    .then_some(Build { manifest, dir, reused: true })
}

/// How long a fresh build took, for the run's `time:` line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Took {
    pub hooks: std::time::Duration,
    pub build: std::time::Duration,
    /// Built by the frontend (else by the tool's command).
    pub by_frontend: bool,
}

/// Where a build happens: the run's shared environment and its frontends, when it has them.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    pub env: &'a Path,
    pub frontends: Option<&'a Pool>,
}

/// Builds `p` (or reuses its earlier build), after its hooks: `hooks` runs them (or waits for
/// them to finish) and says how long they took. Credentials are
/// removed from the build's environment: a build backend runs code from the package and has no
/// use for them. `shared`: the run's build environment ([`super::buildenv`]), used with
/// `--no-build-isolation`, and its frontends ([`super::frontend`]); a build that fails in the
/// frontend is retried with `uv build` there, and one that fails there is retried in isolation.
pub fn build(
    root: &Path,
    p: &Package,
    backend: Backend,
    tool: &Path,
    credentials: &Credentials,
    shared: Option<Shared>,
    hooks: impl FnOnce() -> Result<std::time::Duration>,
) -> Result<(Build, Took)> {
    if let Some(build) = reusable(root, p, backend) {
        return Ok((build, Took::default()));
    }
    let hooks_took = hooks()?;
    let started = Instant::now();
    let took = |by_frontend| Took { hooks: hooks_took, build: started.elapsed(), by_frontend };
    let Some(shared) = shared.filter(|_| backend == Backend::Uv) else {
        return Ok((build_in(root, p, backend, tool, credentials, None)?, took(false)));
    };
    if let (Some(pool), Way::Frontend(name)) = (shared.frontends, frontend::way(root, p, backend, true, true)) {
        match build_in(root, p, backend, tool, credentials, Some(With::Frontend(pool, &name))) {
            Ok(b) => return Ok((b, took(true))),
            Err(e) => crate::output::note(&format!(
                "{} {}: the build frontend could not build it, building with `uv build`: {}",
                p.display_name,
                p.version,
                e.to_string().lines().next().unwrap_or("")
            )),
        }
    }
    let b = build_in(root, p, backend, tool, credentials, Some(With::Env(shared.env)))
        .or_else(|_| build_in(root, p, backend, tool, credentials, None))?;
    Ok((b, took(false)))
}

/// A build in the shared environment: by the frontend with this backend, or by `uv build`.
enum With<'a> {
    Frontend(&'a Pool, &'a str),
    Env(&'a Path),
}

fn build_in(
    root: &Path,
    p: &Package,
    backend: Backend,
    tool: &Path,
    credentials: &Credentials,
    with: Option<With>,
) -> Result<Build> {
    let src = root.join(&p.dir);
    let source = manifest::source_digest(&src)?;
    let parent = builds_dir(root);
    std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    // Builds are outputs, never sources: keep them out of `git status` even without a
    // `/target` line in the monorepo's .gitignore.
    let ignore = parent.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n").with_context(|| format!("cannot write {}", ignore.display()))?;
    }
    // One staging directory per process: two runs never write into each other's.
    let staging = parent.join(format!(".staging-{}-{}-{}", p.name, p.version, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let shown = match (&with, backend) {
        (Some(With::Frontend(pool, name)), _) => {
            if let Err(e) = pool.build(&src, &staging, name) {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e.context(format!("the build frontend failed in `{}`", p.dir)));
            }
            "the build frontend"
        }
        (Some(With::Env(env)), _) => run_tool(p, backend, tool, credentials, &src, &staging, Some(env))?,
        (None, _) => run_tool(p, backend, tool, credentials, &src, &staging, None)?,
    };
    let files = Manifest::scan(&staging)?;
    let missing: Vec<&str> = super::plan::KINDS
        .into_iter()
        .filter(|k| !files.iter().any(|f| super::artifact::kind_of(&f.filename) == Some(k)))
        .collect();
    if !missing.is_empty() {
        let _ = std::fs::remove_dir_all(&staging);
        bail!("{shown} in `{}` made no {}; a release needs a wheel and an sdist", p.dir, missing.join(" and no "));
    }
    let manifest = Manifest {
        name: p.display_name.clone(),
        version: p.version.to_string(),
        backend: backend.to_string(),
        source,
        files,
    };
    let path = staging.join(manifest::FILE);
    std::fs::write(&path, serde_json::to_string_pretty(&manifest.to_json()).expect("JSON values serialise"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let dir = out_dir(root, p);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).with_context(|| format!("cannot move the build into {}", dir.display()))?;
    Ok(Build { manifest, dir, reused: false })
}

/// `uv build` or `poetry build` of `src` into `staging`; what it is called, for messages.
fn run_tool(
    p: &Package,
    backend: Backend,
    tool: &Path,
    credentials: &Credentials,
    src: &Path,
    staging: &Path,
    shared_env: Option<&Path>,
) -> Result<&'static str> {
    let staging_arg = staging.to_string_lossy().into_owned();
    let (args, shown): (Vec<&str>, &str) = match backend {
        Backend::Uv if shared_env.is_some() => {
            (vec!["build", "--no-progress", "--no-build-isolation", "--out-dir", &staging_arg], "`uv build`")
        }
        Backend::Uv => (vec!["build", "--no-progress", "--out-dir", &staging_arg], "`uv build`"),
        Backend::Poetry => (vec!["build", "--no-interaction", "--output", &staging_arg], "`poetry build`"),
    };
    let mut cmd = exec::Cmd::new(tool).args(&args).dir(src);
    if let Some(dir) = shared_env {
        cmd = cmd.env("VIRTUAL_ENV", dir);
    }
    let exec::Captured { ok, text } = match cmd.capture() {
        Ok(captured) => captured,
        Err(e) => {
            let _ = std::fs::remove_dir_all(staging);
            bail!("cannot run {shown} in {}: {e}", p.dir)
        }
    };
    if !ok {
        let _ = std::fs::remove_dir_all(staging);
        bail!(
            "{shown} failed in `{}`:\n{}\nfix the build (run {shown} in that directory to see it), then rerun",
            p.dir,
            credentials.redact(&exec::tail(&text, 15))
        );
    }
    Ok(shown)
}
