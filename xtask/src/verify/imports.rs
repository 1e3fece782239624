//! Importing what a proof installed: the top-level modules of each distribution, every one
//! tried even after another fails, so that the install check can hold back exactly the
//! packages that do not import.

use std::path::Path;

use crate::exec;
use anyhow::{Context, Result};

/// A distribution that installed but whose modules do not all import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub dist: String,
    /// `` `dist` installs, but `import name` fails: Error: text ``.
    pub message: String,
    /// Python's traceback of the failing import.
    pub traceback: String,
}

/// What the imports found: a line of what imported, and the distributions that did not.
#[derive(Debug)]
pub struct Imported {
    pub done: Vec<String>,
    pub failed: Vec<Failure>,
}

/// Imports the top-level modules of each of `dists` with `python`; the script is written into
/// `dir`. Only a script that cannot run is an error; failing imports are [`Imported::failed`].
pub fn run(dir: &Path, python: &Path, dists: &[String]) -> Result<Imported> {
    let script = dir.join("import_all.py");
    std::fs::write(&script, IMPORT_ALL).with_context(|| format!("cannot write {}", script.display()))?;
    // Without credentials, as every child: the packages' imports run code that is not ours.
    let out = exec::Cmd::new(python).arg(&script).args(dists).dir(dir).read();
    let out = out.context("importing the installed packages failed")?;
    let last = out.lines().last().unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(last).with_context(|| format!("the import script printed no result:\n{out}"))?;
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    Ok(Imported {
        done: list("done").iter().filter_map(|d| d.as_str().map(str::to_string)).collect(),
        failed: list("failed")
            .iter()
            .map(|f| Failure { dist: text(f, "dist"), message: text(f, "message"), traceback: text(f, "traceback") })
            .collect(),
    })
}

/// The error of imports that failed: each traceback, then a line per distribution.
pub fn error(failed: &[Failure]) -> anyhow::Error {
    let mut text = String::new();
    for f in failed {
        text += f.traceback.trim_end();
        text += "\n";
    }
    let lines: Vec<&str> = failed.iter().map(|f| f.message.as_str()).collect();
    anyhow::anyhow!("importing the installed packages failed:\n{text}{}", lines.join("\n"))
}

/// Imports the top-level modules of each named distribution: for each of its `.py` files, the
/// outermost package (a directory with `__init__.py`) holding it, or the module itself inside
/// namespace directories (`llama_index.core`, `llama_index._umbrella`). Its last line is JSON:
/// what imported, and each distribution that did not with its message and traceback.
const IMPORT_ALL: &str = r#"
import importlib, importlib.metadata as md, json, sys, traceback
done, failed = [], []
for dist in sys.argv[1:]:
    try:
        files = [str(f).replace("\\", "/") for f in (md.files(dist) or [])]
    except md.PackageNotFoundError:
        failed.append({"dist": dist, "message": f"`{dist}` is not installed", "traceback": ""})
        continue
    files = [f for f in files if f.endswith(".py") and not f.startswith("..") and ".dist-info/" not in f]
    inits = {f[: -len("/__init__.py")] for f in files if f.endswith("/__init__.py")}
    tops = set()
    for f in files:
        parts = f[:-3].split("/")
        prefixes = ["/".join(parts[:k]) for k in range(1, len(parts))]
        tops.add(next((p for p in prefixes if p in inits), "/".join(parts)).replace("/", "."))
    tops = sorted(t for t in tops if not t.endswith(".__init__"))
    if not tops:
        failed.append({"dist": dist, "message": f"`{dist}` installed no importable module", "traceback": ""})
        continue
    for name in tops:
        try:
            importlib.import_module(name)
        except BaseException as e:
            message = f"`{dist}` installs, but `import {name}` fails: {type(e).__name__}: {e}"
            failed.append({"dist": dist, "message": message, "traceback": traceback.format_exc()})
            break
    else:
        done.append(f"{dist}: {', '.join(tops)}")
print(json.dumps({"done": done, "failed": failed}))
"#;
