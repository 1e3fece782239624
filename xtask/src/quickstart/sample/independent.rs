//! `cargo xtask sample DIR --shape independent`: a monorepo of independent packages, shaped
//! like the open-source ones the tool meets: no package at the root (a uv workspace whose
//! `members` are the packages, so no `[packages]` configuration), packages under `libs/*`, each
//! versioned, tagged and released on its own with tags of several shapes (`store==4.2.0`, a bare
//! `1.2.11` for the main package, `{name}-v{version}` for the rest), every kind of version source
//! (static, hatch's `path`, setuptools' `attr` and `file`, pdm's `file`, flit's `__version__`,
//! hatch-vcs from tags), each package with its own `uv.lock`, a package used only in another's
//! test group, and squash-merged pull requests with conventional-commit subjects since the tags.
//!
//! `--packages` beyond the eight named ones adds `libs/pkg-NNNN` packages that depend on the
//! store or the client, for benchmarks. Deterministic, like the LlamaIndex-shaped sample.

use std::path::Path;

use anyhow::Result;
use xshell::Shell;

use super::{History, Rng};
use crate::version::Version;

/// The named packages: directory, name, version, source kind, tag pattern, requirements.
pub const NAMED: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Static,
    Hatch,
    SetuptoolsAttr,
    SetuptoolsFile,
    PdmFile,
    Flit,
    HatchVcs,
}

struct Lib {
    dir: String,
    name: String,
    version: Version,
    kind: Kind,
    /// The tag of its current version.
    tag: String,
    deps: Vec<String>,
    /// `[dependency-groups] test`, plus `[tool.uv.sources]` workspace entries for them.
    test_deps: Vec<String>,
}

impl Lib {
    fn module(&self) -> String {
        self.name.replace('-', "_")
    }
}

fn lib(dir: &str, name: &str, version: &str, kind: Kind, tag: &str, deps: &[&str], test_deps: &[&str]) -> Lib {
    Lib {
        dir: format!("libs/{dir}"),
        name: name.to_string(),
        version: version.parse().expect("a sample version"),
        kind,
        tag: tag.to_string(),
        deps: deps.iter().map(|d| d.to_string()).collect(),
        test_deps: test_deps.iter().map(|d| d.to_string()).collect(),
    }
}

fn libs(count: usize) -> Vec<Lib> {
    let mut libs = vec![
        lib(
            "main",
            "acme",
            "1.2.11",
            Kind::Static,
            "1.2.11",
            &["acme-store>=4.2,<5.0.0", "acme-client>=0.4,<0.5"],
            &[],
        ),
        lib("store", "acme-store", "4.2.0", Kind::Hatch, "store==4.2.0", &["acme-schema>=0.14,<0.15"], &[]),
        lib(
            "client",
            "acme-client",
            "0.4.3",
            Kind::SetuptoolsAttr,
            "acme-client-v0.4.3",
            &["acme-schema>=0.14,<0.15.0"],
            &[],
        ),
        lib("schema", "acme-schema", "0.14.2", Kind::SetuptoolsFile, "acme-schema-v0.14.2", &[], &[]),
        lib("cli", "acme-cli", "2.0.1", Kind::PdmFile, "acme-cli-v2.0.1", &["acme-client>=0.4.0,<0.5.0"], &[]),
        lib("utils", "acme-utils", "1.0.0", Kind::Flit, "acme-utils-v1.0.0", &[], &[]),
        lib("vcs", "acme-vcs", "0.3.0", Kind::HatchVcs, "acme-vcs-v0.3.0", &["acme-utils>=1,<2"], &[]),
        lib("testing", "acme-testing", "0.2.0", Kind::Static, "acme-testing-v0.2.0", &[], &["acme-store"]),
    ];
    for k in 0..count.saturating_sub(NAMED) {
        let name = format!("acme-pkg-{k:04}");
        let dep = if k % 2 == 0 { "acme-store>=4.2,<5.0.0" } else { "acme-client>=0.4,<0.5" };
        let tag = format!("{name}-v0.1.{}", k % 7);
        libs.push(lib(&format!("pkg-{k:04}"), &name, &format!("0.1.{}", k % 7), Kind::Static, &tag, &[dep], &[]));
    }
    libs
}

