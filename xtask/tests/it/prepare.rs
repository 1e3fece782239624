//! `cargo xtask prepare` on generated monorepos: the plan, whole edited files, the original's
//! defects (§10 items 13 and 14), the dirty-tree rule, and bad input that must write nothing.

use crate::support;

use expect_test::{expect, Expect};
use support::{commit_all, Sample};

/// A sample monorepo: umbrella and core at 0.14.12, clean, on `main`.
fn sample() -> Sample {
    Sample::new(20, 2)
}

/// Replaces files and commits them, so the tree is clean again.
fn commit_files(s: &Sample, files: &[(&str, &str)]) {
    for (path, text) in files {
        s.write(path, text);
    }
    commit_all(&s.root(), "test setup");
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let s = sample();
    let before = s.fingerprint();
    let run = s.xtask(&["prepare", "--dry-run"]).ok();
    expect![[r#"
        Would bump llama-index (pyproject.toml) from 0.14.12 to 0.14.13
        Would bump llama-index-core (llama-index-core/pyproject.toml) from 0.14.12 to 0.14.13
        Would require `llama-index-core>=0.14.13,<0.15.0` in llama-index (was `llama-index-core>=0.14.12,<0.15.0`)
        --- a/pyproject.toml
        +++ b/pyproject.toml
        @@ -4,13 +4,13 @@
         
         [project]
         name = "llama-index"
        -version = "0.14.12"
        +version = "0.14.13"
         description = "Interface between LLMs and your data"
         readme = "README.md"
         license = "MIT"
         requires-python = ">=3.9,<4.0"
         dependencies = [
        -    "llama-index-core>=0.14.12,<0.15.0",
        +    "llama-index-core>=0.14.13,<0.15.0",
             "llama-index-llms-openai>=0.1,<1",
             "llama-index-embeddings-openai>=0.1,<1",
         ]
        --- a/llama-index-core/pyproject.toml
        +++ b/llama-index-core/pyproject.toml
        @@ -4,7 +4,7 @@
         
         [project]
         name = "llama-index-core"
        -version = "0.14.12"
        +version = "0.14.13"
         description = "llama-index core integration"
         readme = "README.md"
         license = "MIT"
    "#]]
    .assert_eq(&run.stdout);
    assert_eq!(run.stderr, "dry run: no file was changed\n");
    let run = s.xtask(&["prepare", "--dry-run", "--version-type", "MINOR", "--json"]).ok();
    let mut v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    // The wave's 18 packages and their files (below) are counted here, shown in other tests.
    let wave = v.as_object_mut().unwrap().remove("wave").unwrap();
    let files = v.as_object_mut().unwrap().remove("files").unwrap();
    assert_eq!((wave.as_array().unwrap().len(), files.as_array().unwrap().len()), (18, 20));
    assert_eq!(files[0], "pyproject.toml");
    assert_eq!(files[1], "llama-index-core/pyproject.toml");
    expect![[r#"
        {
          "bump": "minor",
          "core": {
            "name": "llama-index-core",
            "new": "0.15.0",
            "old": "0.14.12",
            "path": "llama-index-core/pyproject.toml"
          },
          "dry_run": true,
          "requirement": {
            "new": "llama-index-core>=0.15.0,<0.16.0",
            "old": "llama-index-core>=0.14.12,<0.15.0"
          },
          "umbrella": {
            "name": "llama-index",
            "new": "0.15.0",
            "old": "0.14.12",
            "path": "pyproject.toml"
          }
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&v).unwrap());
    assert_eq!(s.fingerprint(), before, "a dry run writes nothing");
}

#[test]
fn real_run_prints_the_plan_then_applies_it() {
    let s = sample();
    let dry = s.xtask(&["prepare", "--dry-run", "--bump", "major"]).ok();
    let run = s.xtask(&["prepare", "--bump", "major"]).ok();
    assert_eq!(
        run.stdout,
        dry.stdout.replace("Would bump", "Bump").replace("Would require", "Require").replace("Would widen", "Widen")
    );
    // The umbrella, core, and the 18 packages that required core `<0.15` (the wave).
    assert!(run.stderr.contains("prepared release 1.0.0 (20 files changed)"), "{}", run.stderr);
    assert_eq!(s.xtask(&["pkg", "version"]).ok().stdout, "1.0.0\n");
    assert_eq!(s.xtask(&["pkg", "version", "llama-index-core"]).ok().stdout, "1.0.0\n");
    assert!(s.read("pyproject.toml").contains("\"llama-index-core>=1.0.0,<1.1.0\","));
    let status = s.git(&["status", "--porcelain"]);
    assert_eq!(status.lines().count(), 20, "{status}");
    assert!(status.lines().all(|l| l.starts_with(" M ") && l.ends_with("pyproject.toml")), "{status}");
    // The tree is now dirty: a second run is refused until the bump is committed.
    let run = s.xtask(&["prepare"]).fails_with(1);
    expect![[r#"
        error: the working tree has uncommitted changes (llama-index-cli/pyproject.toml, llama-index-core/pyproject.toml, llama-index-experimental/pyproject.toml, llama-index-finetuning/pyproject.toml, llama-index-integrations/embeddings/llama-index-embeddings-openai/pyproject.toml, llama-index-integrations/llms/llama-index-llms-openai/pyproject.toml, llama-index-integrations/postprocessor/llama-index-postprocessor-openai/pyproject.toml, llama-index-integrations/readers/llama-index-readers-anthropic/pyproject.toml, llama-index-integrations/readers/llama-index-readers-openai/pyproject.toml, llama-index-integrations/retrievers/llama-index-retrievers-openai/pyproject.toml and 10 more); commit or stash them, or pass `--allow-dirty`
    "#]]
    .assert_eq(&run.stderr);
    s.xtask(&["prepare", "--allow-dirty"]).ok();
    assert_eq!(s.xtask(&["pkg", "version"]).ok().stdout, "1.0.1\n");
}

fn check_files(s: &Sample, args: &[&str], umbrella: Expect, core: Expect) {
    s.xtask(&[&["prepare"], args].concat()).ok();
    umbrella.assert_eq(&s.read("pyproject.toml"));
    core.assert_eq(&s.read("llama-index-core/pyproject.toml"));
}

#[test]
fn edits_keep_comments_spacing_extras_and_markers() {
    // Defect 13: the original rewrote every `^version = ` line with a regex and replaced the
    // requirement across the whole file, dropping its extras and markers.
    let s = sample();
    commit_files(
        &s,
        &[
            (
                "pyproject.toml",
                r#"# The umbrella.
[project]
name    =   "llama-index"   # PyPI name
version='0.14.12'  # bumped by `cargo xtask prepare`
dependencies = [
  # core first
  "llama-index-core [openai] >=0.14.12,<0.15.0 ; python_version >= '3.9'",  # keep in step
  "llama-index-llms-openai>=0.1,<1",
]

[project.optional-dependencies]
docs = ["llama-index-core>=0.14.12,<0.15.0"]

[tool.somewhere]
version = "0.14.12"
note = "llama-index-core>=0.14.12,<0.15.0"
"#,
            ),
            (
                "llama-index-core/pyproject.toml",
                "[tool.poetry]\nname = \"llama-index-core\"\nversion   =   \"0.14.12\"   # core\n\n[tool.poetry.dependencies]\npython = \">=3.9,<4.0\"\n",
            ),
        ],
    );
    check_files(
        &s,
        &[],
        expect![[r##"
            # The umbrella.
            [project]
            name    =   "llama-index"   # PyPI name
            version='0.14.13'  # bumped by `cargo xtask prepare`
            dependencies = [
              # core first
              "llama-index-core[openai]>=0.14.13,<0.15.0; python_version >= '3.9'",  # keep in step
              "llama-index-llms-openai>=0.1,<1",
            ]

            [project.optional-dependencies]
            docs = ["llama-index-core>=0.14.12,<0.15.0"]

            [tool.somewhere]
            version = "0.14.12"
            note = "llama-index-core>=0.14.12,<0.15.0"
        "##]],
        expect![[r#"
            [tool.poetry]
            name = "llama-index-core"
            version   =   "0.14.13"   # core

            [tool.poetry.dependencies]
            python = ">=3.9,<4.0"
        "#]],
    );
}

#[test]
fn a_poetry_umbrella_keeps_markers_and_extras_of_its_core_constraint() {
    let s = sample();
    commit_files(
        &s,
        &[(
            "pyproject.toml",
            r#"[tool.poetry]
name = "llama-index"
version = "0.14.12"

[tool.poetry.dependencies]
python = ">=3.9,<4.0"
llama_index_core = { version = "^0.14.12", markers = "python_version >= '3.9'", extras = ["openai"] }  # core
llama-index-llms-openai = "^0.1"
"#,
        )],
    );
    let run = s.xtask(&["prepare", "--json"]).ok();
    assert!(run.stdout.contains(r#""old": "llama_index_core ^0.14.12""#), "{}", run.stdout);
    expect![[r#"
        [tool.poetry]
        name = "llama-index"
        version = "0.14.13"

        [tool.poetry.dependencies]
        python = ">=3.9,<4.0"
        llama_index_core = { version = ">=0.14.13,<0.15.0", markers = "python_version >= '3.9'", extras = ["openai"] }  # core
        llama-index-llms-openai = "^0.1"
    "#]]
    .assert_eq(&s.read("pyproject.toml"));
}

/// Sets the umbrella's and core's versions in the sample and commits.
fn set_versions(s: &Sample, umbrella: &str, core: &str) {
    let root = s.read("pyproject.toml").replacen("version = \"0.14.12\"", &format!("version = \"{umbrella}\""), 1);
    let core_text = s.read("llama-index-core/pyproject.toml").replacen(
        "version = \"0.14.12\"",
        &format!("version = \"{core}\""),
        1,
    );
    commit_files(s, &[("pyproject.toml", &root), ("llama-index-core/pyproject.toml", &core_text)]);
}

#[test]
fn core_never_moves_backwards() {
    // Defect 13: the original forced core to the umbrella's next version, whatever core was.
    let s = sample();
    set_versions(&s, "0.14.12", "0.15.0");
    let before = s.fingerprint();
    let run = s.xtask(&["prepare"]).fails_with(1);
    expect![[r#"
        error: the umbrella's next version `0.14.13` is lower than core's current version `0.15.0` (llama-index-core/pyproject.toml), and core never moves backwards; bump further (`--bump minor` or `--bump major`), or set the umbrella's version in pyproject.toml first
    "#]]
    .assert_eq(&run.stderr);
    assert_eq!(s.fingerprint(), before);
    // The same version is fine: core stays.
    let run = s.xtask(&["prepare", "--bump", "minor", "--dry-run"]).ok();
    assert!(
        run.stdout.contains("Would keep llama-index-core (llama-index-core/pyproject.toml) at 0.15.0\n"),
        "{}",
        run.stdout
    );

    // Core catching up over versions of its own (0.14.10 → 0.14.12 really happened) is said out loud.
    let s = sample();
    set_versions(&s, "0.14.12", "0.14.10");
    let run = s.xtask(&["prepare"]).ok();
    assert!(
        run.stderr.contains("warning: core moves from `0.14.10` to `0.14.13` to stay in step with the umbrella, skipping the versions between"),
        "{}",
        run.stderr
    );
}

#[test]
fn bumps_keep_pep_440_semantics() {
    // Defect 14: the original dropped pre, post, dev and epoch parts; `1.0.0rc1` patch gave `1.0.1`.
    let check = |umbrella: &str, bump: &str, want: Expect| {
        let s = sample();
        set_versions(&s, umbrella, "0.1.0");
        let run = s.xtask(&["prepare", "--dry-run", "--bump", bump]).ok();
        want.assert_eq(run.stdout.lines().nth(2).unwrap());
    };
    check(
        "1.0.0rc1",
        "patch",
        expect![
            "Would require `llama-index-core>=1.0.0,<1.1.0` in llama-index (was `llama-index-core>=0.14.12,<0.15.0`)"
        ],
    );
    check(
        "1.1.0b2",
        "minor",
        expect![
            "Would require `llama-index-core>=1.1.0,<1.2.0` in llama-index (was `llama-index-core>=0.14.12,<0.15.0`)"
        ],
    );
    check(
        "2.0.0.dev3",
        "major",
        expect![
            "Would require `llama-index-core>=2.0.0,<2.1.0` in llama-index (was `llama-index-core>=0.14.12,<0.15.0`)"
        ],
    );
    check(
        "1.2.3.post1",
        "patch",
        expect![
            "Would require `llama-index-core>=1.2.4,<1.3.0` in llama-index (was `llama-index-core>=0.14.12,<0.15.0`)"
        ],
    );
    check("1!1.2.3", "patch", expect!["Would require `llama-index-core>=1!1.2.4,<1!1.3.0` in llama-index (was `llama-index-core>=0.14.12,<0.15.0`)"]);
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let check = |files: &[(&str, &str)], want: Expect| {
        let s = sample();
        commit_files(&s, files);
        let before = s.fingerprint();
        let run = s.xtask(&["prepare"]);
        assert_eq!(s.fingerprint(), before, "nothing written");
        want.assert_eq(
            &format!("exit {}: {}", run.code, run.stderr).replace(&s.root().display().to_string(), "[ROOT]"),
        );
    };
    let umbrella =
        |deps: &str| format!("[project]\nname = \"llama-index\"\nversion = \"0.14.12\"\ndependencies = [{deps}]\n");
    let core = |version: &str| format!("[project]\nname = \"llama-index-core\"\n{version}\n");
    check(
        &[("pyproject.toml", &umbrella("\"llama-index-cli>=0.5\""))],
        expect![[r#"
            exit 1: error: nothing was changed, because:
              pyproject.toml: `project.dependencies` has no requirement on `llama-index-core`; add one such as `"llama-index-core>=1.0,<1.1"`
        "#]],
    );
    check(
        &[("pyproject.toml", &umbrella("\"llama-index-core>=0.14\", \"llama_index.core<1\""))],
        expect![[r#"
            exit 1: error: nothing was changed, because:
              pyproject.toml: `project.dependencies` has 2 requirements on `llama-index-core`; keep exactly one
        "#]],
    );
    check(
        &[("llama-index-core/pyproject.toml", &core("dynamic = [\"version\"]"))],
        expect![[r#"
            exit 1: warning: llama-index-core/pyproject.toml: its version cannot be read, so the commands that act on `llama-index-core` fail; `cargo xtask pkg version llama-index-core` says why
            error: llama-index-core/pyproject.toml: the version is dynamic (`dynamic = ["version"]`) and no source of it was found; tried `[tool.hatch.version]` (`path` or `source = "vcs"`), `[tool.setuptools.dynamic] version` (`attr` or `file`), `[tool.setuptools_scm]`, `[tool.pdm.version]` (`file` or `scm`), flit's `__version__`; configure one of them or write a static `version = "…"` in `[project]`
        "#]],
    );
    check(
        &[("llama-index-core/pyproject.toml", &core("version = \"fourteen\""))],
        expect![[r#"
            exit 1: error: 1 package cannot be read:
              llama-index-core/pyproject.toml: `fourteen` is not a PEP 440 version (expected something like `1.2.3`, `1.0rc1` or `2.0.post1`)
        "#]],
    );
    check(
        &[("release.toml", "[packages]\ncore = \"llama-index-kernel\"\n")],
        expect![[r#"
            exit 1: warning: package location `llama-index-kernel`: `llama-index-kernel` does not exist
            error: the core package `llama-index-kernel` has no pyproject.toml under [ROOT]; set `packages.core` in release.toml to its directory
        "#]],
    );
    let s = sample();
    let run = s.xtask(&["prepare", "--bump", "patch", "--version-type", "minor"]).fails_with(2);
    assert!(run.stderr.starts_with("error: give the bump kind once"), "{}", run.stderr);
    let run = s.xtask(&["prepare", "--bump", "tiny"]).fails_with(2);
    assert!(run.stderr.contains("`tiny` is not a bump kind: use `major`, `minor` or `patch`"), "{}", run.stderr);

    std::fs::remove_dir_all(s.root().join(".git")).unwrap();
    let before = [s.read("pyproject.toml"), s.read("llama-index-core/pyproject.toml")];
    let run = s.xtask(&["prepare", "--allow-dirty"]).fails_with(1);
    assert!(
        run.stderr.contains("is not a git repository; pass --root with the path of the monorepo's checkout"),
        "{}",
        run.stderr
    );
    assert_eq!([s.read("pyproject.toml"), s.read("llama-index-core/pyproject.toml")], before);
}

/// Package files of the shapes the real monorepo has, for the wave: `(path, text)`.
fn wave_files() -> Vec<(&'static str, String)> {
    let hatch = |name: &str, version: &str, deps: &str| {
        format!(
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"{name}\"\n\
             version = \"{version}\"\nrequires-python = \">=3.9,<4.0\"\ndependencies = [\n{deps}]\n"
        )
    };
    vec![
        // Three-part bound, as one real package had.
        (
            "llama-index-integrations/llms/llama-index-llms-openai/pyproject.toml",
            hatch("llama-index-llms-openai", "0.5.1", "    \"llama-index-core>=0.14.0,<0.15.0\",\n"),
        ),
        // Extras, marker and spacing as written, plus an optional dependency on core.
        (
            "llama-index-integrations/readers/llama-index-readers-openai/pyproject.toml",
            hatch(
                "llama-index-readers-openai",
                "0.1.0",
                "    'llama-index-core[openai] >= 0.14.0, < 0.15 ; python_version >= \"3.10\"',  # keep\n",
            ) + "\n[project.optional-dependencies]\nall = [\"llama-index-core>=0.14.0,<0.15\", \"requests\"]\n",
        ),
        // Already admits the next series: left alone.
        (
            "llama-index-integrations/retrievers/llama-index-retrievers-openai/pyproject.toml",
            hatch("llama-index-retrievers-openai", "0.2.6", "    \"llama-index-core>=0.14.0,<0.16\",\n"),
        ),
        // The legacy poetry table, a string and an inline table with extras and markers.
        (
            "llama-index-integrations/tools/llama-index-tools-openai-classic/pyproject.toml",
            "[build-system]\nrequires = [\"poetry-core>=1.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n\n\
             [tool.poetry]\nname = \"llama-index-tools-openai-classic\"\nversion = \"0.2.9\"\n\n\
             [tool.poetry.dependencies]\npython = \">=3.9,<4.0\"\nllama-index-core = \">=0.14.0,<0.15\"\n"
                .to_string(),
        ),
        (
            "llama-index-integrations/storage/kvstore/llama-index-storage-kvstore-openai/pyproject.toml",
            "[tool.poetry]\nname = \"llama-index-storage-kvstore-openai\"\nversion = \"0.1.8\"\n\n\
             [tool.poetry.dependencies]\npython = \">=3.9,<4.0\"\n\
             llama-index-core = { version = \">=0.14.0,<0.15\", extras = [\"x\"], markers = \"python_version >= '3.9'\" }\n"
                .to_string(),
        ),
    ]
}

fn commit_wave_files(s: &Sample) {
    let files = wave_files();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    commit_files(s, &refs);
}

#[test]
fn a_minor_release_widens_every_requirement_that_excludes_the_new_core() {
    let s = sample();
    commit_wave_files(&s);
    let dry = s.xtask(&["prepare", "--bump", "minor", "--dry-run"]).ok();
    let head: String = dry.stdout.lines().take_while(|l| !l.starts_with("---")).map(|l| format!("{l}\n")).collect();
    expect![[r#"
        Would bump llama-index (pyproject.toml) from 0.14.12 to 0.15.0
        Would bump llama-index-core (llama-index-core/pyproject.toml) from 0.14.12 to 0.15.0
        Would require `llama-index-core>=0.15.0,<0.16.0` in llama-index (was `llama-index-core>=0.14.12,<0.15.0`)
        Would widen the requirements of 17 packages that exclude the new versions (the compatibility wave):
          llama-index-cli 0.5.3 → 0.5.4: `llama-index-core>=0.14.0,<0.15` → `llama-index-core>=0.14.0,<0.16`
          llama-index-experimental 0.6.5 → 0.6.6: `llama-index-core>=0.14.0,<0.15` → `llama-index-core>=0.14.0,<0.16`
          llama-index-finetuning 0.4.2 → 0.4.3: `llama-index-core>=0.14.0,<0.15` → `llama-index-core>=0.14.0,<0.16`
          llama-index-integrations/embeddings/llama-index-embeddings-openai 0.6.1 → 0.6.2: `llama-index-core>=0.14.0,<0.15` → `llama-index-core>=0.14.0,<0.16`
          llama-index-integrations/llms/llama-index-llms-openai 0.5.1 → 0.5.2: `llama-index-core>=0.14.0,<0.15.0` → `llama-index-core>=0.14.0,<0.16.0`
          … and 12 more (`--json` lists every one)
    "#]]
    .assert_eq(&head);
    assert_eq!(dry.stdout.matches("\n--- a/").count(), 5, "the umbrella, core and 3 of the wave's diffs");
    assert!(dry.stdout.ends_with("… and 14 more files like these\n"), "{}", dry.stdout);

    let json = s.xtask(&["prepare", "--bump", "minor", "--dry-run", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let wave = v["wave"].as_array().unwrap();
    assert_eq!(wave.len(), 17);
    assert_eq!(v["files"].as_array().unwrap().len(), 19);
    let readers = wave.iter().find(|m| m["name"] == "llama-index-readers-openai").unwrap();
    expect![[r#"
        {
          "changelog": "Allow llama-index-core 0.15",
          "name": "llama-index-readers-openai",
          "new": "0.1.1",
          "old": "0.1.0",
          "path": "llama-index-integrations/readers/llama-index-readers-openai",
          "requirements": [
            {
              "new": "llama-index-core[openai] >= 0.14.0, < 0.16 ; python_version >= \"3.10\"",
              "old": "llama-index-core[openai] >= 0.14.0, < 0.15 ; python_version >= \"3.10\""
            },
            {
              "new": "llama-index-core>=0.14.0,<0.16",
              "old": "llama-index-core>=0.14.0,<0.15"
            }
          ]
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(readers).unwrap());
    assert!(!wave.iter().any(|m| m["name"] == "llama-index-retrievers-openai"), "already allowed: left alone");

    let run = s.xtask(&["prepare", "--bump", "minor"]).ok();
    assert!(run.stderr.contains("prepared release 0.15.0 (19 files changed)"), "{}", run.stderr);
    let files = wave_files();
    expect![[r#"
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "llama-index-readers-openai"
        version = "0.1.1"
        requires-python = ">=3.9,<4.0"
        dependencies = [
            'llama-index-core[openai] >= 0.14.0, < 0.16 ; python_version >= "3.10"',  # keep
        ]

        [project.optional-dependencies]
        all = ["llama-index-core>=0.14.0,<0.16", "requests"]
    "#]]
    .assert_eq(&s.read(files[1].0));
    expect![[r#"
        [build-system]
        requires = ["poetry-core>=1.0"]
        build-backend = "poetry.core.masonry.api"

        [tool.poetry]
        name = "llama-index-tools-openai-classic"
        version = "0.2.10"

        [tool.poetry.dependencies]
        python = ">=3.9,<4.0"
        llama-index-core = ">=0.14.0,<0.16"
    "#]]
    .assert_eq(&s.read(files[3].0));
    expect![[r#"
        [tool.poetry]
        name = "llama-index-storage-kvstore-openai"
        version = "0.1.9"

        [tool.poetry.dependencies]
        python = ">=3.9,<4.0"
        llama-index-core = { version = ">=0.14.0,<0.16", extras = ["x"], markers = "python_version >= '3.9'" }
    "#]]
    .assert_eq(&s.read(files[4].0));
    assert!(s.read(files[0].0).contains("\"llama-index-core>=0.14.0,<0.16.0\""));
    assert_eq!(s.read(files[2].0), files[2].1, "the package that already allowed 0.15 is untouched");
    // Every package now installs with the new core, and each one that changed has a new version.
    let check = s.xtask(&["check", "--bumps", "--base-ref", "HEAD"]).ok();
    assert!(check.stdout.contains("19 changed packages"), "{}", check.stdout);
}

#[test]
fn the_wave_follows_its_own_bumps_and_its_settings() {
    // A minor wave bump of embeddings excludes the vector store's `<0.7`, so the wave goes on.
    let s = sample();
    let store = "llama-index-integrations/vector_stores/llama-index-vector-stores-openai/pyproject.toml";
    let text = s
        .read(store)
        .replace("\"llama-index-embeddings-openai>=0.6.1\"", "\"llama-index-embeddings-openai>=0.6.1,<0.7\"");
    commit_files(&s, &[(store, &text), ("release.toml", "[wave]\nbump = \"minor\"\n")]);
    let v: serde_json::Value =
        serde_json::from_str(&s.xtask(&["prepare", "--bump", "minor", "--dry-run", "--json"]).ok().stdout).unwrap();
    let m = v["wave"].as_array().unwrap().iter().find(|m| m["name"] == "llama-index-vector-stores-openai").unwrap();
    expect![[r#"
        {
          "changelog": "Allow llama-index-core 0.15 and llama-index-embeddings-openai 0.7",
          "name": "llama-index-vector-stores-openai",
          "new": "0.6.0",
          "old": "0.5.3",
          "path": "llama-index-integrations/vector_stores/llama-index-vector-stores-openai",
          "requirements": [
            {
              "new": "llama-index-core>=0.14.0,<0.16",
              "old": "llama-index-core>=0.14.0,<0.15"
            },
            {
              "new": "llama-index-embeddings-openai>=0.6.1,<0.8",
              "old": "llama-index-embeddings-openai>=0.6.1,<0.7"
            }
          ]
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(m).unwrap());

    // No bump: the requirements are widened, the versions stay.
    commit_files(&s, &[("release.toml", "[wave]\nbump = \"none\"\n")]);
    let v: serde_json::Value =
        serde_json::from_str(&s.xtask(&["prepare", "--bump", "minor", "--dry-run", "--json"]).ok().stdout).unwrap();
    assert!(v["wave"].as_array().unwrap().iter().all(|m| m["old"] == m["new"]), "{v}");

    // No widening: only the umbrella and core change, and every package left behind is named.
    commit_files(&s, &[("release.toml", "[wave]\nwiden = false\n")]);
    let before = s.fingerprint();
    let run = s.xtask(&["prepare", "--bump", "minor", "--dry-run"]).ok();
    assert_eq!(run.stdout.matches("\n--- a/").count(), 2, "{}", run.stdout);
    assert!(run.stderr.contains("warning: `wave.widen` is off, so this package stays unable to install the release: llama-index-cli (llama-index-cli): Allow llama-index-core 0.15\n"), "{}", run.stderr);
    assert_eq!(run.stderr.matches("`wave.widen` is off").count(), 18);
    assert_eq!(s.fingerprint(), before);

    commit_files(&s, &[("release.toml", "[wave]\nbump = \"tiny\"\n")]);
    let run = s.xtask(&["prepare", "--bump", "minor", "--dry-run"]).fails_with(1);
    expect![[r#"
        error: [ROOT]/release.toml: `wave.bump`: `tiny` is not a bump kind: use `major`, `minor` or `patch`, or `none`
    "#]]
    .assert_eq(&run.stderr.replace(&s.root().display().to_string(), "[ROOT]"));
}

#[test]
fn a_requirement_the_wave_cannot_widen_stops_everything() {
    let check = |requirement: &str, want: Expect| {
        let s = sample();
        let path = "llama-index-utils/llama-index-utils-qianfan/pyproject.toml";
        let text = s.read(path).replace("\"llama-index-core>=0.14.0,<0.15\"", &format!("\"{requirement}\""));
        commit_files(&s, &[(path, &text)]);
        let before = s.fingerprint();
        let run = s.xtask(&["prepare", "--bump", "minor"]).fails_with(1);
        assert_eq!(s.fingerprint(), before, "nothing written");
        want.assert_eq(&run.stderr);
    };
    check(
        "llama-index-core==0.14.12",
        expect![[r#"
            error: nothing was changed, because:
              llama-index-utils/llama-index-utils-qianfan/pyproject.toml: the requirement `llama-index-core==0.14.12` on `llama-index-core`: `==0.14.12` excludes `0.15.0` by more than its upper bound; write it as `>=LOWER,<UPPER`, or allow `0.15.0` by hand
        "#]],
    );
    check(
        "llama-index-core>=0.14.0,<<0.15",
        expect![[r#"
            error: 1 package cannot be read:
              llama-index-utils/llama-index-utils-qianfan/pyproject.toml: `llama-index-core>=0.14.0,<<0.15`: `<<0.15` is not a version specifier: `<0.15` is not a PEP 440 version (expected something like `1.2.3`, `1.0rc1` or `2.0.post1`)
        "#]],
    );
}

#[test]
fn release_prepare_carries_the_wave_into_the_changelog_and_the_commit() {
    let s = sample();
    let args = ["release", "prepare", "--bump", "minor", "--offline", "--date", "2026-02-01"];
    // Edits without the commit first, as a run killed before committing leaves them.
    let run = s.xtask(&args).ok();
    assert!(
        run.stdout
            .contains("requirement `llama-index-core>=0.15.0,<0.16.0`, and the compatibility wave in 18 packages"),
        "{}",
        run.stdout
    );
    assert_eq!(s.git(&["status", "--porcelain"]).lines().count(), 21, "20 pyproject.toml files and the changelog");
    let changelog = s.read("CHANGELOG.md");
    let block = changelog.split("### Compatibility\n\n").nth(1).unwrap().split("\n\n").next().unwrap();
    assert_eq!(block.lines().count(), 18, "{block}");
    expect![[r#"
        - llama-index-cli [0.5.4]: Allow llama-index-core 0.15
        - llama-index-experimental [0.6.6]: Allow llama-index-core 0.15"#]]
    .assert_eq(&block.lines().take(2).collect::<Vec<_>>().join("\n"));

    // The rerun finds the bump and the changelog done, and commits every file the wave edited.
    let run = s.xtask(&[&args[..], &["--commit", "--allow-dirty"]].concat()).ok();
    assert!(run.stderr.contains("committed Release 0.15.0"), "{}", run.stderr);
    assert_eq!(s.git(&["status", "--porcelain"]), "", "nothing left behind");
    let files = s.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.lines().count(), 21, "{files}");
    assert_eq!(s.read("CHANGELOG.md"), changelog, "the section is not written twice");
}

/// A minimal hatchling package.
fn bare(name: &str, version: &str, deps: &str, sources: &str) -> String {
    format!(
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"{name}\"\n\
         version = \"{version}\"\nrequires-python = \">=3.9\"\ndependencies = [{deps}]\n\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"src\"]\n{sources}"
    )
}

const CORE_SOURCE: &str = "\n[tool.uv.sources]\nllama-index-core = { path = \"../llama-index-core\" }\n";

/// Small packages that resolve from the monorepo alone, so that `uv lock` needs no index, and
/// a configuration that takes only them as packages.
fn lockable_files() -> Vec<(String, String)> {
    vec![
        (
            "release.toml".to_string(),
            "[packages]\ninclude = [\"llama-index-core\", \"llama-index-cli\", \"llama-index-finetuning\"]\n"
                .to_string(),
        ),
        ("llama-index-core/pyproject.toml".to_string(), bare("llama-index-core", "0.14.12", "", "")),
        (
            "pyproject.toml".to_string(),
            bare(
                "llama-index",
                "0.14.12",
                "\"llama-index-core>=0.14.12,<0.15.0\"",
                "\n[tool.uv.sources]\nllama-index-core = { path = \"llama-index-core\" }\n",
            ),
        ),
        (
            "llama-index-cli/pyproject.toml".to_string(),
            bare("llama-index-cli", "0.5.3", "\"llama-index-core>=0.14.0,<0.15\"", CORE_SOURCE),
        ),
    ]
}

#[test]
fn lock_runs_uv_lock_in_every_rewritten_package() {
    let s = sample();
    let mut files = lockable_files();
    // This one needs a project no index has: its lock fails, and is reported.
    files.push((
        "llama-index-finetuning/pyproject.toml".to_string(),
        bare(
            "llama-index-finetuning",
            "0.4.2",
            "\"llama-index-core>=0.14.0,<0.15\", \"not-on-any-index-xyz\"",
            CORE_SOURCE,
        ),
    ));
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    commit_files(&s, &refs);
    support::tool("uv");
    let cache = s.dir.path().join("uv-cache");
    let env = [("UV_OFFLINE", "1"), ("UV_CACHE_DIR", cache.to_str().unwrap())];
    let run = s.xtask_env(&["prepare", "--bump", "minor", "--lock"], &env).fails_with(1);
    assert!(run.stderr.contains("      locked llama-index-cli ("), "{}", run.stderr);
    assert!(run.stderr.contains("      locked . ("), "{}", run.stderr);
    assert!(run.stderr.contains("      failed `uv lock` in llama-index-finetuning ("), "{}", run.stderr);
    assert!(run.stderr.contains("not-on-any-index-xyz"), "{}", run.stderr);
    assert!(run.stderr.contains("error: `uv lock` failed in 1 of "), "{}", run.stderr);
    assert!(run.stderr.contains("`cargo xtask pkg exec llama-index-finetuning -- uv lock`"), "{}", run.stderr);
    assert!(s.read("llama-index-cli/uv.lock").contains("name = \"llama-index-core\"\nversion = \"0.15.0\""));
    assert!(s.read("llama-index-cli/pyproject.toml").contains("\"llama-index-core>=0.14.0,<0.16\""));
}

#[test]
fn the_wave_leaves_what_this_release_did_not_break() {
    // A requirement that excluded core's current version already is not this release's doing:
    // left alone (`check --bumps` reports it), in a patch release and in a minor one.
    let s = sample();
    let path = "llama-index-utils/llama-index-utils-workflow/pyproject.toml";
    let text = s.read(path).replace("\"llama-index-core>=0.14.0,<0.15\"", "\"llama-index-core>=0.13.0,<0.14\"");
    commit_files(&s, &[(path, &text)]);
    let run = s.xtask(&["prepare", "--dry-run"]).ok();
    assert_eq!(run.stdout.matches("\n--- a/").count(), 2, "a patch release: the umbrella and core only");
    let v: serde_json::Value =
        serde_json::from_str(&s.xtask(&["prepare", "--bump", "minor", "--dry-run", "--json"]).ok().stdout).unwrap();
    let wave = v["wave"].as_array().unwrap();
    assert_eq!(wave.len(), 17);
    assert!(!wave.iter().any(|m| m["path"] == "llama-index-utils/llama-index-utils-workflow"), "{v}");
}

#[test]
fn release_prepare_lock_commits_the_locks() {
    let s = sample();
    let mut files = lockable_files();
    // Lock files are committed in the real monorepo (the sample ignores them).
    files.push((".gitignore".to_string(), s.read(".gitignore").replace("uv.lock\n", "")));
    files[0].1 = "[packages]\ninclude = [\"llama-index-core\", \"llama-index-cli\"]\n".to_string();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    commit_files(&s, &refs);
    support::tool("uv");
    let args = ["release", "prepare", "--bump", "minor", "--offline", "--commit", "--lock", "--date", "2026-02-01"];
    let cache = s.dir.path().join("uv-cache");
    let run = s.xtask_env(&args, &[("UV_OFFLINE", "1"), ("UV_CACHE_DIR", cache.to_str().unwrap())]).ok();
    assert!(run.stdout.contains(", then `uv lock` in each package"), "{}", run.stdout);
    let committed = s.git(&["show", "--name-only", "--format=", "HEAD"]);
    for lock in ["uv.lock", "llama-index-cli/uv.lock", "llama-index-core/uv.lock"] {
        assert!(committed.lines().any(|l| l == lock), "{lock} in {committed}");
    }
    assert_eq!(s.git(&["status", "--porcelain"]), "", "nothing left behind");
}
