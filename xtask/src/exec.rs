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
        // The workspace's directory, without a `..` in the paths that plans print.
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools"),
            |workspace| workspace.join("target/tools"),
        ),
    }
}

/// A program by name, chosen by the one rule that the plans state: `$XTASK_<NAME>` when set (a
/// path, or a name looked up on `PATH`: `XTASK_UV=uv` takes the `PATH`'s), else the bootstrapped
/// one in [`tools_dir`], else the first on `PATH`.
pub fn find(name: &str) -> Option<PathBuf> {
    locate(name).map(|(path, _)| path)
}

/// Where [`find`] found a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Named by its `XTASK_<NAME>` variable.
    Variable,
    /// `scripts/bootstrap.sh`'s, in [`tools_dir`].
    Bootstrapped,
    Path,
}

/// The variable that chooses `name`'s program: `XTASK_UV`, `XTASK_GH`, `XTASK_PYPI_SERVER`.
pub fn variable(name: &str) -> String {
    format!("XTASK_{}", name.to_ascii_uppercase().replace(['-', '.'], "_"))
}

fn locate(name: &str) -> Option<(PathBuf, Origin)> {
    let chosen = std::env::var_os(variable(name));
    locate_in(name, chosen.as_deref(), &tools_dir().join("bin"), std::env::var_os("PATH").as_deref())
}

/// [`find`]'s rule, over the variable's value, the bootstrapped tools' directory and `PATH`.
fn locate_in(
    name: &str,
    chosen: Option<&std::ffi::OsStr>,
    bootstrapped: &std::path::Path,
    path: Option<&std::ffi::OsStr>,
) -> Option<(PathBuf, Origin)> {
    let on_path =
        |program: &std::ffi::OsStr| std::env::split_paths(path?).map(|d| d.join(program)).find(|p| p.is_file());
    if let Some(chosen) = chosen.filter(|v| !v.is_empty()) {
        let as_path = std::path::Path::new(chosen);
        let found =
            if as_path.components().count() > 1 { as_path.is_file().then(|| as_path.into()) } else { on_path(chosen) };
        return found.map(|p| (p, Origin::Variable));
    }
    let local = bootstrapped.join(name);
    if local.is_file() {
        return Some((local, Origin::Bootstrapped));
    }
    on_path(std::ffi::OsStr::new(name)).map(|p| (p, Origin::Path))
}

/// Which program runs for a tool, and its version: what plans, `time:` lines and `--json` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub name: String,
    pub found: Option<(PathBuf, Origin)>,
    pub version: Option<String>,
}

impl Tool {
    /// `name` as [`find`] chooses it, with the version it reports (asked once per process).
    pub fn of(name: &str) -> Tool {
        let found = locate(name);
        let version = found.as_ref().and_then(|(path, _)| version_output(path).ok()).and_then(|o| parse_version(&o));
        Tool { name: name.to_string(), found, version }
    }

    /// `uv 0.9.30 at /…/target/tools/bin/uv (bootstrapped; XTASK_UV chooses another)`.
    pub fn describe(&self) -> String {
        let var = variable(&self.name);
        let Some((path, origin)) = &self.found else {
            return format!("{}: not found (bootstrapped, `{var}` or PATH)", self.name);
        };
        let why = match origin {
            Origin::Variable => format!("from `{var}`"),
            Origin::Bootstrapped => format!("bootstrapped; `{var}` chooses another"),
            Origin::Path => format!("from PATH; `{var}` chooses another"),
        };
        let version = self.version.as_deref().unwrap_or("(version unknown)");
        format!("{} {version} at {} ({why})", self.name, path.display())
    }

    /// `{"path", "version", "from"}`, or null when it is not found.
    pub fn to_json(&self) -> serde_json::Value {
        let Some((path, origin)) = &self.found else { return serde_json::Value::Null };
        let from = match origin {
            Origin::Variable => variable(&self.name),
            Origin::Bootstrapped => "bootstrapped".into(),
            Origin::Path => "PATH".into(),
        };
        serde_json::json!({"path": path.display().to_string(), "version": self.version, "from": from})
    }
}