fn quoted(list: &[String]) -> String {
    list.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ")
}

/// The package's pyproject.toml, in its backend's own form.
fn pyproject(l: &Lib) -> String {
    let m = l.module();
    let dynamic = "dynamic = [\"version\"]".to_string();
    let (system, version) = match l.kind {
        Kind::Static => (HATCH.to_string(), format!("version = \"{}\"", l.version)),
        Kind::Hatch => (format!("{HATCH}\n[tool.hatch.version]\npath = \"src/{m}/__init__.py\"\n"), dynamic),
        Kind::HatchVcs => (
            "[build-system]\nrequires = [\"hatchling\", \"hatch-vcs\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [tool.hatch.version]\nsource = \"vcs\"\n\n[tool.hatch.version.raw-options]\n\
             tag_regex = \"^acme-vcs-v(?P<version>.*)$\"\nroot = \"../..\"\n\
             git_describe_command = [\"git\", \"describe\", \"--dirty\", \"--tags\", \"--long\", \"--match\", \"acme-vcs-v*\"]\n"
                .to_string(),
            dynamic,
        ),
        Kind::SetuptoolsAttr => {
            (format!("{SETUPTOOLS}\n[tool.setuptools.dynamic]\nversion = {{ attr = \"{m}.__version__\" }}\n"), dynamic)
        }
        Kind::SetuptoolsFile => {
            (format!("{SETUPTOOLS}\n[tool.setuptools.dynamic]\nversion = {{ file = \"VERSION\" }}\n"), dynamic)
        }
        Kind::PdmFile => (
            format!(
                "[build-system]\nrequires = [\"pdm-backend\"]\nbuild-backend = \"pdm.backend\"\n\n\
                 [tool.pdm.version]\nsource = \"file\"\npath = \"src/{m}/_version.py\"\n"
            ),
            dynamic,
        ),
        Kind::Flit => (
            "[build-system]\nrequires = [\"flit_core>=3.4\"]\nbuild-backend = \"flit_core.buildapi\"\n".to_string(),
            "dynamic = [\"version\", \"description\"]".to_string(),
        ),
    };
    let mut text = format!(
        "[project]\nname = \"{}\"\n{version}\nrequires-python = \">=3.9\"\ndependencies = [{}]\n",
        l.name,
        quoted(&l.deps)
    );
    if !l.test_deps.is_empty() {
        text += &format!(
            "\n[dependency-groups]\ntest = [\"pytest\", {{ include-group = \"lint\" }}]\nlint = [{}]\n",
            quoted(&l.test_deps)
        );
        text += "\n[tool.uv.sources]\n";
        for d in &l.test_deps {
            text += &format!("{d} = {{ workspace = true }}\n");
        }
    }
    format!("{text}\n{system}")
}

const HATCH: &str = "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";
const SETUPTOOLS: &str = "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n";

/// The file that holds a dynamic version, with its text; `None` for a static or a tag's version.
fn version_file(l: &Lib) -> Option<(String, String)> {
    let m = l.module();
    let v = &l.version;
    match l.kind {
        Kind::Static | Kind::HatchVcs => None,
        Kind::Hatch | Kind::SetuptoolsAttr => Some((
            format!("{}/src/{m}/__init__.py", l.dir),
            format!("\"\"\"{}.\"\"\"\n\n__version__ = \"{v}\"\n", l.name),
        )),
        Kind::SetuptoolsFile => Some((format!("{}/VERSION", l.dir), format!("{v}\n"))),
        Kind::PdmFile => Some((format!("{}/src/{m}/_version.py", l.dir), format!("__version__ = '{v}'\n"))),
        Kind::Flit => Some((
            format!("{}/src/{m}/__init__.py", l.dir),
            format!("\"\"\"Utilities of the sample.\"\"\"\n\n__version__ = \"{v}\"\n"),
        )),
    }
}

