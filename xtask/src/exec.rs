//! The process edge: the only module that starts child processes ([`Cmd`], in `exec/command.rs`;
//! [`Cmd::watched`] for hooks, in `exec/watch.rs`), the one list of credential variables and the
//! store that holds them (`exec/secrets.rs`), and where the tools are. No child inherits a credential: a call site asks for one by name.

mod command;
pub mod secrets;
mod watch;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

pub use command::{Cmd, Piped};
pub use secrets::redact;
pub use watch::{heartbeat, Ended, Watch, Watched};

/// Where `scripts/bootstrap.sh` installs the pinned tools: `$XTASK_TOOLS_DIR`, else
/// `target/tools` in the workspace that built this binary.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("XTASK_TOOLS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools"),
    }
}

/// A program by name: the bootstrapped one when present, else the first on `PATH`.
pub fn find(name: &str) -> Option<PathBuf> {
    let local = tools_dir().join("bin").join(name);
    if local.is_file() {
        return Some(local);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Like [`find`], but a missing program, or one older than the xtask needs, is an error that
/// says how to get it, before anything runs.
pub fn require(name: &str, purpose: &str) -> Result<PathBuf> {
    let path = find(name).with_context(|| {
        format!("`{name}` is required {purpose}; run `scripts/bootstrap.sh` to install the pinned tools, or put `{name}` on PATH")
    })?;
    // Once per tool and process: a release runs `gh` many times.
    static CHECKED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let checked = |path: &PathBuf| CHECKED.lock().is_ok_and(|c| c.contains(path));
    if let Some(&(_, minimum, why)) = MINIMUM_VERSIONS.iter().find(|(tool, _, _)| *tool == name && !checked(&path)) {
        let output = Cmd::new(&path).arg("--version").output()?;
        check_version(name, &path, &output.stdout_lossy(), minimum, why)?;
        if let Ok(mut c) = CHECKED.lock() {
            c.push(path.clone());
        }
    }
    Ok(path)
}

/// The oldest versions of the tools whose features the xtask uses, and the feature.
const MINIMUM_VERSIONS: &[(&str, &str, &str)] =
    &[("uv", "0.4.16", "`uv build` and `uv publish`"), ("gh", "2.0.0", "`gh release` and `gh pr` with `--json`")];

/// `output` is what `path --version` printed (`uv 0.9.30 (…)`, `gh version 2.83.2 (…)`).
fn check_version(name: &str, path: &std::path::Path, output: &str, minimum: &str, why: &str) -> Result<()> {
    let minimum = semver::Version::parse(minimum).expect("the minimum versions are valid");
    let first_line = output.lines().next().unwrap_or("").trim();
    let found =
        first_line.split_whitespace().find_map(|word| semver::Version::parse(word.trim_start_matches('v')).ok());
    let Some(found) = found else {
        bail!(
            "`{} --version` printed `{first_line}`, which has no version; the xtask needs `{name}` {minimum} or newer \
             ({why}): run `scripts/bootstrap.sh` to install the pinned tools",
            path.display()
        );
    };
    if found < minimum {
        bail!(
            "`{name}` {found} at {} is too old: the xtask needs {minimum} or newer ({why}); run \
             `scripts/bootstrap.sh` to install the pinned tools, or upgrade it",
            path.display()
        );
    }
    Ok(())
}

/// What a child printed, stdout and stderr merged in the order it wrote them (redacted), and
/// whether it exited with success.
pub struct Captured {
    pub ok: bool,
    pub text: String,
}

/// An exit status for people: `exit code 3`, or `killed by signal 9` on unix.
pub fn describe(status: std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return format!("killed by signal {signal}");
    }
    status.to_string()
}

/// The last `n` non-blank lines of a child's output, indented, for an error message.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_versions_are_checked() {
        let path = std::path::Path::new("bin/uv");
        let check = |output: &str| check_version("uv", path, output, "0.4.16", "`uv publish`");
        assert!(check("uv 0.9.30 (e1b2a3c 2026-01-01)\n").is_ok());
        assert!(check("uv 0.4.16\n").is_ok());
        assert!(check("gh version 2.83.2 (2025-12-10)\nhttps://github.com/cli/cli/releases/tag/v2.83.2\n").is_ok());
        let err = |output: &str| check(output).unwrap_err().to_string();
        expect_test::expect!["`uv` 0.4.2 at bin/uv is too old: the xtask needs 0.4.16 or newer (`uv publish`); run `scripts/bootstrap.sh` to install the pinned tools, or upgrade it"].assert_eq(&err("uv 0.4.2\n"));
        expect_test::expect!["`bin/uv --version` printed `uv dev`, which has no version; the xtask needs `uv` 0.4.16 or newer (`uv publish`): run `scripts/bootstrap.sh` to install the pinned tools"].assert_eq(&err("uv dev\n"));
        for (_, minimum, _) in MINIMUM_VERSIONS {
            assert!(semver::Version::parse(minimum).is_ok(), "{minimum}");
        }
    }
}
