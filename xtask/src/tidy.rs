//! Invariants of the source tree that the compiler does not check, as plain tests that read
//! the tree and name each offending `file:line` (rust-analyzer's `tidy.rs`). Clippy's
//! `disallowed-*` rules in `clippy.toml` say the same where clippy can see it.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted, with its path relative to the crate.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(crate_dir.join(dir))
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let name = p.strip_prefix(crate_dir).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            (name, text)
        })
        .collect()
}

/// `file:line: text` for each line of the non-test code of `files` (comments left out) that
/// contains one of `needles`, unless `allowed` says the file may.
fn offenders(files: &[(String, String)], needles: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for (name, text) in files.iter().filter(|(name, _)| !allowed(name)) {
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if needles.iter().any(|n| code.contains(n)) {
                found.push(format!("{name}:{}: {}", i + 1, code));
            }
        }
    }
    found
}

/// The spellings of starting a child process other than the edge's [`crate::exec::Cmd`]. Built
/// with `concat!` so that this file does not name them itself.
const SPAWNS: &[&str] = &[
    concat!("process::", "Command"),
    concat!("Command", "::new"),
    concat!("Command", "}"),
    concat!("Command", ","),
    concat!("duct", "::"),
    concat!("cmd", "!("),
    concat!("xshell::", "cmd"),
    concat!(".cmd", "("),
    concat!("Shell::", "cmd"),
    concat!("os::unix::process::", "CommandExt"),
];

#[test]
fn only_the_edge_spawns_processes() {
    let edge = |name: &str| name == "src/exec.rs" || name.starts_with("src/exec/");
    let found = offenders(&sources(Path::new("src")), SPAWNS, |name| edge(name) || name.starts_with("src/bin/"));
    assert!(
        found.is_empty(),
        "only `xtask/src/exec.rs` and `xtask/src/exec/` start child processes (through `exec::Cmd`, which \
         builds each child's environment without credentials); move these to it:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_git_rs_runs_git() {
    let needle = concat!("Cmd::new(\"", "git\")");
    let found = offenders(&sources(Path::new("src")), &[needle], |name| name == "src/git.rs");
    assert!(found.is_empty(), "only `xtask/src/git.rs` runs git; add a function there:\n{}", found.join("\n"));
}

#[test]
fn the_rules_find_what_they_forbid() {
    let files = vec![
        ("src/a.rs".to_string(), format!("// {}\nlet c = std::{}::new(\"x\");\n", SPAWNS[0], SPAWNS[0])),
        ("src/exec.rs".to_string(), format!("let c = std::{}::new(\"x\");\n", SPAWNS[0])),
    ];
    let found = offenders(&files, SPAWNS, |name| name == "src/exec.rs");
    assert_eq!(found, [format!("src/a.rs:2: let c = std::{}::new(\"x\");", SPAWNS[0])]);
}