/// Every file of a package: pyproject, source, version file, test, README, and its own lock.
fn files(l: &Lib) -> Vec<(String, String)> {
    let m = l.module();
    let mut files = vec![
        (format!("{}/pyproject.toml", l.dir), pyproject(l)),
        (format!("{}/README.md", l.dir), format!("# {}\n", l.name)),
        (format!("{}/tests/test_{m}.py", l.dir), format!("import {m}\n\n\ndef test_imports():\n    assert {m}\n")),
        (format!("{}/uv.lock", l.dir), lock(l)),
    ];
    match version_file(l) {
        Some((path, text)) if path.ends_with("__init__.py") => files.push((path, text)),
        Some(other) => {
            files.push(other);
            files.push((format!("{}/src/{m}/__init__.py", l.dir), format!("\"\"\"{}.\"\"\"\n", l.name)));
        }
        None => files.push((format!("{}/src/{m}/__init__.py", l.dir), format!("\"\"\"{}.\"\"\"\n", l.name))),
    }
    files
}

/// A package's own lock file: what `uv lock` records of the package itself (its pins change in
/// lock-only pull requests).
fn lock(l: &Lib) -> String {
    format!(
        "version = 1\nrevision = 3\nrequires-python = \">=3.9\"\n\n[[package]]\nname = \"{}\"\nsource = {{ editable = \".\" }}\n",
        l.name
    )
}

/// The conventional subjects of the history's pull requests, by turn.
fn subject(k: usize, l: &Lib, n: u64) -> String {
    let short = l.name.trim_start_matches("acme-");
    match k % 6 {
        0 => format!("feat({short}): add a cache option (#{n})"),
        1 => format!("fix({short}): close the connection on error (#{n})"),
        2 => format!("docs({short}): explain the options (#{n})"),
        3 => format!("chore({short}): refresh uv.lock (#{n})"),
        4 => format!("refactor({short}): split the module (#{n})"),
        _ => format!("fix: handle empty input in {short} (#{n})"),
    }
}

/// The history: the initial import with every package's tag, then squash-merged pull requests.
pub fn history(dir: &Path, sh: &Shell, packages: usize, prs: usize) -> Result<usize> {
    let libs = libs(packages.max(NAMED));
    let mut h = History { stream: Vec::new(), mark: 0, time: 1_767_225_600, files: Default::default() };
    let mut files = vec![
        (
            "pyproject.toml".to_string(),
            "# The workspace: no package at the root.\n[tool.uv.workspace]\nmembers = [\"libs/*\"]\n".to_string(),
        ),
        (
            "release.toml".to_string(),
            "# Zero configuration for the packages: the uv workspace's members are.\n[github]\n\
             repository = \"acme/libs\"\n\n[release.tags]\n\"libs/main\" = \"{version}\"\n\"libs/store\" = \"store=={version}\"\n"
                .to_string(),
        ),
        ("README.md".to_string(), "# acme (sample)\n\nIndependent packages, released on their own.\n".to_string()),
        ("libs/store/CHANGELOG.md".to_string(), "# Changelog\n\n<!--- generated changelog --->\n".to_string()),
        (".gitignore".to_string(), "dist/\n.venv/\n__pycache__/\n.pytest_cache/\n".to_string()),
    ];
    for l in &libs {
        files.extend(self::files(l));
    }
    let first = h.commit("main", "Initial import of the libraries (#1)", &files);
    for l in &libs {
        h.tag(&l.tag, first);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut n = 10u64;
    for k in 0..prs {
        n += 1 + rng.below(2) as u64;
        // The named packages get a change in turn at first, so that each one has history.
        let l = if k < NAMED { &libs[k] } else { &libs[rng.below(libs.len())] };
        let change = match k % 6 {
            3 => h.append(&format!("{}/uv.lock", l.dir), &format!("# pins {n}")),
            2 => h.append(&format!("{}/README.md", l.dir), &format!("- {n}")),
            _ => h.append(&format!("{}/src/{}/__init__.py", l.dir, l.module()), &format!("# change {n}")),
        };
        h.commit("main", &subject(k, l, n), &[change]);
    }
    // A breaking change to the client, so that `--bump auto` has one to find.
    n += 1;
    let client = &libs[2];
    let change = h.append(&format!("{}/src/{}/__init__.py", client.dir, client.module()), "# breaking");
    h.commit("main", &format!("feat(client)!: drop the v1 protocol (#{n})"), &[change]);
    super::finish(sh, dir, h)?;
    Ok(libs.len())
}