/// The tools a command uses, described on one line (`uv 0.9.30 at …; gh 2.83.2 at …`).
pub fn tools_line(names: &[&str]) -> String {
    names.iter().map(|n| Tool::of(n).describe()).collect::<Vec<_>>().join("; ")
}

/// The tools a command uses, for `--json`: `{"uv": {"path", "version", "from"}, …}`.
pub fn tools_json(names: &[&str]) -> serde_json::Value {
    names.iter().map(|n| (n.to_string(), Tool::of(n).to_json())).collect::<serde_json::Map<_, _>>().into()
}

/// The first version-like word of `--version`'s first line: `uv 0.9.30 (…)`, `gh version 2.83.2
/// (…)`, `Poetry (version 2.2.1)`.
fn parse_version(output: &str) -> Option<String> {
    let line = output.lines().next()?;
    line.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric()).trim_start_matches('v'))
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

/// What `path --version` printed on stdout, asked once per program and process.
fn version_output(path: &std::path::Path) -> Result<String> {
    static SEEN: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    if let Some((_, out)) = SEEN.lock().ok().and_then(|s| s.iter().find(|(p, _)| p == path).cloned()) {
        return Ok(out);
    }
    let out = Cmd::new(path).arg("--version").output()?.stdout_lossy();
    if let Ok(mut seen) = SEEN.lock() {
        seen.push((path.to_path_buf(), out.clone()));
    }
    Ok(out)
}

/// Like [`find`], but a missing program, or one older than the xtask needs, is an error that
/// says how to get it, before anything runs.
pub fn require(name: &str, purpose: &str) -> Result<PathBuf> {
    if let Some(chosen) = std::env::var_os(variable(name)).filter(|v| !v.is_empty()) {
        if find(name).is_none() {
            bail!(
                "`{}` names `{}` for `{name}`, which is not a program here: give a path to it, or a name on PATH",
                variable(name),
                chosen.to_string_lossy()
            );
        }
    }
    let path = find(name).with_context(|| {
        format!(
            "`{name}` is required {purpose}; run `scripts/bootstrap.sh` to install the pinned tools, put `{name}` on \
             PATH, or name it in `{}`",
            variable(name)
        )
    })?;
    // `--version` runs once per tool and process: a release runs `gh` many times.
    if let Some(&(_, minimum, why)) = MINIMUM_VERSIONS.iter().find(|(tool, _, _)| *tool == name) {
        check_version(name, &path, &version_output(&path)?, minimum, why)?;
    }
    Ok(path)
}

