//! [`Cmd`]: the one way the xtask starts a child process. Its environment is built here, not
//! inherited: this process's variables without any credential (see [`super::secrets`]) and
//! without an active virtualenv, plus what the call site sets, plus the credentials it asks for
//! by name. Every runner below goes through [`Cmd::environment`].

// The edge itself: the one place clippy.toml allows these.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::{
    ffi::{OsStr, OsString},
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Instant,
};

use anyhow::{bail, Context, Result};

use super::{secrets, Captured};

/// A child to run: argv (never a shell string), directory, environment and stdin.
#[must_use]
#[derive(Clone, Debug)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    removed: Vec<OsString>,
    credentials: Credentials,
    keep_virtualenv: bool,
    stdin: Option<Vec<u8>>,
}

/// Which credentials of the store a child gets.
#[derive(Clone, Debug)]
enum Credentials {
    Named(Vec<String>),
    /// `pkg exec`: the user's own command, run as if by the user.
    All,
}

/// What a child printed on each stream, and how it exited; `stderr` is redacted.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            removed: Vec::new(),
            credentials: Credentials::Named(Vec::new()),
            keep_virtualenv: false,
            stdin: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets a variable that the call site owns (a value it computed, not one of the user's
    /// credentials: those come by name through [`Cmd::credential`]).
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env.push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Leaves out a variable of this process's environment that the child must not see.
    pub fn env_remove(mut self, name: impl AsRef<OsStr>) -> Cmd {
        self.removed.push(name.as_ref().to_owned());
        self
    }

    /// Gives the child the credential variable `name` from the store, when it was set. The only
    /// way a credential reaches a child; each call site that uses it says why.
    pub fn credential(mut self, name: &str) -> Cmd {
        if let Credentials::Named(names) = &mut self.credentials {
            names.push(name.to_string());
        }
        self
    }

    /// Gives the child every credential the user set: only for the user's own command
    /// (`pkg exec`), which runs as if the user had typed it.
    pub fn all_credentials(mut self) -> Cmd {
        self.credentials = Credentials::All;
        self
    }

    /// Keeps `VIRTUAL_ENV` (removed by default: uv and poetry would build, install or publish
    /// into the user's active environment).
    pub fn keep_virtualenv(mut self) -> Cmd {
        self.keep_virtualenv = true;
        self
    }

    /// Feeds `bytes` to the child's stdin (else stdin is empty).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    /// The command line for messages: the program's path and arguments, space-separated.
    pub fn shown(&self) -> String {
        std::iter::once(&self.program).chain(&self.args).map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    }

    /// The child's whole environment: see the module's comment.
    pub fn environment(&self) -> Vec<(OsString, OsString)> {
        let inherited = std::env::vars_os().filter(|(name, _)| {
            if self.removed.contains(name) {
                return false;
            }
            let name = name.to_string_lossy();
            !secrets::is_credential(&name) && (self.keep_virtualenv || name != "VIRTUAL_ENV")
        });
        let asked: Vec<(OsString, OsString)> = match &self.credentials {
            Credentials::All => secrets::all().into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            Credentials::Named(names) => {
                names.iter().filter_map(|n| Some((n.into(), secrets::value(n)?.into()))).collect()
            }
        };
        let mut env: Vec<(OsString, OsString)> = inherited.chain(asked).collect();
        for (name, value) in &self.env {
            env.retain(|(n, _)| n != name);
            env.push((name.clone(), value.clone()));
        }
        env
    }

    fn duct(&self) -> duct::Expression {
        let mut expr = duct::cmd(&self.program, &self.args).full_env(self.environment()).unchecked();
        if let Some(dir) = &self.dir {
            expr = expr.dir(dir);
        }
        match &self.stdin {
            Some(bytes) => expr.stdin_bytes(bytes.clone()),
            None => expr.stdin_null(),
        }
    }

    fn std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args).env_clear().envs(self.environment()).stdin(Stdio::null());
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Runs the child, its stdout and stderr captured apart. Only a child that cannot start is
    /// an error here.
    pub fn output(self) -> Result<Output> {
        let out = self
            .duct()
            .stdout_capture()
            .stderr_capture()
            .run()
            .with_context(|| format!("cannot run `{}`", self.shown()))?;
        Ok(Output {
            status: out.status,
            stdout: out.stdout,
            stderr: secrets::redact(&String::from_utf8_lossy(&out.stderr)),
        })
    }

    /// Runs the child and returns its stdout without the trailing newline; a failure is an error
    /// that carries its stderr.
    pub fn read(self) -> Result<String> {
        let shown = self.shown();
        let out = self.output()?;
        if !out.status.success() {
            bail!("`{shown}` failed ({}):\n{}", out.status, out.stderr.trim_end());
        }
        let stdout = String::from_utf8(out.stdout).with_context(|| format!("`{shown}` printed invalid UTF-8"))?;
        Ok(stdout.trim_end_matches(['\n', '\r']).to_string())
    }

    /// Runs the child for its effect; on failure the error carries its stderr.
    pub fn run(self) -> Result<()> {
        self.read().map(drop)
    }

    /// Runs the child with its stderr merged into its stdout and both captured (redacted). Only
    /// a child that cannot start is an error here; a failed one is `ok: false`.
    pub fn capture(self) -> std::io::Result<Captured> {
        let (status, text) = self.capture_status()?;
        Ok(Captured { ok: status.success(), text })
    }

    /// [`Cmd::capture`], with the child's exit status, for a report that shows it.
    pub fn capture_status(self) -> std::io::Result<(ExitStatus, String)> {
        let out = self.duct().stderr_to_stdout().stdout_capture().run()?;
        Ok((out.status, secrets::redact(&String::from_utf8_lossy(&out.stdout))))
    }

    /// Like [`Cmd::capture`], but the child is killed at `deadline`: `None` then, with what it
    /// printed lost (a test run that hangs has its log cut there).
    pub fn capture_until(self, deadline: Instant) -> std::io::Result<Option<Captured>> {
        let handle = self.duct().stderr_to_stdout().stdout_capture().start()?;
        loop {
            if let Some(out) = handle.try_wait()? {
                let text = secrets::redact(&String::from_utf8_lossy(&out.stdout));
                return Ok(Some(Captured { ok: out.status.success(), text }));
            }
            if Instant::now() >= deadline {
                let _ = handle.kill();
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Runs the child with our stdout and stderr, as they come.
    pub fn status(self) -> Result<ExitStatus> {
        let status = self.std().stdout(Stdio::inherit()).stderr(Stdio::inherit()).status();
        status.with_context(|| format!("cannot run `{}`", self.shown()))
    }

    /// Runs a child that must not hang the run (hooks, the gate): in a process group of its
    /// own, killed with it at `watch.timeout`, its output read as it comes (see `exec/watch.rs`).
    pub fn watched(self, watch: &super::Watch<'_>, out: &mut dyn std::io::Write) -> std::io::Result<super::Watched> {
        super::watch::run(self.std(), watch, out)
    }

    /// Starts a long-lived child that answers requests on its stdin and stdout; its stderr is
    /// discarded (it must write everything else elsewhere).
    pub fn spawn_piped(self) -> std::io::Result<Piped> {
        let mut child = self.std().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("the child's pipes were not set up"));
        };
        Ok(Piped { child, stdin, stdout: std::io::BufReader::new(stdout) })
    }

    /// Starts a long-lived child (a server) with the given stdout and stderr; the caller waits
    /// for it or kills it.
    pub fn spawn(self, stdout: Stdio, stderr: Stdio) -> Result<std::process::Child> {
        let child = self.std().stdout(stdout).stderr(stderr).spawn();
        child.with_context(|| format!("cannot start `{}`", self.shown()))
    }
}

