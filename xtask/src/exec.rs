//! Running the outside world's programs: where the tools are, and commands whose errors carry
//! the child's stderr (xshell's errors do not).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use xshell::Cmd;

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
        let output = std::process::Command::new(&path)
            .arg("--version")
            .output()
            .with_context(|| format!("cannot run `{} --version`", path.display()))?;
        check_version(name, &path, &String::from_utf8_lossy(&output.stdout), minimum, why)?;
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

/// Runs `cmd` and returns its stdout without the trailing newline.
pub fn read(cmd: Cmd<'_>) -> Result<String> {
    let shown = cmd.to_string();
    let output = cmd.ignore_status().quiet().output().with_context(|| format!("cannot run `{shown}`"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("`{shown}` failed ({}):\n{}", output.status, stderr.trim_end());
    }
    let mut out = String::from_utf8(output.stdout).with_context(|| format!("`{shown}` printed invalid UTF-8"))?;
    while out.ends_with('\n') || out.ends_with('\r') {
        out.pop();
    }
    Ok(out)
}

/// Runs `cmd` for its effect; on failure the error carries its stderr.
pub fn run(cmd: Cmd<'_>) -> Result<()> {
    read(cmd).map(drop)
}

/// What a child printed, stdout and stderr merged in the order it wrote them, and whether it
/// exited with success.
pub struct Captured {
    pub ok: bool,
    pub text: String,
}

/// Runs `expr` with its stderr merged into its stdout and both captured. Only a child that cannot
/// start is an error here; a failed one is `ok: false`, its text for the caller to show.
pub fn capture(expr: duct::Expression) -> std::io::Result<Captured> {
    let (status, text) = capture_status(expr)?;
    Ok(Captured { ok: status.success(), text })
}

/// [`capture`], with the child's exit status, for a report that shows it.
pub fn capture_status(expr: duct::Expression) -> std::io::Result<(std::process::ExitStatus, String)> {
    let out = expr.stderr_to_stdout().stdout_capture().unchecked().run()?;
    Ok((out.status, String::from_utf8_lossy(&out.stdout).into_owned()))
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

/// Like [`capture`], but the child is killed at `deadline`: `None` then, with what it printed
/// lost (a test run that hangs has its log cut there).
pub fn capture_until(expr: duct::Expression, deadline: std::time::Instant) -> std::io::Result<Option<Captured>> {
    let handle = expr.stderr_to_stdout().stdout_capture().unchecked().start()?;
    loop {
        if let Some(out) = handle.try_wait()? {
            return Ok(Some(Captured {
                ok: out.status.success(),
                text: String::from_utf8_lossy(&out.stdout).into_owned(),
            }));
        }
        if std::time::Instant::now() >= deadline {
            let _ = handle.kill();
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A long-lived child that answers requests: its stdin and stdout are pipes held here, its stderr
/// is discarded (it must write everything else elsewhere). Dropping it kills and reaps it, so no
/// error path leaves it running; a child that reads its stdin to the end also exits by itself
/// when this process dies, and Ctrl-C reaches it with the rest of the process group.
pub struct Piped {
    child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
}

/// Starts `program args` in `dir` with exactly `env` (build it with [`child_env`]).
pub fn spawn_piped(
    program: &std::path::Path,
    args: &[&std::ffi::OsStr],
    dir: &std::path::Path,
    env: std::collections::HashMap<String, String>,
) -> std::io::Result<Piped> {
    use std::process::Stdio;
    let mut child = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::io::Error::other("the child's pipes were not set up"));
    };
    Ok(Piped { child, stdin, stdout: std::io::BufReader::new(stdout) })
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's environment without an active virtualenv (uv and poetry would otherwise
/// build or publish from it) and without the variables `secrets`, for a child that has no use
/// for them.
pub fn child_env(secrets: &[&str]) -> std::collections::HashMap<String, String> {
    std::env::vars().filter(|(k, _)| k != "VIRTUAL_ENV" && !secrets.contains(&k.as_str())).collect()
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
