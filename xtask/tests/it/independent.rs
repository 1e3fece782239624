//! A monorepo of independent packages (`sample --shape independent`): no umbrella, a uv
//! workspace's members as the packages, every kind of version source, tags of several shapes.
//! Releases of one package and of two, the wave for non-core packages in each bound's shape,
//! `--bump auto`, per-package notes, and the test graph's dependency groups, with real git.

use expect_test::expect;

use crate::support::{self, Sample};

/// The sample's package table: every version read from where its backend keeps it.
#[test]
fn every_version_source_is_read() {
    let s = Sample::independent(8, 12);
    let out = s.xtask(&["pkg", "info", "--all"]).ok();
    expect![[r#"
        Name          Version  Path
        acme-cli      2.0.1    libs/cli
        acme-client   0.4.3    libs/client
        acme          1.2.11   libs/main
        acme-schema   0.14.2   libs/schema
        acme-store    4.2.0    libs/store
        acme-testing  0.2.0    libs/testing
        acme-utils    1.0.0    libs/utils
        acme-vcs      0.3.0    libs/vcs
    "#]]
    .assert_eq(&out.stdout);
    assert_eq!(out.stderr, "", "no umbrella, no warning: the uv workspace is the configuration");
}

#[test]
fn each_dynamic_version_kind_is_bumped_in_its_own_file() {
    let s = Sample::independent(8, 12);
    let fingerprint = s.fingerprint();
    let dirs = ["libs/cli", "libs/client", "libs/schema", "libs/store", "libs/utils", "libs/vcs"];
    let mut args = vec!["pkg", "bump", "--bump", "minor"];
    args.extend(dirs);
    let dry = s.xtask(&[args.as_slice(), &["--dry-run"]].concat()).ok();
    assert_eq!(s.fingerprint(), fingerprint, "a dry run changes nothing");
    let real = s.xtask(&args).ok();
    assert_eq!(real.stdout, dry.stdout.replace("Would bump", "Bump"));
    let changed = s.git(&["status", "--porcelain"]);
    expect![[r#"
         M libs/cli/src/acme_cli/_version.py
         M libs/client/src/acme_client/__init__.py
         M libs/schema/VERSION
         M libs/store/src/acme_store/__init__.py
         M libs/utils/src/acme_utils/__init__.py"#]]
    .assert_eq(&changed.lines().map(str::trim_start).collect::<Vec<_>>().join("\n"));
    assert!(s.read("libs/cli/src/acme_cli/_version.py").starts_with("__version__ = '2.1.0'\n"));
    assert_eq!(s.read("libs/schema/VERSION"), "0.15.0\n");
    assert!(s.read("libs/store/src/acme_store/__init__.py").contains("\n__version__ = \"4.3.0\"\n"));
    let info = s.xtask(&["pkg", "info", "libs/client", "libs/utils"]).ok();
    assert!(
        info.stdout.contains("acme-client  0.5.0") && info.stdout.contains("acme-utils   1.1.0"),
        "{}",
        info.stdout
    );
}

/// The wave follows the store, not core: `<5.0.0` becomes `<6.0.0` for 5.0.0, in the bound's shape.
#[test]
fn releasing_one_package_widens_its_dependants_in_the_bounds_own_shape() {
    let s = Sample::independent(8, 12);
    let fingerprint = s.fingerprint();
    let dry = s.xtask(&["prepare", "libs/store", "--bump", "major", "--dry-run"]).ok();
    assert_eq!(s.fingerprint(), fingerprint);
    expect![[r#"
        Would bump acme-store (libs/store) from 4.2.0 to 5.0.0
        Would widen the requirements of 1 package that exclude the new versions (the compatibility wave):
          libs/main 1.2.11 → 1.2.12: `acme-store>=4.2,<5.0.0` → `acme-store>=4.2,<6.0.0`
    "#]]
    .assert_eq(&dry.stdout[..dry.stdout.find("---").unwrap()]);
    s.xtask(&["prepare", "libs/store", "--bump", "major"]).ok();
    assert!(s.read("libs/main/pyproject.toml").contains("\"acme-store>=4.2,<6.0.0\""));
    assert!(s.read("libs/main/pyproject.toml").contains("version = \"1.2.12\""));
    // The test-only dependant is not part of the wave.
    assert_eq!(s.git(&["status", "--porcelain"]).lines().count(), 2);

    // Two-part and three-part minor bounds move to the next minor.
    let s = Sample::independent(8, 12);
    let v: serde_json::Value = serde_json::from_str(
        &s.xtask(&["prepare", "libs/client", "--bump", "minor", "--dry-run", "--json"]).ok().stdout,
    )
    .unwrap();
    let widened: Vec<String> = v["wave"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["requirements"].as_array().unwrap().iter().map(|r| format!("{} → {}", r["old"], r["new"])))
        .collect();
    expect![[r#"
        "acme-client>=0.4.0,<0.5.0" → "acme-client>=0.4.0,<0.6.0"
        "acme-client>=0.4,<0.5" → "acme-client>=0.4,<0.6""#]]
    .assert_eq(&widened.join("\n"));
}

#[test]
fn bump_auto_reads_each_packages_commits_since_its_own_tag_and_says_why() {
    let s = Sample::independent(8, 12);
    let out = s.xtask(&["prepare", "libs/client", "libs/main", "libs/schema", "--bump", "auto", "--dry-run"]).ok();
    let plan: String =
        out.stdout.lines().take_while(|l| !l.starts_with("Would widen")).map(|l| format!("{l}\n")).collect();
    expect![[r#"
        Would bump acme-client (libs/client) from 0.4.3 to 0.5.0
          --bump auto chose minor: a breaking change below 1.0 (`feat(client)!: drop the v1 protocol (#30)`), since `acme-client-v0.4.3`
        Would bump acme (libs/main) from 1.2.11 to 1.3.0
          --bump auto chose minor: a feature (`feat(acme): add a cache option (#12)`), since `1.2.11`
        Would bump acme-schema (libs/schema) from 0.14.2 to 0.14.3
          --bump auto chose patch: no feature and no breaking change in 2 commits, since `acme-schema-v0.14.2`
    "#]]
    .assert_eq(&plan);
    // Without paths and without a group, nothing is released by default: the error says which
    // packages changed what they ship since their tags (not the schema: only its lock changed),
    // and the command that releases them.
    let err = s.xtask(&["prepare", "--bump", "auto"]).fails_with(2);
    assert!(err.stderr.contains("so `prepare` releases the packages it is given"), "{}", err.stderr);
    s.git(&["tag", "acme-cli-v2.0.2"]);
    s.git(&["tag", "acme-vcs-v0.3.1"]);
    let err = s.xtask(&["release", "prepare", "--bump", "auto", "--offline"]).fails_with(2);
    expect![[r#"
        error: this monorepo has no release group (no umbrella and core in release.toml), so `release prepare` releases the packages it is given: `cargo xtask release prepare PATH… --bump auto`
        5 packages changed what they ship since their last tag:
          acme-client (libs/client): 1 file changed since `acme-client-v0.4.3`
          acme (libs/main): 1 file changed since `1.2.11`
          acme-store (libs/store): 1 file changed since `store==4.2.0`
          acme-testing (libs/testing): 1 file changed since `acme-testing-v0.2.0`
          acme-utils (libs/utils): 1 file changed since `acme-utils-v1.0.0`
        to release them all: cargo xtask release prepare libs/client libs/main libs/store libs/testing libs/utils --bump auto

        Run `cargo xtask release --help` for usage.
    "#]]
    .assert_eq(&err.stderr[err.stderr.find("error:").unwrap()..]);
}

#[test]
fn notes_of_one_package_since_its_own_tag_need_no_changelog_file() {
    let s = Sample::independent(8, 12);
    let fingerprint = s.fingerprint();
    let out =
        s.xtask(&["changelog", "--package", "libs/client", "--dry-run", "--offline", "--date", "2026-02-01"]).ok();
    expect![[r#"
        ## acme-client 0.4.3 (2026-02-01)

        ### Breaking changes

        - feat(client)!: drop the v1 protocol ([#30](https://github.com/acme/libs/pull/30))
    "#]]
    .assert_eq(&out.stdout);
    assert!(out.stderr.contains("no `libs/client/CHANGELOG.md`"), "{}", out.stderr);
    // The store has a changelog file: the real run writes there, once.
    s.xtask(&["changelog", "--package", "libs/store", "--offline", "--date", "2026-02-01"]).ok();
    assert_ne!(s.fingerprint(), fingerprint);
    assert!(s.read("libs/store/CHANGELOG.md").contains("## acme-store 4.2.0 (2026-02-01)\n\n### Fixes\n"));
    let again = s.xtask(&["changelog", "--package", "libs/store", "--offline", "--date", "2026-02-01"]).ok();
    assert!(again.stderr.contains("it has these notes already"), "{}", again.stderr);
}

#[test]
fn release_prepare_of_two_packages_commits_once_and_a_rerun_does_nothing() {
    let s = Sample::independent(8, 12);
    let args = [
        "release",
        "prepare",
        "libs/store",
        "libs/client",
        "--bump",
        "minor",
        "--offline",
        "--commit",
        "--date",
        "2026-02-01",
    ];
    let dry = s.xtask(&[args.as_slice(), &["--dry-run"]].concat()).ok();
    expect![[r#"
        Release acme-client 0.5.0, acme-store 4.3.0: prepare
          1. checks          done   clean tree
          2. bump versions   would  acme-client 0.4.3 → 0.5.0, acme-store 4.2.0 → 4.3.0, and the compatibility wave in 2 packages
          3. notes           would  1 changelog file: libs/store/CHANGELOG.md
          4. prepare hooks   skip   `uv run --with toml --with pyaml scripts/prepare_for_build.py` in `docs` (not run: no `docs/scripts/prepare_for_build.py`), then `uv tool run pre-commit run --files {files}` (not run: no `.pre-commit-config.yaml`)
          5. release commit  would  commit `release: acme-client 0.5.0, acme-store 4.3.0` on the current branch
    "#]]
    .assert_eq(&dry.stdout[..dry.stdout.find("Would bump").unwrap()]);
    s.xtask(&args).ok();
    assert_eq!(s.git(&["log", "-1", "--format=%s"]), "release: acme-client 0.5.0, acme-store 4.3.0");
    assert_eq!(s.git(&["status", "--porcelain"]), "");
    let files = s.git(&["show", "--name-only", "--format=", "HEAD"]);
    expect![[r#"
        libs/cli/pyproject.toml
        libs/cli/src/acme_cli/_version.py
        libs/client/src/acme_client/__init__.py
        libs/main/pyproject.toml
        libs/store/CHANGELOG.md
        libs/store/src/acme_store/__init__.py"#]]
    .assert_eq(&files);
    let rerun = s.xtask(&args).ok();
    assert!(
        rerun.stdout.contains("2. bump versions   done   every package is ahead of its last tag"),
        "{}",
        rerun.stdout
    );
    assert!(rerun.stdout.contains("5. release commit  done"), "{}", rerun.stdout);
    assert!(rerun.stdout.contains("4. prepare hooks   done   ran before the release commit"), "{}", rerun.stdout);
    assert_eq!(s.git(&["log", "-1", "--format=%s"]), "release: acme-client 0.5.0, acme-store 4.3.0");
}

/// A pull request that touched only a dynamic-version package: it and its dependants, test-only
/// ones included; and the test runner selects through the dependency group too.
#[test]
fn a_change_to_a_dynamic_version_package_selects_its_dependants_and_test_groups() {
    let s = Sample::independent(8, 12);
    s.git(&["switch", "--quiet", "--create", "feature"]);
    let path = "libs/store/src/acme_store/__init__.py";
    s.write(path, &(s.read(path) + "# a change\n"));
    support::commit_all(&s.root(), "fix(store): a change (#90)");
    let out = s.xtask(&["pkg", "changed", "--base-ref", "main", "--dependants"]).ok();
    expect![[r#"
        Name          Why        Path
        acme-store    changed    libs/store
        acme          dependant  libs/main
        acme-testing  dependant  libs/testing
    "#]]
    .assert_eq(&out.stdout);
    let selected = s.xtask(&["test", "--base-ref", "main", "--dry-run", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&selected.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("acme-testing") && text.contains("acme-store"), "{text}");
}

/// The bump check of a release pull request whose versions live in `__init__.py` files and
/// which refreshed lock files: the versions are read where they are, the locks need none.
#[test]
fn the_bump_check_reads_dynamic_versions_and_ignores_lock_files() {
    let s = Sample::independent(8, 12);
    s.xtask(&["release", "prepare", "libs/store", "--bump", "minor", "--offline", "--commit"]).ok();
    for lock in ["libs/store/uv.lock", "libs/main/uv.lock", "libs/cli/uv.lock"] {
        s.write(lock, &(s.read(lock) + "# refreshed\n"));
    }
    support::commit_all(&s.root(), "chore: refresh the locks");
    let out = s.xtask(&["check", "--bumps", "--base-ref", "HEAD~2"]).ok();
    assert!(!out.stdout.contains("not bumped"), "{}\n{}", out.stdout, out.stderr);
    // The same without the version bump of the store fails, naming its version file's package.
    let s = Sample::independent(8, 12);
    s.git(&["switch", "--quiet", "--create", "feature"]);
    let path = "libs/store/src/acme_store/__init__.py";
    s.write(path, &(s.read(path) + "# unreleased\n"));
    support::commit_all(&s.root(), "fix(store): forget the bump");
    let out = s.xtask(&["check", "--bumps", "--base-ref", "main"]).fails_with(1);
    assert!(out.stdout.contains("acme-store"), "{}", out.stdout);
}

/// `release publish` of independent packages against a real index and the GitHub stand-in: the
/// packages the index lacks go through the install check, then out in dependency order, each is
/// tagged with its own pattern on the release commit and gets its own GitHub release with its
/// notes. A package that fails to build, or builds but does not import, holds back itself (and
/// its dependants) only, as `held.rs` says it; the rerun after the fix finishes.
#[test]
fn publish_tags_and_releases_each_package_and_holds_back_only_the_failing_one() {
    use crate::support::{github, pypiserver};
    let s = Sample::independent(8, 12);
    let origin = support::TempDir::new("origin");
    support::git(origin.path(), &["init", "--quiet", "--bare"]);
    s.git(&["remote", "add", "origin", origin.path().to_str().unwrap()]);
    let index = pypiserver::PypiServer::start();
    // Every package's current version is on the index: only what the release moves goes out.
    for (name, version) in [
        ("acme", "1.2.11"),
        ("acme-store", "4.2.0"),
        ("acme-client", "0.4.3"),
        ("acme-schema", "0.14.2"),
        ("acme-cli", "2.0.1"),
        ("acme-utils", "1.0.0"),
        ("acme-vcs", "0.3.0"),
        ("acme-testing", "0.2.0"),
    ] {
        pypiserver::seed(&index, name, &[version]);
    }
    let gh = github::StandIn::start(&github::pulls_from_git(&s.root(), "1.2.11"), &[]);
    let mut env: Vec<(String, String)> =
        gh.env().into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case("no_proxy")).collect();
    env.extend([("NO_PROXY".into(), "127.0.0.1".into()), ("no_proxy".into(), "127.0.0.1".into())]);
    env.extend([("UV_PUBLISH_USERNAME".into(), "test".into()), ("UV_PUBLISH_PASSWORD".into(), "test".into())]);
    env.extend(index.build_env());
    let (url, publish) = (index.index_url(), index.publish_url());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--index-url", &url]);
        if args[1] == "publish" {
            all.extend(["--publish-url", &publish, "--wait", "30s"]);
        }
        github::xtask(&s.root(), &all, &env)
    };

    // The release of two packages (one of them a dependency of the main package), merged.
    run(&["release", "prepare", "libs/store", "libs/testing", "--bump", "minor", "--commit", "--offline"]).ok();
    s.git(&["push", "--quiet", "origin", "main", "--tags"]);
    let dry = run(&["release", "publish", "--dry-run"]).ok();
    assert!(
        dry.stdout.contains("publish          would  2 the index lacks: acme-store 4.3.0, acme-testing 0.3.0"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("install check    would  before any upload, build acme-store 4.3.0, acme-testing 0.3.0, then in a fresh environment"),
        "{}",
        dry.stdout
    );
    let short = s.git(&["rev-parse", "--short=10", "HEAD"]);
    // `--hold` leaves a package out on purpose: listed with the command that releases it, and
    // not a failure.
    let held = run(&["release", "publish", "--dry-run", "--hold", "libs/testing"]).ok();
    assert!(
        held.stdout.contains(&format!(
            "Held back, not uploaded (1):\n  acme-testing 0.3.0: held on purpose (--hold)\n    \
             release it, at the release commit {short}: cargo xtask release publish --index-url {url}"
        )) && held
            .stdout
            .contains("publish          would  1 the index lacks: acme-store 4.3.0; 1 held back (listed below)"),
        "{}",
        held.stdout
    );

    // The store does not build: the testing package (which uses it only in its test group) goes out.
    let pyproject = "libs/store/pyproject.toml";
    let good = s.read(pyproject);
    s.write(pyproject, &good.replace("build-backend = \"", "build-backend = \"no.such."));
    let failed = run(&["release", "publish", "--allow-dirty"]).fails_with(1);
    assert!(
        failed.stdout.contains(&format!(
            "Held back, not uploaded (1):\n  acme-store 4.3.0: its build failed: `uv build` failed in `libs/store`:\n    \
             release it after a fix, at the release commit {short}: cargo xtask release publish --index-url {url}"
        )),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stderr.contains("error: 1 package held back: `acme-store`; the rest of the release went out"),
        "{}",
        failed.stderr
    );
    let tags = s.git(&["tag", "--points-at", "HEAD"]);
    assert_eq!(tags, "acme-testing-v0.3.0");
    let released: Vec<String> =
        gh.state()["releases"].as_array().unwrap().iter().map(|r| r["tag"].as_str().unwrap().to_string()).collect();
    assert_eq!(released, ["acme-testing-v0.3.0"]);

    // Built, but its import fails: the install check holds it back before it is uploaded.
    s.write(pyproject, &good);
    let module = "libs/store/src/acme_store/__init__.py";
    let importable = s.read(module);
    s.write(module, &(importable.clone() + "raise ImportError('broken on purpose')\n"));
    let broken = run(&["release", "publish", "--allow-dirty"]).fails_with(1);
    assert!(
        broken.stdout.contains("install check    todo   before any upload, build acme-store 4.3.0, then")
            && broken.stdout.contains("  acme-store 4.3.0: its import fails: ")
            && broken.stdout.contains("broken on purpose"),
        "{}",
        broken.stdout
    );
    assert_eq!(s.git(&["tag", "--points-at", "HEAD"]), "acme-testing-v0.3.0", "nothing more is tagged");
    let uploaded: Vec<String> = std::fs::read_dir(index.package_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("acme_store-4.3.0"))
        .collect();
    assert_eq!(uploaded, Vec::<String>::new(), "a package that does not import is not uploaded");

    // Fixed, the rerun publishes the store, tags it with its own pattern and releases it.
    s.write(module, &importable);
    let rerun = run(&["release", "publish"]).ok();
    assert!(
        rerun.stdout.contains("publish          todo") || rerun.stdout.contains("1 the index lacks: acme-store 4.3.0"),
        "{}",
        rerun.stdout
    );
    let mut tags: Vec<String> = s.git(&["tag", "--points-at", "HEAD"]).lines().map(str::to_string).collect();
    tags.sort();
    assert_eq!(tags, ["acme-testing-v0.3.0", "store==4.3.0"]);
    assert!(support::git(origin.path(), &["tag", "--list"]).contains("store==4.3.0"));
    let state = gh.state();
    let releases = state["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 2, "{state}");
    let store = releases.iter().find(|r| r["tag"] == "store==4.3.0").unwrap();
    let body = store["body"].as_str().unwrap_or_default();
    assert!(body.starts_with("## acme-store 4.3.0 ("), "{body}");
    assert!(body.contains("### Fixes\n\n- fix(store): close the connection on error ([#13]"), "{body}");
    // Nothing left to do.
    let again = run(&["release", "publish"]).ok();
    assert!(!again.stdout.contains("todo"), "{}", again.stdout);
}

/// The prepare hooks run for a release of named packages as for the group's: after the bump and
/// the notes, with the release's files as `{files}`, and what they change joins the release
/// commit. A hook that fails stops the release before the commit; the rerun after the fix
/// accepts the tree it left (its own record) and finishes.
#[test]
fn prepare_hooks_run_for_named_packages_and_what_they_change_joins_the_commit() {
    let s = Sample::independent(8, 12);
    let flag = support::TempDir::new("hook-flag");
    let fail = flag.path().join("fail");
    std::fs::write(&fail, "").unwrap();
    s.write(
        "hook.py",
        "import pathlib, sys\n\
         if pathlib.Path(sys.argv[1]).exists():\n    sys.exit('the docs hook failed on purpose')\n\
         pathlib.Path('docs').mkdir(exist_ok=True)\n\
         pathlib.Path('docs/released.md').write_text(''.join(f + '\\n' for f in sorted(sys.argv[2:])))\n",
    );
    let config = s.read("release.toml").replace(
        "[release.tags]",
        &format!("[release]\nprepare-hooks = [{{ run = [\"python3\", \"hook.py\", {:?}, \"{{files}}\"] }}]\n\n[release.tags]", fail.to_str().unwrap()),
    );
    s.write("release.toml", &config);
    support::commit_all(&s.root(), "chore: a docs hook (#40)");
    let args = ["release", "prepare", "libs/store", "--bump", "minor", "--offline", "--commit", "--date", "2026-02-01"];
    let dry = s.xtask(&[args.as_slice(), &["--dry-run"]].concat()).ok();
    assert!(
        dry.stdout.contains("4. prepare hooks   would  `python3 hook.py ")
            && dry.stdout.contains(" {files}`; the files they change join the release\n"),
        "{}",
        dry.stdout
    );
    let failed = s.xtask(&args).fails_with(1);
    assert!(failed.stderr.contains("the docs hook failed on purpose"), "{}", failed.stderr);
    assert!(failed.stderr.contains("a prepare hook failed; fix it and rerun the same command"), "{}", failed.stderr);
    assert_eq!(s.git(&["log", "-1", "--format=%s"]), "chore: a docs hook (#40)", "nothing committed");

    // Fixed: the rerun takes the tree the first run left, runs the hook, and commits it all.
    std::fs::remove_file(&fail).unwrap();
    let rerun = s.xtask(&args).ok();
    assert!(
        rerun.stdout.contains("2. bump versions   done   every package is ahead of its last tag"),
        "{}",
        rerun.stdout
    );
    assert_eq!(s.git(&["log", "-1", "--format=%s"]), "release(acme-store): 4.3.0");
    assert_eq!(s.git(&["status", "--porcelain"]), "");
    expect![[r#"
        libs/store/CHANGELOG.md
        libs/store/src/acme_store/__init__.py
    "#]]
    .assert_eq(&s.read("docs/released.md"));
    let files = s.git(&["show", "--name-only", "--format=", "HEAD"]);
    expect![[r#"
        docs/released.md
        libs/store/CHANGELOG.md
        libs/store/src/acme_store/__init__.py"#]]
    .assert_eq(&files);
}
