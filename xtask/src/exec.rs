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

/// Like [`find`], but a missing program is an error that says how to get it.
pub fn require(name: &str, purpose: &str) -> Result<PathBuf> {
    find(name).with_context(|| {
        format!("`{name}` is required {purpose}; run `scripts/bootstrap.sh` to install the pinned tools, or put `{name}` on PATH")
    })
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