/// A long-lived child that answers requests: its stdin and stdout are pipes held here. Dropping
/// it kills and reaps it, so no error path leaves it running; a child that reads its stdin to the
/// end also exits by itself when this process dies, and Ctrl-C reaches it with the rest of the
/// process group.
pub struct Piped {
    child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_no_credential_unless_asked_by_name() {
        // Built from this process's environment, which unit tests do not change: the names
        // are checked against the list, whatever the environment holds.
        let names = |cmd: &Cmd| -> Vec<String> {
            cmd.environment().into_iter().map(|(k, _)| k.to_string_lossy().into_owned()).collect()
        };
        let plain = Cmd::new("true").env("XTASK_SET_BY_CALL_SITE", "1");
        assert!(names(&plain).iter().all(|n| !secrets::is_credential(n)));
        assert!(names(&plain).contains(&"XTASK_SET_BY_CALL_SITE".to_string()));
        assert!(!names(&plain).contains(&"VIRTUAL_ENV".to_string()));
        let later = Cmd::new("true").env("A_NAME", "1").env("A_NAME", "2");
        let values: Vec<_> = later.environment().into_iter().filter(|(k, _)| k == "A_NAME").collect();
        assert_eq!(values, [(OsString::from("A_NAME"), OsString::from("2"))]);
    }

    #[test]
    fn errors_carry_the_command_and_its_stderr() {
        let err = Cmd::new("sh").args(["-c", "echo oops >&2; exit 3"]).read().unwrap_err().to_string();
        expect_test::expect![[r#"
            `sh -c echo oops >&2; exit 3` failed (exit status: 3):
            oops"#]]
        .assert_eq(&err);
        let out = Cmd::new("sh").args(["-c", "printf 'a\\n'; echo b >&2"]).capture().unwrap();
        assert!(out.ok && out.text.contains('a') && out.text.contains('b'));
        assert_eq!(Cmd::new("cat").stdin("in\n").read().unwrap(), "in");
    }
}
