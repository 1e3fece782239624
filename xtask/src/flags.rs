//! The command line, as a grammar. `lib.rs` dispatches the parsed commands to their modules.

#![allow(unreachable_pub)]

use std::{path::PathBuf, str::FromStr, time::Duration};

use crate::{
    config::Backend,
    output::ColorChoice,
    quickstart::sample::Shape,
    test::Shard,
    usage::usage,
    version::{Bump as BumpKind, BumpChoice},
};

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
            /// any run failed. The command is yours, so it keeps your environment, credentials
            /// included (`GH_TOKEN`, `UV_PUBLISH_*`, …): every other child of the xtask gets
            /// none. Secrets of 8 characters or more are masked in what it prints.
            cmd exec {
                /// Package directories, relative to the root.
                repeated paths: String
                /// Every package of the monorepo.
                optional --all
                /// How many packages at once (default: 1, so output stays in order).
                optional -j, --jobs n: Count
                /// Start nothing new after the first failure.
                optional --fail-fast
            }
        }

        /// Build and upload packages to a package index, in dependency order, resumably.
        ///
        /// A version the index holds is published, whoever built it, and is not built again.
        /// The rest is built first, in parallel, after its `[build.hooks]`, and compared with
        /// its previous release on the index (a build that lost files or half its size stops);
        /// then each package is uploaded as soon as its internal dependencies are visible
        /// (with uv, by the tool itself over HTTP, as `uv publish` would). Our own interrupted upload is finished; new
        /// projects past the index's quota are deferred. A version the index closed to new
        /// files (its first file older than the index's `closed-after`: 14 days on the public
        /// index) gets nothing more: our own interrupted upload of it fails (release a new
        /// version), `--complete` is refused. The plan's first line says where files go; one
        /// run at a time per checkout. Credentials come from `UV_PUBLISH_TOKEN`, or
        /// `UV_PUBLISH_USERNAME` and `UV_PUBLISH_PASSWORD`, or trusted publishing in GitHub
        /// Actions; without any, a run that would upload fails before building, dry runs too.
        /// A build hook that runs past its `timeout` (`10m` unless `[build.hooks]` gives one)
        /// is killed with its children.
        cmd publish {
            /// Package directories, relative to the root.
            repeated paths: String
            /// Every package of the monorepo.
            optional --all
            /// Packages whose version changed since this ref (new packages count).
            optional --changed-since rev: String
            /// How many builds at once (default: the number of cores); uploads run 4 times as many.
            optional -j, --jobs n: Count
            /// The index to read and upload to, by its name in release.toml (`[index.NAME]`;
            /// `default` is `[index]`, the public index unless set).
            optional --index name: String
            /// The index's JSON API base, to see what is published; needs --publish-url.
            optional --index-url url: Url
            /// Where uploads go; needs --index-url.
            optional --publish-url url: Url
            /// `uv` or `poetry` (default: the configuration).
            optional --backend backend: Backend
            /// How long to wait for a dependency to be visible on the index, and for another
            /// publish holding `target/publish` to finish (default: 5m).
            optional --wait duration: Wait
            /// Retries of an upload that failed for a transient reason (default: 4).
            optional --retries n: u32
            /// Let these packages (names) through the artifact check although they lost files
            /// or more than half their size against their previous release.
            repeated --accept-changes package: String
            /// Skip the comparison with the previous release (stated in the plan).
            optional --no-artifact-check
            /// Build every package with its own `uv build` process, without the build
            /// frontend that builds package after package in one Python process per worker.
            optional --no-build-frontend
            /// Upload the missing files (a missing sdist) of versions another build put on the
            /// index, from our own build (refused for a version the index closed).
            optional --complete
            /// Print the plan and build nothing, upload nothing; exits as the real run would.
            optional --dry-run
            /// The report (or the plan) as JSON on stdout.
            optional --json
        }

        /// The changelog: pull requests since the last release, by package, into CHANGELOG.md.
        ///
        /// The range runs from the highest release tag that is an ancestor of HEAD (or --since)
        /// to HEAD; pull requests and their packages come from one `git log` walk. Titles come
        /// from GitHub through `gh` when a token is set (GH_TOKEN, GITHUB_TOKEN or
        /// GH_ENTERPRISE_TOKEN), else from the squash subjects.
        cmd changelog {
            /// Write the new release's section at the placeholder of the changelog file.
            default cmd generate {
                /// Print exactly the text that would be inserted, and change nothing.
                optional --dry-run
                /// The structured changelog (packages, versions, pull requests, orphans) as JSON on stdout.
                optional --json
                /// The start of the range (default: the highest release tag that is an ancestor of HEAD).
                optional --since rev: String
                /// The release date in the heading, `YYYY-MM-DD` (default: today in UTC).
                optional --date date: String
                /// Never ask GitHub: titles from the squash subjects, links from `github.repository`.
                optional --offline
                /// The notes of this one package (a directory) since its own last tag, grouped
                /// by conventional-commit type, into `changelog.package-file` when it exists.
                optional --package path: String
            }
            /// Print one release's section of the changelog, with the release-notes header on top
            /// (for `gh release create --notes-file`).
            cmd notes {
                /// The umbrella version of the release, e.g. `0.14.13`.
                required --version version: String
            }
        }
        /// Begin a release: bump the umbrella's version, move core to the same version, and
        /// require it in the umbrella as `>=NEW,<NEXT_MINOR`.
        ///
        /// The compatibility wave comes with it: every package whose internal requirement
        /// excludes a new version (`llama-index-core>=0.13.0,<0.14` against core 0.14.0) gets
        /// the upper bound widened to the next series, in its own style (`<0.15`), and a patch
        /// bump; `[wave]` in release.toml changes both. Prints the plan (the count and the first
        /// diffs; --json lists everything), then applies it all-or-nothing.
        cmd prepare {
            /// Release these packages (directories) instead of the umbrella and core: each
            /// moves with its release group, and the compatibility wave follows every move.
            repeated paths: String
            /// Which part to bump: `major`, `minor` or `patch` (the default); with paths, also
            /// `auto`: from the conventional commit subjects since each package's last tag.
            optional --bump kind: BumpChoice
            /// The same as --bump (the name the old tool used).
            optional --version-type kind: BumpChoice
            /// Print the plan and change nothing.
            optional --dry-run
            /// The old and new versions and requirements as JSON on stdout.
            optional --json
            /// Run even when the working tree has uncommitted changes.
            optional --allow-dirty
            /// Then run `uv lock` in every rewritten package, in parallel (needs the index).
            optional --lock
        }
        /// Check that a release can go ahead: the release branch is checked out, and the core
        /// package's version is (or is not yet) on the package index.
        ///
        /// With --bumps, the pull request check instead: every package whose shipped files
        /// changed since the merge base with --base-ref has a new version (files matching
        /// `bumps.unshipped`, by default tests, docs, examples, Markdown and lock files, need none), no
        /// version went down or skipped a release, none is on the index already (with
        /// --index-url), and no internal requirement excludes its dependency's version.
        cmd check {
            /// With --bumps: only these package directories.
            repeated paths: String
            /// The pull request check: versions against the merge base with --base-ref.
            optional --bumps
            /// With --bumps: the branch the pull request goes into, e.g. `origin/main`.
            optional --base-ref rev: String
            /// With --bumps: also fail versions the index has (`index.url`, or --index-url).
            optional --index
            /// Before core is published: core's version must be newer than every version on the index.
            optional --before-core
            /// After core is published (the default): core's exact version must be on the index.
            optional --after-core
            /// Poll the index until the check passes or this much time is up: `30s`, `5m`, `1h`.
            optional --wait duration: Wait
            /// The base of the index's JSON API (default: `index.url` in release.toml).
            optional --index-url url: Url
            /// The verdicts as JSON on stdout.
            optional --json
        }

        /// The whole release as typed, resumable steps: `release prepare`, then `release publish`.
        ///
        /// Two phases: `release prepare` (checks,
        /// version bumps, changelog, release commit and pull request) and `release publish` (the
        /// gate; the install check: before any upload, build what the release uploads and
        /// install it with the umbrella from those builds plus the index; a package that does
        /// not build, install or import is held back with what requires it, and core or the
        /// umbrella failing holds back the release; core, a wait until the index serves it, the
        /// umbrella and the changed packages in dependency order, the install proof from the
        /// index, the tag on the release commit, the GitHub release; a run that held a package
        /// back exits 1 and says how to release it). Without a phase, both run
        /// in one go. Every step first looks whether its effect is already there and skips it, so
        /// a failed release is finished by running the same command again. The index is chosen
        /// as `publish` chooses it (`--index NAME`, or `--index-url` with `--publish-url`), and
        /// the plan says where files go; without upload credentials it fails, dry runs too.
        ///
        /// Each hook of `[release]` (prepare hooks, the gate) runs with a time limit, its `timeout`
        /// in release.toml (`10m` for a prepare hook, `30m` for the gate by default): at it, the
        /// hook is killed with every process it started and the step fails with its last lines.
        /// Off a terminal, a line every 30 s says what still runs and its last line of output.
        cmd release {
            /// `prepare` or `publish`; both in one go when left out.
            optional phase: Phase
            /// Release these packages (directories), each with its own tag and notes, instead
            /// of the umbrella and core.
            repeated paths: String
            /// prepare: which part to bump: `major`, `minor` or `patch` (the default); with
            /// paths, also `auto` (from the conventional commits since each package's tag).
            optional --bump kind: BumpChoice
            /// prepare: the same as --bump (the name the old tool used).
            optional --version-type kind: BumpChoice
            /// A hotfix of the release with this tag: the checked-out branch is the release
            /// branch, HEAD must descend from the tag, and the changelog starts there.
            optional --from-tag tag: String
            /// prepare: commit the release files on the branch checked out now; nothing is
            /// pushed (that takes --pr). Without either, `release prepare` leaves the changes
            /// uncommitted; `release` without a phase always commits, on the current branch.
            optional --commit
            /// prepare: commit on a new branch `release/<tag>` (e.g. `release/v0.14.13`), push it
            /// to `origin` and open the release pull request into `release.branch` (implies --commit).
            optional --pr
            /// prepare: the release date in the changelog, `YYYY-MM-DD` (default: today in UTC).
            optional --date date: String
            /// prepare: run even when the working tree has uncommitted changes.
            optional --allow-dirty
            /// prepare: run `uv lock` in every rewritten package, and commit the locks (needs the index).
            optional --lock
            /// The index to read and upload to, by its name in release.toml (`[index.NAME]`;
            /// `default` is `[index]`), as `publish --index` takes it.
            optional --index name: String
            /// The base of the index's JSON API (default: `index.url` in release.toml); to
            /// publish, give --publish-url too.
            optional --index-url url: Url
            /// publish: where distributions are uploaded; needs --index-url.
            optional --publish-url url: Url
            /// publish: how long to wait for uploads to appear on the index (default 5m).
            optional --wait duration: Wait
            /// publish: how many packages to build at once (default: the number of cores).
            optional -j, --jobs n: Count
            /// publish: leave this package (a name or a directory) out of the release on purpose,
            /// with every package that requires it; repeat for several. Not core or the umbrella,
            /// nor what they require. Released later by the same command without it.
            repeated --hold package: String
            /// Ask neither GitHub nor the index (prepare), skip the GitHub steps (publish).
            optional --offline
            /// Print every step with what it would do or found done, and change nothing.
            optional --dry-run
            /// The steps as JSON on stdout.
            optional --json
        }

        /// Run packages' tests with uv, in parallel, against the working tree's changes: the named
        /// packages, or everything that changed since a base ref plus what depends on it.
        ///
        /// Each package's environment is installed (`uv sync --locked` when it has a uv.lock), then
        /// the changed packages it depends on are installed into it from the working tree. A
        /// dependant that fails is run again against the index's versions: failing there too, it
        /// is "already failing" and does not fail the run (unless --strict); passing there, it is
        /// a regression. Packages without `tests/` or whose `requires-python` excludes the
        /// interpreter are skipped.
        cmd test {
            /// Package directories, relative to the root (tested alone unless --with-dependants).
            repeated paths: String
            /// The changes are what differs from the merge base with this ref; with no package
            /// directories, test those packages and their dependants.
            optional --base-ref rev: String
            /// Also test the packages that depend on the named ones, directly or not.
            optional --with-dependants
            /// How many packages at once (default: the number of cores).
            optional -j, --jobs n: Count
            /// Start no new package after the first failure.
            optional --fail-fast
            /// Measure coverage (pytest-cov); the table shows the total.
            optional --cov
            /// Fail a package whose lines changed since --base-ref are under N percent covered
            /// (diff-cover; needs --cov and --base-ref).
            optional --cov-fail-under n: u32
            /// Seconds a package may take, install and tests together (default 600).
            optional --timeout secs: u64
            /// The Python version to test with, passed to uv (`3.9`); `requires-python` is
            /// checked against it.
            optional --python version: String
            /// Dependants that fail against the index's versions too fail the run as well.
            optional --strict
            /// A stale lock (uv.lock or poetry.lock older than its pyproject.toml) fails its
            /// package, untested. Without it, the package is tested with a fresh lock, the tree's
            /// lock is put back as it was, and the stale lock is a warning.
            optional --strict-locks
            /// Run the K-th of N disjoint parts of the selection (`2/4`), balanced by --timings.
            optional --shard k_of_n: Shard
            /// A JSON file of each package's seconds: read to balance shards, updated after the run.
            optional --timings file: PathBuf
            /// Print the selection (with --json: `{"packages": [...]}`) and run nothing.
            optional --dry-run
            /// Run the selection that `--dry-run --json` printed (computed once for every shard of a
            /// CI run) instead of selecting again; --shard then splits it by its expected seconds.
            optional --selection file: PathBuf
            /// Merge the `--json` results of shards into one table and step summary; runs nothing.
            repeated --merge file: PathBuf
            /// The results as JSON on stdout.
            optional --json
        }

        /// Format: the formatting hooks of the monorepo's `.pre-commit-config.yaml`, through uv.
        cmd fmt {
            /// Only the files changed in the work tree (default: all files).
            optional --changed
        }
        /// Lint: every hook of the monorepo's `.pre-commit-config.yaml`, through uv.
        cmd lint {
            /// Only the files changed in the work tree (default: all files).
            optional --changed
        }

        /// Rehearse a whole release on a generated sample monorepo, against a real local package
        /// index (pypiserver) and the GitHub stand-in: no network, no credentials.
        ///
        /// Seeds the index with the previous release, runs `release prepare --pr`, merges the
        /// release pull request, runs `release publish`, and says where the results are.
        cmd rehearse {
            /// Where to put the sample, the index and the logs (default: target/rehearsal).
            optional dir: PathBuf
            /// How many packages the sample has (default 40).
            optional --packages n: usize
            /// How many pull requests the release has (default 40).
            optional --prs n: usize
            /// `llama-index` (the default: the umbrella and core's release) or `independent` (a
            /// release of two packages of a monorepo of independent packages, each with its own
            /// tag, notes and GitHub release).
            optional --shape shape: Shape
        }

        /// Prove that a release installs: in a fresh virtual environment outside the monorepo,
        /// install `<umbrella>==X` and every package the release published from the index's
        /// simple API, then import each one's top-level modules. The simple pages lag the JSON
        /// API, so a resolver failure is retried until `--wait` is up.
        ///
        /// With `--built`: would this release install? Before anything is uploaded, build every
        /// package of the release that the index lacks (as `publish` builds them, reused when
        /// unchanged), then install from those files plus the index and import each one.
        /// `release publish` runs this check before its first upload.
        ///
        /// With `--local`: the build check instead: build the umbrella from the working tree,
        /// install that wheel (dependencies from the index), import it.
        cmd verify {
            /// The release to prove (default: the working tree's umbrella version).
            optional --version version: String
            /// The previous release's tag: packages whose version changed since are this
            /// release's (default: the highest release tag below the version).
            optional --since tag: String
            /// Build the release's packages the index lacks and install from those builds plus
            /// the index (the check before any upload), instead of from the index alone.
            optional --built
            /// Build the umbrella from the working tree and install that, instead of the release.
            optional --local
            /// The base of the index's JSON API (default: `index.url`); installs use its simple API.
            optional --index-url url: Url
            /// How long to retry while the index does not serve the files yet (default: 10m).
            optional --wait duration: Wait
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
            /// `llama-index` (the default: an umbrella and core released together) or
            /// `independent` (packages under `libs/*`, each with its own tags, version source and lock).
            optional --shape shape: Shape
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
    Changelog(Changelog),
    Prepare(Prepare),
    Check(Check),
    Release(Release),
    Test(Test),
    Fmt(Fmt),
    Lint(Lint),
    Rehearse(Rehearse),
    Verify(Verify),
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
    pub jobs: Option<Count>,
    pub fail_fast: bool,
}

