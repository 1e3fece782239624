//! `cargo xtask sample`: a LlamaIndex-shaped monorepo with git history, for the quick start,
//! tests and benchmarks.
//!
//! The layout follows the real one: an umbrella at the root, `llama-index-core`, integrations in
//! categories (with the nested `storage/*/*` ones), packs and utils; some directory names differ
//! from `project.name`; most packages build with hatchling, some with poetry (some in the legacy
//! `[tool.poetry]` table). Internal dependencies form levels: core, then llms and embeddings,
//! then vector stores on embeddings, then packs on vector stores. The history has two release
//! tags, a higher tag on a side branch, then squash-merged pull requests `Title (#N)` that bump
//! the versions of what they touch, with the awkward cases mixed in: two refs in a subject,
//! reverts and direct pushes without a ref, pull requests touching several packages or none, and
//! titles that are non-ASCII or hostile to Markdown.
//!
//! Everything is deterministic: the same flags give the same repository, commit ids included.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::{exec, flags, git, output, version::Version};

pub const UMBRELLA_VERSION: &str = "0.14.12";

impl flags::Sample {
    pub fn run(self, sh: &Shell) -> Result<()> {
        // Relative to where the user is, not to the monorepo's root.
        let dir = if self.dir.is_absolute() { self.dir.clone() } else { std::env::current_dir()?.join(&self.dir) };
        if dir.exists() {
            let empty = dir.read_dir().map(|mut d| d.next().is_none()).unwrap_or(false);
            if self.force {
                std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
            } else if !empty {
                bail!(
                    "{} exists and is not empty; pass --force to replace it, or choose another directory",
                    dir.display()
                );
            }
        }
        let packages = self.packages.unwrap_or(60);
        if packages < 20 {
            bail!("--packages must be at least 20, to have every kind of package (got {packages})");
        }
        let prs = self.prs.unwrap_or(40);
        let started = std::time::Instant::now();
        let plan = Plan::new(packages, prs);
        generate(sh, &dir, &plan)?;
        output::status(
            "generated",
            &format!(
                "{} with {} packages and {} commits after tag v{UMBRELLA_VERSION} in {:.1}s",
                dir.display(),
                plan.packages.len(),
                plan.prs_after_release,
                started.elapsed().as_secs_f64()
            ),
        );
        Ok(())
    }
}

/// A tiny deterministic generator (xorshift), so no dependency is needed for variety.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone)]
struct Pkg {
    dir: String,
    name: String,
    /// The import path below `llama_index/`.
    module: String,
    version: Version,
    deps: Vec<String>,
    style: Style,
    tests: bool,
    /// (name, directory) of internal dependencies, for `[tool.uv.sources]`.
    sources: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Hatchling,
    /// `[project]` with poetry-core as the build backend.
    Poetry,
    /// The legacy `[tool.poetry]` table.
    PoetryLegacy,
}

const PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "mistralai",
    "cohere",
    "qdrant",
    "chroma",
    "pinecone",
    "weaviate",
    "milvus",
    "redis",
    "mongodb",
    "postgres",
    "elasticsearch",
    "opensearch",
    "azure",
    "bedrock",
    "vertex",
    "ollama",
    "huggingface",
    "gemini",
    "groq",
    "together",
    "fireworks",
    "nvidia",
    "voyageai",
    "jinaai",
    "couchbase",
    "firestore",
    "dynamodb",
    "gcs",
    "s3",
    "notion",
    "slack",
    "github",
    "jira",
    "wikipedia",
    "arxiv",
    "docling",
    "unstructured",
    "lancedb",
];

