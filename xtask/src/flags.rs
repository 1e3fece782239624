//! The command line, as a grammar. `main` dispatches the parsed commands to their modules.

#![allow(unreachable_pub)]

use std::path::PathBuf;

use crate::{config::Backend, output::ColorChoice, version::Bump as BumpKind};

xflags::xflags! {
    src "./src/flags.rs"

    /// Release tooling for a Python monorepo: package listing, version bumps, and commands to
    /// run in every package. Run `cargo xtask <command> --help` for each command.
    cmd xtask {
        /// The monorepo's root (default: the repository that contains this xtask).
        optional --root path: PathBuf
        /// Colors on stderr: `auto` (a terminal without NO_COLOR), `always` or `never`.
        optional --color when: ColorChoice

        /// Inspect and change the monorepo's packages.
        cmd pkg {
            /// List packages: name, version and directory.
            cmd info {
                /// Package directories, relative to the root (`.` is the umbrella).
                repeated paths: String
                /// Every package of the monorepo.
                optional --all
                /// A JSON array of objects with `name`, `version` and `path` on stdout.
                optional --json
            }
            /// Print one package's version and nothing else (default: the umbrella's).
            cmd version {
                /// A package directory, relative to the root.
                optional path: String
            }
            /// Packages changed since a base ref (`git diff BASE...HEAD`), and what depends on them.
            ///
            /// Files that belong to no package are listed too, never dropped.
            cmd changed {
                /// The ref to compare with, e.g. `origin/main` or a release tag.
                required --base-ref rev: String
                /// Add the packages that depend on the changed ones, directly or not.
                optional --dependants
                /// JSON on stdout: `changed`, `dependants` and `unowned_files`.
                optional --json
            }
            /// Bump `project.version` in packages, editing nothing else.
            cmd bump {
                /// Package directories, relative to the root.
                repeated paths: String
                /// Every package of the monorepo.
                optional --all
                /// Which part to bump: `major`, `minor` or `patch` (the default).
                optional --bump kind: BumpKind
                /// The same as --bump (the name the old tool used).
                optional --version-type kind: BumpKind
                /// Print the plan (a diff per file) and change nothing.
                optional --dry-run
                /// The plan as JSON on stdout.
                optional --json
            }
            /// Run a command in package directories: `pkg exec --all -- uv build`.
            ///
            /// Everything after `--` is the command and its arguments, passed as they are (no
            /// shell). Output is printed per package when it finishes; the exit code is 1 when
            /// any run failed.
            cmd exec {
                /// Package directories, relative to the root.
                repeated paths: String
                /// Every package of the monorepo.
                optional --all
                /// How many packages at once (default: 1, so output stays in order).
                optional -j, --jobs n: usize
                /// Start nothing new after the first failure.
                optional --fail-fast
            }
        }

        /// Build and upload packages to a package index, in dependency order, resumably.
        ///
        /// Every selected package is built first, in parallel; then the packages are uploaded
        /// in waves of the dependency order, each once its internal dependencies are visible on
        /// the index. Files already on the index with the same sha256 are skipped, so running
        /// the same command again finishes an interrupted run. Credentials come from
        /// `UV_PUBLISH_TOKEN`, or `UV_PUBLISH_USERNAME` and `UV_PUBLISH_PASSWORD`.
        cmd publish {
            /// Package directories, relative to the root.
            repeated paths: String
            /// Every package of the monorepo.
            optional --all
            /// Packages whose version changed since this ref (new packages count).
            optional --changed-since rev: String
            /// How many builds at once (default: the number of cores); uploads run 4 times as many.
            optional -j, --jobs n: usize
            /// The index's JSON API base, to see what is published (default: the configuration).
            optional --index-url url: String
            /// Where uploads go (default: the configuration).
            optional --publish-url url: String
            /// `uv` or `poetry` (default: the configuration).
            optional --backend backend: Backend
            /// How long to wait for a dependency to be visible on the index (default: 5m).
            optional --wait duration: String
            /// Retries of an upload that failed for a transient reason (default: 4).
            optional --retries n: u32
            /// Print the plan and build nothing, upload nothing.
            optional --dry-run
            /// The report (or the plan) as JSON on stdout.
            optional --json
        }

        /// Generate a LlamaIndex-shaped sample monorepo with git history, for trying the tool
        /// out, tests and benchmarks.
        cmd sample {
            /// Where to create it; must not exist, or be empty.
            required dir: PathBuf
            /// How many packages (default 60; LlamaIndex has about 660).
            optional --packages n: usize
            /// How many pull requests after the last release tag (default 40).
            optional --prs n: usize
            /// Replace `dir` if it exists.
            optional --force
        }
    }
}
// generated start
// The following code is generated by `xflags` macro.
// Run `env UPDATE_XFLAGS=1 cargo build` to regenerate.
#[derive(Debug)]
pub struct Xtask {
    pub root: Option<PathBuf>,
    pub color: Option<ColorChoice>,
    pub subcommand: XtaskCmd,
}

