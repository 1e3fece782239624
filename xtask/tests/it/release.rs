//! `cargo xtask release` end to end: a generated monorepo with a bare `origin`, a real local
//! index (pypiserver) seeded with the previous release, and the real `gh` talking to the GitHub
//! stand-in. Failures are injected at the steps, and the same command, rerun, finishes the job.

use crate::support;

use expect_test::expect;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Mutex,
};

use support::{
    github::{self, StandIn},
    pypiserver::PypiServer,
    Run, Sample, TempDir,
};

const INDEX_TOKEN: &str = "pypi-index-token-secret-0123456789";

struct World {
    sample: Sample,
    origin: TempDir,
    index: PypiServer,
    github: StandIn,
}

impl World {
    /// A sample whose previous release (v0.14.12) is on the index and whose history is on origin.
    fn new(packages: usize, prs: usize) -> World {
        let sample = Sample::new(packages, prs);
        let origin = TempDir::new("origin");
        support::git(origin.path(), &["init", "--quiet", "--bare"]);
        sample.git(&["remote", "add", "origin", origin.path().to_str().unwrap()]);
        sample.git(&["push", "--quiet", "origin", "main", "--tags"]);
        let index = PypiServer::start_holding(&previous_release(&sample));
        let github = StandIn::start(&github::pulls_from_git(&sample.root(), "v0.14.10"), &[]);
        World { sample, origin, index, github }
    }

    fn env(&self, github: &StandIn) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> =
            github.env().into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case("no_proxy")).collect();
        // gh reaches the stand-in through the proxy; the local index is reached directly.
        env.push(("NO_PROXY".into(), "127.0.0.1".into()));
        env.push(("no_proxy".into(), "127.0.0.1".into()));
        env.push(("UV_PUBLISH_TOKEN".into(), INDEX_TOKEN.into()));
        env
    }

    /// Any command in the sample, with the release's environment.
    fn xtask(&self, args: &[&str]) -> Run {
        github::xtask(&self.sample.root(), args, &self.env(&self.github))
    }

    fn release(&self, args: &[&str]) -> Run {
        self.release_with(&self.github, args)
    }

    fn release_with(&self, github: &StandIn, args: &[&str]) -> Run {
        self.release_env(github, args, &[])
    }

    fn release_env(&self, github: &StandIn, args: &[&str], extra: &[(String, String)]) -> Run {
        let mut all = vec!["release"];
        all.extend_from_slice(args);
        let url = self.index.index_url();
        let publish = self.index.publish_url();
        if args.first() != Some(&"prepare") {
            all.extend(["--publish-url", &publish, "--wait", "30s"]);
        }
        all.extend(["--index-url", &url]);
        let mut env = self.env(github);
        env.extend(extra.iter().cloned());
        github::xtask(&self.sample.root(), &all, &env)
    }

    fn files_on_index(&self) -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(self.index.package_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        files
    }
}

/// The previous release's files: every package of the sample at v0.14.12, published by the
/// xtask from a worktree at the tag. Built once per tree and test process (the sample is
/// deterministic), then copied to each world's index, so that every world does not build the
/// same twenty packages again.
fn previous_release(sample: &Sample) -> Vec<PathBuf> {
    static BUILT: Mutex<BTreeMap<String, Vec<PathBuf>>> = Mutex::new(BTreeMap::new());
    let tree = sample.git(&["rev-parse", "v0.14.12^{tree}"]);
    // Held while building: a second world with the same tree waits for these files.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(files) = built.get(&tree) {
        return files.clone();
    }
    let dir = support::run_dir("release-seeds").join(&tree);
    let index = PypiServer::start();
    let worktree = TempDir::new("previous");
    let tree_dir = worktree.path().join("tree");
    sample.git(&["worktree", "add", "--quiet", "--detach", tree_dir.to_str().unwrap(), "v0.14.12"]);
    let run = github::xtask(
        &tree_dir,
        &["publish", "--all", "--index-url", &index.index_url(), "--publish-url", &index.publish_url()],
        &[("UV_PUBLISH_TOKEN".to_string(), INDEX_TOKEN.to_string())],
    );
    assert_eq!(run.code, 0, "seeding the index failed:\n{}", run.stderr);
    sample.git(&["worktree", "remove", "--force", tree_dir.to_str().unwrap()]);
    let files = support::keep(std::fs::read_dir(index.package_dir()).unwrap().map(|e| e.unwrap().path()), &dir);
    built.insert(tree, files.clone());
    files
}

