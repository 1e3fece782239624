//! Discovery, ownership and groups on real trees in temporary directories.

use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn pyproject(name: &str, deps: &[&str]) -> String {
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
    format!("[project]\nname = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [{}]\n", deps.join(", "))
}

fn temp(name: &str) -> PathBuf {
    crate::scratch::Scratch::new(&format!("monorepo-{name}")).unwrap().keep()
}

#[test]
fn discovers_the_llama_index_layout() {
    let root = temp("layout");
    write(&root, "pyproject.toml", &pyproject("llama-index", &["llama-index-core>=0.1"]));
    write(&root, "llama-index-core/pyproject.toml", &pyproject("llama-index-core", &[]));
    write(
        &root,
        "llama-index-integrations/llms/llama-index-llms-a/pyproject.toml",
        &pyproject("llama-index-llms-a", &[]),
    );
    write(
        &root,
        "llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql/pyproject.toml",
        &pyproject("llama-index-vector-stores-volcengine-mysql", &[]),
    );
    write(
        &root,
        "llama-index-integrations/storage/docstore/llama-index-storage-docstore-x/pyproject.toml",
        &pyproject("llama-index-docstore-x", &[]),
    );
    // A stray nested pyproject, a hidden dir, a virtualenv, and a file where a category would be.
    write(
        &root,
        "llama-index-integrations/llms/llama-index-llms-a/llama_index/llms/a/pyproject.toml",
        &pyproject("stray", &[]),
    );
    write(&root, "llama-index-integrations/.cache/x/pyproject.toml", &pyproject("hidden", &[]));
    write(&root, "llama-index-packs/.venv/pyproject.toml", &pyproject("venv", &[]));
    write(&root, "llama-index-integrations/README.md", "not a category");
    write(&root, "llama-index-packs/pack1/pyproject.toml", &pyproject("llama-index-packs-one", &[]));
    write(&root, "llama-index-packs/not_a_pack/README.md", "");
    // A broken fixture inside a package is not the monorepo's error; a directory named
    // pyproject.toml is no package.
    write(&root, "llama-index-packs/pack1/tests/data/pyproject.toml", "[project\nname = ");
    write(&root, "llama-index-packs/odd/pyproject.toml/README.md", "");

    let repo = Monorepo::load(&root).unwrap();
    let dirs: Vec<_> = repo.packages.iter().map(|p| p.dir.as_str()).collect();
    assert_eq!(
        dirs,
        [
            ".",
            "llama-index-core",
            "llama-index-integrations/llms/llama-index-llms-a",
            "llama-index-integrations/storage/docstore/llama-index-storage-docstore-x",
            "llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql",
            "llama-index-packs/pack1",
        ]
    );
    expect_test::expect![[r#"
        package location `llama-index-instrumentation`: `llama-index-instrumentation` does not exist
        package location `llama-index-cli`: `llama-index-cli` does not exist
        package location `llama-index-experimental`: `llama-index-experimental` does not exist
        package location `llama-index-finetuning`: `llama-index-finetuning` does not exist
        package location `llama-index-utils/*`: `llama-index-utils` does not exist"#]]
    .assert_eq(&repo.warnings.join("\n"));

    let owner = |path: &str| match repo.owner_of(path) {
        Owner::Package(i) => repo.packages[i].display_name.clone(),
        Owner::Nobody => "-".to_string(),
    };
    assert_eq!(owner("llama-index-core/llama_index/core/x.py"), "llama-index-core");
    assert_eq!(
        owner("llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql/README.md"),
        "llama-index-vector-stores-volcengine-mysql"
    );
    assert_eq!(owner("pyproject.toml"), "llama-index");
    assert_eq!(owner("_llama-index/llama_index/__init__.py"), "llama-index");
    assert_eq!(owner("docs/index.md"), "-");
    assert_eq!(owner(".github/workflows/x.yml"), "-");
    assert_eq!(owner("llama-index-integrations/README.md"), "-");

    assert_eq!(repo.resolve("llama-index-packs/pack1/").unwrap().display_name, "llama-index-packs-one");
    assert_eq!(repo.resolve(".").unwrap().display_name, "llama-index");
    let err = repo.resolve("llama-index-packs/not_a_pack").unwrap_err().to_string();
    assert!(err.starts_with("`llama-index-packs/not_a_pack` is not a package of this monorepo"), "{err}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn an_extra_that_installs_a_dependant_is_no_cycle() {
    let root = temp("extra");
    write(&root, "pyproject.toml", &pyproject("llama-index", &["llama-index-core>=0.1"]));
    let core =
        pyproject("llama-index-core", &[]) + "[project.optional-dependencies]\nllms = [\"llama-index-llms-a>=0.1\"]\n";
    write(&root, "llama-index-core/pyproject.toml", &core);
    let llm = pyproject("llama-index-llms-a", &["llama-index-core>=0.1"]);
    write(&root, "llama-index-integrations/llms/llama-index-llms-a/pyproject.toml", &llm);
    let repo = Monorepo::load(&root).unwrap();
    let graph = crate::graph::Graph::new(&repo.packages);
    let all: std::collections::BTreeSet<usize> = (0..repo.packages.len()).collect();
    let waves = graph.waves(&all, &repo.packages).unwrap();
    let names: Vec<Vec<&str>> =
        waves.iter().map(|w| w.iter().map(|&i| repo.packages[i].display_name.as_str()).collect()).collect();
    assert_eq!(names, [vec!["llama-index-core"], vec!["llama-index", "llama-index-llms-a"]]);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn reports_every_bad_package_and_name_clashes() {
    let root = temp("bad");
    write(&root, "pyproject.toml", &pyproject("llama-index", &[]));
    write(&root, "llama-index-core/pyproject.toml", "[project]\nname = \"llama-index-core\"\n");
    write(&root, "llama-index-packs/a/pyproject.toml", "[project\n");
    let err = format!("{:#}", Monorepo::load(&root).unwrap_err());
    expect_test::expect![[r#"
        2 packages cannot be read:
          llama-index-core/pyproject.toml: `[project]` has no `version`; add `version = "0.1.0"`
          llama-index-packs/a/pyproject.toml:1:9: invalid TOML: unclosed table, expected `]`; fix the file and rerun"#]]
    .assert_eq(&err);

    write(&root, "llama-index-core/pyproject.toml", &pyproject("llama-index-core", &[]));
    write(&root, "llama-index-packs/a/pyproject.toml", &pyproject("Llama_Index.Core", &[]));
    let err = format!("{:#}", Monorepo::load(&root).unwrap_err());
    expect_test::expect![[r#"
        two packages share a name (compared in PEP 503 normal form):
          `llama-index-core` is the name of both `llama-index-core` and `llama-index-packs/a`
        rename one of them"#]]
    .assert_eq(&err);
    std::fs::remove_dir_all(root).unwrap();
}

fn dynamic(name: &str, tool: &str) -> String {
    format!("[project]\nname = \"{name}\"\ndynamic = [\"version\"]\ndependencies = []\n{tool}")
}

#[test]
fn a_uv_workspace_of_independent_packages_with_every_version_source() {
    let root = temp("workspace");
    write(&root, "pyproject.toml", "[tool.uv.workspace]\nmembers = [\"libs/*\"]\nexclude = [\"libs/skip\"]\n");
    write(&root, "libs/static/pyproject.toml", &pyproject("static", &[]));
    write(
        &root,
        "libs/hatch/pyproject.toml",
        &dynamic("hatch", "[tool.hatch.version]\npath = \"src/hatch/__init__.py\"\n"),
    );
    write(&root, "libs/hatch/src/hatch/__init__.py", "\"\"\"Hatch.\"\"\"\n__version__ = \"1.2.11\"\n");
    let attr = "[tool.setuptools.dynamic]\nversion = { attr = \"st.__version__\" }\n";
    write(&root, "libs/attr/pyproject.toml", &dynamic("attr", attr));
    write(&root, "libs/attr/st.py", "__version__: str = '4.2.0'\n");
    let file = "[tool.setuptools.dynamic]\nversion = { file = \"VERSION\" }\n";
    write(&root, "libs/file/pyproject.toml", &dynamic("file", file));
    write(&root, "libs/file/VERSION", "0.4.3\n");
    let pdm = "[tool.pdm.version]\nsource = \"file\"\npath = \"pdm_pkg.py\"\n";
    write(&root, "libs/pdm/pyproject.toml", &dynamic("pdm", pdm));
    write(&root, "libs/pdm/pdm_pkg.py", "__version__ = \"2.0.0\"\n");
    let flit = "[build-system]\nrequires = [\"flit_core\"]\nbuild-backend = \"flit_core.buildapi\"\n";
    write(&root, "libs/flit/pyproject.toml", &dynamic("flit-pkg", flit));
    write(&root, "libs/flit/src/flit_pkg/__init__.py", "__version__ = \"0.9.1\"\n");
    write(&root, "libs/broken/pyproject.toml", &dynamic("broken", "[tool.hatch.version]\npath = \"gone.py\"\n"));
    write(&root, "libs/skip/pyproject.toml", "not toml [");

    let repo = Monorepo::load(&root).unwrap();
    let versions: Vec<String> = repo.packages.iter().map(|p| format!("{} {}", p.dir, p.version)).collect();
    expect_test::expect![[r#"
        libs/attr 4.2.0
        libs/broken 0
        libs/file 0.4.3
        libs/flit 0.9.1
        libs/hatch 1.2.11
        libs/pdm 2.0.0
        libs/static 0.1.0"#]]
    .assert_eq(&versions.join("\n"));
    expect_test::expect!["libs/broken/pyproject.toml: its version cannot be read, so the commands that act on `broken` fail; `cargo xtask pkg version libs/broken` says why"]
    .assert_eq(&repo.warnings.join("\n"));
    assert!(repo.lockstep().is_empty(), "no umbrella, no core: every package is its own group");
    assert_eq!(repo.tag_pattern(2), ("{name}-v{version}".to_string(), "file".to_string()));
    let err = repo.umbrella().unwrap_err().to_string();
    assert!(err.starts_with("this monorepo has no umbrella package"), "{err}");
    let broken = repo.resolve("libs/broken").unwrap();
    assert!(repo.require_versions(&[broken]).is_err());
    assert_eq!(repo.packages[2].version_file(&root).as_deref(), Some("libs/file/VERSION"));
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_root_that_is_no_monorepo_is_refused() {
    let root = temp("nothing");
    write(&root, "README.md", "");
    let err = Monorepo::load(&root).unwrap_err().to_string();
    assert!(err.contains("has no umbrella `pyproject.toml`"), "{err}");
    // Only `[packages] include`: independent packages, no umbrella needed.
    write(&root, "release.toml", "[packages]\ninclude = [\"libs/*\"]\n");
    write(&root, "libs/a/pyproject.toml", &pyproject("a", &[]));
    write(&root, "libs/b/pyproject.toml", &pyproject("b", &["a>=0.1"]));
    let repo = Monorepo::load(&root).unwrap();
    assert_eq!(repo.packages.len(), 2);
    assert!(repo.warnings.is_empty(), "{:?}", repo.warnings);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn dependency_groups_and_sources_are_edges_for_tests_only() {
    let root = temp("groups");
    write(&root, "release.toml", "[packages]\ninclude = [\"libs/*\"]\n");
    write(&root, "libs/core/pyproject.toml", &pyproject("core", &[]));
    let tested = pyproject("tested", &[])
        + "[dependency-groups]\ntest = [\"pytest\", { include-group = \"lint\" }]\nlint = [\"core\"]\n";
    write(&root, "libs/tested/pyproject.toml", &tested);
    let sourced = pyproject("sourced", &[]) + "[tool.uv.sources]\ncore = { workspace = true }\n";
    write(&root, "libs/sourced/pyproject.toml", &sourced);
    let extra = pyproject("extra", &[]) + "[project.optional-dependencies]\nx = [\"core\"]\n";
    write(&root, "libs/extra/pyproject.toml", &extra);
    let repo = Monorepo::load(&root).unwrap();
    let graph = crate::graph::Graph::new(&repo.packages);
    let core: std::collections::BTreeSet<usize> = [repo.index_of(repo.resolve("libs/core").unwrap())].into();
    let names: Vec<&str> = graph.dependants(&core, true).iter().map(|&i| repo.packages[i].dir.as_str()).collect();
    assert_eq!(names, ["libs/extra", "libs/sourced", "libs/tested"]);
    let all: std::collections::BTreeSet<usize> = (0..repo.packages.len()).collect();
    assert_eq!(graph.waves(&all, &repo.packages).unwrap().len(), 1, "no publish order from them");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn hatch_custom_patterns_are_read_or_refused_by_name() {
    let root = temp("pattern");
    write(&root, "release.toml", "[packages]\ninclude = [\"libs/*\"]\n");
    let tool = "[tool.hatch.version]\npath = \"a/about.py\"\npattern = 'BUILD = \"(?P<version>[^\"]+)\"'\n";
    write(&root, "libs/a/pyproject.toml", &dynamic("a", tool));
    write(&root, "libs/a/a/about.py", "NAME = \"a\"\nBUILD = \"3.1.4\"\n");
    let tool = "[tool.hatch.version]\npath = \"b.py\"\npattern = 'v(\\d)(?P<version>.*)'\n";
    write(&root, "libs/b/pyproject.toml", &dynamic("b", tool));
    write(&root, "libs/b/b.py", "v1\n");
    let repo = Monorepo::load(&root).unwrap();
    assert_eq!(repo.packages[0].version.to_string(), "3.1.4");
    let edit = crate::bump::version_edit(&root, &repo.packages[0], &"3.2.0".parse().unwrap()).unwrap().unwrap();
    assert_eq!(edit.new, "NAME = \"a\"\nBUILD = \"3.2.0\"\n");
    expect_test::expect![[r#"libs/b/pyproject.toml: hatch's `pattern` `v(\d)(?P<version>.*)` uses regular-expression operators outside the version group, which the release tool does not read; write the version as `__version__ = "…"` or use a simpler pattern"#]]
    .assert_eq(repo.packages[1].version_error.as_deref().unwrap());
    std::fs::remove_dir_all(root).unwrap();
}
