//! A real local package index for tests: the bootstrapped `pypi-server` on a free loopback port,
//! serving a temporary directory, seeded with real distributions built by `uv build` and
//! uploaded by `uv publish`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
};

pub use xtask::quickstart::pypiserver::http_get_status;

use super::{tool, Run, TempDir};

/// The library's server (the one `rehearse` runs), with the temporary directory it serves.
pub struct PypiServer {
    // Declared first, so that the server stops before its directory is removed.
    server: xtask::quickstart::pypiserver::PypiServer,
    dir: TempDir,
}

impl PypiServer {
    /// Starts the server and returns once it answers HTTP. Uploads need no password
    /// (`-a . -P .`), as on a throwaway index. It also serves the tests' build wheels
    /// ([`super::wheels`]); uploads land in its own directory only.
    pub fn start() -> PypiServer {
        PypiServer::start_holding(&[])
    }

    /// [`PypiServer::start`] with `files` already on the index, as uploaded before.
    pub fn start_holding(files: &[PathBuf]) -> PypiServer {
        let wheels = super::wheels::dir();
        let dir = TempDir::new("pypiserver");
        std::fs::create_dir_all(dir.path().join("packages")).unwrap();
        for file in files {
            std::fs::copy(file, dir.path().join("packages").join(file.file_name().unwrap())).unwrap();
        }
        let log = dir.path().join("server.log");
        let packages = dir.path().join("packages");
        match xtask::quickstart::pypiserver::PypiServer::start_with(&tool("pypi-server"), &packages, &[&wheels], &log) {
            Ok(server) => PypiServer { server, dir },
            Err(e) => panic!("{e:#}; its log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The base of the JSON API (`{base}/{name}/json`): pypiserver serves it at its root.
    pub fn index_url(&self) -> String {
        self.url()
    }

    /// Where `uv publish` uploads (the legacy upload API, at the root for pypiserver).
    pub fn publish_url(&self) -> String {
        format!("{}/", self.url())
    }

    /// The environment that makes uv (builds, `uv sync`, `uv run`) and pip resolve from this
    /// server instead of the public index.
    pub fn build_env(&self) -> Vec<(String, String)> {
        let simple = format!("{}/simple/", self.url());
        vec![
            ("UV_DEFAULT_INDEX".into(), simple.clone()),
            ("PIP_INDEX_URL".into(), simple),
            ("UV_PYTHON_DOWNLOADS".into(), "never".into()),
        ]
    }

    /// The directory the server serves; uploads land here.
    pub fn package_dir(&self) -> PathBuf {
        self.dir.path().join("packages")
    }

    /// The server's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Uploads built distributions with the real `uv publish`.
    pub fn upload(&self, files: &[PathBuf]) {
        let out = super::command(tool("uv"))
            .arg("publish")
            .args(["--publish-url", &self.publish_url()])
            .args(files)
            // Through the environment, as a real token would be; pypiserver accepts anything.
            .env("UV_PUBLISH_USERNAME", "test")
            .env("UV_PUBLISH_PASSWORD", "test")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let run = Run::from(out);
        assert_eq!(run.code, 0, "uv publish failed:\n{}\nserver log:\n{}", run.stderr, self.log());
    }
}

/// Builds a tiny real package `name` `version` (an sdist and a wheel) with `uv build` into
/// `out_dir`, with `env` added (a server's [`PypiServer::build_env`]), and returns the built
/// files.
pub fn build_package_with(out_dir: &Path, name: &str, version: &str, env: &[(String, String)]) -> Vec<PathBuf> {
    let module = name.replace(['-', '.'], "_");
    let src = TempDir::new("build-src");
    std::fs::create_dir_all(src.path().join("src").join(&module)).unwrap();
    std::fs::write(src.path().join("src").join(&module).join("__init__.py"), "").unwrap();
    std::fs::write(
        src.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"{name}\"\nversion = \"{version}\"\nrequires-python = \">=3.9\"\n\n\
             [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [tool.hatch.build.targets.wheel]\npackages = [\"src/{module}\"]\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(out_dir).unwrap();
    let before: Vec<PathBuf> = list(out_dir);
    let out = super::command(tool("uv"))
        .args(["build", "--sdist", "--wheel", "--out-dir"])
        .arg(out_dir)
        .arg(src.path())
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 0, "uv build of {name} {version} failed:\n{}", run.stderr);
    let built: Vec<PathBuf> = list(out_dir).into_iter().filter(|f| !before.contains(f)).collect();
    assert!(!built.is_empty(), "uv build of {name} {version} produced nothing in {}", out_dir.display());
    built
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Builds and uploads `name` at each of `versions`.
pub fn seed(server: &PypiServer, name: &str, versions: &[&str]) {
    let files: Vec<PathBuf> = versions.iter().flat_map(|v| built(server, name, v)).collect();
    server.upload(&files);
}

/// [`build_package_with`] of `name` `version`, built once per test process (the package is
/// the same every time) and kept for the next test that seeds it.
pub fn built(server: &PypiServer, name: &str, version: &str) -> Vec<PathBuf> {
    static BUILT: Mutex<BTreeMap<(String, String), Vec<PathBuf>>> = Mutex::new(BTreeMap::new());
    let key = (name.to_string(), version.to_string());
    // Held while building: a second test seeding the same package waits for these files.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(files) = built.get(&key) {
        return files.clone();
    }
    let out = TempDir::new("dist");
    let files = build_package_with(out.path(), name, version, &server.build_env());
    let files = super::keep(files, &super::run_dir("seeded").join(format!("{name}-{version}")));
    built.insert(key, files.clone());
    files
}