fn no_secrets(run: &Run) {
    for secret in [INDEX_TOKEN, github::TOKEN] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a token leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn dry_runs_change_nothing_locally_or_remotely() {
    let w = World::new(20, 8);
    let files = w.files_on_index();
    let fingerprint = w.sample.fingerprint();
    let origin = support::git(w.origin.path(), &["for-each-ref"]);
    let unchanged = |what: &str, fingerprint: &str| {
        assert!(w.sample.fingerprint() == fingerprint, "{what} changed the tree");
        assert_eq!(w.files_on_index(), files, "{what} uploaded");
        assert_eq!(support::git(w.origin.path(), &["for-each-ref"]), origin, "{what} pushed");
        assert_eq!(
            w.github.state(),
            serde_json::json!({"releases": [], "pulls": []}),
            "{what} created something on GitHub"
        );
    };
    let run = w.release(&["prepare", "--bump", "patch", "--pr", "--dry-run"]).ok();
    no_secrets(&run);
    assert!(run.stdout.contains("bump versions   would  llama-index 0.14.12 → 0.14.13"), "{}", run.stdout);
    assert!(run.stdout.contains("pull request    would  open `Release 0.14.13`"), "{}", run.stdout);
    unchanged("release prepare --dry-run", &fingerprint);
    let run = w.release(&["--bump", "minor", "--dry-run"]).ok();
    assert!(run.stdout.contains("Release 0.15.0: publish, after prepare's release commit"), "{}", run.stdout);
    // Before the release commit exists, the publish phase's plan is the real run's steps, in
    // its order, each said ahead of what it will find.
    let (_, publish) = run.stdout.split_once("publish, after prepare's release commit\n").unwrap();
    let steps: Vec<String> = publish
        .lines()
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).take(3).collect::<Vec<_>>().join(" | "))
        .collect();
    expect![[r#"
        1. check before core | would | `llama-index-core` 0.15.0 must be newer than every version on the index
        2. gate | would | `uv sync` in `llama-index-core`, then `uv run pytest tests` in `llama-index-core`; if it fails, nothing is published
        3. install check | would | before any upload, build the release's packages, then install `llama-index==0.15.0` and every package of the release from those builds plus the index in a fresh environment, and import each one
        4. publish core | would | build and upload `llama-index-core` 0.15.0 to [PUBLISH] (index `--index-url`, read from [INDEX]) with token from UV_PUBLISH_TOKEN
        5. wait for core | would | poll the index until it serves `llama-index-core` 0.15.0
        6. publish packages | would | the umbrella and every package whose version changed since `v0.14.12`, in dependency order
        7. install proof | would | install `llama-index==0.15.0` and every package of the release in a fresh environment, and import each one
        8. tag | would | tag the release commit as `v0.15.0`
        9. push tag | would | push `v0.15.0` to origin, once
        10. GitHub release | would | create `v0.15.0` at the release commit with the changelog's notes
        11. assets | would | attach the sdist of `.` to the GitHub release"#]]
    .assert_eq(&steps.join("\n").replace(&w.index.publish_url(), "[PUBLISH]").replace(&w.index.index_url(), "[INDEX]"));
    unchanged("release --dry-run", &fingerprint);
    // Both phases in one go without upload credentials: the publish phase would fail, so does
    // the dry run, after the whole plan.
    let (url, publish) = (w.index.index_url(), w.index.publish_url());
    let without: Vec<(String, String)> =
        w.env(&w.github).into_iter().filter(|(k, _)| k != "UV_PUBLISH_TOKEN").collect();
    let args = ["release", "--bump", "minor", "--dry-run", "--index-url", &url, "--publish-url", &publish];
    let run = github::xtask(&w.sample.root(), &args, &without).fails_with(1);
    assert!(run.stdout.contains("Release 0.15.0: publish, after prepare's release commit"), "{}", run.stdout);
    assert!(run.stderr.contains(&format!("no upload credentials for {publish}")), "{}", run.stderr);
    unchanged("release --dry-run without credentials", &fingerprint);
    // Publishing before anything was prepared is refused, and says what to do.
    let run = w.release(&["publish", "--dry-run"]).fails_with(1);
    assert!(run.stderr.contains("run `cargo xtask release prepare` first"), "{}", run.stderr);
    unchanged("release publish --dry-run", &fingerprint);

    // Prepared and committed: the publish dry run shows every step to do and does none.
    w.release(&["prepare", "--bump", "patch", "--commit", "--offline"]).ok();
    let fingerprint = w.sample.fingerprint();
    let run = w.release(&["publish", "--dry-run"]).ok();
    no_secrets(&run);
    for step in [
        "publish core       would",
        "tag                would  tag the release commit",
        "push tag           would",
        "GitHub release     would",
    ] {
        assert!(run.stdout.contains(step), "{step}:\n{}", run.stdout);
    }
    let to = format!(
        "to {}/ (index `--index-url`, read from {}) with token from UV_PUBLISH_TOKEN",
        w.index.url(),
        w.index.url()
    );
    assert!(run.stdout.contains(&to), "the plan says where files go:\n{}", run.stdout);
    unchanged("release publish --dry-run after prepare", &fingerprint);
    destinations_as_publish_takes_them(&w);
    unchanged("release publish --dry-run with other destinations", &fingerprint);
}

/// `release publish` chooses its index as `publish` does, and its dry run fails where the real
/// run would for want of upload credentials.
fn destinations_as_publish_takes_them(w: &World) {
    let (root, url) = (w.sample.root(), w.index.index_url());
    let env = w.env(&w.github);
    for (args, missing) in [
        (&["release", "publish", "--dry-run", "--index-url", &url][..], "`--index-url` needs `--publish-url` too"),
        (&["release", "--dry-run", "--index-url", &url], "`--index-url` needs `--publish-url` too"),
        (&["release", "publish", "--dry-run", "--publish-url", &url], "`--publish-url` needs `--index-url` too"),
        (&["release", "publish", "--dry-run", "--index", "nowhere"], "no index named `nowhere` in release.toml"),
    ] {
        let run = github::xtask(&root, args, &env).fails_with(2);
        assert!(run.stderr.contains(missing), "{args:?}:\n{}", run.stderr);
        assert!(run.stdout.is_empty(), "nothing is planned: {}", run.stdout);
    }

    // Without credentials, the dry run says so and fails, as the real run would.
    let without: Vec<(String, String)> = env.iter().filter(|(k, _)| k != "UV_PUBLISH_TOKEN").cloned().collect();
    let publish = format!("{url}/");
    let args = ["release", "publish", "--dry-run", "--index-url", &url, "--publish-url", &publish, "--offline"];
    let run = github::xtask(&root, &args, &without).fails_with(1);
    assert!(run.stdout.contains("with none (set UV_PUBLISH_TOKEN"), "{}", run.stdout);
    let said = format!(
        "no upload credentials for {publish}: set UV_PUBLISH_TOKEN (or UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD), or publish from GitHub Actions with `id-token: write` (trusted publishing)"
    );
    assert!(run.stderr.contains(&said), "{}", run.stderr);

    // By name, from release.toml: the plan names it.
    std::fs::write(root.join("release.toml"), format!("[index.local]\nurl = \"{url}\"\npublish-url = \"{publish}\"\n"))
        .unwrap();
    let run = github::xtask(&root, &["release", "publish", "--dry-run", "--index", "local", "--allow-dirty"], &env);
    std::fs::remove_file(root.join("release.toml")).unwrap();
    let run = run.ok();
    assert!(run.stdout.contains(&format!("to {publish} (index `local`, read from {url})")), "{}", run.stdout);
}

#[test]
fn both_phases_finish_after_failures_at_each_step() {
    let w = World::new(24, 12);

    // prepare: GitHub answers the changelog's query and the look for an open pull request, then
    // fails when the pull request is opened; everything before it stays done.
    let known = github::pulls_from_git(&w.sample.root(), "v0.14.10");
    let flaky = StandIn::start(&known, &["--fail", "502", "--fail-after", "2"]);
    let run = w.release_with(&flaky, &["prepare", "--bump", "patch", "--pr"]).fails_with(1);
    no_secrets(&run);
    assert!(run.stdout.contains("pull request    todo") || run.stdout.contains("pull request    ?"), "{}", run.stdout);
    assert!(
        !support::git(w.origin.path(), &["branch", "--list", "release/v0.14.13"]).is_empty(),
        "the branch was pushed before GitHub failed"
    );
    let run = w.release(&["prepare", "--bump", "patch", "--pr"]).ok();
    for step in ["bump versions   done", "changelog       done", "release commit  done", "push branch     done"] {
        assert!(run.stdout.contains(step), "{step}:\n{}", run.stdout);
    }
    let pulls = &w.github.state()["pulls"];
    assert_eq!(pulls.as_array().unwrap().len(), 1, "{pulls}");
    assert_eq!(pulls[0]["title"], "Release 0.14.13");
    assert_eq!(pulls[0]["head"], "release/v0.14.13");
    // Rerunning once more does nothing at all.
    let again = w.release(&["prepare", "--bump", "patch", "--pr"]).ok();
    assert!(!again.stdout.contains("todo"), "{}", again.stdout);
    assert_eq!(w.github.state()["pulls"].as_array().unwrap().len(), 1);

    // The maintainer squash-merges the pull request.
    w.sample.git(&["switch", "--quiet", "main"]);
    w.sample.git(&["merge", "--quiet", "--squash", "release/v0.14.13"]);
    support::commit_all(&w.sample.root(), "Release 0.14.13 (#20301)");
    let release_commit = w.sample.git(&["rev-parse", "HEAD"]);

    // publish: the umbrella fails to build; the install check builds what the release uploads
    // before the first upload, and the umbrella holds back the release, so nothing goes out,
    // and a rerun after the fix finishes.
    let pyproject = "pyproject.toml".to_string();
    let good = w.sample.read(&pyproject);
    w.sample.write(&pyproject, &good.replace("build-backend = \"", "build-backend = \"no.such."));
    let before = w.files_on_index();
    let run = w.release(&["publish", "--allow-dirty"]).fails_with(1);
    no_secrets(&run);
    assert!(run.stderr.contains("the step `install check` failed"), "{}", run.stderr);
    assert!(run.stderr.contains("its build failed") || run.stderr.contains("no.such"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was uploaded (`llama-index` is held back)"), "{}", run.stderr);
    assert_eq!(w.files_on_index(), before, "nothing was published");
    assert!(w.sample.git(&["tag", "--list", "v0.14.13"]).is_empty(), "no tag before every package is out");
    w.sample.write(&pyproject, &good);

    // The push of the tag fails: origin is unreachable.
    w.sample.git(&["remote", "set-url", "origin", "/nonexistent/origin.git"]);
    let run = w.release(&["publish"]).fails_with(1);
    assert!(run.stdout.contains("publish core        done") || run.stdout.contains("publish core"), "{}", run.stdout);
    assert_eq!(w.sample.git(&["rev-parse", "v0.14.13^{commit}"]), release_commit, "the tag is on the release commit");
    w.sample.git(&["remote", "set-url", "origin", w.origin.path().to_str().unwrap()]);

    // GitHub fails when the release is created.
    let broken = StandIn::start(&known, &["--fail", "502"]);
    let run = w.release_with(&broken, &["publish"]).fails_with(1);
    assert!(run.stdout.contains("push tag"), "{}", run.stdout);
    assert_eq!(
        support::git(w.origin.path(), &["rev-parse", "v0.14.13^{commit}"]),
        release_commit,
        "pushed once, at the release commit"
    );

    // The last rerun finishes: every earlier step is done, the GitHub release targets the commit.
    let run = w.release(&["publish", "--json"]).ok();
    no_secrets(&run);
    let steps: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let states: Vec<(String, String)> = steps["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), s["state"].as_str().unwrap().to_string()))
        .collect();
    assert!(states.iter().filter(|(n, _)| n != "GitHub release").all(|(_, s)| s == "done"), "{states:?}");
    let releases = &w.github.state()["releases"];
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");
    assert_eq!(releases[0]["tag"], "v0.14.13");
    assert_eq!(releases[0]["target"], release_commit.as_str());
    assert!(releases[0]["body"].as_str().unwrap().starts_with("# Release Notes"), "{releases}");
    // Every version was uploaded exactly once: pypiserver keeps one file per name.
    let files = w.files_on_index();
    let mut unique = files.clone();
    unique.dedup();
    assert_eq!(files, unique);
    assert!(files.iter().any(|f| f.starts_with("llama_index-0.14.13")), "the umbrella: {files:?}");

    let done = w.release(&["publish"]).ok();
    assert!(!done.stdout.contains("todo"), "{}", done.stdout);
    assert_eq!(w.github.state()["releases"].as_array().unwrap().len(), 1);
}

#[test]
fn a_hotfix_from_an_old_tag() {
    let w = World::new(20, 6);
    // Main moved on to 0.15; the hotfix starts at v0.14.12 on its own branch.
    // A minor release installs only because the compatibility wave widened the integrations'
    // `llama-index-core<0.15` (real-release.md §3); the install proof checks it.
    let run = w.release(&["--bump", "minor", "--offline"]).ok();
    assert!(run.stdout.contains("the compatibility wave in"), "{}", run.stdout);
    assert!(run.stderr.contains("finished release 0.15.0"), "{}", run.stderr);
    w.sample.git(&["switch", "--quiet", "-c", "hotfix/v0.14.12", "v0.14.12"]);
    let base = w.sample.read("llama-index-core/llama_index/core/base.py");
    w.sample.write("llama-index-core/llama_index/core/base.py", &format!("{base}# the fix\n"));
    support::commit_all(&w.sample.root(), "fix: the hotfix (#30001)");
    let run = w.release(&["--from-tag", "v0.14.12", "--bump", "patch", "--offline"]).ok();
    no_secrets(&run);
    assert!(run.stderr.contains("finished release 0.14.13"), "{}", run.stderr);
    assert!(w.sample.read("CHANGELOG.md").contains("- fix: the hotfix ([#30001]"), "the hotfix's changelog");
    assert_eq!(w.sample.git(&["rev-parse", "v0.14.13^{commit}"]), w.sample.git(&["rev-parse", "HEAD"]));
    assert!(w.files_on_index().iter().any(|f| f.starts_with("llama_index_core-0.14.13")));
    // Without --from-tag the hotfix branch is not the release branch.
    let run = w.release(&["publish", "--offline"]).fails_with(1);
    assert!(run.stderr.contains("not the release branch") || run.stderr.contains("`main`"), "{}", run.stderr);
}

/// A one-package monorepo whose umbrella is its core (`packages.core = "."`), published with
/// `--from-tag` at HEAD: nothing but core to publish, and no arithmetic on an empty list.
#[test]
fn a_monorepo_whose_core_is_the_umbrella() {
    let dir = TempDir::new("core-is-umbrella");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("solo")).unwrap();
    std::fs::write(
        root.join("pyproject.toml"),
        "[project]\nname = \"solo\"\nversion = \"1.0.0\"\nrequires-python = \">=3.9\"\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
    )
    .unwrap();
    std::fs::write(root.join("solo/__init__.py"), "").unwrap();
    std::fs::write(root.join("release.toml"), "[packages]\ncore = \".\"\ninclude = []\n").unwrap();
    std::fs::write(root.join("CHANGELOG.md"), "# ChangeLog\n\n<!--- generated changelog --->\n").unwrap();
    support::git(&root, &["init", "--quiet", "--initial-branch", "main"]);
    support::commit_all(&root, "Initial commit");
    support::git(&root, &["tag", "v1.0.0"]);
    let index = PypiServer::start();
    let url = index.index_url();
    let run: Run = support::command(support::xtask_bin())
        .args(["--root", root.to_str().unwrap(), "release", "publish", "--from-tag", "v1.0.0", "--dry-run"])
        // The whole destination (an index URL alone would upload to the default index), and
        // credentials, without which the dry run fails as the real run would.
        .args(["--offline", "--index-url", &url, "--publish-url", &index.publish_url()])
        .env("UV_PUBLISH_TOKEN", "pypi-solo-test-token")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
        .into();
    let run = run.ok();
    assert!(run.stdout.contains("publish core"), "{}", run.stdout);
    assert!(run.stdout.contains("no package besides core"), "{}", run.stdout);
}

/// `--json` prints one document for the whole run, both phases included; a dry run that cannot
/// reach GitHub still shows every step, marks the GitHub ones unknown, and fails.
#[test]
fn one_json_document_and_an_honest_dry_run_when_github_is_unreachable() {
    let w = World::new(20, 6);
    let one_document = |run: &Run| -> serde_json::Value {
        let mut docs = serde_json::Deserializer::from_str(&run.stdout).into_iter::<serde_json::Value>();
        let doc = docs.next().expect("a JSON document").unwrap();
        assert!(docs.next().is_none(), "exactly one JSON document:\n{}", run.stdout);
        doc
    };
    let phases = |doc: &serde_json::Value| -> Vec<String> {
        let mut p: Vec<String> =
            doc["steps"].as_array().unwrap().iter().map(|s| s["phase"].as_str().unwrap().to_string()).collect();
        p.dedup();
        p
    };
    let run = w.release(&["--bump", "patch", "--dry-run", "--json"]).ok();
    let doc = one_document(&run);
    assert_eq!((doc["phase"].as_str(), doc["version"].as_str()), (Some("both"), Some("0.14.13")));
    assert_eq!(phases(&doc), ["prepare", "publish"]);

    // GitHub unreachable: a closed port behind the token.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let unreachable: Vec<(String, String)> = w
        .env(&w.github)
        .into_iter()
        .map(|(k, v)| if k == "HTTP_PROXY" { (k, format!("http://{closed}")) } else { (k, v) })
        .collect();
    let before = w.sample.fingerprint();
    let url = w.index.index_url();
    let args = ["release", "prepare", "--pr", "--dry-run", "--index-url", &url];
    let run = github::xtask(&w.sample.root(), &args, &unreachable).fails_with(1);
    for shown in ["bump versions   would", "changelog       ?", "release commit  would", "pull request    ?"] {
        assert!(run.stdout.contains(shown), "{shown}:\n{}\n{}", run.stdout, run.stderr);
    }
    assert!(
        run.stderr.contains("cannot say what the real run would do at `changelog`, `pull request`"),
        "{}",
        run.stderr
    );
    assert_eq!(w.sample.fingerprint(), before, "the dry run changed nothing");

    // Prepared and committed, publish's dry run with GitHub unreachable.
    w.release(&["prepare", "--bump", "patch", "--commit", "--offline"]).ok();
    let publish = w.index.publish_url();
    let args = ["release", "publish", "--dry-run", "--json", "--index-url", &url, "--publish-url", &publish];
    let run = github::xtask(&w.sample.root(), &args, &unreachable).fails_with(1);
    let doc = one_document(&run);
    let github_step = doc["steps"].as_array().unwrap().iter().find(|s| s["step"] == "GitHub release").unwrap().clone();
    assert_eq!(github_step["state"], "unknown", "{doc}");
    assert!(doc["steps"].as_array().unwrap().iter().any(|s| s["step"] == "tag" && s["state"] == "todo"), "{doc}");
    no_secrets(&run);

    // A real run of both phases: one document too, the steps as they ended.
    let run = w.release(&["publish", "--json"]).ok();
    let doc = one_document(&run);
    assert!(doc["steps"].as_array().unwrap().iter().all(|s| s["state"] != "todo"), "{doc}");
}

/// Where a run of `release prepare` is killed: once stderr has a line starting with the text,
/// or once the file (relative to the sample's root) exists.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    Line(&'static str),
    File(&'static str),
}

/// Runs the xtask in its own process group and kills the whole group with SIGKILL at `at`.
/// Returns what it printed on stderr before.
fn run_and_kill(root: &Path, args: &[&str], env: &[(String, String)], at: KillAt) -> String {
    use std::{io::BufRead, os::unix::process::CommandExt, process::Stdio};
    let mut cmd = support::command(support::xtask_bin());
    cmd.arg("--root").arg(root).args(args).env("NO_COLOR", "1").envs(env.iter().cloned());
    cmd.env_remove("GH_TOKEN").env_remove("GITHUB_TOKEN").env_remove("GITHUB_STEP_SUMMARY");
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0).spawn().unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let hit = match rx.recv_timeout(std::time::Duration::from_millis(20)) {
            Ok(line) => {
                text += &format!("{line}\n");
                matches!(at, KillAt::Line(prefix) if line.trim_start().starts_with(prefix))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the run ended before {at:?}:\n{text}"),
            Err(_) => false,
        };
        if hit || matches!(at, KillAt::File(f) if root.join(f).exists()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{at:?} never came:\n{text}");
    }
    // Only our own child's group, spelled `-s KILL -- -PGID` (some `kill`s read `-9 -PGID` as all).
    assert!(pid > 1, "a real process group");
    std::process::Command::new("kill").args(["-s", "KILL", "--", &format!("-{pid}")]).status().unwrap();
    let _ = child.wait();
    let _ = reader.join();
    text
}

/// Killed anywhere in `release prepare --pr`, the same command run again finishes the release:
/// one release commit with exactly the release's files and what its hook changed, pushed, and
/// nothing left behind in the tree.
#[test]
fn prepare_killed_at_any_point_is_finished_by_a_rerun() {
    let points = [
        KillAt::Line("bumped"),
        KillAt::Line("wrote"),
        KillAt::Line("hook: wrote docs/api.md"),
        KillAt::File("docs/.in-git-commit"),
        KillAt::Line("committed"),
    ];
    for at in points {
        let sample = Sample::new(20, 6);
        let origin = TempDir::new("origin");
        support::git(origin.path(), &["init", "--quiet", "--bare"]);
        sample.git(&["remote", "add", "origin", origin.path().to_str().unwrap()]);
        // A docs hook that regenerates a page, and sleeps while the test's flag file exists.
        let (hold_hook, hold_git) = (sample.dir.path().join("hold-hook"), sample.dir.path().join("hold-git"));
        sample.write(
            "docs/hook.py",
            "import os, pathlib, sys, time\n\
             pathlib.Path('api.md').write_text('# API reference\\n')\n\
             print('hook: wrote docs/api.md', file=sys.stderr, flush=True)\n\
             while os.path.exists(os.environ['HOLD_HOOK']):\n    time.sleep(0.05)\n",
        );
        sample.write(
            "release.toml",
            "[release]\nprepare-hooks = [{ run = [\"python3\", \"hook.py\"], dir = \"docs\" }]\n",
        );
        support::commit_all(&sample.root(), "Add the docs hook (#900)");
        sample.git(&["push", "--quiet", "origin", "main", "--tags"]);
        // git's own pre-commit hook marks the moment git commit runs, and waits there too.
        let git_hook = sample.root().join(".git/hooks/pre-commit");
        std::fs::write(
            &git_hook,
            format!("#!/bin/sh\ntouch docs/.in-git-commit\nwhile [ -e '{}' ]; do sleep 0.05; done\nrm -f docs/.in-git-commit\n", hold_git.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&git_hook, std::fs::Permissions::from_mode(0o755)).unwrap();

        // The hooks wait only where this round kills.
        match at {
            KillAt::Line("hook: wrote docs/api.md") => std::fs::write(&hold_hook, "").unwrap(),
            KillAt::File(_) => std::fs::write(&hold_git, "").unwrap(),
            _ => {}
        }
        let env = [("HOLD_HOOK".to_string(), hold_hook.display().to_string())];
        let args = ["release", "prepare", "--bump", "patch", "--pr", "--offline", "--date", "2026-01-21"];
        let before = run_and_kill(&sample.root(), &args, &env, at);
        let _ = std::fs::remove_file(&hold_hook);
        let _ = std::fs::remove_file(&hold_git);
        let _ = std::fs::remove_file(sample.root().join("docs/.in-git-commit"));
        let run = github::xtask(&sample.root(), &args, &env);
        assert_eq!(
            run.code, 0,
            "the rerun after a kill at {at:?} failed\nbefore:\n{before}\nrerun:\n{}\n{}",
            run.stdout, run.stderr
        );

        assert_eq!(sample.git(&["log", "-1", "--format=%s"]), "Release 0.14.13", "{at:?}");
        let files = sample.git(&["show", "--name-only", "--format=", "HEAD"]);
        assert_eq!(
            files.lines().collect::<Vec<_>>(),
            ["CHANGELOG.md", "docs/api.md", "llama-index-core/pyproject.toml", "pyproject.toml"],
            "{at:?}"
        );
        assert_eq!(
            sample.git(&["status", "--porcelain", "--untracked-files=all", "--ignored"]),
            "",
            "{at:?}: a clean tree"
        );
        assert_eq!(sample.read("CHANGELOG.md").matches("## [2026-01-21]").count(), 1, "{at:?}");
        assert!(sample.read("llama-index-core/pyproject.toml").contains("version = \"0.14.13\""), "{at:?}");
        assert_eq!(
            support::git(origin.path(), &["rev-parse", "release/v0.14.13"]),
            sample.git(&["rev-parse", "HEAD"]),
            "{at:?}: pushed"
        );
        assert!(!sample.root().join(".git/xtask-release.json").exists(), "{at:?}: the record is gone");
    }
}

/// A hook runs in a process group of its own (so that its timeout kills all it started); a
/// signal that stops the run (Ctrl-C, CI's cancel) still reaches it and its children, and the
/// same command run again finishes the release.
#[test]
fn a_signal_to_the_run_stops_the_hook_and_everything_it_started() {
    use std::{io::BufRead, process::Stdio};
    let sample = Sample::new(20, 6);
    let pids = sample.dir.path().join("hook-pids");
    sample.write(
        "docs/hook.py",
        "import os, pathlib, subprocess, sys, time\n\
         pathlib.Path('api.md').write_text('# API reference\\n')\n\
         if os.environ.get('HOOK_HANGS'):\n\
         \x20   worker = subprocess.Popen(['sleep', '600'])\n\
         \x20   open(os.environ['HOOK_PIDS'], 'w').write(f'{os.getpid()} {worker.pid}')\n\
         \x20   print('hook: hanging', flush=True)\n\
         \x20   time.sleep(600)\n",
    );
    sample.write("release.toml", "[release]\nprepare-hooks = [{ run = [\"python3\", \"hook.py\"], dir = \"docs\" }]\n");
    support::commit_all(&sample.root(), "Add the docs hook (#900)");
    let args = ["release", "prepare", "--bump", "patch", "--commit", "--offline", "--date", "2026-01-21"];
    for signal in ["INT", "TERM"] {
        let _ = std::fs::remove_file(&pids);
        let mut child = support::command(support::xtask_bin())
            .arg("--root")
            .arg(sample.root())
            .args(args)
            .env("NO_COLOR", "1")
            .env("HOOK_HANGS", "1")
            .env("HOOK_PIDS", &pids)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            seen += &format!("{line}\n");
            if line.starts_with("hook: hanging") {
                break;
            }
        }
        assert!(seen.contains("hook: hanging"), "{seen}");
        // The run alone, as a terminal's Ctrl-C or a runner's cancel reaches it.
        let pid = child.id().to_string();
        std::process::Command::new("kill").args(["-s", signal, &pid]).status().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{signal}: {status:?}");
        let text = std::fs::read_to_string(&pids).unwrap();
        for pid in text.split_whitespace() {
            // Gone, or a zombie until its new parent reaps it: not running either way.
            let mut state = None;
            for _ in 0..100 {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
                if matches!(state, None | Some('Z' | 'X')) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            if !matches!(state, None | Some('Z' | 'X')) {
                // Not left running after the failure: only the pids the hook wrote.
                std::process::Command::new("kill").args(["-s", "KILL", pid]).status().unwrap();
                panic!("{signal}: {pid} of the hook still runs");
            }
        }
    }
    let run = sample.xtask(&args).ok();
    assert!(run.stderr.contains("committed Release 0.14.13"), "{}", run.stderr);
    assert_eq!(sample.git(&["status", "--porcelain", "--untracked-files=all"]), "");
}

/// A temporary file that a killed atomic write left in the tree is neither dirt nor kept.
#[test]
fn a_killed_writes_temporary_file_is_not_dirt_and_is_swept() {
    let sample = Sample::new(20, 6);
    sample.write(".pyproject.toml.xtask-99999", "[project]\nname = \"half-written\"\n");
    let run = sample.xtask(&["release", "prepare", "--bump", "patch", "--commit", "--offline"]).ok();
    assert!(run.stdout.contains("checks          done   clean tree"), "{}", run.stdout);
    assert!(!sample.root().join(".pyproject.toml.xtask-99999").exists(), "swept by the write of pyproject.toml");
    assert_eq!(sample.git(&["status", "--porcelain", "--untracked-files=all"]), "");
}

/// Issue 21.1, with the default prepare hooks: the docs script generates pages, and pre-commit,
/// run after it, is given those pages too, so the release commit carries them formatted.
#[test]
fn a_formatting_hook_sees_the_files_the_hooks_before_it_wrote() {
    let sample = Sample::new(20, 6);
    sample.write(
        "docs/scripts/prepare_for_build.py",
        "import pathlib\n\
         out = pathlib.Path('api_reference')\n\
         out.mkdir(exist_ok=True)\n\
         for name in ['core', 'llms']:\n    (out / f'{name}.md').write_text(f'# {name}   \\n\\n::: llama_index.{name}  \\n')\n",
    );
    // A local formatter, as LlamaIndex's pre-commit formats Markdown: trailing spaces go.
    sample.write(
        ".pre-commit-config.yaml",
        "repos:\n  - repo: local\n    hooks:\n      - id: whitespace-format\n        name: strip trailing whitespace\n        \
         language: system\n        entry: sh -c 'for f in \"$@\"; do sed -i \"s/[[:space:]]*$//\" \"$f\"; done' --\n        \
         files: \\.md$\n",
    );
    // The docs are a project of their own with a lock, as in the real monorepo, so the script's
    // `uv run` changes nothing else.
    sample.write(
        "docs/pyproject.toml",
        "[project]\nname = \"docs\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\ndependencies = []\n\n[tool.uv]\npackage = false\n",
    );
    let lock =
        support::command(support::tool("uv")).arg("lock").current_dir(sample.root().join("docs")).output().unwrap();
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));
    support::commit_all(&sample.root(), "Add the docs script and pre-commit (#900)");
    let run =
        sample.xtask(&["release", "prepare", "--bump", "patch", "--commit", "--offline", "--date", "2026-01-21"]).ok();
    assert!(run.stderr.contains("changed docs/api_reference/core.md, docs/api_reference/llms.md"), "{}", run.stderr);
    let files = sample.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            "CHANGELOG.md",
            "docs/api_reference/core.md",
            "docs/api_reference/llms.md",
            "llama-index-core/pyproject.toml",
            "pyproject.toml"
        ]
    );
    for name in ["core", "llms"] {
        let committed = sample.git(&["show", &format!("HEAD:docs/api_reference/{name}.md")]);
        assert_eq!(committed, format!("# {name}\n\n::: llama_index.{name}"), "formatted in the commit");
    }
    assert_eq!(sample.git(&["status", "--porcelain", "--untracked-files=all"]), "");
}

