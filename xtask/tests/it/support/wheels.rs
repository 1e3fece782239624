//! The build index of the tests: hatchling (two versions), poetry-core, and what the sample
//! core's `uv sync` installs, as wheels downloaded once with the bootstrapped pip into
//! `target/test-wheels/` and served by every test pypiserver, so that builds in tests never
//! need the public index.

use std::{path::PathBuf, process::Command};

/// The newest hatchling here (1.33.0) is the one builds use; this older one makes "the old
/// workflow's" other bytes (its wheels say `Generator: hatchling 1.28.0`).
pub const OLD_HATCHLING: &str = "1.28.0";

/// Each pip call: (flags, requirements). Resolved for Python 3.9, the samples' lowest
/// `requires-python`, so that `uv lock` finds a solution; then the wheels this interpreter
/// installs that the 3.9 resolution does not include.
const DOWNLOADS: &[(&[&str], &[&str])] = &[
    (
        &["--python-version", "3.9"],
        &[
            "hatchling==1.27.0",
            "poetry-core==2.2.1",
            "pydantic==2.13.5",
            "pytest==8.4.2",
            "editables==0.6",
            "colorama==0.4.6",
        ],
    ),
    (&["--python-version", "3.9", "--no-deps"], &["exceptiongroup==1.3.2", "tomli==2.5.0"]),
    (&["--no-deps"], &["hatchling==1.33.0"]),
    (&["--no-deps"], &["hatchling==1.28.0"]),
    (&["--no-deps"], &["pydantic-core==2.46.5"]),
    // The backend of the setuptools package that the build frontend's tests add to a sample.
    (&["--no-deps"], &["setuptools==80.9.0"]),
    // What a package that asks for setuptools-scm puts into the shared build environment.
    (&["--no-deps"], &["setuptools-scm==10.3.4", "vcs-versioning==2.6.0"]),
];

/// The directory of wheels, downloading them the first time (one process at a time).
pub fn dir() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    let dir = target.join("test-wheels");
    let stamp = dir.join(".complete");
    let wanted = format!("{DOWNLOADS:?}");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return dir;
    }
    std::fs::create_dir_all(&target).unwrap();
    let lock = std::fs::File::create(target.join("test-wheels.lock")).unwrap();
    lock.lock().unwrap();
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (flags, requirements) in DOWNLOADS {
        let out = Command::new(super::tool("python"))
            .args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary", ":all:"])
            .args(*flags)
            .arg("--dest")
            .arg(&dir)
            .args(*requirements)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip download {requirements:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(&stamp, wanted).unwrap();
    dir
}
