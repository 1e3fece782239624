//! The foundation's commands against generated monorepos: `sample`, `pkg info`, `pkg version`,
//! `pkg changed`, `pkg bump`, `pkg exec`, and the errors a user can cause.

use crate::support;

use expect_test::expect;
use support::{Sample, TempDir};

#[test]
fn sample_has_the_llama_index_shape() {
    let s = Sample::new(40, 30);
    let info = s.xtask(&["pkg", "info", "--all", "--json"]).ok();
    assert!(info.stderr.is_empty(), "no warnings for the default layout: {}", info.stderr);
    let list: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 41, "40 packages and the umbrella");
    let path_of = |name: &str| list.iter().find(|p| p["name"] == name).map(|p| p["path"].as_str().unwrap().to_string());
    assert_eq!(path_of("llama-index").as_deref(), Some("."));
    assert_eq!(path_of("llama-index-core").as_deref(), Some("llama-index-core"));
    // Directory names that differ from project.name, nested storage packages, packs and utils.
    assert_eq!(
        path_of("llama-index-vector-stores-volcengine-mysql").as_deref(),
        Some("llama-index-integrations/vector_stores/llama-index-vector-stores-volcenginemysql")
    );
    assert!(list.iter().any(|p| p["path"].as_str().unwrap().starts_with("llama-index-integrations/storage/docstore/")));
    assert!(list.iter().any(|p| p["path"].as_str().unwrap().starts_with("llama-index-packs/")));
    assert!(list.iter().any(|p| p["path"].as_str().unwrap().starts_with("llama-index-utils/")));
    // Sorted by path, deterministic.
    let paths: Vec<&str> = list.iter().map(|p| p["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    // Tags, including a higher one that is not an ancestor of main.
    assert_eq!(s.git(&["tag"]), "v0.14.10\nv0.14.12\nv0.15.0rc1");
    let ancestor = std::process::Command::new("git")
        .args(["merge-base", "--is-ancestor", "v0.15.0rc1", "HEAD"])
        .current_dir(s.root())
        .status()
        .unwrap();
    assert!(!ancestor.success(), "v0.15.0rc1 is on a side branch");
    let log = s.git(&["log", "--format=%s", "v0.14.12..HEAD"]);
    assert_eq!(log.lines().count(), 30);
    assert!(log.lines().any(|l| l.starts_with("Revert \"")), "a revert without a ref");
    assert!(log.lines().any(|l| l.ends_with(")") && l.matches("(#").count() == 2), "two refs in a subject");
    assert!(log.lines().any(|l| !l.contains("(#")), "a direct push without a ref");
    // Same flags, same repository.
    let again = Sample::new(40, 30);
    assert_eq!(s.git(&["rev-parse", "HEAD"]), again.git(&["rev-parse", "HEAD"]));
}

#[test]
fn info_table_and_json() {
    let s = Sample::new(20, 5);
    let out = s.xtask(&["pkg", "info", "llama-index-core", ".", "llama-index-core/"]).ok();
    expect![[r#"
        Name              Version  Path
        llama-index       0.14.12  .
        llama-index-core  0.14.12  llama-index-core
    "#]]
    .assert_eq(&out.stdout);
    let out = s.xtask(&["pkg", "info", "--json", "llama-index-core"]).ok();
    expect![[r#"
        [
          {
            "name": "llama-index-core",
            "path": "llama-index-core",
            "version": "0.14.12"
          }
        ]
    "#]]
    .assert_eq(&out.stdout);
    assert_eq!(s.xtask(&["pkg", "version"]).ok().stdout, "0.14.12\n");
    assert_eq!(s.xtask(&["pkg", "version", "llama-index-core"]).ok().stdout, "0.14.12\n");
    // Long names are never truncated.
    let wide = s.xtask(&["pkg", "info", "--all"]).ok();
    let all: serde_json::Value =
        serde_json::from_str(&s.xtask(&["pkg", "info", "--all", "--json"]).ok().stdout).unwrap();
    for p in all.as_array().unwrap() {
        let row = format!("{}  ", p["name"].as_str().unwrap());
        assert!(wide.stdout.contains(&row) && wide.stdout.contains(p["path"].as_str().unwrap()), "{p} in full");
    }
    assert!(wide.stdout.lines().all(|l| l == l.trim_end()), "no trailing spaces");
}

#[test]
fn changed_packages_and_unowned_files() {
    let s = Sample::new(24, 0);
    s.write("llama-index-integrations/llms/llama-index-llms-openai/llama_index/llms/openai/base.py", "# changed\n");
    s.write("docs/new.md", "# new\n");
    support::commit_all(&s.root(), "Change an llm and the docs (#500)");
    let out = s.xtask(&["pkg", "changed", "--base-ref", "v0.14.12", "--dependants", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changed"][0]["name"], "llama-index-llms-openai");
    assert_eq!(v["changed"].as_array().unwrap().len(), 1);
    // The umbrella depends on the openai llm.
    assert_eq!(v["dependants"], serde_json::json!([{"name": "llama-index", "path": "."}]));
    assert_eq!(v["unowned_files"], serde_json::json!(["docs/new.md"]));
    let out = s.xtask(&["pkg", "changed", "--base-ref", "v0.14.12"]).ok();
    assert!(
        out.stderr.contains("1 changed file belong to no package: docs/new.md") || out.stderr.contains("docs/new.md")
    );

    let bad = s.xtask(&["pkg", "changed", "--base-ref", "no-such-ref"]).fails_with(1);
    assert!(bad.stderr.contains("`no-such-ref` is not a commit of this repository"), "{}", bad.stderr);
}

#[test]
fn bump_edits_only_the_version_and_dry_run_changes_nothing() {
    let s = Sample::new(20, 0);
    let core = "llama-index-core/pyproject.toml";
    let before = s.read(core);
    let fingerprint = s.fingerprint();
    let dry = s.xtask(&["pkg", "bump", "llama-index-core", "--version-type", "minor", "--dry-run"]).ok();
    assert_eq!(s.fingerprint(), fingerprint, "a dry run writes nothing");
    expect![[r#"
        Would bump llama-index-core (llama-index-core) from 0.14.12 to 0.15.0
        --- a/llama-index-core/pyproject.toml
        +++ b/llama-index-core/pyproject.toml
        @@ -4,7 +4,7 @@
         
         [project]
         name = "llama-index-core"
        -version = "0.14.12"
        +version = "0.15.0"
         description = "llama-index core integration"
         readme = "README.md"
         license = "MIT"
    "#]]
    .assert_eq(&dry.stdout);

    let real = s.xtask(&["pkg", "bump", "llama-index-core", "--bump", "minor"]).ok();
    assert_eq!(real.stdout, dry.stdout.replace("Would bump", "Bump"), "the real run prints the same plan");
    assert_eq!(s.read(core), before.replace("version = \"0.14.12\"", "version = \"0.15.0\""));
    assert_eq!(s.git(&["status", "--porcelain"]), " M llama-index-core/pyproject.toml");
}

#[test]
fn bump_validates_everything_before_writing() {
    let s = Sample::new(20, 0);
    s.write(
        "llama-index-utils/llama-index-utils-workflow/pyproject.toml",
        "[project]\nname = \"llama-index-utils-workflow\"\ndynamic = [\"version\"]\n",
    );
    support::commit_all(&s.root(), "Make a version dynamic");
    let fingerprint = s.fingerprint();
    let out = s.xtask(&["pkg", "bump", "--all"]).fails_with(1);
    expect![[r#"
        warning: llama-index-utils/llama-index-utils-workflow/pyproject.toml: its version cannot be read, so the commands that act on `llama-index-utils-workflow` fail; `cargo xtask pkg version llama-index-utils/llama-index-utils-workflow` says why
        error: nothing was bumped, because:
          llama-index-utils/llama-index-utils-workflow/pyproject.toml: the version is dynamic (`dynamic = ["version"]`) and no source of it was found; tried `[tool.hatch.version]` (`path` or `source = "vcs"`), `[tool.setuptools.dynamic] version` (`attr` or `file`), `[tool.setuptools_scm]`, `[tool.pdm.version]` (`file` or `scm`), flit's `__version__`; configure one of them or write a static `version = "…"` in `[project]`
    "#]]
    .assert_eq(&out.stderr);
    assert_eq!(s.fingerprint(), fingerprint);
}

#[test]
fn exec_runs_real_argv_in_each_package_and_fails_when_one_fails() {
    let s = Sample::new(20, 0);
    // Arguments with spaces survive as they are: no shell, no splitting.
    let out = s
        .xtask(&[
            "pkg",
            "exec",
            "llama-index-core",
            "llama-index-cli",
            "--",
            "sh",
            "-c",
            "printf '%s|' \"$0\" \"$(basename \"$PWD\")\"",
            "two  spaces",
        ])
        .ok();
    assert_eq!(out.stdout, "two  spaces|llama-index-cli|\ntwo  spaces|llama-index-core|\n");

    let out = s
        .xtask(&[
            "pkg",
            "exec",
            "--all",
            "-j",
            "2",
            "--",
            "sh",
            "-c",
            "test \"$(basename \"$PWD\")\" != llama-index-core",
        ])
        .fails_with(1);
    assert!(out.stderr.contains("failed in 1 of"), "{}", out.stderr);
    assert!(out.stderr.contains("failed `sh -c"), "{}", out.stderr);

    let out = s.xtask(&["pkg", "exec", "--all", "--fail-fast", "--", "false"]).fails_with(1);
    assert!(out.stderr.contains("`false` failed in 1 of 1 packages"), "{}", out.stderr);

    let out = s.xtask(&["pkg", "exec", "llama-index-core", "--", "no-such-program-xyz"]).fails_with(1);
    assert!(out.stdout.contains("cannot run `no-such-program-xyz`: not found on PATH"), "{}", out.stdout);
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn usage_errors_exit_2() {
    let s = Sample::new(20, 0);
    let out = s.xtask(&["pkg", "info"]).fails_with(2);
    assert!(out.stderr.contains("give package directories, or --all for every package"), "{}", out.stderr);
    let out = s.xtask(&["pkg", "exec", "--all"]).fails_with(2);
    assert!(out.stderr.contains("give the command after `--`"), "{}", out.stderr);
    let out = s.xtask(&["pkg", "bump", "--all", "--bump", "huge"]).fails_with(2);
    assert!(out.stderr.contains("`huge` is not a bump kind"), "{}", out.stderr);
    let out = s.xtask(&["test", "--shard", "5/4"]).fails_with(2);
    assert!(out.stderr.contains("`--shard 5/4` is not a shard: write K/N"), "{}", out.stderr);
    let out = s.xtask(&["pkg", "frobnicate"]).fails_with(2);
    assert!(out.stderr.contains("unexpected argument"), "{}", out.stderr);
    let out = s.xtask(&["--help"]).ok();
    assert!(out.stdout.contains("COMMANDS:"), "{}", out.stdout);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let s = Sample::new(20, 0);
    // A path that is not a package.
    let out = s.xtask(&["pkg", "info", "docs", "llama-index-packs"]).fails_with(1);
    assert!(out.stderr.contains("`docs` is not a package of this monorepo"), "{}", out.stderr);
    assert!(
        out.stderr.contains("`llama-index-packs` is not a package of this monorepo"),
        "both offenders: {}",
        out.stderr
    );
    // Malformed TOML, with file, line and column.
    s.write("llama-index-cli/pyproject.toml", "[project]\nname = \"llama-index-cli\"\nversion = 0.1.0\"\n");
    let out = s.xtask(&["pkg", "info", "--all"]).fails_with(1);
    assert!(out.stderr.contains("llama-index-cli/pyproject.toml:3:"), "{}", out.stderr);
    // Two packages with one normalised name.
    s.write("llama-index-cli/pyproject.toml", "[project]\nname = \"Llama_Index.Core\"\nversion = \"1.0\"\n");
    let out = s.xtask(&["pkg", "info", "--all"]).fails_with(1);
    assert!(
        out.stderr.contains("`llama-index-core` is the name of both `llama-index-cli` and `llama-index-core`"),
        "{}",
        out.stderr
    );
    // Not PEP 440; no `[project]`.
    s.write("llama-index-cli/pyproject.toml", "[project]\nname = \"llama-index-cli\"\nversion = \"latest\"\n");
    let out = s.xtask(&["pkg", "info", "--all"]).fails_with(1);
    assert!(out.stderr.contains("`latest` is not a PEP 440 version"), "{}", out.stderr);
    s.write("llama-index-cli/pyproject.toml", "[tool.ruff]\nline-length = 88\n");
    let out = s.xtask(&["pkg", "info", "--all"]).fails_with(1);
    assert!(out.stderr.contains("llama-index-cli/pyproject.toml: no `[project]` table"), "{}", out.stderr);
    {
        let run = &out;
        assert!(!run.stderr.contains("panicked") && !run.stderr.contains("backtrace"));
    }
    // A root that is not a git repository, for commands that need git.
    let plain = TempDir::new("plain");
    std::fs::write(plain.path().join("pyproject.toml"), "[project]\nname = \"x\"\nversion = \"1\"\n").unwrap();
    let out = support::command(support::xtask_bin())
        .args(["--root"])
        .arg(plain.path())
        .args(["pkg", "changed", "--base-ref", "main"])
        .output()
        .unwrap();
    let out = support::Run::from(out).fails_with(1);
    assert!(out.stderr.contains("is not a git repository; pass --root"), "{}", out.stderr);
    // A root that does not exist.
    let out = support::command(support::xtask_bin())
        .args(["--root", "/nonexistent/monorepo", "pkg", "info", "--all"])
        .output()
        .unwrap();
    let out = support::Run::from(out).fails_with(1);
    assert!(out.stderr.contains("does not exist; pass --root"), "{}", out.stderr);
}

#[test]
fn colors_only_when_wanted() {
    let s = Sample::new(20, 0);
    // Off a terminal, and with NO_COLOR, no escape codes; `--color always` forces them.
    let plain = s.xtask(&["pkg", "exec", "llama-index-core", "--", "true"]).ok();
    assert!(
        plain.stderr.contains("ok `true` in llama-index-core") && !plain.stderr.contains('\x1b'),
        "{:?}",
        plain.stderr
    );
    let colored = s.xtask(&["--color", "always", "pkg", "exec", "llama-index-core", "--", "true"]).ok();
    assert!(colored.stderr.contains("\x1b[1;32m"), "{:?}", colored.stderr);
    let never = s.xtask(&["--color", "never", "pkg", "info", "--bad-flag"]).fails_with(2);
    assert!(!never.stderr.contains('\x1b'));
    let out = s.xtask(&["--color", "sometimes", "pkg", "info", "--all"]).fails_with(2);
    assert!(out.stderr.contains("`sometimes` is not a color choice"), "{}", out.stderr);
}

#[test]
fn help_is_per_command_and_the_overview_lists_the_commands() {
    let s = Sample::new(20, 0);
    let exec = s.xtask(&["pkg", "exec", "--help"]).ok();
    assert!(exec.stdout.starts_with("cargo xtask pkg exec\n"), "{}", exec.stdout);
    assert!(exec.stdout.contains("--fail-fast") && !exec.stdout.contains("--changed-since"), "{}", exec.stdout);
    assert!(exec.stdout.lines().count() < 40, "one command's help, not the tree: {}", exec.stdout);
    let pkg = s.xtask(&["--root", ".", "pkg", "-h"]).ok();
    assert!(pkg.stdout.contains("cargo xtask pkg info\n") && pkg.stdout.contains("cargo xtask pkg exec\n"));
    assert!(!pkg.stdout.contains("cargo xtask publish"), "{}", pkg.stdout);
    let top = s.xtask(&["--help"]).ok();
    assert!(top.stdout.contains("COMMANDS:\n    pkg "), "{}", top.stdout);
    for command in ["pkg exec", "publish", "changelog notes", "release", "sample"] {
        assert!(top.stdout.contains(&format!("\n    {command} ")), "{command} in {}", top.stdout);
    }
    assert!(!top.stdout.contains("--fail-fast"), "flags are per command: {}", top.stdout);
    let release = s.xtask(&["release", "--help"]).ok();
    assert!(release.stdout.contains("on the branch checked out now; nothing is\n      pushed"), "{}", release.stdout);
    // A usage error points at the command's own help.
    let bad = s.xtask(&["pkg", "exec", "--bad"]).fails_with(2);
    assert!(bad.stderr.contains("Run `cargo xtask pkg exec --help`"), "{}", bad.stderr);
}

#[test]
fn zero_jobs_is_a_usage_error_everywhere() {
    let s = Sample::new(20, 0);
    for args in [
        &["pkg", "exec", "--all", "-j", "0", "--", "true"][..],
        &["publish", "--all", "--dry-run", "-j", "0"],
        &["release", "publish", "--dry-run", "--jobs", "0"],
        &["test", "-j", "0"],
    ] {
        let out = s.xtask(args).fails_with(2);
        assert!(out.stderr.contains("`0` would run nothing: give at least 1"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn a_bad_wait_is_a_usage_error_everywhere() {
    // `--wait` is typed once (`flags::Wait`): every command that waits refuses a bad value the
    // same way, naming the flag and the value, before it looks at anything.
    let s = Sample::new(20, 0);
    let fingerprint = s.fingerprint();
    for args in [
        &["check", "--wait", "5x"][..],
        &["publish", "--all", "--dry-run", "--wait", "5x"],
        &["release", "publish", "--dry-run", "--wait", "5x"],
        &["release", "--dry-run", "--wait", "5x"],
        &["verify", "--wait", "5x"],
    ] {
        let out = s.xtask(args).fails_with(2);
        let want = "error: can't parse `--wait`, `5x` is not a duration; write it like `30s`, `5m` or `1h`";
        assert!(out.stderr.starts_with(want), "{args:?}: {}", out.stderr);
    }
    assert_eq!(s.fingerprint(), fingerprint);
}

#[test]
fn exec_reports_each_childs_exit_status() {
    let s = Sample::new(20, 0);
    let out =
        s.xtask(&["pkg", "exec", "llama-index-core", "llama-index-cli", "--", "sh", "-c", "exit 3"]).fails_with(1);
    assert!(out.stderr.contains("failed `sh -c exit 3` in llama-index-cli (exit code 3)"), "{}", out.stderr);
    assert!(out.stderr.contains("failed `sh -c exit 3` in llama-index-core (exit code 3)"), "{}", out.stderr);
    let out = s.xtask(&["pkg", "exec", "llama-index-core", "--", "sh", "-c", "kill -9 $$"]).fails_with(1);
    assert!(out.stderr.contains("in llama-index-core (killed by signal 9)"), "{}", out.stderr);
    let out = s.xtask(&["pkg", "exec", "llama-index-core", "--", "true"]).ok();
    assert!(out.stderr.contains("ok `true` in llama-index-core (exit code 0)"), "{}", out.stderr);
}

#[test]
fn paths_that_leave_the_root_are_errors() {
    let s = Sample::new(20, 0);
    // `../<root name>/llama-index-core` used to be rewritten to `llama-index-core`.
    let name = s.root().file_name().unwrap().to_string_lossy().into_owned();
    let arg = format!("../{name}/llama-index-core");
    let out = s.xtask(&["pkg", "info", &arg]).fails_with(2);
    assert!(out.stderr.contains(&format!("the path `{arg}` leaves the monorepo's root")), "{}", out.stderr);
    let outside = std::env::temp_dir().join("llama-index-core").display().to_string();
    let out = s.xtask(&["pkg", "version", &outside]).fails_with(2);
    assert!(out.stderr.contains(&format!("the path `{outside}` leaves the monorepo's root")), "{}", out.stderr);
    let inside = s.root().join("llama-index-core").display().to_string();
    assert_eq!(s.xtask(&["pkg", "version", &inside]).ok().stdout, "0.14.12\n", "absolute paths inside the root");
    for (toml, key, value) in [
        ("[changelog]\nfile = \"/tmp/CHANGELOG.md\"\n", "`changelog.file` is", "/tmp/CHANGELOG.md"),
        ("[packages]\ncore = \"../llama-index-core\"\n", "`packages.core` is", "../llama-index-core"),
        ("[packages]\ninclude = [\"llama-index-core\", \"../*\"]\n", "`packages.include` has", "../*"),
    ] {
        s.write("release.toml", toml);
        let out = s.xtask(&["pkg", "info", "--all"]).fails_with(1);
        assert!(
            out.stderr.contains(&format!("release.toml: {key} `{value}`, which leaves the monorepo's root")),
            "{toml}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_root_without_the_umbrella_is_an_error() {
    let empty = TempDir::new("no-umbrella");
    std::fs::create_dir_all(empty.path().join("llama-index-core")).unwrap();
    let out = support::command(support::xtask_bin())
        .arg("--root")
        .arg(empty.path())
        .args(["pkg", "info", "--all"])
        .output()
        .unwrap();
    let out = support::Run::from(out).fails_with(1);
    assert!(
        out.stderr.contains("has no umbrella `pyproject.toml`; pass --root with the monorepo's root"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty() && !out.stderr.contains("warning"), "no empty table, no warnings: {out:?}");
}

#[test]
fn urls_are_checked_one_way_in_every_command() {
    let s = Sample::new(20, 0);
    let why = "is not a URL: it must start with `http://` or `https://`";
    for (args, flag) in [
        (&["publish", "--all", "--dry-run", "--index-url", "localhost:8080"][..], "--index-url"),
        (&["publish", "--all", "--dry-run", "--publish-url", "localhost:8080"], "--publish-url"),
        (&["check", "--index-url", "localhost:8080"], "--index-url"),
        (&["release", "prepare", "--dry-run", "--index-url", "localhost:8080"], "--index-url"),
        (&["release", "publish", "--dry-run", "--publish-url", "localhost:8080"], "--publish-url"),
        (&["verify", "--index-url", "localhost:8080"], "--index-url"),
    ] {
        let out = s.xtask(args).fails_with(2);
        assert!(
            out.stderr.contains(&format!("can't parse `{flag}`, `localhost:8080` {why}")),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = s.xtask(&["publish", "--all", "--dry-run", "--index-url", "http://:8080/"]).fails_with(2);
    assert!(out.stderr.contains("`http://:8080/` is not a URL: it has no host"), "{}", out.stderr);
    // The settings get the same check, and credentials in them are never printed.
    s.write("release.toml", "[index]\npublish-url = \"htps://user:hunter2@upload.example/\"\n");
    for args in [&["publish", "--all", "--dry-run"][..], &["check"], &["pkg", "info", "--all"]] {
        let out = s.xtask(args).fails_with(2);
        assert!(
            out.stderr
                .contains(&format!("release.toml: `index.publish-url`: `htps://[REDACTED]@upload.example/` {why}")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("hunter2"));
    }
    s.write(
        "release.toml",
        "[index.mirror]\nurl = \"ftp://mirror.example/pypi\"\npublish-url = \"https://mirror.example/\"\n",
    );
    let out = s.xtask(&["publish", "--all", "--dry-run", "--index", "mirror"]).fails_with(2);
    assert!(
        out.stderr.contains(&format!("release.toml: `index.mirror.url`: `ftp://mirror.example/pypi` {why}")),
        "{}",
        out.stderr
    );
}

#[test]
fn impossible_dates_are_rejected() {
    let s = Sample::new(20, 3);
    let fingerprint = s.fingerprint();
    for args in [
        &["changelog", "--date", "2026-02-31"][..],
        &["changelog", "--dry-run", "--offline", "--date", "2026-02-31"],
        &["release", "prepare", "--dry-run", "--offline", "--date", "2026-02-31"],
    ] {
        let out = s.xtask(args).fails_with(2);
        assert!(out.stderr.contains("`--date 2026-02-31` is not a date"), "{args:?}: {}", out.stderr);
    }
    assert_eq!(s.fingerprint(), fingerprint);
    s.xtask(&["changelog", "--dry-run", "--offline", "--date", "2024-02-29"]).ok();
}

#[test]
fn sample_force_replaces_only_a_generated_sample() {
    let tmp = TempDir::new("sample-force");
    let sample = |dir: &std::path::Path, extra: &[&str]| {
        let out = support::command(support::xtask_bin())
            .arg("sample")
            .arg(dir)
            .args(["--prs", "2"])
            .args(if extra.contains(&"--packages") { &[][..] } else { &["--packages", "20"] })
            .args(extra)
            .output()
            .unwrap();
        support::Run::from(out)
    };
    let mine = tmp.path().join("mine");
    std::fs::create_dir_all(mine.join(".git")).unwrap();
    std::fs::write(mine.join("precious.txt"), "keep me\n").unwrap();
    let out = sample(&mine, &["--force"]).fails_with(1);
    assert!(out.stderr.contains("was not generated by `cargo xtask sample`"), "{}", out.stderr);
    assert!(out.stderr.contains(&mine.display().to_string()), "names the directory: {}", out.stderr);
    assert_eq!(std::fs::read_to_string(mine.join("precious.txt")).unwrap(), "keep me\n");
    // A bad flag is found before anything is removed.
    let generated = tmp.path().join("generated");
    sample(&generated, &[]).ok();
    std::fs::write(generated.join("scratch.txt"), "x").unwrap();
    sample(&generated, &["--force", "--packages", "3"]).fails_with(1);
    assert!(generated.join("scratch.txt").is_file());
    sample(&generated, &["--force"]).ok();
    assert!(!generated.join("scratch.txt").exists() && generated.join("pyproject.toml").is_file());
    assert_eq!(support::git(&generated, &["status", "--porcelain"]), "", "the marker is not part of the sample");
}

#[test]
fn an_empty_table_says_that_it_is_empty() {
    let s = Sample::new(20, 0);
    let out = s.xtask(&["pkg", "changed", "--base-ref", "HEAD"]).ok();
    assert_eq!(out.stdout, "Name  Why  Path\n(none)\n");
}

#[test]
fn a_reverted_pull_request_leaves_the_changelog_with_its_revert() {
    let s = Sample::new(20, 0);
    let commit = |rel: &str, subject: &str| {
        let old = std::fs::read_to_string(s.root().join(rel)).unwrap_or_default();
        s.write(rel, &format!("{old}# {subject}\n"));
        support::commit_all(&s.root(), subject);
    };
    commit("llama-index-core/llama_index/core/a.py", "feat: streaming (#300)");
    commit("llama-index-core/llama_index/core/b.py", "feat: batching (#301)");
    commit("llama-index-cli/llama_index/cli/c.py", "fix: keep me (#303)");
    commit("llama-index-core/llama_index/core/a.py", "Revert \"feat: streaming (#300)\" (#302)");
    commit("llama-index-core/llama_index/core/b.py", "Revert \"feat: batching (#301)\"");
    let direct = s.git(&["rev-parse", "--short=10", "HEAD"]);
    let out = s.xtask(&["changelog", "--dry-run", "--offline", "--date", "2026-01-21"]).ok();
    assert!(
        out.stdout.contains("fix: keep me") && !out.stdout.contains("streaming") && !out.stdout.contains("batching")
    );
    assert!(!out.stdout.contains("llama-index-core ["), "core has no entries left: {}", out.stdout);
    let audit = out.stderr;
    assert!(audit.contains("5 commits, 1 pull request, 1 package"), "{audit}");
    assert!(
        audit.contains(&format!(
            "  2 pull requests reverted within the range (left out, with the revert): #301 (reverted by {direct}) #300 (reverted by #302)\n"
        )),
        "{audit}"
    );
    // Headings with nothing after them end without a colon.
    assert!(audit.contains("  0 commits without a pull request (not in the changelog)\n"), "{audit}");
    assert!(audit.contains("  0 pull requests touching no package (under \"Other changes\")\n"), "{audit}");
    assert!(audit.lines().all(|l| !l.trim_end().ends_with(':')), "no dangling colon: {audit}");
    let json = s.xtask(&["changelog", "--dry-run", "--offline", "--json", "--date", "2026-01-21"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["audit"]["reverted"][1]["number"], 300);
    assert_eq!(v["audit"]["reverted"][1]["reverted_by"]["pull_request"], 302);
    assert_eq!(v["audit"]["reverted"][0]["reverted_by"]["pull_request"], serde_json::Value::Null);
    assert_eq!(v["orphans"], serde_json::json!([]));
}

#[test]
fn help_into_a_closed_pipe_does_not_panic() {
    use std::process::Stdio;
    let mut child = support::command(support::xtask_bin())
        .arg("--help")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_zero_http_timeout_is_refused() {
    let s = Sample::new(20, 0);
    // Nothing listens on port 9: the check fails after its retries, having said why 0 is ignored.
    let out =
        s.xtask_env(&["check", "--index-url", "http://127.0.0.1:9"], &[("XTASK_HTTP_TIMEOUT", "0s")]).fails_with(1);
    assert!(out.stderr.contains("ignoring `XTASK_HTTP_TIMEOUT=0`: it would time out every request"), "{}", out.stderr);
}

#[test]
fn malformed_metadata_is_an_error_naming_the_file() {
    let s = Sample::new(20, 0);
    let path = "llama-index-cli/pyproject.toml";
    let original = s.read(path);
    // Each of these was read as "any version" (or ignored) before.
    let cases = [
        (
            "\"llama-index-core >= 0.14 garbage\"",
            "`llama-index-core >= 0.14 garbage`: `>= 0.14 garbage` is not a version specifier",
        ),
        ("\"llama-index-core >=0.14 <0.15\"", "`>=0.14 <0.15` is not a version specifier"),
        ("\"llama-index-core;\"", "has an empty environment marker"),
        ("\"-bad\"", "`-bad` is not a dependency"),
        ("\"llama-index-core==0.14rc1.*\"", "a `.*` wildcard must follow release numbers only"),
    ];
    for (dep, want) in cases {
        s.write(path, &original.replace("dependencies = [", &format!("dependencies = [{dep}, ")));
        let out = s.xtask(&["pkg", "info", "--all"]).fails_with(1);
        assert!(out.stderr.contains(&format!("{path}: ")) && out.stderr.contains(want), "{dep}: {}", out.stderr);
    }
    // An invalid requires-python stops `test` before anything runs, naming the file.
    let bad_python = original.replace("requires-python = \">=3.9,<4.0\"", "requires-python = \">=3.9,<\"");
    assert_ne!(bad_python, original, "the sample sets requires-python");
    s.write(path, &bad_python);
    let out = s.xtask(&["test", "llama-index-cli"]).fails_with(1);
    assert!(
        out.stderr.contains(&format!("{path}: `requires-python`: `<` is not a version specifier")),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unlistable_directory_is_an_error() {
    let s = Sample::new(20, 0);
    let llms = s.root().join("llama-index-integrations/llms");
    assert!(llms.is_dir());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&llms, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads any directory: run as `nobody` then, which the sample's 0755 tree lets in.
    let is_root = std::process::Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n");
    let mut cmd = if is_root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(support::xtask_bin());
        c
    } else {
        support::command(support::xtask_bin())
    };
    let out = cmd.arg("--root").arg(s.root()).args(["pkg", "info", "--all"]).env("NO_COLOR", "1").output().unwrap();
    std::fs::set_permissions(&llms, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = support::Run::from(out).fails_with(1);
    assert!(
        out.stderr
            .contains("cannot list `llama-index-integrations/llms` while looking for packages: Permission denied"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_too_old_tool_is_refused_up_front() {
    let s = Sample::new(20, 0);
    let tools = TempDir::new("old-tools");
    let bin = tools.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let uv = bin.join("uv");
    let ran = tools.path().join("ran");
    std::fs::write(
        &uv,
        format!("#!/bin/sh\n[ \"$1\" = --version ] && echo 'uv 0.3.0' && exit 0\ntouch {}\n", ran.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&uv, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tools_dir = tools.path().to_string_lossy().into_owned();
    let out = s.xtask_env(&["test", "llama-index-core"], &[("XTASK_TOOLS_DIR", &tools_dir)]).fails_with(1);
    let want = format!("`uv` 0.3.0 at {} is too old: the xtask needs 0.4.27 or newer", uv.display());
    assert!(out.stderr.contains(&want), "{}", out.stderr);
    assert!(out.stderr.contains("run `scripts/bootstrap.sh`"), "{}", out.stderr);
    assert!(!ran.exists(), "nothing but `uv --version` ran");
}
