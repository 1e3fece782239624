//! `cargo xtask verify`: proof that a release installs. In a fresh virtual environment outside
//! the monorepo, `uv pip install` the release's packages from the index's simple API (or, with
//! `--local`, the umbrella's wheel built from the working tree), then import each one's
//! top-level modules. `release publish` runs the same proof as its last step.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::{config, exec, flags, index, monorepo::Monorepo, output, publish, version::Version};

impl flags::Verify {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let repo = Monorepo::load(&sh.current_dir())?;
        let index_url = self.index_url.clone().unwrap_or_else(|| repo.config.index_url.clone());
        let wait = match &self.wait {
            Some(w) => index::parse_duration(w).map_err(|e| flags::usage(format!("--wait: {e}")))?,
            None => Duration::from_secs(600),
        };
        let scratch = Scratch::new()?;
        let umbrella = repo.umbrella()?;
        if self.local {
            if self.version.is_some() || self.since.is_some() {
                return Err(flags::usage(
                    "--local proves the working tree's build; --version and --since name a release",
                ));
            }
            let dist = scratch.0.join("dist");
            let uv = exec::require("uv", "to build and install the umbrella")?;
            let dir = repo.root.join(&umbrella.dir);
            output::status("building", &format!("`{}` from the working tree", umbrella.name));
            let _cd = sh.push_dir(&dir);
            exec::run(cmd!(sh, "{uv} build --quiet --wheel --out-dir {dist}"))?;
            let wheel = std::fs::read_dir(&dist)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|e| e == "whl"))
                .with_context(|| format!("`uv build` wrote no wheel of `{}`", umbrella.name))?;
            let install = vec![wheel.display().to_string()];
            return prove(
                sh,
                &scratch.0,
                &simple_url(&index_url),
                &install,
                &[umbrella.name.to_string()],
                Duration::ZERO,
            );
        }
        let version: Version = match &self.version {
            Some(v) => v.parse().map_err(|e| flags::usage(format!("`--version {v}` is not a PEP 440 version: {e}")))?,
            None => umbrella.version.clone(),
        };
        let since = match &self.since {
            Some(tag) => tag.clone(),
            None => crate::changelog::latest_tag(sh, &repo)?,
        };
        let names = released(sh, &repo, &since)?;
        let requirements: Vec<String> = names.iter().map(|(n, v)| format!("{n}=={v}")).collect();
        if umbrella.version != version {
            bail!(
                "the working tree's umbrella is at `{}`, not `{version}`; check out the release commit of `{version}` to prove it",
                umbrella.version
            );
        }
        let dists: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
        prove(sh, &scratch.0, &simple_url(&index_url), &requirements, &dists, wait)
    }
}

/// The packages a release at HEAD published that install with it: the umbrella, core and every
/// package whose version changed since `since`, as `(name, version)`. One whose requirement on
/// core excludes this core cannot be installed with the release; it is published as it is (as
/// the monorepo always did), and said out loud instead of failing the proof.
pub fn released(sh: &Shell, repo: &Monorepo, since: &str) -> Result<Vec<(String, String)>> {
    let mut set = publish::changed_since(sh, repo, since)?;
    set.insert(repo.index_of(repo.umbrella()?));
    let core = repo.core()?;
    set.insert(repo.index_of(core));
    let mut out = Vec::new();
    for i in set {
        let p = &repo.packages[i];
        let on_core = p.dependencies.iter().find(|r| r.name == core.name);
        if let Some(r) = on_core.filter(|r| r.allows(&core.version) == Ok(false)) {
            output::warn(&format!(
                "`{}` {} requires `{}{}`, which excludes this release's core {}; it was published, but cannot be installed with this release",
                p.name, p.version, r.raw_name, r.specifiers, core.version
            ));
            continue;
        }
        out.push((p.name.to_string(), p.version.to_string()));
    }
    Ok(out)
}

/// The simple API next to a JSON API base: `…/pypi` becomes `…/simple/`, a pypiserver's root
/// gets `/simple/`.
pub fn simple_url(json_base: &str) -> String {
    let base = json_base.trim_end_matches('/');
    format!("{}/simple/", base.strip_suffix("/pypi").unwrap_or(base))
}

