//! The one list of credential variables, the store that holds their values once `main` has
//! taken them out of this process's environment, and the one `redact` for child output.
//!
//! Why a store: a credential left in our own environment reaches every child of every library
//! by default (a build backend's plugins, a test suite, an imported `__init__.py`). Taken out at
//! start-up, before any thread runs, it reaches a child only when the call site that spawns it
//! asks for it by name ([`super::Cmd::credential`]).

use std::{collections::BTreeMap, sync::Mutex};

/// Credential variables by exact name: GitHub's tokens (gh reads the first three, git
/// credential helpers the fourth), the Actions OIDC request that mints upload tokens, and the
/// Actions runtime token (caches and artifacts of the job).
pub const NAMES: &[&str] = &[
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_RUNTIME_TOKEN",
];

/// Credential variables by prefix: the upload tools' own (`UV_PUBLISH_TOKEN`,
/// `POETRY_PYPI_TOKEN_PYPI`, `POETRY_HTTP_BASIC_PYPI_PASSWORD`, `TWINE_PASSWORD`, …).
pub const PREFIXES: &[&str] = &["UV_PUBLISH_", "POETRY_PYPI_TOKEN_", "POETRY_HTTP_BASIC_", "TWINE_"];

/// The variables `gh` takes a token from, in its order of preference.
pub const GITHUB: &[&str] = &["GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"];

/// Values shorter than this are never searched for in other text: a password of `pw` would
/// otherwise garble every word that contains it. The tool itself never prints any value.
pub const MIN_REDACTED_LEN: usize = 8;

const REDACTED: &str = "[REDACTED]";

/// The credentials taken out of the environment, and the names `[secrets] extra` added.
/// `None` until [`take_from_environment`]: the library used without `main` (unit tests, the
/// GitHub stand-in) reads the environment instead, and still never passes a credential on.
static STORE: Mutex<Option<Store>> = Mutex::new(None);

#[derive(Default)]
struct Store {
    values: BTreeMap<String, String>,
    extra: Vec<String>,
}

fn store() -> std::sync::MutexGuard<'static, Option<Store>> {
    // A panic while holding the lock leaves the data intact: keep using it.
    STORE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `name` is a credential variable: of [`NAMES`], [`PREFIXES`] or `[secrets] extra`.
pub fn is_credential(name: &str) -> bool {
    listed(name, &[]) || store().as_ref().is_some_and(|s| s.extra.iter().any(|e| e == name))
}

fn listed(name: &str, extra: &[String]) -> bool {
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)) || extra.iter().any(|e| e == name)
}

/// Moves every credential variable, `extra` (from `[secrets] extra` of release.toml) included,
/// out of this process's environment into the store.
///
/// Call only while the process is single-threaded (first thing in `main`): changing the
/// environment races with any other thread that reads it.
pub fn take_from_environment(extra: &[String]) {
    let mut taken = Store { values: BTreeMap::new(), extra: extra.to_vec() };
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| listed(n, extra)).map(str::to_string) else { continue };
        std::env::remove_var(&name);
        if let Some(value) = value.to_str().filter(|v| !v.is_empty()) {
            taken.values.insert(name, value.to_string());
        }
    }
    *store() = Some(taken);
}

/// The value of the credential variable `name`, if it was set (and not empty).
pub fn value(name: &str) -> Option<String> {
    match store().as_ref() {
        Some(s) => s.values.get(name).cloned(),
        None => std::env::var(name).ok().filter(|v| !v.is_empty() && listed(name, &[])),
    }
}

/// Every credential that was set, by name: for `pkg exec`, which runs the user's own command.
pub fn all() -> Vec<(String, String)> {
    // Never calls back into the store while holding it (the lock is not re-entrant).
    match store().as_ref() {
        Some(s) => s.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        None => std::env::vars().filter(|(k, v)| listed(k, &[]) && !v.is_empty()).collect(),
    }
}

