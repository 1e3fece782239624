//! Invariants of the source tree that the compiler does not check, as plain tests that read
//! the tree and name each offending `file:line` (rust-analyzer's `tidy.rs`): the process edge,
//! git in `git.rs`, threads, pauses, temporary directories and the clock only where
//! ARCHITECTURE.md says, flags typed once, `config` apart from `flags`, the public index named
//! once, no `unwrap` in the product, no allowance that hides dead code, a `//!` header on every
//! file.
//! Clippy's `disallowed-*` rules in `xtask/clippy.toml` say the same where clippy can see it.

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
fn config_never_reads_the_flags() {
    // `release.toml` raises usage errors through `usage`, not `flags`: the command line may
    // name the configuration's types (`config::Backend`), never the other way round.
    // Every spelling of the path: `crate::flags`, `flags::X`, and `flags` in a `use` list.
    let needles =
        [concat!("crate::", "flags"), concat!("flags", "::"), concat!("{", "flags"), concat!("flags", ","), "flags}"];
    let found = offenders(&product(), &needles, |name| name != "src/config.rs");
    assert!(found.is_empty(), "`config` must not import `flags`; raise `usage::usage`:\n{}", found.join("\n"));
}

#[test]
fn usage_is_not_re_exported() {
    // `usage` is a module of its own: nothing re-exports it, so every caller names one place.
    let needle = concat!("pub use crate::", "usage");
    let found = offenders(&product(), &[needle], |name| name == "src/lib.rs");
    assert!(
        found.is_empty(),
        "call `crate::usage::usage` where it is raised; do not re-export it:\n{}",
        found.join("\n")
    );
}

#[test]
fn tools_are_found_one_way() {
    // A program named in the code would bypass `exec::find` (`XTASK_<NAME>`, the bootstrapped
    // tools, `PATH`); git, which is not bootstrapped, is named once, in `git.rs`.
    let found = offenders(&product(), &[concat!("Cmd::new(", "\"")], |name| name == "src/git.rs");
    assert!(found.is_empty(), "run a tool by the path `exec::find` gives:\n{}", found.join("\n"));
}

