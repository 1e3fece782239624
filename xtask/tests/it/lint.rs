//! `cargo xtask fmt` and `cargo xtask lint`: the monorepo's pre-commit hooks, run through uv.

use crate::support;

use support::Sample;

const CONFIG: &str = r#"repos:
  - repo: local
    hooks:
      - id: whitespace-format
        name: strip trailing whitespace
        language: system
        entry: sh -c 'for f in "$@"; do sed -i "s/[[:space:]]*$//" "$f"; done' --
        files: \.md$
      - id: no-todo
        name: no TODO markers
        language: pygrep
        entry: 'TODO'
        exclude: ^\.pre-commit-config\.yaml$
"#;

#[test]
fn fmt_runs_formatters_and_lint_runs_every_hook() {
    let s = Sample::new(20, 0);
    s.write(".pre-commit-config.yaml", CONFIG);
    s.write("docs/index.md", "# Docs   \n");
    support::commit_all(&s.root(), "Add hooks");

    // The formatter fixes the file and reports that it changed something.
    let out = s.xtask(&["fmt"]).fails_with(1);
    assert!(out.stderr.contains("hooks failed or changed files: whitespace-format"), "{}", out.stderr);
    assert_eq!(s.read("docs/index.md"), "# Docs\n");
    support::commit_all(&s.root(), "Format");
    s.xtask(&["fmt"]).ok();
    s.xtask(&["lint"]).ok();

    // The linter finds what the formatter does not look at.
    s.write("docs/index.md", "# Docs\nTODO: write them\n");
    let out = s.xtask(&["lint"]).fails_with(1);
    // The hook's own finding, streamed through, and the hook named as failed.
    assert!(
        out.stdout.contains("- hook id: no-todo") && out.stdout.contains("docs/index.md:2:TODO: write them"),
        "{}{}",
        out.stdout,
        out.stderr
    );

    std::fs::remove_file(s.root().join(".pre-commit-config.yaml")).unwrap();
    let out = s.xtask(&["lint"]).fails_with(1);
    assert!(out.stderr.contains(".pre-commit-config.yaml not found"), "{}", out.stderr);
}

#[test]
fn the_pre_commit_that_the_monorepo_pins_is_used() {
    let s = Sample::new(20, 0);
    // LlamaIndex pins pre-commit in the umbrella's `dev` dependency group.
    let umbrella = s.read("pyproject.toml");
    s.write(
        "pyproject.toml",
        &format!("{umbrella}\n[dependency-groups]\ndev = [\"ruff==0.11.11\", \"pre-commit==3.2.0\"]\n"),
    );
    // A config that needs a newer pre-commit than the pin: only the pinned one refuses it.
    s.write(".pre-commit-config.yaml", &format!("minimum_pre_commit_version: '4.0.0'\n{CONFIG}"));
    support::commit_all(&s.root(), "Pin pre-commit");
    let out = s.xtask(&["lint"]).fails_with(1);
    assert!(out.stderr.contains("with pre-commit==3.2.0 (pyproject.toml `dependency-groups.dev`)"), "{}", out.stderr);
    assert!(out.stderr.contains("pre-commit could not install the hooks"), "{}", out.stderr);
    assert!(out.stderr.contains("3.2.0"), "{}", out.stderr);
    assert!(!out.stderr.contains("hooks failed or changed files"), "{}", out.stderr);
}

#[test]
fn unreachable_hook_repositories_are_said_plainly() {
    let s = Sample::new(20, 0);
    let unreachable = "https://127.0.0.1:9/pre-commit/pre-commit-hooks";
    s.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {unreachable}\n    rev: v4.5.0\n    hooks:\n      - id: trailing-whitespace-format\n"
        ),
    );
    support::commit_all(&s.root(), "Add a remote hook");
    for command in ["fmt", "lint"] {
        let out = s.xtask(&[command]).fails_with(1);
        assert!(
            out.stderr
                .contains(&format!("cannot fetch the hook repositories of .pre-commit-config.yaml ({unreachable})")),
            "{command}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("fatal: unable to access"), "git's reason: {}", out.stderr);
        assert!(!out.stderr.contains("hooks failed or changed files"), "{}", out.stderr);
    }
}