/// `text` with every credential value that stands as a whole value replaced by `[REDACTED]`:
/// the values of the store, and the upload tokens that uv minted by trusted publishing, which
/// it prints for GitHub to mask (`::add-mask::TOKEN`); those lines go, only the runner reads them.
pub fn redact(text: &str) -> String {
    redact_also(text, &[])
}

/// [`redact`], also blanking `own` (values a caller holds that the store may not).
pub fn redact_also(text: &str, own: &[String]) -> String {
    let minted = text.lines().filter_map(|l| l.trim().strip_prefix("::add-mask::")).map(|t| t.trim().to_string());
    let secrets: Vec<String> = all().into_iter().map(|(_, v)| v).chain(own.iter().cloned()).chain(minted).collect();
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().starts_with("::add-mask::")).collect();
    let mut out = kept.join("\n");
    if text.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    redact_values(&out, &secrets)
}

/// `text` with each of `secrets` (those of at least [`MIN_REDACTED_LEN`] characters) replaced
/// where it stands as a whole value: not inside a longer word, so `sto[REDACTED]ords` never
/// happens.
pub fn redact_values(text: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).filter(|s| s.len() >= MIN_REDACTED_LEN).collect();
    // The longest first: a secret that contains another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for secret in secrets {
        out = replace_whole(&out, secret);
    }
    out
}

fn replace_whole(text: &str, secret: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at].chars().next_back().or_else(|| out.chars().next_back());
        let after = rest[at + secret.len()..].chars().next();
        out.push_str(&rest[..at]);
        if word(before) || word(after) {
            out.push_str(secret);
        } else {
            out.push_str(REDACTED);
        }
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, secrets: &[&str], expect: expect_test::Expect) {
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        expect.assert_eq(&redact_values(text, &secrets));
    }

    #[test]
    fn short_values_are_never_searched_for() {
        check("Resource stopwords not found (pw)", &["pw"], expect_test::expect!["Resource stopwords not found (pw)"]);
        check("password: s3cret7", &["s3cret7"], expect_test::expect!["password: s3cret7"]);
    }

    #[test]
    fn long_values_are_replaced_where_they_stand_whole() {
        let token = "pypi-AgEIcHlwaS5vcmc";
        check(
            &format!("Authorization: Bearer {token}\nurl https://__token__:{token}@127.0.0.1/ and \"{token}\""),
            &[token],
            expect_test::expect![[r#"
                Authorization: Bearer [REDACTED]
                url https://__token__:[REDACTED]@127.0.0.1/ and "[REDACTED]""#]],
        );
        check(
            "tokens: longpassword1 xlongpassword1 longpassword1x longpassword1_ longpassword1-",
            &["longpassword1"],
            expect_test::expect!["tokens: [REDACTED] xlongpassword1 longpassword1x longpassword1_ [REDACTED]-"],
        );
        check("longpassword1longpassword1", &["longpassword1"], expect_test::expect!["longpassword1longpassword1"]);
        check(
            "ghp_secret_value_2 and ghp_secret_value",
            &["ghp_secret_value", "ghp_secret_value_2"],
            expect_test::expect!["[REDACTED] and [REDACTED]"],
        );
    }

    #[test]
    fn the_list_names_every_kind_of_credential() {
        for name in [
            "GH_TOKEN",
            "GITHUB_TOKEN",
            "GH_ENTERPRISE_TOKEN",
            "GITHUB_ENTERPRISE_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_RUNTIME_TOKEN",
            "UV_PUBLISH_TOKEN",
            "UV_PUBLISH_PASSWORD",
            "POETRY_PYPI_TOKEN_PYPI",
            "POETRY_HTTP_BASIC_XTASK_PASSWORD",
            "TWINE_PASSWORD",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in ["PATH", "HOME", "GH_HOST", "UV_INDEX_URL", "GITHUB_ACTIONS", "VIRTUAL_ENV"] {
            assert!(!is_credential(name), "{name}");
        }
        assert!(GITHUB.iter().all(|n| NAMES.contains(n)));
    }
}