/// The oldest versions of the tools whose features the xtask uses, and the features. Uploads are
/// the xtask's own HTTP requests: uv builds, locks, syncs and runs. Its newest feature in use is
/// `[dependency-groups]` (PEP 735, uv 0.4.27): `uv sync` installs the `dev` group, where the
/// packages' pytest is, before `test` runs it with `uv run --no-sync` (0.4.9); `publish` and the
/// install check build with `uv build` (0.4.5).
const MINIMUM_VERSIONS: &[(&str, &str, &str)] = &[
    ("uv", "0.4.27", "`uv sync` of `[dependency-groups]`, `uv build`, `uv run --no-sync`"),
    ("gh", "2.0.0", "`gh release` and `gh pr` with `--json`"),
];

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
    fn a_tool_is_the_variables_then_the_bootstrapped_one_then_the_paths() {
        let scratch = crate::scratch::Scratch::new("exec-locate").unwrap();
        let dir = scratch.path();
        let (tools, on_path, other) = (dir.join("tools"), dir.join("path"), dir.join("other"));
        for d in [&tools, &on_path, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("uv"), "").unwrap();
        }
        let path = std::env::join_paths([&on_path]).unwrap();
        let at = |chosen: Option<&str>, tools: &std::path::Path| {
            locate_in("uv", chosen.map(std::ffi::OsStr::new), tools, Some(&path))
        };
        assert_eq!(at(None, &tools), Some((tools.join("uv"), Origin::Bootstrapped)));
        assert_eq!(at(None, &dir.join("none")), Some((on_path.join("uv"), Origin::Path)));
        assert_eq!(at(Some(""), &tools), Some((tools.join("uv"), Origin::Bootstrapped)), "empty is unset");
        assert_eq!(at(Some("uv"), &tools), Some((on_path.join("uv"), Origin::Variable)), "a name: PATH's");
        let explicit = other.join("uv").display().to_string();
        assert_eq!(at(Some(&explicit), &tools), Some((other.join("uv"), Origin::Variable)));
        assert_eq!(at(Some("missing"), &tools), None, "a choice that is not there is no fallback");
        assert_eq!(variable("pypi-server"), "XTASK_PYPI_SERVER");
    }

    #[test]
    fn tools_are_described_with_their_version_path_and_why() {
        assert_eq!(parse_version("uv 0.9.30 (e1b2a3c 2026-01-01)\n").as_deref(), Some("0.9.30"));
        assert_eq!(parse_version("gh version 2.83.2 (2025-12-10)\nhttps://github.com/cli").as_deref(), Some("2.83.2"));
        assert_eq!(parse_version("Poetry (version 2.2.1)\n").as_deref(), Some("2.2.1"));
        assert_eq!(parse_version("uv dev\n"), None);
        let tool =
            |found, version: Option<&str>| Tool { name: "uv".into(), found, version: version.map(str::to_string) };
        let path = PathBuf::from("target/tools/bin/uv");
        expect_test::expect!["uv 0.9.30 at target/tools/bin/uv (bootstrapped; `XTASK_UV` chooses another)"]
            .assert_eq(&tool(Some((path.clone(), Origin::Bootstrapped)), Some("0.9.30")).describe());
        expect_test::expect!["uv 0.13.9 at target/tools/bin/uv (from PATH; `XTASK_UV` chooses another)"]
            .assert_eq(&tool(Some((path.clone(), Origin::Path)), Some("0.13.9")).describe());
        expect_test::expect!["uv (version unknown) at target/tools/bin/uv (from `XTASK_UV`)"]
            .assert_eq(&tool(Some((path.clone(), Origin::Variable)), None).describe());
        expect_test::expect!["uv: not found (bootstrapped, `XTASK_UV` or PATH)"]
            .assert_eq(&tool(None, None).describe());
        expect_test::expect![[r#"{"from":"XTASK_UV","path":"target/tools/bin/uv","version":"0.9.30"}"#]]
            .assert_eq(&tool(Some((path, Origin::Variable)), Some("0.9.30")).to_json().to_string());
    }

    #[test]
    fn tool_versions_are_checked() {
        let path = std::path::Path::new("bin/uv");
        let check = |output: &str| check_version("uv", path, output, "0.4.27", "`uv sync` of `[dependency-groups]`");
        assert!(check("uv 0.9.30 (e1b2a3c 2026-01-01)\n").is_ok());
        assert!(check("uv 0.4.27\n").is_ok());
        assert!(check("uv 0.4.26\n").is_err());
        assert!(check("gh version 2.83.2 (2025-12-10)\nhttps://github.com/cli/cli/releases/tag/v2.83.2\n").is_ok());
        let err = |output: &str| check(output).unwrap_err().to_string();
        expect_test::expect!["`uv` 0.4.2 at bin/uv is too old: the xtask needs 0.4.27 or newer (`uv sync` of `[dependency-groups]`); run `scripts/bootstrap.sh` to install the pinned tools, or upgrade it"].assert_eq(&err("uv 0.4.2\n"));
        expect_test::expect!["`bin/uv --version` printed `uv dev`, which has no version; the xtask needs `uv` 0.4.27 or newer (`uv sync` of `[dependency-groups]`): run `scripts/bootstrap.sh` to install the pinned tools"].assert_eq(&err("uv dev\n"));
        for (_, minimum, _) in MINIMUM_VERSIONS {
            assert!(semver::Version::parse(minimum).is_ok(), "{minimum}");
        }
    }
}
