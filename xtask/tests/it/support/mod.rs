//! The test harness: temporary monorepos with real git, and the xtask binary run against them.

pub mod oidc;
pub mod proxy;
pub mod pypiserver;
pub mod wheels;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicUsize, Ordering},
};

/// A temporary directory, removed on drop (kept when `XTASK_KEEP_TEMP` is set).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xtask-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("XTASK_KEEP_TEMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A directory of this test process under the target's scratch space, for what several tests
/// start from and is built once per run (a release's files, a seeded package); the directories
/// of test processes that have ended are removed first.
pub fn run_dir(name: &str) -> PathBuf {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid != std::process::id().to_string() && !Path::new("/proc").join(&pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = parent.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies `files` into a new directory `dir` (created), returning the copies.
pub fn keep(files: impl IntoIterator<Item = PathBuf>, dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut kept: Vec<PathBuf> = files
        .into_iter()
        .map(|from| {
            let to = dir.join(from.file_name().unwrap());
            std::fs::copy(&from, &to).unwrap();
            to
        })
        .collect();
    kept.sort();
    kept
}

/// What a run of the xtask printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    pub fn fails_with(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn xtask_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_xtask"))
}

/// The GitHub stand-in's binary, a crate of its own (`xtask/standin`): cargo builds the binaries
/// of the package under test only, so the first call builds it (a no-op when it is up to date)
/// into the target directory beside the xtask binary, with the same profile.
pub fn standin_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = xtask_bin().parent().unwrap().to_path_buf();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "--package", "standin", "--bin", "standin"]);
            // The bench's libtest report needs it for the test binary only; the build stays the
            // same as `cargo test`'s, so neither rebuilds after the other.
            build.env_remove("RUSTC_BOOTSTRAP");
            if dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let out = build.current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
            assert!(out.status.success(), "cargo build --package standin: {}", String::from_utf8_lossy(&out.stderr));
            dir.join("standin")
        })
        .clone()
}

/// A command for `program` (the xtask, uv, a script that runs them) with the real Python's
/// directory first on PATH. uv looks for interpreters on PATH and asks each what it is; a pyenv
/// shim there answers through some thirty bash processes (about 0.1 s of CPU a question), while the
/// interpreter it leads to is this same one.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    static PATH: std::sync::OnceLock<std::ffi::OsString> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| {
        let python = std::fs::canonicalize(tool("python3")).unwrap();
        let mut dirs = vec![python.parent().unwrap().to_path_buf()];
        dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        std::env::join_paths(dirs).unwrap()
    });
    let mut cmd = Command::new(program);
    cmd.env("PATH", path);
    cmd
}

/// The pinned tools installed by `scripts/bootstrap.sh`.
pub fn tool(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin").join(name);
    assert!(path.is_file(), "{} is missing: run scripts/bootstrap.sh first", path.display());
    path
}

/// A generated sample monorepo in a temporary directory.
pub struct Sample {
    pub dir: TempDir,
    /// Added to the environment of every xtask run ([`Sample::use_build_index`]).
    pub env: std::sync::Mutex<Vec<(String, String)>>,
}

impl Sample {
    pub fn new(packages: usize, prs: usize) -> Sample {
        let dir = TempDir::new("sample");
        let out = command(xtask_bin())
            .args(["sample", "--packages", &packages.to_string(), "--prs", &prs.to_string(), "--force"])
            .arg(dir.path().join("repo"))
            .output()
            .unwrap();
        Run::from(out).ok();
        Sample { dir, env: Default::default() }
    }

    /// A monorepo of independent packages (`sample --shape independent`): eight named ones
    /// plus `packages - 8` more, and `prs` pull requests after their tags.
    pub fn independent(packages: usize, prs: usize) -> Sample {
        let dir = TempDir::new("independent");
        let out = command(xtask_bin())
            .args(["sample", "--shape", "independent", "--packages", &packages.to_string(), "--prs", &prs.to_string()])
            .arg(dir.path().join("repo"))
            .output()
            .unwrap();
        Run::from(out).ok();
        Sample { dir, env: Default::default() }
    }

    /// Builds (and hooks' `uv sync`) in every later run resolve from `server`, which serves
    /// the tests' wheels: never from the public index.
    pub fn use_build_index(&self, server: &pypiserver::PypiServer) {
        *self.env.lock().unwrap() = server.build_env();
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Runs the xtask with `--root` set to the sample and colors off.
    pub fn xtask(&self, args: &[&str]) -> Run {
        self.xtask_env(args, &[])
    }

    pub fn xtask_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = command(xtask_bin());
        cmd.arg("--root").arg(self.root()).args(args).current_dir(self.dir.path()).env("NO_COLOR", "1");
        for (k, v) in self.env.lock().unwrap().iter() {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap().into()
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.root(), args)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Every file's path and content, plus `git status`: to prove that nothing changed.
    pub fn fingerprint(&self) -> String {
        let mut entries = Vec::new();
        collect(&self.root(), &self.root(), &mut entries);
        entries.sort();
        let status = self.git(&["status", "--porcelain", "--untracked-files=all"]);
        let refs = self.git(&["for-each-ref"]);
        format!("{}\n--status--\n{status}\n--refs--\n{refs}", entries.join("\n"))
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let sum = bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3));
            out.push(format!("{} {sum:016x}", path.strip_prefix(root).unwrap().display()));
        }
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Commits everything in the work tree with `subject`.
pub fn commit_all(dir: &Path, subject: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", subject]);
}
pub mod github;
