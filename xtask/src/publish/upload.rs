//! Uploading built files: over HTTP from the tool itself with the uv backend (`direct.rs`), with
//! `poetry publish` with poetry's, credentials passed to poetry only through its environment;
//! failures sorted into transient (retry) and permanent (stop).

use std::{path::Path, path::PathBuf};

use super::direct;
use crate::{
    config::Backend,
    exec::{self, secrets},
};

/// The upload credentials, read once from the credential store (`exec/secrets.rs`) under uv's
/// names, whichever backend uploads. They are never put on a command line, and [`Credentials::redact`] blanks them out
/// of anything a child printed before it reaches the user.
#[derive(Clone, Default)]
pub struct Credentials {
    token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    /// Trusted publishing: in GitHub Actions with an ID token (`id-token: write`) and no
    /// `UV_PUBLISH_*`, the job's ID token is exchanged for a short-lived upload token for each
    /// package's upload (`direct.rs`).
    trusted: Option<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([REDACTED])")
    }
}

impl Credentials {
    /// What GitHub Actions sets with `id-token: write`: read here, given to no child.
    pub const ID_TOKEN_VARIABLES: [&'static str; 2] =
        ["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"];
    pub fn from_env() -> Credentials {
        let var = secrets::value;
        let (token, username, password) =
            (var("UV_PUBLISH_TOKEN"), var("UV_PUBLISH_USERNAME"), var("UV_PUBLISH_PASSWORD"));
        let in_actions = std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true");
        let trusted = match (
            in_actions && token.is_none() && username.is_none() && password.is_none(),
            var(Self::ID_TOKEN_VARIABLES[0]),
            var(Self::ID_TOKEN_VARIABLES[1]),
        ) {
            (true, Some(url), Some(request_token)) => Some((url, request_token)),
            _ => None,
        };
        Credentials { token, username, password, trusted }
    }

    /// Why an upload to `publish_url` would fail before it starts: no credentials at all and no
    /// trusted publishing, which every index that takes uploads refuses.
    pub fn problem(&self, publish_url: &str) -> Option<String> {
        let none = self.token.is_none() && self.username.is_none() && self.password.is_none() && self.trusted.is_none();
        none.then(|| {
            format!(
                "no upload credentials for {}: set UV_PUBLISH_TOKEN (or UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD), or publish from GitHub Actions with `id-token: write` (trusted publishing)",
                crate::url::shown(publish_url)
            )
        })
    }

    /// How one upload to `publish_url` authenticates: trusted publishing's exchange (a fresh
    /// token each call), a token as the password of `__token__`, or the user and password.
    fn login(&self, publish_url: &str) -> Result<direct::Login, Failure> {
        if let Some((url, request_token)) = &self.trusted {
            return direct::trusted_login(publish_url, url, request_token);
        }
        Ok(match (&self.token, &self.username) {
            (Some(token), _) => direct::Login { user: "__token__".into(), password: token.clone() },
            (None, user) => direct::Login {
                user: user.clone().unwrap_or_default(),
                password: self.password.clone().unwrap_or_default(),
            },
        })
    }

    /// How the credentials are given, for the plan: never their values.
    pub fn describe(&self) -> &'static str {
        if self.trusted.is_some() {
            return "trusted publishing: the GitHub Actions ID token, exchanged for a short-lived upload token for each package's upload";
        }
        match (&self.token, &self.username, &self.password) {
            (Some(_), _, _) => "token from UV_PUBLISH_TOKEN",
            (None, Some(_), Some(_)) => "username and password from UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD",
            (None, Some(_), None) => "username from UV_PUBLISH_USERNAME, no password",
            _ => "none (set UV_PUBLISH_TOKEN, or UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD)",
        }
    }

    /// `text` with every secret replaced by `[REDACTED]`: ours, and upload tokens that a tool
    /// minted by trusted publishing and printed for GitHub to mask (`::add-mask::TOKEN`). Those
    /// lines go: only the runner reads them.
    pub fn redact(&self, text: &str) -> String {
        let request_token = self.trusted.as_ref().map(|(_, t)| t.clone());
        let own: Vec<String> =
            [self.token.clone(), self.password.clone(), request_token].into_iter().flatten().collect();
        secrets::redact_also(text, &own)
    }