/// (category directory, package name infix, share of the packages in percent).
const CATEGORIES: &[(&str, &str, usize)] = &[
    ("readers", "readers", 24),
    ("llms", "llms", 15),
    ("vector_stores", "vector-stores", 12),
    ("embeddings", "embeddings", 10),
    ("tools", "tools", 10),
    ("postprocessor", "postprocessor", 4),
    ("retrievers", "retrievers", 3),
    ("storage/chat_store", "storage-chat-store", 2),
    ("storage/docstore", "storage-docstore", 2),
    ("storage/index_store", "storage-index-store", 2),
    ("storage/kvstore", "storage-kvstore", 2),
];

/// Directory names that differ from the distribution name, as in the real monorepo.
const RENAMED: &[(&str, &str, &str)] = &[
    ("vector_stores", "llama-index-vector-stores-volcenginemysql", "llama-index-vector-stores-volcengine-mysql"),
    ("tools", "llama-index-tools-openai", "llama-index-tools-openai-image-generation"),
    ("llms", "llama-index-llms-gigachat", "llama-index-llms-gigachat-ru"),
    ("storage/docstore", "llama-index-storage-docstore-couchbase", "llama-index-docstore-couchbase"),
    ("vector_stores", "llama-index-vector-stores-openGauss", "llama-index-vector-stores-opengauss"),
];

struct Plan {
    packages: Vec<Pkg>,
    prs_after_release: usize,
}