#[derive(Debug)]
pub struct Publish {
    pub paths: Vec<String>,

    pub all: bool,
    pub changed_since: Option<String>,
    pub jobs: Option<Count>,
    pub index: Option<String>,
    pub index_url: Option<Url>,
    pub publish_url: Option<Url>,
    pub backend: Option<Backend>,
    pub wait: Option<Wait>,
    pub retries: Option<u32>,
    pub accept_changes: Vec<String>,
    pub no_artifact_check: bool,
    pub no_build_frontend: bool,
    pub complete: bool,
    pub dry_run: bool,
    pub json: bool,
}

#[derive(Debug)]
pub struct Changelog {
    pub subcommand: ChangelogCmd,
}

#[derive(Debug)]
pub enum ChangelogCmd {
    Generate(Generate),
    Notes(Notes),
}

#[derive(Debug)]
pub struct Generate {
    pub dry_run: bool,
    pub json: bool,
    pub since: Option<String>,
    pub date: Option<String>,
    pub offline: bool,
    pub package: Option<String>,
}

#[derive(Debug)]
pub struct Notes {
    pub version: String,
}

#[derive(Debug)]
pub struct Prepare {
    pub paths: Vec<String>,

    pub bump: Option<BumpChoice>,
    pub version_type: Option<BumpChoice>,
    pub dry_run: bool,
    pub json: bool,
    pub allow_dirty: bool,
    pub lock: bool,
}