    /// The environment of `poetry publish`: our credentials under poetry's names, for its
    /// repository named `xtask`. Trusted publishing is not poetry's: it gets no ID-token request.
    fn poetry_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        let mut put = |name: &'static str, value: &Option<String>| {
            if let Some(v) = value {
                env.push((name, v.clone()));
            }
        };
        if self.token.is_some() {
            put("POETRY_PYPI_TOKEN_XTASK", &self.token);
        } else {
            put("POETRY_HTTP_BASIC_XTASK_USERNAME", &self.username);
            put("POETRY_HTTP_BASIC_XTASK_PASSWORD", &self.password);
        }
        env
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another attempt: connection errors, timeouts, 429 and 5xx answers.
    Transient(String),
    /// Another attempt would fail the same way: 4xx answers, a bad file.
    Permanent(String),
    /// "File exists" (400 or 409): the index must be read again to know whose file it is.
    Exists(String),
    /// A 429 about creating a project: the index's new-project quota. Never retried: a
    /// rejected attempt seems to count against the window.
    Quota(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Transient(m) | Failure::Permanent(m) | Failure::Exists(m) | Failure::Quota(m) => m,
        }
    }

    /// The same failure, its message passed through `f`.
    pub fn map(self, f: impl FnOnce(String) -> String) -> Failure {
        match self {
            Failure::Transient(m) => Failure::Transient(f(m)),
            Failure::Permanent(m) => Failure::Permanent(f(m)),
            Failure::Exists(m) => Failure::Exists(f(m)),
            Failure::Quota(m) => Failure::Quota(f(m)),
        }
    }

    /// The same failure, said to be of `what`.
    pub fn within(self, what: &str) -> Failure {
        self.map(|m| format!("{what}: {m}"))
    }
}

/// Uploads `files` (all of one package, from `dir`'s build) to `publish_url`: the files that
/// went through, and the failure that stopped the rest.
pub fn upload(
    tool: &Path,
    backend: Backend,
    publish_url: &str,
    package_dir: &Path,
    files: &[PathBuf],
    credentials: &Credentials,
) -> (Vec<String>, Result<(), Failure>) {
    match backend {
        Backend::Uv => {
            let (sent, result) = match credentials.login(publish_url) {
                Ok(login) => {
                    let (sent, result) = direct::upload(publish_url, files, &login);
                    // Whatever the index answered, never the token it minted or we sent.
                    (
                        sent,
                        result
                            .map_err(|f| f.map(|m| secrets::redact_values(&m, std::slice::from_ref(&login.password)))),
                    )
                }
                Err(failure) => (Vec::new(), Err(failure)),
            };
            (sent, result.map_err(|f| f.map(|m| credentials.redact(&m))))
        }
        Backend::Poetry => match poetry_publish(tool, publish_url, package_dir, files, credentials) {
            Ok(()) => {
                (files.iter().filter_map(|f| f.file_name()).map(|n| n.to_string_lossy().into_owned()).collect(), Ok(()))
            }
            Err(failure) => (Vec::new(), Err(failure)),
        },
    }
}

/// `poetry publish` of `files`, the credentials in its environment only.
fn poetry_publish(
    tool: &Path,
    publish_url: &str,
    package_dir: &Path,
    files: &[PathBuf],
    credentials: &Credentials,
) -> Result<(), Failure> {
    // `poetry publish` sends every file of the version in a directory: give it one holding
    // exactly the files to send.
    let staged = stage(files).map_err(|e| Failure::Permanent(format!("cannot prepare the upload: {e}")))?;
    let _staged = Staged(staged.clone());
    let dir = staged.to_string_lossy().into_owned();
    let args = ["publish", "--no-interaction", "--repository", "xtask", "--dist-dir", &dir];
    let shown = "poetry publish";
    let mut cmd = exec::Cmd::new(tool).args(args).dir(package_dir).env("POETRY_REPOSITORIES_XTASK_URL", publish_url);
    // The one child that gets the upload credentials (from the store, under poetry's names).
    for (name, value) in credentials.poetry_env() {
        cmd = cmd.env(name, value);
    }
    match cmd.capture() {
        Ok(exec::Captured { ok: true, .. }) => Ok(()),
        Ok(exec::Captured { ok: false, text }) => {
            let text = credentials.redact(&text);
            // The whole answer goes to the log; the message keeps the server's words without HTML.
            crate::output::note(&format!("`{shown}` said:\n{}", exec::tail(&text, 40)));
            let message = format!("`{shown}` failed: {}", server_message(&text));
            Err(match classify(&text) {
                Kind::Transient => Failure::Transient(message),
                Kind::Permanent => Failure::Permanent(message),
                Kind::Exists => Failure::Exists(message),
                Kind::Quota => Failure::Quota(message),
            })
        }
        Err(e) => Err(Failure::Permanent(format!("cannot run `{shown}`: {e}"))),
    }
}