/// Core's tests gate its publication (the default gate: `uv sync`, then `uv run pytest tests`
/// in core): while they fail nothing is published and the tree is left as committed; once they
/// pass the release goes out, and the umbrella's sdist is attached to the GitHub release once.
#[test]
fn cores_tests_gate_the_release_and_the_umbrellas_sdist_is_attached_once() {
    let w = World::new(20, 6);
    w.sample.write(
        "llama-index-core/tests/test_gate.py",
        "import os\n\n\ndef test_core_is_not_broken():\n    assert os.environ.get('CORE_BROKEN') is None\n",
    );
    support::commit_all(&w.sample.root(), "test: core's gate (#950)");
    w.sample.git(&["push", "--quiet", "origin", "main"]);
    let before = w.files_on_index();
    let broken = [("CORE_BROKEN".to_string(), "1".to_string())];
    let mut env = w.env(&w.github);
    env.extend(broken);
    let url = w.index.index_url();
    let publish = w.index.publish_url();
    let args = ["release", "--bump", "patch", "--index-url", &url, "--publish-url", &publish, "--wait", "30s"];
    let run = github::xtask(&w.sample.root(), &args, &env).fails_with(1);
    assert!(run.stdout.contains("gate"), "{}", run.stdout);
    assert!(run.stderr.contains("the gate before core failed, so nothing was published"), "{}", run.stderr);
    assert!(run.stderr.contains("test_core_is_not_broken"), "pytest's output is shown:\n{}", run.stderr);
    assert_eq!(w.files_on_index(), before, "nothing was published");
    assert_eq!(
        w.sample.git(&["status", "--porcelain", "--untracked-files=all"]),
        "",
        "the gate's lock file is not left"
    );
    no_secrets(&run);

    // Fixed: the rerun passes the gate and finishes, with the umbrella's sdist attached.
    let run = w.release(&["publish"]).ok();
    assert!(run.stderr.contains("attached `llama_index-0.14.13.tar.gz`"), "{}", run.stderr);
    let sdist = w.index.package_dir().join("llama_index-0.14.13.tar.gz");
    let size = std::fs::metadata(&sdist).unwrap().len();
    let assets = w.github.state()["releases"][0]["assets"].clone();
    assert_eq!(assets, serde_json::json!([{"name": "llama_index-0.14.13.tar.gz", "size": size}]));
    // Once: a rerun finds it there, same name and size.
    let run = w.release(&["publish"]).ok();
    assert!(run.stdout.contains("assets             done"), "{}", run.stdout);
    assert_eq!(w.github.state()["releases"][0]["assets"].as_array().unwrap().len(), 1);
}

