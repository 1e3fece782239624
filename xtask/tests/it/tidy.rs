//! The invariants of ARCHITECTURE.md that clippy cannot check (as rust-analyzer's `tidy`): the
//! product's sources, read as text, start threads, pause and make temporary directories only
//! where the invariants say, never `unwrap`, hide no dead code, and each file says what it is. `xtask/clippy.toml` holds the
//! rules clippy can check; together they fail the suite when a new site appears.

use std::path::{Path, PathBuf};

/// The xtask's crate directory.
fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as paths relative to the crate directory, sorted.
fn rust_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path.strip_prefix(crate_dir()).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The product's code: each file of `src/` with its unit tests cut out (`tests.rs` files, and a
/// `#[cfg(test)]` module to its closing brace), so that what tests do freely is not counted.
fn product() -> Vec<(String, String)> {
    let files = rust_files(&crate_dir().join("src"));
    let files = files.into_iter().filter(|f| !f.ends_with("/tests.rs") && !f.contains("/tests/"));
    files.map(|f| (f.clone(), without_tests(&std::fs::read_to_string(crate_dir().join(&f)).unwrap()))).collect()
}

fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "#[cfg(test)]" && lines.peek().is_some_and(|next| next.starts_with("mod ")) {
            let header = lines.next().unwrap_or_default();
            if header.ends_with('{') {
                lines.by_ref().find(|l| *l == "}");
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The `file:line: text` of each line of the product that contains one of `needles`, outside
/// the files in `allowed`.
fn sites(needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (file, text) in product() {
        if allowed.contains(&file.as_str()) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) && !line.trim_start().starts_with("//") {
                found.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn only_the_pool_starts_threads() {
    // `test.rs`: the progress clock, one thread that only prints, beside the pool.
    let found = sites(&["thread::spawn", "thread::scope", "thread::Builder"], &["src/parallel.rs", "src/test.rs"]);
    assert!(found.is_empty(), "threads start only in `parallel::map` and `parallel::join`:\n{}", found.join("\n"));
}

#[test]
fn only_the_retry_driver_pauses() {
    // `exec.rs`: a poll of a child's exit against its deadline, which is no retry.
    let found = sites(&["thread::sleep"], &["src/backoff.rs", "src/exec.rs"]);
    assert!(found.is_empty(), "retries and waits pause through `backoff::retry`:\n{}", found.join("\n"));
}

#[test]
fn only_scratch_makes_temporary_directories() {
    let found = sites(&["temp_dir()"], &["src/scratch.rs"]);
    assert!(found.is_empty(), "temporary directories come from `scratch::Scratch`:\n{}", found.join("\n"));
}

#[test]
fn the_product_never_unwraps() {
    // A user can cause almost any failure; what cannot fail says why with `expect`.
    let found = sites(&[".unwrap()"], &[]);
    assert!(
        found.is_empty(),
        "return an error that says what to do, or `expect` with the reason:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_dead_code_is_hidden() {
    // xflags' generated block carries its own allowances for the parsers we do not call.
    let mut found = Vec::new();
    for dir in ["src", "tests", "standin"] {
        for file in rust_files(&crate_dir().join(dir)) {
            let text = std::fs::read_to_string(crate_dir().join(&file)).unwrap();
            let text = match (text.find("// generated start"), text.find("// generated end")) {
                (Some(start), Some(end)) => format!("{}{}", &text[..start], &text[end..]),
                _ => text,
            };
            for (n, line) in text.lines().enumerate() {
                let allows = ["dead_code", "unused"].iter().any(|lint| line.contains(&format!("allow({lint}")));
                if allows {
                    found.push(format!("{file}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "delete dead code rather than allow it:\n{}", found.join("\n"));
}

#[test]
fn every_file_says_what_it_is() {
    let mut found = Vec::new();
    for dir in ["src", "tests", "standin"] {
        for file in rust_files(&crate_dir().join(dir)) {
            let text = std::fs::read_to_string(crate_dir().join(&file)).unwrap();
            if !text.starts_with("//!") {
                found.push(file);
            }
        }
    }
    assert!(found.is_empty(), "begin each file with a `//!` header:\n{}", found.join("\n"));
}