/// A directory of hard links (or copies) to the files to upload, removed when dropped.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stage(files: &[PathBuf]) -> std::io::Result<PathBuf> {
    let parent = files.first().and_then(|f| f.parent()).ok_or(std::io::ErrorKind::NotFound)?;
    let dir = parent.join(format!(".upload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    for f in files {
        let to = dir.join(f.file_name().ok_or(std::io::ErrorKind::InvalidInput)?);
        if std::fs::hard_link(f, &to).is_err() {
            std::fs::copy(f, &to)?;
        }
    }
    Ok(dir)
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Transient,
    Permanent,
    Exists,
    Quota,
}

/// One line of what the server said, out of its HTML: the last "Server says"/"Caused by"
/// line with tags and entities removed, else the last line the tool printed.
pub fn server_message(output: &str) -> String {
    let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.contains("Server says") || l.contains("HTTP Error"))
        .or(lines.iter().rev().find(|l| l.starts_with("Caused by")))
        .or(lines.last())
        .copied()
        .unwrap_or("");
    // The server's body may continue on the following lines (an HTML page): take them too.
    let at = lines.iter().position(|l| *l == line).unwrap_or(0);
    let text = lines[at..].join(" ");
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                plain.push(' ');
            }
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain
        .replace("&nbsp;", " ")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut one = words.join(" ");
    if one.chars().count() > 300 {
        one = one.chars().take(300).collect::<String>() + "…";
    }
    one
}

