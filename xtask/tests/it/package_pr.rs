//! `release prepare PATH… --pr` on the independent sample, with the real `gh` against the GitHub
//! stand-in: the release branch pushed to a real origin, the pull request titled for the
//! packages, its body listing each package's notes with the titles GitHub gives; and a release
//! whose notes are longer than GitHub takes (65,536 characters, which the stand-in enforces):
//! the body says where they are, and the full notes go to a file in the pull request.

use expect_test::expect;

use crate::support::{self, github, github::StandIn, Run, Sample, TempDir};

/// The independent sample with a bare origin, and the stand-in knowing every pull request of
/// its history.
struct World {
    sample: Sample,
    origin: TempDir,
    github: StandIn,
}

impl World {
    /// `more` runs on the sample before the stand-in reads its history.
    fn new(more: impl FnOnce(&Sample)) -> World {
        let sample = Sample::independent(8, 12);
        more(&sample);
        let origin = TempDir::new("origin");
        support::git(origin.path(), &["init", "--quiet", "--bare"]);
        sample.git(&["remote", "add", "origin", origin.path().to_str().unwrap()]);
        sample.git(&["push", "--quiet", "origin", "main", "--tags"]);
        let first = sample.git(&["rev-list", "--max-parents=0", "HEAD"]);
        let github = StandIn::start(&github::pulls_from_git(&sample.root(), &first), &[]);
        World { sample, origin, github }
    }

    fn xtask(&self, args: &[&str]) -> Run {
        let mut env: Vec<(String, String)> =
            self.github.env().into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case("no_proxy")).collect();
        env.extend([("NO_PROXY".into(), "127.0.0.1".into()), ("no_proxy".into(), "127.0.0.1".into())]);
        let run = github::xtask(&self.sample.root(), args, &env);
        assert!(
            !run.stdout.contains(github::TOKEN) && !run.stderr.contains(github::TOKEN),
            "the token leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run
    }

    fn pulls(&self) -> Vec<serde_json::Value> {
        self.github.state()["pulls"].as_array().unwrap().clone()
    }
}

const ARGS: [&str; 8] = ["release", "prepare", "libs/store", "libs/client", "--bump", "minor", "--pr", "--date"];

#[test]
fn release_prepare_pr_of_two_packages_opens_one_pull_request_listing_each_packages_notes() {
    let w = World::new(|_| {});
    let args = [ARGS.as_slice(), &["2026-02-01"]].concat();
    let dry = w.xtask(&[args.as_slice(), &["--dry-run"]].concat()).ok();
    expect![[r#"
        Release acme-client 0.5.0, acme-store 4.3.0: prepare
          1. checks          done   clean tree
          2. bump versions   would  acme-client 0.4.3 → 0.5.0, acme-store 4.2.0 → 4.3.0, and the compatibility wave in 2 packages
          3. notes           would  1 changelog file: libs/store/CHANGELOG.md
          4. prepare hooks   skip   `uv run --with toml --with pyaml scripts/prepare_for_build.py` in `docs` (not run: no `docs/scripts/prepare_for_build.py`), then `uv tool run pre-commit run --files {files}` (not run: no `.pre-commit-config.yaml`)
          5. release commit  would  commit `release: acme-client 0.5.0, acme-store 4.3.0` on a new branch `release/acme-client-v0.5.0-and-1-more`
          6. push branch     would  push `release/acme-client-v0.5.0-and-1-more` to origin
          7. pull request    would  open `release: acme-client 0.5.0, acme-store 4.3.0` from `release/acme-client-v0.5.0-and-1-more` into `main`
    "#]]
    .assert_eq(&dry.stdout[..dry.stdout.find("Would bump").unwrap()]);
    assert!(w.pulls().is_empty(), "a dry run opens nothing");

    w.xtask(&args).ok();
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(pulls[0]["title"], "release: acme-client 0.5.0, acme-store 4.3.0");
    assert_eq!(pulls[0]["head"], "release/acme-client-v0.5.0-and-1-more");
    assert_eq!(pulls[0]["base"], "main");
    // Each package's notes since its own tag, with the titles GitHub gives.
    expect![[r#"
        ## acme-client 0.5.0 (2026-02-01)

        ### Breaking changes

        - feat(client)!: drop the v1 protocol ([#30](https://github.com/acme/libs/pull/30))

        ## acme-store 4.3.0 (2026-02-01)

        ### Fixes

        - fix(store): close the connection on error ([#13](https://github.com/acme/libs/pull/13))

    "#]]
    .assert_eq(pulls[0]["body"].as_str().unwrap());
    let pushed = support::git(w.origin.path(), &["log", "-1", "--format=%s", "release/acme-client-v0.5.0-and-1-more"]);
    assert_eq!(pushed, "release: acme-client 0.5.0, acme-store 4.3.0");

    // The same command again finds everything done.
    let again = w.xtask(&args).ok();
    assert!(!again.stdout.contains("would") && !again.stdout.contains("todo"), "{}", again.stdout);
    assert!(again.stdout.contains("7. pull request    done   #"), "{}", again.stdout);
    assert_eq!(w.pulls().len(), 1);
}

/// 300 pull requests to the store and the client, each with a long title (under GitHub's 256
/// characters): notes longer than GitHub takes in a description.
fn long_history(s: &Sample) {
    let long = "make the retry policy configurable per call site, with a jittered exponential backoff that \
                honours Retry-After and a budget shared by every request of one session, and document it in the guide";
    for n in 0..300 {
        let (dir, scope) = if n % 2 == 0 { ("libs/store", "store") } else { ("libs/client", "client") };
        let file = format!("{dir}/src/change_{n}.txt");
        s.write(&file, &format!("{n}\n"));
        support::commit_all(&s.root(), &format!("feat({scope}): {long} ({n}) (#{})", 500 + n));
    }
}

#[test]
fn release_notes_longer_than_github_takes_go_to_a_file_in_the_pull_request() {
    let w = World::new(long_history);
    let args = [ARGS.as_slice(), &["2026-02-01"]].concat();
    w.xtask(&args).ok();
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 1, "the stand-in takes the body: {pulls:?}");
    let body = pulls[0]["body"].as_str().unwrap();
    assert!(body.chars().count() <= 65_536, "{} characters", body.chars().count());
    expect![[r#"
        The notes of every package are in `RELEASE_NOTES.md` (too long for this description).

        - acme-client 0.5.0 (2026-02-01): 151 pull requests
        - acme-store 4.3.0 (2026-02-01): 151 pull requests
    "#]]
    .assert_eq(body);
    // The full notes are in the release commit, on the pushed branch.
    let branch = "release/acme-client-v0.5.0-and-1-more";
    let files = support::git(w.origin.path(), &["show", "--name-only", "--format=", branch]);
    assert!(files.lines().any(|f| f == "RELEASE_NOTES.md"), "{files}");
    let notes = support::git(w.origin.path(), &["show", &format!("{branch}:RELEASE_NOTES.md")]);
    assert!(notes.chars().count() > 65_536, "{} characters", notes.chars().count());
    assert!(notes.starts_with("## acme-client 0.5.0 (2026-02-01)\n"), "{}", &notes[..200]);
    assert!(notes.contains("\n## acme-store 4.3.0 (2026-02-01)\n"));
    for n in [0, 1, 298, 299] {
        assert!(
            notes.contains(&format!("({n}) ([#{}](https://github.com/acme/libs/pull/{}))", 500 + n, 500 + n)),
            "#{n}"
        );
    }
}