#[derive(Debug)]
pub enum XtaskCmd {
    Pkg(Pkg),
    Publish(Publish),
    Sample(Sample),
}

#[derive(Debug)]
pub struct Pkg {
    pub subcommand: PkgCmd,
}

#[derive(Debug)]
pub enum PkgCmd {
    Info(Info),
    Version(Version),
    Changed(Changed),
    Bump(Bump),
    Exec(Exec),
}

#[derive(Debug)]
pub struct Info {
    pub paths: Vec<String>,

    pub all: bool,
    pub json: bool,
}

#[derive(Debug)]
pub struct Version {
    pub path: Option<String>,
}

#[derive(Debug)]
pub struct Changed {
    pub base_ref: String,
    pub dependants: bool,
    pub json: bool,
}

#[derive(Debug)]
pub struct Bump {
    pub paths: Vec<String>,

    pub all: bool,
    pub bump: Option<BumpKind>,
    pub version_type: Option<BumpKind>,
    pub dry_run: bool,
    pub json: bool,
}

#[derive(Debug)]
pub struct Exec {
    pub paths: Vec<String>,

    pub all: bool,
    pub jobs: Option<usize>,
    pub fail_fast: bool,
}

#[derive(Debug)]
pub struct Publish {
    pub paths: Vec<String>,

    pub all: bool,
    pub changed_since: Option<String>,
    pub jobs: Option<usize>,
    pub index_url: Option<String>,
    pub publish_url: Option<String>,
    pub backend: Option<Backend>,
    pub wait: Option<String>,
    pub retries: Option<u32>,
    pub dry_run: bool,
    pub json: bool,
}

#[derive(Debug)]
pub struct Sample {
    pub dir: PathBuf,

    pub packages: Option<usize>,
    pub prs: Option<usize>,
    pub force: bool,
}

impl Xtask {
    #[allow(dead_code)]
    pub fn from_env_or_exit() -> Self {
        Self::from_env_or_exit_()
    }

    #[allow(dead_code)]
    pub fn from_env() -> xflags::Result<Self> {
        Self::from_env_()
    }

    #[allow(dead_code)]
    pub fn from_vec(args: Vec<std::ffi::OsString>) -> xflags::Result<Self> {
        Self::from_vec_(args)
    }
}
// generated end

/// A mistake in how the command was called: reported with exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

impl Bump {
    /// `--bump`, or its old name `--version-type`; patch when neither is given.
    pub fn kind(&self) -> anyhow::Result<BumpKind> {
        match (self.bump, self.version_type) {
            (Some(_), Some(_)) => Err(usage("give the bump kind once: `--bump` and `--version-type` are the same flag")),
            (a, b) => Ok(a.or(b).unwrap_or(BumpKind::Patch)),
        }
    }
}