impl Plan {
    fn new(count: usize, prs: usize) -> Plan {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let core_version: Version = UMBRELLA_VERSION.parse().expect("valid");
        let mut packages = vec![
            Pkg {
                dir: "llama-index-core".into(),
                name: "llama-index-core".into(),
                module: "core".into(),
                version: core_version.clone(),
                deps: vec!["pydantic>=2.8.0".into()],
                style: Style::Hatchling,
                tests: true,
                sources: Vec::new(),
            },
            Pkg {
                dir: "llama-index-instrumentation".into(),
                name: "llama-index-instrumentation".into(),
                module: "instrumentation".into(),
                version: "0.4.2".parse().expect("valid"),
                deps: vec![],
                style: Style::Hatchling,
                tests: true,
                sources: Vec::new(),
            },
        ];
        let core_dep = "llama-index-core>=0.14.0,<0.15".to_string();
        // Top-level packages beside core, as in the real monorepo.
        for (top, version) in [("cli", "0.5.3"), ("experimental", "0.6.4"), ("finetuning", "0.4.1")] {
            packages.push(Pkg {
                dir: format!("llama-index-{top}"),
                name: format!("llama-index-{top}"),
                module: top.to_string(),
                version: version.parse().expect("valid"),
                deps: vec![core_dep.clone()],
                style: Style::Hatchling,
                tests: true,
                sources: Vec::new(),
            });
        }
        let packs = (count / 12).max(1);
        let utils = 2;
        let integrations = count - 5 - packs - utils;
        // One package in every category, the rest shared out as in the real monorepo.
        let total_share: usize = CATEGORIES.iter().map(|c| c.2).sum();
        let rest = integrations - CATEGORIES.len();
        let mut counts: Vec<usize> = CATEGORIES.iter().map(|c| 1 + rest * c.2 / total_share).collect();
        counts[0] += integrations - counts.iter().sum::<usize>();
        for (&(cat, infix, _), &n) in CATEGORIES.iter().zip(&counts) {
            for k in 0..n {
                let provider = PROVIDERS[k % PROVIDERS.len()];
                let round = k / PROVIDERS.len();
                let provider = if round == 0 { provider.to_string() } else { format!("{provider}{round}") };
                let renamed: Vec<_> = RENAMED.iter().filter(|r| r.0 == cat).collect();
                let mut dir_name = format!("llama-index-{infix}-{provider}");
                if renamed.iter().any(|r| r.1 == dir_name) {
                    dir_name.push_str("-classic");
                }
                let mut name = dir_name.clone();
                if let Some(r) = k.checked_sub(1).and_then(|i| renamed.get(i)) {
                    dir_name = r.1.to_string();
                    name = r.2.to_string();
                }
                let module = format!("{}/{}", cat.rsplit('/').next().unwrap_or(cat), provider.replace('-', "_"));
                let style = match rng.below(10) {
                    0 => Style::Poetry,
                    1 => Style::PoetryLegacy,
                    _ => Style::Hatchling,
                };
                let version: Version = format!("0.{}.{}", 1 + rng.below(6), rng.below(10)).parse().expect("valid");
                packages.push(Pkg {
                    dir: format!("llama-index-integrations/{cat}/{dir_name}"),
                    name,
                    module,
                    version,
                    deps: vec![core_dep.clone()],
                    style,
                    tests: rng.below(10) != 0,
                    sources: Vec::new(),
                });
            }
        }
        // Second level: vector stores use an embeddings package.
        let embeddings: Vec<String> =
            packages.iter().filter(|p| p.dir.contains("/embeddings/")).map(|p| p.name.clone()).collect();
        let embedding_versions: BTreeMap<String, Version> = packages
            .iter()
            .filter(|p| p.dir.contains("/embeddings/"))
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        for (i, p) in packages.iter_mut().filter(|p| p.dir.contains("/vector_stores/")).enumerate() {
            if i % 2 == 0 {
                let e = &embeddings[i % embeddings.len()];
                p.deps.push(format!("{e}>={}", embedding_versions[e]));
            }
        }
        // Third level: packs use a vector store.
        let stores: Vec<(String, Version)> = packages
            .iter()
            .filter(|p| p.dir.contains("/vector_stores/"))
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        for k in 0..packs {
            let (store, v) = &stores[(k * 2) % stores.len()];
            packages.push(Pkg {
                dir: format!(
                    "llama-index-packs/llama-index-packs-{}",
                    PROVIDERS[(k + 7) % PROVIDERS.len()].to_string() + &suffix(k)
                ),
                name: format!("llama-index-packs-{}", PROVIDERS[(k + 7) % PROVIDERS.len()].to_string() + &suffix(k)),
                module: format!("packs/p{k}"),
                version: "0.5.0".parse().expect("valid"),
                deps: vec![core_dep.clone(), format!("{store}>={v}")],
                style: Style::Hatchling,
                tests: k % 3 != 0,
                sources: Vec::new(),
            });
        }
        for (k, u) in ["workflow", "qianfan"].iter().enumerate().take(utils) {
            packages.push(Pkg {
                dir: format!("llama-index-utils/llama-index-utils-{u}"),
                name: format!("llama-index-utils-{u}"),
                module: format!("utils/{u}"),
                version: format!("0.{}.0", k + 3).parse().expect("valid"),
                deps: vec![core_dep.clone()],
                style: Style::Hatchling,
                tests: true,
                sources: Vec::new(),
            });
        }
        packages.sort_by(|a, b| a.dir.cmp(&b.dir));
        let dirs: BTreeMap<String, String> = packages.iter().map(|p| (p.name.clone(), p.dir.clone())).collect();
        for p in &mut packages {
            p.sources = p
                .deps
                .iter()
                .filter_map(|d| crate::requirement::Requirement::parse(d).ok())
                .filter_map(|r| dirs.get(&r.raw_name).map(|dir| (r.raw_name.clone(), dir.clone())))
                .collect();
        }
        Plan { packages, prs_after_release: prs }
    }
}

fn suffix(k: usize) -> String {
    if k < PROVIDERS.len() {
        String::new()
    } else {
        (k / PROVIDERS.len()).to_string()
    }
}

/// Internal dependencies resolve to their directories in the monorepo, so `uv sync` never
/// fetches the sample's own packages from an index.
fn uv_sources(p: &Pkg) -> String {
    if p.sources.is_empty() {
        return String::new();
    }
    let up = "../".repeat(p.dir.matches('/').count() + 1);
    let lines: Vec<String> =
        p.sources.iter().map(|(name, dir)| format!("{name} = {{ path = \"{up}{dir}\", editable = true }}")).collect();
    format!("\n[tool.uv.sources]\n{}\n", lines.join("\n"))
}

