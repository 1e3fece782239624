//! `cargo xtask fmt` and `cargo xtask lint`: the monorepo's pre-commit hooks, run through uv.

mod support;

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