#[derive(Debug)]
pub struct Check {
    pub paths: Vec<String>,

    pub bumps: bool,
    pub base_ref: Option<String>,
    pub index: bool,
    pub before_core: bool,
    pub after_core: bool,
    pub wait: Option<Wait>,
    pub index_url: Option<Url>,
    pub json: bool,
}

#[derive(Debug)]
pub struct Release {
    pub phase: Option<Phase>,
    pub paths: Vec<String>,

    pub bump: Option<BumpChoice>,
    pub version_type: Option<BumpChoice>,
    pub from_tag: Option<String>,
    pub commit: bool,
    pub pr: bool,
    pub date: Option<String>,
    pub allow_dirty: bool,
    pub lock: bool,
    pub index: Option<String>,
    pub index_url: Option<Url>,
    pub publish_url: Option<Url>,
    pub wait: Option<Wait>,
    pub jobs: Option<Count>,
    pub hold: Vec<String>,
    pub offline: bool,
    pub dry_run: bool,
    pub json: bool,
}

#[derive(Debug)]
pub struct Test {
    pub paths: Vec<String>,

    pub base_ref: Option<String>,
    pub with_dependants: bool,
    pub jobs: Option<Count>,
    pub fail_fast: bool,
    pub cov: bool,
    pub cov_fail_under: Option<u32>,
    pub timeout: Option<u64>,
    pub python: Option<String>,
    pub strict: bool,
    pub strict_locks: bool,
    pub shard: Option<Shard>,
    pub timings: Option<PathBuf>,
    pub dry_run: bool,
    pub selection: Option<PathBuf>,
    pub merge: Vec<PathBuf>,
    pub json: bool,
}