fn pyproject(p: &Pkg) -> String {
    let deps: Vec<String> = p.deps.iter().map(|d| format!("    \"{d}\",")).collect();
    let deps = deps.join("\n");
    match p.style {
        Style::Hatchling | Style::Poetry => {
            let (requires, backend) = match p.style {
                Style::Hatchling => ("hatchling", "hatchling.build"),
                _ => ("poetry-core>=2.0", "poetry.core.masonry.api"),
            };
            let build = if p.name == "llama-index-core" {
                // As the real core: the data its release hooks fetch is in both targets.
                let include = format!("include = [\"llama_index\", {CORE_DATA}]");
                format!(
                    "\n[tool.hatch.build.targets.sdist]\n{include}\n\n[tool.hatch.build.targets.wheel]\n{include}\n"
                )
            } else if p.style == Style::Hatchling {
                "\n[tool.hatch.build.targets.sdist]\ninclude = [\"llama_index/\"]\n\n[tool.hatch.build.targets.wheel]\ninclude = [\"llama_index/\"]\n".to_string()
            } else {
                "\n[tool.poetry]\npackages = [{ include = \"llama_index\" }]\n".to_string()
            };
            format!(
                "[build-system]\nrequires = [\"{requires}\"]\nbuild-backend = \"{backend}\"\n\n\
                 [project]\nname = \"{}\"\nversion = \"{}\"\ndescription = \"llama-index {} integration\"\n\
                 readme = \"README.md\"\nlicense = \"MIT\"\nrequires-python = \">=3.9,<4.0\"\n\
                 dependencies = [\n{deps}\n]\n\n[dependency-groups]\ndev = [\"pytest>=8\"]\n{build}{}",
                p.name,
                p.version,
                p.module,
                uv_sources(p)
            )
        }
        Style::PoetryLegacy => {
            let deps: Vec<String> = p
                .deps
                .iter()
                .map(|d| {
                    let r = crate::requirement::Requirement::parse(d).expect("generated requirements parse");
                    format!("{} = \"{}\"", r.raw_name, r.specifiers)
                })
                .collect();
            format!(
                "[build-system]\nrequires = [\"poetry-core>=1.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n\n\
                 [tool.poetry]\nname = \"{}\"\nversion = \"{}\"\ndescription = \"llama-index {} integration\"\n\
                 authors = [\"Sample Maintainer <maintainer@example.com>\"]\nlicense = \"MIT\"\nreadme = \"README.md\"\n\
                 packages = [{{ include = \"llama_index\" }}]\n\n[tool.poetry.dependencies]\npython = \">=3.9,<4.0\"\n{}\n",
                p.name,
                p.version,
                p.module,
                deps.join("\n")
            )
        }
    }
}

fn umbrella_pyproject(version: &Version, core: &Version) -> String {
    format!(
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"llama-index\"\nversion = \"{version}\"\n\
         description = \"Interface between LLMs and your data\"\nreadme = \"README.md\"\nlicense = \"MIT\"\n\
         requires-python = \">=3.9,<4.0\"\n\
         dependencies = [\n    \"llama-index-core>={core},<{}\",\n    \"llama-index-llms-openai>=0.1,<1\",\n\
         \x20   \"llama-index-embeddings-openai>=0.1,<1\",\n]\n\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"_llama-index/llama_index\"]\n",
        core.next_minor()
    )
}

/// The git history as a `git fast-import` stream.
struct History {
    stream: Vec<u8>,
    mark: usize,
    time: u64,
    files: BTreeMap<String, String>,
}