/// Issue 21.2: a gate that hangs (as core's tests do when a worker dies) is killed at its
/// timeout with everything it started; the step fails naming it with its last lines, nothing is
/// published, and once fixed the same release finishes.
#[test]
fn a_hung_gate_is_killed_at_its_timeout_and_the_release_resumes() {
    let w = World::new(20, 6);
    let pidfile = w.sample.dir.path().join("gate-grandchild.pid");
    w.sample.write(
        "llama-index-core/gate.py",
        "import os, subprocess, sys, time\n\
         if os.environ.get('GATE_HANGS'):\n\
         \x20   worker = subprocess.Popen(['sleep', '600'])\n\
         \x20   open(os.environ['GATE_PIDFILE'], 'w').write(str(worker.pid))\n\
         \x20   for n in range(1, 26):\n\
         \x20       print(f'collected line {n}')\n\
         \x20   sys.stdout.flush()\n\
         \x20   time.sleep(600)\n\
         print('the gate passed')\n",
    );
    w.sample.write(
        "release.toml",
        "[release]\ngate = [{ run = [\"python3\", \"gate.py\"], dir = \"{core}\", timeout = \"3s\" }]\n",
    );
    support::commit_all(&w.sample.root(), "test: a gate that can hang (#951)");
    w.sample.git(&["push", "--quiet", "origin", "main"]);
    let before = w.files_on_index();
    let mut env = w.env(&w.github);
    env.push(("GATE_HANGS".into(), "1".into()));
    env.push(("GATE_PIDFILE".into(), pidfile.display().to_string()));
    let url = w.index.index_url();
    let publish = w.index.publish_url();
    let args = ["release", "--bump", "patch", "--index-url", &url, "--publish-url", &publish, "--wait", "30s"];
    let run = github::xtask(&w.sample.root(), &args, &env).fails_with(1);
    let error = &run.stderr[run.stderr.find("error:").expect("an error")..];
    expect_test::expect![[r#"
        error: the step `gate` failed
          caused by: the gate before core failed, so nothing was published; fix it and rerun
          caused by: the hook `python3 gate.py` in `llama-index-core` ran longer than its timeout (3s) and was killed with every process it started (if it only needs more time, raise its `timeout` in release.toml); its last lines:
            collected line 6
            collected line 7
            collected line 8
            collected line 9
            collected line 10
            collected line 11
            collected line 12
            collected line 13
            collected line 14
            collected line 15
            collected line 16
            collected line 17
            collected line 18
            collected line 19
            collected line 20
            collected line 21
            collected line 22
            collected line 23
            collected line 24
            collected line 25
    "#]].assert_eq(error);
    assert!(
        error.contains(
            "the hook `python3 gate.py` in `llama-index-core` ran longer than its timeout (3s) and was killed"
        ),
        "{}",
        run.stderr
    );
    assert!(error.contains("the gate before core failed, so nothing was published"), "{}", run.stderr);
    let lines: Vec<&str> = error.lines().filter(|l| l.trim_start().starts_with("collected line")).collect();
    assert_eq!(lines.len(), 20, "its last 20 lines:\n{error}");
    assert_eq!((lines[0].trim(), lines[19].trim()), ("collected line 6", "collected line 25"));
    assert!(error.contains("raise its `timeout` in release.toml"), "{error}");
    // The grandchild it started went with it: gone, or a zombie until its new parent reaps it.
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    assert!(matches!(state, None | Some('Z' | 'X')), "the gate's worker {pid} still runs: {stat}");
    assert_eq!(w.files_on_index(), before, "nothing was published");
    assert_eq!(w.sample.git(&["status", "--porcelain", "--untracked-files=all"]), "", "the tree as committed");
    no_secrets(&run);

    // Fixed (it no longer hangs): the same release resumes and finishes.
    let run = w.release(&["publish"]).ok();
    assert!(run.stderr.contains("the gate passed"), "{}", run.stderr);
    assert!(w.files_on_index().iter().any(|f| f.starts_with("llama_index_core-0.14.13")), "{:?}", w.files_on_index());
}

/// A release whose umbrella does not import: the install check before any upload stops it,
/// with Python's message, and nothing is uploaded. Once its files are on the index anyway (an
/// earlier run, another workflow), the install proof after the uploads fails the same way: the
/// files stay published, and it is not tagged.
#[test]
fn a_release_that_does_not_import_uploads_nothing_and_fails_its_install_proof() {
    let w = World::new(20, 6);
    w.sample.write("_llama-index/llama_index/_umbrella.py", "raise ImportError('the umbrella is broken')\n");
    support::commit_all(&w.sample.root(), "Break the umbrella (#960)");
    w.sample.git(&["push", "--quiet", "origin", "main"]);
    let before = w.files_on_index();
    let run = w.release(&["--bump", "patch", "--offline"]).fails_with(1);
    assert!(run.stderr.contains("the release would not install, so nothing was uploaded"), "{}", run.stderr);
    assert!(run.stderr.contains("`llama-index` installs, but `import llama_index._umbrella` fails"), "{}", run.stderr);
    assert!(run.stderr.contains("ImportError: the umbrella is broken"), "{}", run.stderr);
    assert_eq!(w.files_on_index(), before, "nothing was uploaded");

    // Published anyway, outside the release: the check has nothing left to guard, the proof fails.
    let (url, publish) = (w.index.index_url(), w.index.publish_url());
    let args = ["publish", "--changed-since", "v0.14.12", "--index-url", &url, "--publish-url", &publish];
    w.xtask(&args).ok();
    let run = w.release(&["publish", "--offline"]).fails_with(1);
    assert!(run.stdout.contains("install check      done"), "{}", run.stdout);
    assert!(run.stderr.contains("the release is published but does not install"), "{}", run.stderr);
    assert!(run.stderr.contains("ImportError: the umbrella is broken"), "{}", run.stderr);
    assert!(w.files_on_index().iter().any(|f| f.starts_with("llama_index-0.14.13")), "the files stay published");
    assert!(w.sample.git(&["tag", "--list", "v0.14.13"]).is_empty(), "a release that does not install is not tagged");
}

/// "Would what this release uploads install?", before the first upload. A changed package
/// that requires a core nothing ships is held back from the start (the dry run says so, and
/// fails as the real run would); the umbrella requiring what nothing ships stops the release
/// before anything runs. A changed package that does not import is held back at the install
/// check (the dry run cannot know without building): the rest of the release goes out and is
/// tagged, the run fails naming the package, why, and the command that releases it; once fixed,
/// that command releases it, reusing the build that did not change. `verify --built` checks the
/// same outside the release.
#[test]
fn a_package_that_would_not_install_is_held_back_and_a_fixed_rerun_releases_it() {
    let w = World::new(20, 6);
    w.release(&["prepare", "--bump", "patch", "--commit", "--offline"]).ok();
    let release_commit = w.sample.git(&["rev-parse", "HEAD"]);
    let before = w.files_on_index();
    let changed = released_integration(&w);
    let name = changed.rsplit('/').next().unwrap().to_string();
    let version = package_version(&w, &changed);
    let stem = format!("{}-{version}", name.replace('-', "_"));

    // A requirement on a core that neither the release (0.14.13) nor the index (0.14.12) has.
    let pyproject = format!("{changed}/pyproject.toml");
    let good = w.sample.read(&pyproject);
    let line = good.lines().find(|l| l.trim_start().starts_with("\"llama-index-core")).expect("a core requirement");
    w.sample.write(&pyproject, &good.replace(line, "    \"llama-index-core>=0.15\","));
    let run = w.release(&["publish", "--allow-dirty", "--dry-run"]).fails_with(1);
    assert!(run.stdout.contains("Held back, not uploaded (1):"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("  {name} {version}: it cannot install: `{name}` {version} requires `llama-index-core>=0.15`, which neither this release's 0.14.13 nor any version on the index satisfies")), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("1 package held back: `{name}`; the rest of the release would go out")),
        "{}",
        run.stderr
    );
    assert_eq!(w.files_on_index(), before, "a dry run uploads nothing");
    w.sample.write(&pyproject, &good);

    // The umbrella requiring what nothing satisfies holds back the release: nothing runs.
    let umbrella = w.sample.read("pyproject.toml");
    w.sample.write(
        "pyproject.toml",
        &umbrella.replace("\"llama-index-llms-openai>=0.1,<1\"", "\"llama-index-llms-openai>=5\""),
    );
    for args in [&["publish", "--allow-dirty", "--dry-run"][..], &["publish", "--allow-dirty"]] {
        let run = w.release(args).fails_with(1);
        assert!(run.stderr.contains("the release would not install"), "{args:?}:\n{}", run.stderr);
        assert!(
            run.stderr.contains("`llama-index` 0.14.13 requires `llama-index-llms-openai>=5`"),
            "{args:?}:\n{}",
            run.stderr
        );
        assert_eq!(w.files_on_index(), before, "{args:?} uploaded nothing");
    }
    w.sample.write("pyproject.toml", &umbrella);

    // A module that imports what is not there: only building and installing reveal it.
    let init = package_init(&w, &changed);
    let module = w.sample.read(&init);
    w.sample.write(&init, &format!("import llama_index.core.no_such_module\n{module}"));
    let run = w.release(&["publish", "--allow-dirty", "--dry-run"]).ok();
    assert!(
        run.stdout.contains("install check      would  before any upload, build llama-index-core 0.14.13"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("shows only in the real run"), "{}", run.stderr);
    let summary = w.sample.dir.path().join("summary.md");
    let env = [("GITHUB_STEP_SUMMARY".to_string(), summary.display().to_string())];
    let run = w.release_env(&w.github, &["publish", "--allow-dirty", "--json"], &env).fails_with(1);
    no_secrets(&run);
    let held_line = format!("held back `{name}` {version}: its import fails: `{name}` installs, but `import");
    assert!(run.stderr.contains(&held_line), "names the package and why:\n{}", run.stderr);
    assert!(run.stderr.contains("No module named 'llama_index.core.no_such_module'"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("1 package held back: `{name}`; the rest of the release went out")),
        "{}",
        run.stderr
    );
    let command = format!(
        "cargo xtask release publish --from-tag v0.14.12 --index-url {} --publish-url {}",
        w.index.index_url(),
        w.index.publish_url()
    );
    assert!(
        run.stderr
            .contains(&format!("release it after a fix, at the release commit {}: {command}", &release_commit[..10])),
        "{}",
        run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["held"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(
        (doc["held"][0]["name"].as_str(), doc["held"][0]["command"].as_str()),
        (Some(name.as_str()), Some(command.as_str()))
    );
    assert_eq!(doc["held"][0]["on_purpose"], false);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains(&format!("| `{name}` | {version} | its import fails: ")), "{md}");
    assert!(md.contains(&format!("`{command}` |")), "{md}");
    // The rest went out and is tagged; the held package did not.
    let files = w.files_on_index();
    for published in ["llama_index_core-0.14.13.tar.gz", "llama_index-0.14.13.tar.gz"] {
        assert!(files.iter().any(|f| f == published), "{published}: {files:?}");
    }
    assert!(!files.iter().any(|f| f.starts_with(&stem)), "the held package is not uploaded: {files:?}");
    assert_eq!(w.sample.git(&["rev-parse", "v0.14.13^{commit}"]), release_commit, "tagged as today");
    assert_eq!(w.github.state()["releases"].as_array().map(Vec::len), Some(1));

    // `verify --built` is the same check, outside the release (tagged now: since the previous).
    let url = w.index.index_url();
    let verify = ["verify", "--built", "--since", "v0.14.12", "--index-url", &url];
    let run = w.xtask(&verify).fails_with(1);
    assert!(run.stderr.contains(&format!("`{name}` installs, but `import")), "{}", run.stderr);
    w.sample.write(&init, &module);
    w.xtask(&verify).ok();

    // Fixed: the command it gave reuses the build, passes the check and releases the package.
    let run = w.release(&["publish", "--from-tag", "v0.14.12", "--json"]).ok();
    no_secrets(&run);
    assert!(run.stderr.contains(&format!("{name} {version} (unchanged since the last build)")), "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = doc["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(&names[..4], ["check before core", "gate", "install check", "publish core"], "{doc}");
    assert!(doc["steps"].as_array().unwrap().iter().all(|s| s["state"] == "done"), "{doc}");
    assert!(doc.get("held").is_none(), "{doc}");
    assert!(w.files_on_index().iter().any(|f| f.starts_with(&stem)), "the fixed package is published");
}

/// `--hold` leaves a package out on purpose: the plan says so (the dry run as the real run),
/// the rest goes out, the run succeeds and says how to release it; core and the umbrella cannot
/// be held; the command it gives releases the package later.
#[test]
fn hold_leaves_a_package_out_on_purpose() {
    let w = World::new(20, 6);
    w.release(&["prepare", "--bump", "patch", "--commit", "--offline"]).ok();
    let changed = released_integration(&w);
    let name = changed.rsplit('/').next().unwrap().to_string();
    let version = package_version(&w, &changed);
    let stem = format!("{}-{version}", name.replace('-', "_"));
    let before = w.files_on_index();

    let run = w.release(&["publish", "--hold", "llama-index-core", "--dry-run"]).fails_with(1);
    assert!(
        run.stderr.contains("`--hold llama-index-core` would hold back `llama-index-core` and `llama-index`"),
        "{}",
        run.stderr
    );
    let run = w.release(&["publish", "--hold", "no-such-package", "--dry-run"]).fails_with(2);
    assert!(run.stderr.contains("`--hold no-such-package` names no package of the monorepo"), "{}", run.stderr);

    let held = format!("  {name} {version}: held on purpose (--hold)\n");
    let dry = w.release(&["publish", "--hold", &changed, "--dry-run"]).ok();
    assert!(dry.stdout.contains(&held), "{}", dry.stdout);
    assert!(dry.stdout.contains("; 1 held back (listed below)"), "{}", dry.stdout);
    assert!(!dry.stdout.contains(&format!("{name} {version},")), "not among the uploads:\n{}", dry.stdout);
    assert_eq!(w.files_on_index(), before, "a dry run uploads nothing");

    let run = w.release(&["publish", "--hold", &changed]).ok();
    assert!(run.stdout.contains(&held), "{}", run.stdout);
    assert!(run.stderr.contains(&format!("held back on purpose (--hold): `{name}`")), "{}", run.stderr);
    let plan = |text: &str| {
        text.lines()
            .take_while(|l| !l.starts_with("Held back"))
            .filter(|l| l.contains("publish packages"))
            .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "))
            .collect::<String>()
    };
    assert_eq!(plan(&dry.stdout), plan(&run.stdout), "the dry run says what the real run does");
    let files = w.files_on_index();
    assert!(files.iter().any(|f| f == "llama_index-0.14.13.tar.gz"), "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with(&stem)), "{files:?}");
    assert!(!w.sample.git(&["tag", "--list", "v0.14.13"]).is_empty(), "the release is tagged");

    // Later, the command it gave (without the hold) releases it.
    let run = w.release(&["publish", "--from-tag", "v0.14.12"]).ok();
    assert!(!run.stdout.contains("Held back"), "{}", run.stdout);
    assert!(w.files_on_index().iter().any(|f| f.starts_with(&stem)), "published once released");
}

/// The version in a package's `pyproject.toml`.
fn package_version(w: &World, dir: &str) -> String {
    let text = w.sample.read(&format!("{dir}/pyproject.toml"));
    let line = text.lines().find(|l| l.starts_with("version = ")).expect("a version");
    line.trim_start_matches("version = ").trim_matches('"').to_string()
}

/// An integration with a `[project]` table whose version differs from v0.14.12's: one the
/// release publishes.
fn released_integration(w: &World) -> String {
    let version = |text: &str| text.lines().find(|l| l.starts_with("version = ")).map(str::to_string);
    let diff = w.sample.git(&["diff", "--name-only", "v0.14.12", "--", "llama-index-integrations"]);
    diff.lines()
        .filter(|f| f.ends_with("/pyproject.toml"))
        .find(|f| {
            let now = w.sample.read(f);
            let then = w.sample.git(&["show", &format!("v0.14.12:{f}")]);
            now.contains("[project]") && !now.contains("[tool.poetry]\nname") && version(&now) != version(&then)
        })
        .map(|f| f.trim_end_matches("/pyproject.toml").to_string())
        .expect("an integration the release publishes")
}

/// The `__init__.py` of a package's own module (`llama_index/<kind>/<name>/__init__.py`).
fn package_init(w: &World, dir: &str) -> String {
    let base = w.sample.root().join(dir).join("llama_index");
    let kind = std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let module = std::fs::read_dir(&kind).unwrap().map(|e| e.unwrap().path()).find(|p| p.join("__init__.py").exists());
    let init = module.expect("a package module").join("__init__.py");
    init.strip_prefix(w.sample.root()).unwrap().display().to_string()
}

/// Every credential variable of the one list (`xtask/src/exec/secrets.rs`) and a
/// `[secrets] extra` name, each with a value of its own. `GH_TOKEN` and `UV_PUBLISH_TOKEN` hold
/// the real tokens of the stand-in and the index ([`World::env`]).
const SENTINELS: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "sentinel-github-token-0001"),
    ("GH_ENTERPRISE_TOKEN", "sentinel-gh-enterprise-0002"),
    ("GITHUB_ENTERPRISE_TOKEN", "sentinel-github-enterprise-0003"),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "sentinel-id-token-request-0004"),
    ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://sentinel-id-token-request-url.invalid/0005"),
    ("ACTIONS_RUNTIME_TOKEN", "sentinel-actions-runtime-0006"),
    ("POETRY_PYPI_TOKEN_PYPI", "sentinel-poetry-token-0007"),
    ("POETRY_HTTP_BASIC_PYPI_PASSWORD", "sentinel-poetry-basic-0008"),
    ("TWINE_PASSWORD", "sentinel-twine-password-0009"),
    ("MY_RELEASE_TOKEN", "sentinel-secrets-extra-0010"),
];

/// Core's default build hooks (`config.rs`), which fetch the data its distributions ship.
const CORE_BUILD_HOOKS: &str = r#"["uv", "sync"],
    ["uv", "run", "python", "-c", "from llama_index.core.utils import globals_helper; print(globals_helper.stopwords); print(globals_helper.punkt_tokenizer)"],
    ["uv", "run", "python", "-c", "from llama_index.core.utils import get_tokenizer; print(get_tokenizer())"],
    ["uv", "run", "python", "-c", "from llama_index.core.utils import get_tokenizer; print(get_tokenizer('gpt-5-mini'))"]"#;

/// Where each kind of child writes its whole environment (`NAME=value` lines), one file per run.
const DUMPS: &str = "XTASK_SENTINEL_DUMPS";

/// A shell command for a hook that writes its environment as `kind-PID.env`.
fn dump_env(kind: &str) -> String {
    format!("[\"sh\", \"-c\", \"env > \\\"${DUMPS}/{kind}-$$.env\\\"\"]")
}

/// Python that writes its process's environment as `kind-PID.env` (a missing `XTASK_SENTINEL_DUMPS`
/// fails loudly: the child must still get the rest of the environment).
fn python_dump(kind: &str) -> String {
    format!(
        "import os as _os, pathlib as _pathlib\n_pathlib.Path(_os.environ[\"{DUMPS}\"], \
         f\"{kind}-{{_os.getpid()}}.env\").write_text(\"\\n\".join(f\"{{k}}={{v}}\" for k, v in _os.environ.items()))\n"
    )
}

/// The kinds of child that wrote an environment into `dir`, with how many runs each.
fn dumped_kinds(dir: &Path) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let kind = name.rsplit_once('-').map_or(name.as_str(), |(kind, _)| kind).to_string();
        *kinds.entry(kind).or_insert(0) += 1;
    }
    kinds
}