#[test]
fn versions_are_written_by_bump_rs() {
    // `prepare` sets the umbrella's and core's `project.version` in the same edit as the
    // umbrella's requirement on core; every other version is written by `bump::version_edit`.
    let writers = ["src/bump.rs", "src/pyproject.rs", "src/prepare.rs"];
    let found = offenders(&product(), &[concat!("set_", "version(")], |name| writers.contains(&name));
    assert!(found.is_empty(), "write a package's version with `bump::version_edit`:\n{}", found.join("\n"));
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

/// The product's code: `src/` without its unit tests (`tests.rs` files, this file, and each
/// `#[cfg(test)] mod` to its closing brace), so that what tests do freely is not counted.
fn product() -> Vec<(String, String)> {
    let files = sources(Path::new("src")).into_iter();
    let files =
        files.filter(|(name, _)| !name.ends_with("/tests.rs") && !name.contains("/tests/") && name != "src/tidy.rs");
    files.map(|(name, text)| (name, without_tests(&text))).collect()
}

fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "#[cfg(test)]" {
            match lines.next() {
                Some(header) if header.starts_with("mod ") && header.ends_with('{') => {
                    // Up to the module's closing brace; the blank lines keep the numbering.
                    let skipped = lines.by_ref().take_while(|l| *l != "}").count();
                    out.push_str(&"\n".repeat(skipped + 3));
                    continue;
                }
                Some(header) => {
                    out.push_str(&format!("\n{}\n", if header.starts_with("mod ") { "" } else { header }));
                    continue;
                }
                None => break,
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn only_the_pool_starts_threads() {
    // `test.rs`: the progress clock, one thread that only prints, beside the pool.
    let needles = ["thread::spawn", "thread::scope", "thread::Builder"];
    let found = offenders(&product(), &needles, |name| name == "src/parallel.rs" || name == "src/test.rs");
    assert!(found.is_empty(), "threads start only in `parallel::map` and `parallel::join`:\n{}", found.join("\n"));
}

#[test]
fn only_the_retry_driver_pauses() {
    // The edge polls its children (an exit against a deadline, a hook's heartbeat): no retries.
    let allowed = |name: &str| name == "src/backoff.rs" || name.starts_with("src/exec/");
    let pauses = ["thread::sleep", "park_timeout", "recv_timeout"];
    let found = offenders(&product(), &pauses, allowed);
    assert!(found.is_empty(), "retries and waits pause through `backoff::retry`:\n{}", found.join("\n"));
}

#[test]
fn only_scratch_makes_temporary_directories() {
    // Unit tests included: their fixtures are removed on drop too, however the test ends.
    let needles = ["temp_dir()", concat!("temp", "file::"), concat!("temp", "dir(")];
    let allowed = |name: &str| name == "src/scratch.rs" || name == "src/tidy.rs";
    let found = offenders(&sources(Path::new("src")), &needles, allowed);
    assert!(found.is_empty(), "temporary directories come from `scratch::Scratch`:\n{}", found.join("\n"));
}

#[test]
fn the_clock_is_read_in_time_rs() {
    // `Instant` measures how long something took; the wall clock says when, and is read once.
    let needles = ["SystemTime::now", "UNIX_EPOCH"];
    let found = offenders(&product(), &needles, |name| name == "src/time.rs");
    assert!(found.is_empty(), "read the clock through `time::clock`, `now` or `nanos`:\n{}", found.join("\n"));
}

#[test]
fn durations_are_read_by_time_rs() {
    // A duration a person writes is read one way: `--wait` (`flags::Wait`), `release.toml`'s
    // timeouts and windows (`config`), `XTASK_HTTP_TIMEOUT` (`index`).
    let reads = ["src/flags.rs", "src/config.rs", "src/index.rs", "src/time.rs"];
    let found = offenders(&product(), &["parse_duration("], |name| reads.contains(&name));
    assert!(found.is_empty(), "take a `flags::Wait`, or read `release.toml` in `config`:\n{}", found.join("\n"));
}

/// The value type each kind of flag must have in the grammar, by a spelling of its name.
const TYPED_FLAGS: &[(&str, &str)] =
    &[("--wait ", ": Wait"), ("-j, --jobs ", ": Count"), (" url: ", ": Url"), ("--shard ", ": Shard")];

/// `flags.rs:line: text` for each flag of `grammar` that `TYPED_FLAGS` names with another type.
fn untyped_flags(grammar: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, line) in grammar.lines().enumerate() {
        let flag = line.trim_start();
        if !["optional ", "required ", "repeated "].iter().any(|k| flag.starts_with(k)) {
            continue;
        }
        if TYPED_FLAGS.iter().any(|(name, ty)| flag.contains(name) && !flag.ends_with(ty)) {
            found.push(format!("src/flags.rs:{}: {flag}", i + 1));
        }
    }
    found
}

#[test]
fn flags_are_typed_once() {
    let (_, text) = sources(Path::new("src")).into_iter().find(|(name, _)| name == "src/flags.rs").expect("flags.rs");
    let grammar = &text[..text.find("// generated start").unwrap_or(text.len())];
    let found = untyped_flags(grammar);
    let types = TYPED_FLAGS.iter().map(|(name, ty)| format!("`{}` {ty}", name.trim())).collect::<Vec<_>>();
    assert!(
        found.is_empty(),
        "a flag of these kinds has its one type, checked while parsing ({}):\n{}",
        types.join(", "),
        found.join("\n")
    );
    let bad = "        optional --wait duration: String\n        optional -j, --jobs n: Count\n";
    assert_eq!(untyped_flags(bad), ["src/flags.rs:1: optional --wait duration: String"]);
}

#[test]
fn the_public_index_is_named_once() {
    // Its host lives in `config.rs`'s default and nowhere else: not in tests, the stand-in or
    // the docs (which say "the public Python package index"), so nothing reaches it by accident.
    let host = concat!("pypi", ".org");
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(crate_dir).into_iter().filter_map(Result::ok) {
        let name = entry.path().strip_prefix(crate_dir).unwrap_or(entry.path()).to_string_lossy().replace('\\', "/");
        let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
        if name == "src/config.rs" || name.starts_with("target/") {
            continue;
        }
        found.extend(
            text.lines().enumerate().filter(|(_, l)| l.contains(host)).map(|(i, _)| format!("{name}:{}", i + 1)),
        );
    }
    assert!(
        found.is_empty(),
        "say \"the public Python package index\"; its URL is `config::PUBLIC_INDEX_URL`:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_product_never_unwraps() {
    // A user can cause almost any failure; what cannot fail says why with `expect`.
    let found = offenders(&product(), &[".unwrap()"], |_| false);
    assert!(
        found.is_empty(),
        "return an error that says what to do, or `expect` with the reason:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_dead_code_is_hidden() {
    // xflags' generated block carries its own allowances for the parsers we do not call.
    let needles: Vec<String> = ["allow", "expect"]
        .iter()
        .flat_map(|attr| ["dead_code", "unused"].map(|lint| format!("{attr}({lint}")))
        .collect();
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let mut files = Vec::new();
    for dir in ["src", "tests", "standin"] {
        for (name, text) in sources(Path::new(dir)) {
            let text = match (text.find("// generated start"), text.find("// generated end")) {
                (Some(start), Some(end)) => format!("{}{}", &text[..start], &text[end..]),
                _ => text,
            };
            files.push((name, text));
        }
    }
    let found = offenders(&files, &needles, |_| false);
    assert!(found.is_empty(), "delete dead code rather than allow it:\n{}", found.join("\n"));
}

#[test]
fn every_file_says_what_it_is() {
    let mut found = Vec::new();
    for dir in ["src", "tests", "standin"] {
        found.extend(sources(Path::new(dir)).into_iter().filter(|(_, text)| !text.starts_with("//!")).map(|(n, _)| n));
    }
    assert!(found.is_empty(), "begin each file with a `//!` header:\n{}", found.join("\n"));
}

#[test]
fn the_product_is_read_without_its_tests() {
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { x.unwrap(); }\n}\nfn c() { y.unwrap(); }\n";
    let found = offenders(&[("src/a.rs".to_string(), without_tests(text))], &[".unwrap()"], |_| false);
    assert_eq!(found, ["src/a.rs:6: fn c() { y.unwrap(); }"]);
}