impl History {
    fn commit(&mut self, branch: &str, subject: &str, changes: &[(String, String)]) -> usize {
        self.mark += 1;
        self.time += 3_600;
        let mut s = format!(
            "commit refs/heads/{branch}\nmark :{}\nauthor Sample Dev <dev@example.com> {} +0000\ncommitter Sample Dev <dev@example.com> {} +0000\ndata {}\n{subject}\n",
            self.mark,
            self.time,
            self.time,
            subject.len() + 1
        );
        for (path, content) in changes {
            let _ = write!(s, "M 100644 inline {path}\ndata {}\n{content}\n", content.len());
            self.files.insert(path.clone(), content.clone());
        }
        self.stream.extend_from_slice(s.as_bytes());
        self.mark
    }

    fn tag(&mut self, tag: &str, mark: usize) {
        self.stream.extend_from_slice(format!("reset refs/tags/{tag}\nfrom :{mark}\n\n").as_bytes());
    }

    fn append(&self, path: &str, line: &str) -> (String, String) {
        let mut text = self.files.get(path).cloned().unwrap_or_default();
        text.push_str(line);
        text.push('\n');
        (path.to_string(), text)
    }
}

/// Core's include globs for the NLTK and tiktoken data, as in the real `pyproject.toml`.
const CORE_DATA: &str = "\"llama_index/core/_static/nltk_cache/corpora/stopwords/**\", \"llama_index/core/_static/nltk_cache/tokenizers/punkt_tab/**\", \"llama_index/core/_static/tiktoken_cache/**\"";

/// Core's `utils.py`: like the real one, `globals_helper` and `get_tokenizer` fill
/// `_static/` on first use (the real release workflow runs them before building core). The
/// data is generated instead of downloaded, deterministically, and sized so that a core built
/// without it is less than half as big, as the real one is.
const CORE_UTILS: &str = r#""""Stand-ins for the real core's cached NLTK and tiktoken data."""

import hashlib
import pathlib

_STATIC = pathlib.Path(__file__).parent / "_static"


def _fill(rel, seed, lines):
    path = _STATIC / rel
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    digest = seed.encode()
    for i in range(lines):
        digest = hashlib.sha256(digest).digest()
        out.append("%s %d" % (digest.hex(), i))
    path.write_text("\n".join(out) + "\n")
    return path


class _GlobalsHelper:
    @property
    def stopwords(self):
        _fill("nltk_cache/corpora/stopwords/README", "readme", 4)
        return _fill("nltk_cache/corpora/stopwords/english", "stopwords", 200).read_text().split()[:3]

    @property
    def punkt_tokenizer(self):
        for name in ("abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt"):
            _fill("nltk_cache/tokenizers/punkt_tab/english/" + name, name, 300)
        return "punkt_tab"


globals_helper = _GlobalsHelper()


def get_tokenizer(model=None):
    name = model or "cl100k_base"
    key = hashlib.sha1(name.encode()).hexdigest()
    _fill("tiktoken_cache/" + key, name, 3000)
    return "tokenizer(%s)" % name
"#;

fn package_files(p: &Pkg) -> Vec<(String, String)> {
    let mut files = vec![
        (format!("{}/pyproject.toml", p.dir), pyproject(p)),
        (format!("{}/README.md", p.dir), format!("# {}\n\nThe {} integration for LlamaIndex.\n", p.name, p.module)),
        (
            format!("{}/llama_index/{}/__init__.py", p.dir, p.module),
            format!("\"\"\"{}.\"\"\"\n\n__all__ = []\n", p.name),
        ),
        (format!("{}/llama_index/{}/base.py", p.dir, p.module), "# Implementation.\n".to_string()),
    ];
    if p.name == "llama-index-core" {
        files.push((format!("{}/llama_index/core/utils.py", p.dir), CORE_UTILS.to_string()));
        // In git, as in the real monorepo: only the ignore files; the data is fetched.
        let ignore = "*\n!.gitignore\n".to_string();
        for sub in ["", "nltk_cache/", "tiktoken_cache/"] {
            files.push((format!("{}/llama_index/core/_static/{sub}.gitignore", p.dir), ignore.clone()));
        }
    }
    if p.tests {
        files.push((
            format!("{}/tests/test_{}.py", p.dir, p.module.replace('/', "_")),
            "def test_imports():\n    assert True\n".to_string(),
        ));
    }
    files
}