/// Each credential, by name or by value, that any environment in `dir` holds: `file: NAME`.
fn leaked(dir: &Path, credentials: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for (name, value) in credentials {
            if text.contains(value.as_str()) || text.lines().any(|l| l.starts_with(&format!("{name}="))) {
                found.push(format!("{file}: {name}"));
            }
        }
    }
    found
}

/// The credentials a release holds, each set to a sentinel, reach no child that runs code of the
/// monorepo or of its dependencies: a prepare hook, a gate command and core's tests in the gate,
/// a build hook, hatchling's custom build hook (the build backend), the umbrella's import in the
/// install check and the install proof, a test run by `cargo xtask test`, a pre-commit hook run
/// by `lint`. In the same run the uploads and the GitHub calls, which ask for theirs by name,
/// still work, and the user's own command (`pkg exec`) keeps them.
#[test]
fn credentials_reach_only_the_upload_and_gh() {
    let w = World::new(20, 6);
    let dumps = TempDir::new("environments");
    w.sample.write(
        "release.toml",
        &format!(
            "[release]\nprepare-hooks = [{{ run = {} }}]\ngate = [\n    {{ run = {} }},\n    \
             {{ run = [\"uv\", \"sync\"], dir = \"{{core}}\" }},\n    \
             {{ run = [\"uv\", \"run\", \"pytest\", \"tests\"], dir = \"{{core}}\" }},\n]\n\n\
             [build.hooks]\n\"llama-index-core\" = [{}, {CORE_BUILD_HOOKS}]\n\n[secrets]\nextra = [\"MY_RELEASE_TOKEN\"]\n",
            dump_env("prepare-hook"),
            dump_env("gate-command"),
            dump_env("build-hook"),
        ),
    );
    w.sample.write(
        "llama-index-core/tests/test_environment.py",
        &format!("{}\n\ndef test_it_runs():\n    pass\n", python_dump("pytest")),
    );
    // Hatchling runs the core's `hatch_build.py` in the build backend's process, for the sdist
    // and for the wheel built from it.
    w.sample.write(
        "llama-index-core/hatch_build.py",
        &format!(
            "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\n\
             class CustomBuildHook(BuildHookInterface):\n    def initialize(self, version, build_data):\n        \
             import os as _os, pathlib as _pathlib\n        _pathlib.Path(_os.environ[\"{DUMPS}\"], \
             f\"hatch-build-hook-{{_os.getpid()}}.env\").write_text(\"\\n\".join(f\"{{k}}={{v}}\" for k, v in _os.environ.items()))\n"
        ),
    );
    let core = w.sample.read("llama-index-core/pyproject.toml");
    let core = core.replacen(
        "[tool.hatch.build.targets.sdist]\ninclude = [",
        "[tool.hatch.build.targets.sdist]\ninclude = [\"hatch_build.py\", ",
        1,
    );
    w.sample.write(
        "llama-index-core/pyproject.toml",
        &format!("{core}\n[tool.hatch.build.hooks.custom]\npath = \"hatch_build.py\"\n"),
    );
    let umbrella = w.sample.read("_llama-index/llama_index/_umbrella.py");
    w.sample.write("_llama-index/llama_index/_umbrella.py", &format!("{umbrella}{}", python_dump("import")));
    support::commit_all(&w.sample.root(), "Record what each child gets (#970)");
    w.sample.git(&["push", "--quiet", "origin", "main"]);

    let mut env = w.env(&w.github);
    env.extend(SENTINELS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env.push((DUMPS.to_string(), dumps.path().display().to_string()));
    let credentials: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k == "GH_TOKEN" || k == "UV_PUBLISH_TOKEN" || SENTINELS.iter().any(|(s, _)| s == k))
        .cloned()
        .collect();
    assert_eq!(credentials.len(), SENTINELS.len() + 2);
    let url = w.index.index_url();
    let publish = w.index.publish_url();
    let args = ["release", "--bump", "patch", "--index-url", &url, "--publish-url", &publish, "--wait", "30s"];
    let run = github::xtask(&w.sample.root(), &args, &env).ok();
    for (name, value) in &credentials {
        assert!(!run.stdout.contains(value.as_str()) && !run.stderr.contains(value.as_str()), "{name} was printed");
    }

    // The uploads and the GitHub calls worked, with the tokens they asked for.
    let files = w.files_on_index();
    assert!(files.iter().any(|f| f.starts_with("llama_index_core-0.14.13")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("llama_index-0.14.13")), "{files:?}");
    assert_eq!(w.github.state()["releases"][0]["tag"], "v0.14.13", "{}", w.github.state());
    let requests = w.github.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| r["token_ok"] == true), "{requests:?}");

    // A test run by `cargo xtask test`, and a pre-commit hook run by `lint`.
    let simple = format!("{}/simple", w.index.url());
    let mut test_env = env.clone();
    test_env.extend([("UV_DEFAULT_INDEX".to_string(), simple), ("GITHUB_STEP_SUMMARY".to_string(), String::new())]);
    let before = dumped_kinds(dumps.path()).get("pytest").copied().unwrap_or(0);
    github::xtask(&w.sample.root(), &["test", "llama-index-core"], &test_env).ok();
    let after = dumped_kinds(dumps.path()).get("pytest").copied().unwrap_or(0);
    assert!(after > before, "the test runner ran core's tests");
    w.sample.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: local\n    hooks:\n      - id: environment\n        name: environment\n        \
             language: system\n        entry: sh -c 'env > \"${DUMPS}/lint-hook-$$.env\"'\n        \
             pass_filenames: false\n        always_run: true\n"
        ),
    );
    support::commit_all(&w.sample.root(), "Lint (#971)");
    github::xtask(&w.sample.root(), &["lint"], &env).ok();

    let kinds = dumped_kinds(dumps.path());
    for kind in ["prepare-hook", "gate-command", "pytest", "build-hook", "hatch-build-hook", "lint-hook"] {
        assert!(kinds.contains_key(kind), "no `{kind}` ran: {kinds:?}");
    }
    assert!(kinds["import"] >= 2, "the install check and the install proof import the umbrella: {kinds:?}");
    let leaks = leaked(dumps.path(), &credentials);
    assert!(leaks.is_empty(), "credentials reached children:\n{}", leaks.join("\n"));

    // The user's own command keeps them (and what it prints is masked).
    let check =
        "test \"$MY_RELEASE_TOKEN\" = sentinel-secrets-extra-0010 && test -n \"$GH_TOKEN\" && echo \"$GITHUB_TOKEN\"";
    let run = github::xtask(&w.sample.root(), &["pkg", "exec", "llama-index-core", "--", "sh", "-c", check], &env).ok();
    assert!(run.stdout.contains("[REDACTED]") && !run.stdout.contains("sentinel-github-token-0001"), "{}", run.stdout);
}
