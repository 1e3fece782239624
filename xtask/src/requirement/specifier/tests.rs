//! The specifier rules against a reference implementation (`pep440_rs`, uv's ancestor) over a
//! corpus of specifier × version cases, plus the cases where the reference departs from PEP 440.

use super::*;

const SPECIFIERS: &[&str] = &[
    "==1.0",
    "==1.0.0",
    "==1.0+abc",
    "!=1.0+abc",
    "!=1.0",
    "==1.0a1",
    "===1.0",
    "===1.0+ABC",
    "==1.*",
    "==1.0.*",
    "==1.1.*",
    "!=1.1.*",
    "!=1.0.*",
    "==1!1.*",
    "~=1.0",
    "~=1.4.5",
    "~=1.0rc1",
    "~=1.0.post1",
    "~=2!1.0",
    "<1.0",
    "<1.0rc1",
    "<1.0.post1",
    "<=1.0",
    "<=1.0rc1",
    ">1.0",
    ">1.0.post1",
    ">1.0rc1",
    ">1.0.dev0",
    ">=1.0",
    ">=1.0rc1",
    ">=1.0.dev0",
    "<0.15.0",
    ">=0.14.13",
    "<2!1.0",
    ">1!0.5",
    ">= 1.0",
    "==v1.0",
    "<1",
    ">1",
    "<1.0.0.1",
    ">1.0.0",
];

const VERSIONS: &[&str] = &[
    "0.9",
    "1",
    "1.0",
    "1.0.0",
    "1.0+abc",
    "1.0+abc.1",
    "1.0+xyz",
    "1.0.dev0",
    "1.0.dev5",
    "1.0a1",
    "1.0a1.dev1",
    "1.0rc1",
    "1.0rc1.post1",
    "1.0.post1",
    "1.0.post1+abc",
    "1.0.post1.dev0",
    "1.0.post2",
    "1.0.post2+abc",
    "1.0.1",
    "1.0.0.1",
    "1.0.0.1rc1",
    "1.1",
    "1.1rc1",
    "1.4.5",
    "1.4.6",
    "1.5",
    "2.0",
    "0.15.0rc1",
    "0.15.0.dev0",
    "0.15.0",
    "0.14.13",
    "0.14.99",
    "2!1.0",
    "1!0.9",
    "1!1.2",
];

/// Where `pep440_rs` 0.7 disagrees with PEP 440 (and with `packaging`, the Python reference),
/// with our answer, which is the PEP's; `packaging` 26 gives our answer on each.
const REFERENCE_DEPARTS: &[(&str, &str, bool, &str)] = &[
    // Prefix matching pads the candidate's release with zeros ("implied by the usual zero
    // padding rules"): `1` is `1.0`, which is not in `1.1.*`.
    ("==1.1.*", "1", false, "zero padding"),
    ("!=1.1.*", "1", true, "zero padding"),
    // "Allowing pre-releases that are earlier than but not equal to a specific pre-release may be
    // accomplished by using <V.rc1": the reference refuses every pre-release of 1.0 here.
    ("<1.0rc1", "1.0.dev0", true, "V is a pre-release"),
    ("<1.0rc1", "1.0.dev5", true, "V is a pre-release"),
    ("<1.0rc1", "1.0a1", true, "V is a pre-release"),
    ("<1.0rc1", "1.0a1.dev1", true, "V is a pre-release"),
    // "<V MUST NOT allow a pre-release of the specified version": `1.0rc1` is a pre-release of
    // `1.0`, not of `2!1.0` (the reference compares the release numbers and forgets the epoch).
    ("<2!1.0", "1.0.dev0", true, "another epoch"),
    ("<2!1.0", "1.0.dev5", true, "another epoch"),
    ("<2!1.0", "1.0a1", true, "another epoch"),
    ("<2!1.0", "1.0a1.dev1", true, "another epoch"),
    ("<2!1.0", "1.0rc1", true, "another epoch"),
    ("<2!1.0", "1.0rc1.post1", true, "another epoch"),
    ("<2!1.0", "1.0.post1.dev0", true, "another epoch"),
];

#[test]
fn matches_the_reference_over_the_corpus() {
    let departs: std::collections::BTreeMap<(&str, &str), bool> =
        REFERENCE_DEPARTS.iter().map(|&(s, v, want, _)| ((s, v), want)).collect();
    let mut wrong = Vec::new();
    for &(spec, version, want, why) in REFERENCE_DEPARTS {
        let reference = spec.parse::<pep440_rs::VersionSpecifier>().unwrap().contains(&version.parse().unwrap());
        assert_ne!(reference, want, "{spec} {version} is listed as a departure ({why}) but the reference agrees");
    }
    for &spec in SPECIFIERS {
        let ours: Specifier = spec.parse().unwrap_or_else(|e| panic!("{e}"));
        let theirs: pep440_rs::VersionSpecifier = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
        for &version in VERSIONS {
            let got = ours.contains(&version.parse().unwrap());
            let reference = theirs.contains(&version.parse().unwrap());
            let want = departs.get(&(spec, version)).copied().unwrap_or(reference);
            if got != want {
                wrong.push(format!("{spec} {version}: ours {got}, want {want} (reference {reference})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
    assert!(SPECIFIERS.len() * VERSIONS.len() > 1000, "the corpus is not empty");
}

#[test]
fn rejects_what_the_reference_rejects() {
    let bad = [
        "==1.0rc1.*",
        "==1.0.post1.*",
        "==1.0+abc.*",
        ">=1.0.*",
        "<1.*",
        "~=1.0.*",
        "~=1",
        "~=1+abc",
        ">=1.0+abc",
        "<1.0+abc",
        "==",
        ">>1",
        "=1.0",
        "1.0",
        "==1.0 garbage",
        ">=1.0 <2.0",
        "==1.*.*",
        "==x",
    ];
    for spec in bad {
        assert!(spec.parse::<Specifier>().is_err(), "ours accepts `{spec}`");
        assert!(spec.parse::<pep440_rs::VersionSpecifier>().is_err(), "the reference accepts `{spec}`");
    }
}

#[test]
fn errors_say_what_is_wrong() {
    let check = |spec: &str, want: expect_test::Expect| want.assert_eq(&spec.parse::<Specifier>().unwrap_err());
    check("==1.0rc1.*", expect_test::expect!["`==1.0rc1.*`: a `.*` wildcard must follow release numbers only (like `==1.0.*`), not a pre-, post-, dev or local part"]);
    check(">=1.0.*", expect_test::expect!["`>=1.0.*`: a `.*` wildcard is only allowed after `==` or `!=`"]);
    check("~=1", expect_test::expect!["`~=1`: `~=` needs at least two release numbers (like `~=1.4`)"]);
    check(
        ">=1.0+abc",
        expect_test::expect!["`>=1.0+abc`: a local version (`+…`) is only allowed after `==`, `!=` or `===`"],
    );
    check(">=1.0 <2.0", expect_test::expect!["`>=1.0 <2.0` is not a version specifier: expected one version after `>=`; separate specifiers with commas (`>=1.0,<2.0`)"]);
    check("1.0", expect_test::expect!["`1.0` is not a version specifier: it must start with one of `==`, `!=`, `<=`, `>=`, `<`, `>`, `~=` or `===`"]);
}