/// A directory outside the monorepo, removed however the proof ends.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("xtask-verify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Installs `install` (requirements or wheel paths) into a fresh environment in `dir` from the
/// simple index `simple` (third-party dependencies from the public index when it is another),
/// retrying resolver failures until `wait` is up, then imports the top-level modules of `dists`.
pub fn prove(sh: &Shell, dir: &Path, simple: &str, install: &[String], dists: &[String], wait: Duration) -> Result<()> {
    let uv = exec::require("uv", "to install the release in a fresh environment")?;
    let venv = dir.join("venv");
    let _cd = sh.push_dir(dir);
    let _no_env = sh.push_env("VIRTUAL_ENV", "");
    exec::run(cmd!(sh, "{uv} venv --quiet {venv}"))?;
    let python = if cfg!(windows) { venv.join("Scripts/python.exe") } else { venv.join("bin/python") };
    let public = simple_url(config::PUBLIC_INDEX_URL);
    // uv asks an `--extra-index-url` before the `--index-url`, and takes each name from the
    // first index that has it: the release's index first for the monorepo's packages, the
    // public one (when it is another) only for the rest, as users get them.
    let mut indexes = vec!["--index-url".to_string(), public.clone()];
    if simple != public {
        indexes.extend(["--extra-index-url".to_string(), simple.to_string()]);
    }
    output::status("installing", &format!("{} from {simple} into a fresh environment", install.join(" ")));
    let start = Instant::now();
    let mut pause = Duration::from_secs(2);
    loop {
        let ix = &indexes;
        let attempt = cmd!(sh, "{uv} pip install --quiet --refresh --python {python} {ix...} {install...}");
        match exec::run(attempt) {
            Ok(()) => break,
            Err(e) if start.elapsed() < wait => {
                output::status(
                    "waiting",
                    &format!("the index does not serve it all yet ({}); retrying", first_line(&e)),
                );
                std::thread::sleep(pause.min(wait.saturating_sub(start.elapsed())));
                pause = (pause * 2).min(Duration::from_secs(30));
            }
            Err(e) => {
                return Err(e).context("the release does not install from the index; the resolver said why above")
            }
        }
    }
    let script = dir.join("import_all.py");
    std::fs::write(&script, IMPORT_ALL).with_context(|| format!("cannot write {}", script.display()))?;
    let out =
        exec::read(cmd!(sh, "{python} {script} {dists...}")).context("importing the installed packages failed")?;
    output::status("imported", out.trim());
    Ok(())
}

fn first_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string()
}

/// Imports the top-level modules of each named distribution: for each of its `.py` files, the
/// outermost package (a directory with `__init__.py`) holding it, or the module itself inside
/// namespace directories (`llama_index.core`, `llama_index._umbrella`). Prints what it imported;
/// a failure exits non-zero with the traceback.
const IMPORT_ALL: &str = r#"
import importlib, importlib.metadata as md, sys
done = []
for dist in sys.argv[1:]:
    files = [str(f).replace("\\", "/") for f in (md.files(dist) or [])]
    files = [f for f in files if f.endswith(".py") and not f.startswith("..") and ".dist-info/" not in f]
    inits = {f[: -len("/__init__.py")] for f in files if f.endswith("/__init__.py")}
    tops = set()
    for f in files:
        parts = f[:-3].split("/")
        prefixes = ["/".join(parts[:k]) for k in range(1, len(parts))]
        tops.add(next((p for p in prefixes if p in inits), "/".join(parts)).replace("/", "."))
    tops = sorted(t for t in tops if not t.endswith(".__init__"))
    if not tops:
        sys.exit(f"{dist} installed no importable module")
    for name in tops:
        importlib.import_module(name)
    done.append(f"{dist}: {', '.join(tops)}")
print("; ".join(done))
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn the_simple_api_sits_beside_the_json_api() {
        assert_eq!(super::simple_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080/simple/");
        assert_eq!(super::simple_url("https://index.example/pypi/"), "https://index.example/simple/");
    }
}