fn generate(sh: &Shell, dir: &Path, plan: &Plan) -> Result<()> {
    exec::require("git", "to generate the sample's history")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _cd = sh.push_dir(dir);
    let mut h = History { stream: Vec::new(), mark: 0, time: 1_767_225_600, files: BTreeMap::new() };
    let mut pkgs = plan.packages.clone();
    let mut umbrella: Version = "0.14.10".parse().expect("valid");

    // The initial import, released as v0.14.10.
    let mut files = vec![
        ("pyproject.toml".to_string(), umbrella_pyproject(&umbrella, &"0.14.10".parse().expect("valid"))),
        ("README.md".to_string(), "# LlamaIndex (sample)\n\nA generated monorepo for trying the release tool.\n".to_string()),
        ("_llama-index/llama_index/_umbrella.py".to_string(), "\"\"\"The umbrella package.\"\"\"\n".to_string()),
        (
            "CHANGELOG.md".to_string(),
            "# ChangeLog\n\n<!--- generated changelog --->\n\n## [2025-12-18]\n\n### llama-index-core [0.14.10]\n\n- Initial sample release ([#1](https://github.com/run-llama/llama_index/pull/1))\n".to_string(),
        ),
        ("docs/index.md".to_string(), "# Docs\n".to_string()),
        (".github/workflows/unit_test.yml".to_string(), "name: Unit tests\non: [pull_request]\n".to_string()),
        (".gitignore".to_string(), "/target\ndist/\n.venv/\n__pycache__/\n.pytest_cache/\nuv.lock\ncoverage.xml\n.coverage\n".to_string()),
    ];
    let core_index = pkgs.iter().position(|p| p.name == "llama-index-core").expect("core exists");
    pkgs[core_index].version = "0.14.10".parse().expect("valid");
    for p in &pkgs {
        files.extend(package_files(p));
    }
    // A stray pyproject inside a package's source tree, which is not a package.
    let stray = pkgs.iter().find(|p| p.dir.contains("/embeddings/")).expect("embeddings exist");
    files.push((
        format!("{}/llama_index/{}/pyproject.toml", stray.dir, stray.module),
        "[project]\nname = \"stray\"\nversion = \"0.0.0\"\n".to_string(),
    ));
    let first = h.commit("main", "Initial import of the monorepo (#2)", &files);
    h.tag("v0.14.10", first);

    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut pr = 100u64;
    let history_prs = |h: &mut History, pkgs: &mut Vec<Pkg>, count: usize, rng: &mut Rng, pr: &mut u64| {
        for k in 0..count {
            *pr += 1 + rng.below(3) as u64;
            let n = *pr;
            let a = rng.below(pkgs.len());
            let b = rng.below(pkgs.len());
            let touch_version = |h: &History, pkgs: &mut Vec<Pkg>, i: usize| -> Vec<(String, String)> {
                let p = &mut pkgs[i];
                let mut changes =
                    vec![h.append(&format!("{}/llama_index/{}/base.py", p.dir, p.module), &format!("# change {n}"))];
                // Core's version moves only with releases; the others' with the changes to them.
                if p.name != "llama-index-core" {
                    p.version = p.version.bump(crate::version::Bump::Patch).expect("sample versions are public");
                    changes.push((format!("{}/pyproject.toml", p.dir), pyproject(p)));
                }
                changes
            };
            let name_a = pkgs[a].name.clone();
            let (subject, changes) = match k % 12 {
                0 => (
                    format!("chore(deps): bump pydantic in {} and {} (#{n})", pkgs[a].name, pkgs[b].name),
                    [touch_version(h, pkgs, a), if a != b { touch_version(h, pkgs, b) } else { vec![] }].concat(),
                ),
                1 => (
                    format!("docs: explain {} usage (#{n})", name_a),
                    vec![h.append("docs/index.md", &format!("- {name_a} ({n})"))],
                ),
                2 => (format!("Fix: handle tool calls in {name_a} (#{}) (#{n})", n - 7), touch_version(h, pkgs, a)),
                3 => (
                    format!("Revert \"feat: add streaming to {name_a} (#{})\"", n - 1),
                    vec![h.append(
                        &format!("{}/llama_index/{}/base.py", pkgs[a].dir, pkgs[a].module),
                        &format!("# revert {n}"),
                    )],
                ),
                4 => (
                    "Update unit test workflow".to_string(),
                    vec![h.append(".github/workflows/unit_test.yml", &format!("# tweak {n}"))],
                ),
                5 => {
                    (format!("fix: escape `[tag]` ] and *stars* in {name_a} titles (#{n})"), touch_version(h, pkgs, a))
                }
                6 => (format!("feat: Unterstützung für Umlaute in {name_a} 🚀 (#{n})"), touch_version(h, pkgs, a)),
                7 => (format!("#{n} is a title that starts with a hash (#{n})"), touch_version(h, pkgs, a)),
                8 => (
                    format!("feat: core support for structured outputs (#{n})"),
                    [touch_version(h, pkgs, core_index), touch_version(h, pkgs, a)].concat(),
                ),
                _ => (format!("feat: add streaming to {name_a} (#{n})"), touch_version(h, pkgs, a)),
            };
            h.commit("main", &subject, &changes);
        }
    };

    // Between the two releases.
    history_prs(&mut h, &mut pkgs, 8, &mut rng, &mut pr);
    // The release commit of 0.14.12 (there was no 0.14.11, as in the real history).
    umbrella = UMBRELLA_VERSION.parse().expect("valid");
    pkgs[core_index].version = umbrella.clone();
    let release_changes = vec![
        ("pyproject.toml".to_string(), umbrella_pyproject(&umbrella, &umbrella)),
        (format!("{}/pyproject.toml", pkgs[core_index].dir), pyproject(&pkgs[core_index])),
        (
            "CHANGELOG.md".to_string(),
            h.files["CHANGELOG.md"].replace(
                "<!--- generated changelog --->\n",
                "<!--- generated changelog --->\n\n## [2026-01-10]\n\n### llama-index-core [0.14.12]\n\n- Sample fixes ([#101](https://github.com/run-llama/llama_index/pull/101))\n",
            ),
        ),
    ];
    pr += 1;
    let release = h.commit("main", &format!("Release {UMBRELLA_VERSION} (#{pr})"), &release_changes);
    h.tag(&format!("v{UMBRELLA_VERSION}"), release);

    // A higher tag on a side branch, which is not an ancestor of main.
    let side = h.mark;
    h.stream.extend_from_slice(format!("reset refs/heads/experiment\nfrom :{side}\n\n").as_bytes());
    let exp = h.commit("experiment", "Experimental rewrite", &[h.append("docs/index.md", "- experiment")]);
    h.tag("v0.15.0rc1", exp);
    h.stream.extend_from_slice(format!("reset refs/heads/main\nfrom :{release}\n\n").as_bytes());

    // The pull requests of the next release.
    history_prs(&mut h, &mut pkgs, plan.prs_after_release, &mut rng, &mut pr);

    git::init(sh, "main")?;
    git::set_config(sh, "user.name", "Sample Dev")?;
    git::set_config(sh, "user.email", "dev@example.com")?;
    let stream = String::from_utf8(h.stream).expect("the stream is built from strings");
    git::fast_import(sh, stream + "done\n")?;
    git::checkout_force(sh, "main")?;
    Ok(())
}
