//! The GitHub side of the harness: the `standin` binary on a free loopback port, the real `gh`
//! pointed at it, a `gh` wrapper that records each run's argv, and the requests it received.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use super::{Run, TempDir};

/// The token the tests hand to `gh`; it must never show up in argv, output or files.
pub const TOKEN: &str = "ghp_standinTOKEN0123456789secret";

/// A running stand-in, killed on drop.
pub struct StandIn {
    child: Child,
    pub addr: String,
    pub dir: TempDir,
}

impl StandIn {
    /// Starts `standin` with `args` (e.g. `--latency-ms`, `--fail 502`), and `pulls` as the
    /// pull requests it knows (`{"123": {"title": …}}`).
    pub fn start(pulls: &serde_json::Value, args: &[&str]) -> StandIn {
        StandIn::start_env(pulls, args, &[])
    }

    /// [`StandIn::start`] with `env` added to the stand-in's environment (its secrets, such as
    /// `STANDIN_ID_TOKEN_REQUEST_TOKEN`).
    pub fn start_env(pulls: &serde_json::Value, args: &[&str], env: &[(&str, &str)]) -> StandIn {
        let dir = TempDir::new("standin");
        let pulls_file = dir.path().join("pulls.json");
        std::fs::write(&pulls_file, pulls.to_string()).unwrap();
        let mut child = Command::new(super::standin_bin())
            .env("STANDIN_TOKEN", TOKEN)
            .envs(env.iter().copied())
            .arg("--pulls")
            .arg(&pulls_file)
            .arg("--log")
            .arg(dir.path().join("requests.jsonl"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = match line.trim().strip_prefix("listening on ") {
            Some(addr) => addr.to_string(),
            None => {
                let status = child.wait().unwrap();
                panic!("the stand-in did not say where it listens ({status}): {line:?}")
            }
        };
        // `gh` through a wrapper that appends its argv to a file, then runs the real one.
        let bin = dir.path().join("tools/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let wrapper = bin.join("gh");
        let calls = dir.path().join("gh-calls.log");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                calls.display(),
                super::tool("gh").display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The other bootstrapped tools stay reachable through the same tools directory.
        for other in ["uv", "poetry", "pypi-server"] {
            std::os::unix::fs::symlink(super::tool(other), bin.join(other)).unwrap();
        }
        StandIn { child, addr, dir }
    }

    /// The environment that points `gh` (through the wrapper) at the stand-in, with a token.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("GH_HOST", "github.localhost".to_string()),
            ("HTTP_PROXY", format!("http://{}", self.addr)),
            // An outer NO_PROXY listing `.localhost` would send gh around the stand-in.
            ("NO_PROXY", String::new()),
            ("no_proxy", String::new()),
            ("GH_CONFIG_DIR", self.dir.path().join("gh-config").display().to_string()),
            ("GH_TOKEN", TOKEN.to_string()),
            ("XTASK_TOOLS_DIR", self.dir.path().join("tools").display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Every request the stand-in received, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// Runs `gh` (through the wrapper) with `args`, as the xtask does: in `dir`, with no GitHub
    /// settings from the outer environment, then [`StandIn::env`], and prompts off.
    pub fn gh<S: AsRef<std::ffi::OsStr>>(&self, dir: &Path, args: &[S]) -> Run {
        let mut cmd = Command::new(self.dir.path().join("tools/bin/gh"));
        cmd.args(args).current_dir(dir).env("GH_PROMPT_DISABLED", "1").env("GH_NO_UPDATE_NOTIFIER", "1");
        for var in OUTER_GITHUB_VARIABLES {
            cmd.env_remove(var);
        }
        cmd.envs(self.env());
        cmd.output().unwrap().into()
    }

    /// `GET /__state`: the releases and pull requests created so far.
    pub fn state(&self) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(stream, "GET /__state HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.addr).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (_, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        serde_json::from_str(body).unwrap()
    }

    /// The argv of every `gh` run, one line each.
    pub fn gh_calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.path().join("gh-calls.log")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The outer environment's GitHub settings, which no test may inherit.
const OUTER_GITHUB_VARIABLES: [&str; 9] = [
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GH_HOST",
    "GH_REPO",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "GITHUB_STEP_SUMMARY",
];

/// Runs the xtask on `root` with no GitHub settings from the outer environment, then `env`.
pub fn xtask(root: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let mut cmd = super::command(super::xtask_bin());
    cmd.arg("--root").arg(root).args(args).env("NO_COLOR", "1");
    for var in OUTER_GITHUB_VARIABLES {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap().into()
}

/// The pull requests of `root`'s history since `since`, as the stand-in's `--pulls` file, with
/// the squash subjects (without `(#N)`) as titles.
pub fn pulls_from_git(root: &Path, since: &str) -> serde_json::Value {
    let log = super::git(root, &["log", "--format=%s", &format!("{since}..HEAD")]);
    let mut pulls = serde_json::Map::new();
    for subject in log.lines() {
        let Some(rest) = subject.trim_end().strip_suffix(')') else { continue };
        let Some(open) = rest.rfind("(#") else { continue };
        if let Ok(n) = rest[open + 2..].parse::<u64>() {
            pulls.insert(n.to_string(), serde_json::json!({"title": rest[..open].trim_end(), "author": "dev"}));
        }
    }
    serde_json::Value::Object(pulls)
}