#[derive(Debug)]
pub struct Fmt {
    pub changed: bool,
}

#[derive(Debug)]
pub struct Lint {
    pub changed: bool,
}

#[derive(Debug)]
pub struct Rehearse {
    pub dir: Option<PathBuf>,

    pub packages: Option<usize>,
    pub prs: Option<usize>,
    pub shape: Option<Shape>,
}

#[derive(Debug)]
pub struct Verify {
    pub version: Option<String>,
    pub since: Option<String>,
    pub built: bool,
    pub local: bool,
    pub index_url: Option<Url>,
    pub wait: Option<Wait>,
}

#[derive(Debug)]
pub struct Sample {
    pub dir: PathBuf,

    pub packages: Option<usize>,
    pub prs: Option<usize>,
    pub force: bool,
    pub shape: Option<Shape>,
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

/// The one rule of `--bump` and its old name `--version-type` (`pkg bump`, `prepare`, `release`):
/// patch when neither is given, a usage error when both are. `T` is a kind ([`BumpKind`]), or,
/// where `auto` is a choice too (`prepare`, `release`), a [`BumpChoice`].
pub fn bump_kind<T: From<BumpKind>>(bump: Option<T>, version_type: Option<T>) -> anyhow::Result<T> {
    match (bump, version_type) {
        (Some(_), Some(_)) => Err(usage("give the bump kind once: `--bump` and `--version-type` are the same flag")),
        (a, b) => Ok(a.or(b).unwrap_or_else(|| BumpKind::Patch.into())),
    }
}

/// A number of things at once (`-j`): at least 1, since 0 would run nothing. Checked while
/// parsing, so every command that takes one rejects 0 the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub usize);

impl FromStr for Count {
    type Err = String;
    fn from_str(s: &str) -> Result<Count, String> {
        match s.parse::<usize>() {
            Ok(0) => Err("`0` would run nothing: give at least 1".to_string()),
            Ok(n) => Ok(Count(n)),
            Err(_) => Err(format!("`{s}` is not a whole number")),
        }
    }
}

/// How long to wait (`--wait`: `30s`, `5m`, `1m30s`, …), parsed while parsing the flags by
/// [`crate::time::parse_duration`], so every command that waits reads it one way and a bad value
/// is a usage error that names the flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub Duration);

impl Wait {
    /// The duration given, or `default` when the flag is absent.
    pub fn or(wait: Option<Wait>, default: Duration) -> Duration {
        wait.map_or(default, |w| w.0)
    }
}

impl FromStr for Wait {
    type Err = String;
    fn from_str(s: &str) -> Result<Wait, String> {
        crate::time::parse_duration(s).map(Wait)
    }
}

/// An index or upload URL from a flag, checked while parsing by [`crate::url::check`], the
/// same check `release.toml`'s URLs get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url(pub String);

impl FromStr for Url {
    type Err = String;
    fn from_str(s: &str) -> Result<Url, String> {
        crate::url::check(s).map(|()| Url(s.to_string()))
    }
}

/// The phase `release` runs: the positional argument of `cargo xtask release`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prepare,
    Publish,
}

impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Phase, String> {
        match s {
            "prepare" => Ok(Phase::Prepare),
            "publish" => Ok(Phase::Publish),
            _ => Err(format!("`{s}` is not a release phase: use `prepare` or `publish`, or neither for both")),
        }
    }
}

impl Bump {
    /// `--bump`, or its old name `--version-type`; patch when neither is given.
    pub fn kind(&self) -> anyhow::Result<BumpKind> {
        bump_kind(self.bump, self.version_type)
    }
}