/// Sorts a failed `poetry publish` by what it printed: an HTTP status decides when there is one;
/// otherwise network trouble is transient and anything else permanent, so that an unknown
/// failure is reported at once instead of retried in a loop.
fn classify(output: &str) -> Kind {
    let lower = output.to_lowercase();
    if lower.contains("project.create")
        || lower.contains("too many new projects")
        || lower.contains("new project registration")
    {
        return Kind::Quota;
    }
    if (lower.contains("status code 409")
        || lower.contains("409 conflict")
        || lower.contains("status code 400")
        || lower.contains("http error 400"))
        && (lower.contains("exist") || lower.contains("409"))
    {
        return Kind::Exists;
    }
    // Checked first: uv mentions failed network calls on its way to these (trusted publishing).
    if ["missing credentials", "invalid credentials", "authentication failed"].iter().any(|n| lower.contains(n)) {
        return Kind::Permanent;
    }
    // uv says `error code 403` when the index refuses to mint a trusted-publishing token.
    for prefix in ["status code ", "http error ", "status: ", "http status ", "error code "] {
        for (at, _) in lower.match_indices(prefix) {
            let digits: String = lower[at + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(code) = digits.parse::<u16>() {
                if code == 429 || code >= 500 {
                    return Kind::Transient;
                }
                if (400..500).contains(&code) {
                    return Kind::Permanent;
                }
            }
        }
    }
    let network = [
        "timed out",
        "timeout",
        "connection",
        "reset by peer",
        "broken pipe",
        "error sending request",
        "unexpected eof",
        "incomplete message",
        "temporarily unavailable",
    ];
    if network.iter().any(|n| lower.contains(n)) {
        Kind::Transient
    } else {
        Kind::Permanent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_credentials_at_all_is_a_problem_that_names_what_to_set() {
        let none = Credentials::default();
        expect_test::expect!["no upload credentials for https://[REDACTED]@upload.example/: set UV_PUBLISH_TOKEN (or UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD), or publish from GitHub Actions with `id-token: write` (trusted publishing)"]
            .assert_eq(&none.problem("https://user:pw@upload.example/").unwrap_or_default());
        let some = [
            Credentials { token: Some("t".into()), ..Credentials::default() },
            Credentials { username: Some("u".into()), password: Some("p".into()), ..Credentials::default() },
            Credentials { trusted: Some(("url".into(), "request".into())), ..Credentials::default() },
        ];
        assert!(some.iter().all(|c| c.problem("http://x/").is_none()));
    }

    #[test]
    fn classifies_what_uv_and_poetry_print() {
        let cases = [
            ("error: Failed to publish `a.whl` to http://x/\n  Caused by: Upload failed with status code 500 Internal Server Error", Kind::Transient),
            ("Upload failed with status code 429 Too Many Requests", Kind::Transient),
            ("Upload failed with status code 403 Forbidden. Server says: 403 Invalid or non-existent authentication", Kind::Permanent),
            ("Upload failed with status code 409 Conflict", Kind::Exists),
            ("Upload failed with status code 400 Bad Request. Server says: 400 File already exists", Kind::Exists),
            ("Upload failed with status code 429 Too Many Requests. Server says: Too many new projects created", Kind::Quota),
            ("Upload failed with status code 429: \"project.create.ip\";q=4;w=86400", Kind::Quota),
            ("Upload failed with status code 400 Bad Request. Server says: Invalid version", Kind::Permanent),
            ("HTTP Error 502: Bad Gateway", Kind::Transient),
            ("HTTP Error 400: File already exists", Kind::Exists),
            ("Caused by: error sending request for url (http://x/)\n  Caused by: connection closed before message completed", Kind::Transient),
            ("Caused by: operation timed out", Kind::Transient),
            ("error: File is not a valid wheel", Kind::Permanent),
            ("error: Failed to obtain token for trusted publishing\n  Caused by: Server returned error code 403 Forbidden, is trusted publishing correctly configured?", Kind::Permanent),
            ("Caused by: Server returned error code 503 Service Unavailable, is trusted publishing correctly configured?", Kind::Transient),
            ("Caused by: error sending request for url (https://x/_/oidc/audience)\n  Caused by: Missing credentials for http://x/", Kind::Permanent),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), want, "{text}");
        }
    }

    #[test]
    fn server_messages_lose_their_html() {
        let text = "Uploading a.whl (1 KiB)\nerror: Failed to publish `dist/a.whl` to http://x/\n  Caused by: Upload failed with status code 409 Conflict. Server says: <html>\n<head><title>Error: 409 Conflict</title></head>\n<body><h1>Error: 409 Conflict</h1><p>Package &#39;a.whl&#39; already exists!</p></body></html>";
        assert_eq!(
            server_message(text),
            "Caused by: Upload failed with status code 409 Conflict. Server says: Error: 409 Conflict Error: 409 Conflict Package 'a.whl' already exists!"
        );
    }

    #[test]
    fn credentials_never_show() {
        let c = Credentials { token: Some("pypi-s3cret".into()), username: None, password: None, trusted: None };
        assert_eq!(c.redact("auth pypi-s3cret failed"), "auth [REDACTED] failed");
        assert_eq!(format!("{c:?}"), "Credentials([REDACTED])");
        assert_eq!(c.poetry_env(), [("POETRY_PYPI_TOKEN_XTASK", "pypi-s3cret".to_string())]);
        let c = Credentials { token: None, username: Some("u".into()), password: Some("p4ss".into()), trusted: None };
        assert_eq!(c.poetry_env().len(), 2);
        assert_eq!(c.describe(), "username and password from UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD");
        // Trusted publishing: no child gets the ID-token request (the exchange is ours), and its
        // token is redacted.
        let c = Credentials {
            trusted: Some(("https://actions/token?x=1".into(), "id-req-s3cret".into())),
            ..Default::default()
        };
        assert!(c.trusted.is_some() && c.describe().starts_with("trusted publishing"));
        assert!(c.poetry_env().is_empty());
        assert_eq!(c.redact("bearer id-req-s3cret"), "bearer [REDACTED]");
        // What uv prints of the token it minted, before an upload that then fails.
        let printed =
            "::add-mask::pypi-minted-1f2e\nerror: Upload failed with status code 403 (token pypi-minted-1f2e)";
        assert_eq!(c.redact(printed), "error: Upload failed with status code 403 (token [REDACTED])");
    }
}
