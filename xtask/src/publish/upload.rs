//! Uploading built files with `uv publish` or `poetry publish`, credentials passed only through
//! the child's environment, and failures sorted into transient (retry) and permanent (stop).

use std::{path::Path, path::PathBuf};

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
    /// `UV_PUBLISH_*`, uv exchanges the job's token for a short-lived upload token on each call.
    trusted: Option<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([REDACTED])")
    }
}

impl Credentials {
    /// What GitHub Actions sets with `id-token: write`: only the upload child gets them.
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

    /// Whether uploads use trusted publishing (`uv publish --trusted-publishing always`).
    pub fn trusted(&self) -> bool {
        self.trusted.is_some()
    }

    /// How the credentials are given, for the plan: never their values.
    pub fn describe(&self) -> &'static str {
        if self.trusted.is_some() {
            return "trusted publishing: the GitHub Actions ID token, exchanged by uv for a short-lived upload token on each upload";
        }
        match (&self.token, &self.username, &self.password) {
            (Some(_), _, _) => "token from UV_PUBLISH_TOKEN",
            (None, Some(_), Some(_)) => "username and password from UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD",
            (None, Some(_), None) => "username from UV_PUBLISH_USERNAME, no password",
            _ => "none (set UV_PUBLISH_TOKEN, or UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD)",
        }
    }

    /// `text` with every secret replaced by `[REDACTED]`: ours, and the upload tokens that uv
    /// minted by trusted publishing, which it prints for GitHub to mask (`::add-mask::TOKEN`)
    /// before an upload that may then fail. Those lines go: only the runner reads them.
    pub fn redact(&self, text: &str) -> String {
        let request_token = self.trusted.as_ref().map(|(_, t)| t.clone());
        let own: Vec<String> =
            [self.token.clone(), self.password.clone(), request_token].into_iter().flatten().collect();
        secrets::redact_also(text, &own)
    }

    /// The environment of the upload child: uv reads our names itself; poetry's are mapped to
    /// its repository named `xtask`.
    fn env(&self, backend: Backend) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        let mut put = |name: &'static str, value: &Option<String>| {
            if let Some(v) = value {
                env.push((name, v.clone()));
            }
        };
        match backend {
            Backend::Uv => {
                let (url, token) = self.trusted.clone().unzip();
                put(Self::ID_TOKEN_VARIABLES[0], &url);
                put(Self::ID_TOKEN_VARIABLES[1], &token);
                put("UV_PUBLISH_TOKEN", &self.token);
                put("UV_PUBLISH_USERNAME", &self.username);
                put("UV_PUBLISH_PASSWORD", &self.password);
            }
            Backend::Poetry if self.token.is_some() => put("POETRY_PYPI_TOKEN_XTASK", &self.token),
            Backend::Poetry => {
                put("POETRY_HTTP_BASIC_XTASK_USERNAME", &self.username);
                put("POETRY_HTTP_BASIC_XTASK_PASSWORD", &self.password);
            }
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
}

/// Uploads `files` (all of one package, from `dir`'s build) to `publish_url`.
pub fn upload(
    tool: &Path,
    backend: Backend,
    publish_url: &str,
    package_dir: &Path,
    files: &[PathBuf],
    credentials: &Credentials,
) -> Result<(), Failure> {
    let (args, shown, _staged) = match backend {
        Backend::Uv => {
            let mut args =
                vec!["publish".to_string(), "--no-progress".into(), "--publish-url".into(), publish_url.into()];
            if credentials.trusted() {
                args.extend(["--trusted-publishing".into(), "always".into()]);
            }
            args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
            (args, "uv publish", None)
        }
        Backend::Poetry => {
            // `poetry publish` sends every file of the version in a directory: give it one
            // holding exactly the files to send.
            let staged = stage(files).map_err(|e| Failure::Permanent(format!("cannot prepare the upload: {e}")))?;
            let dir = staged.to_string_lossy().into_owned();
            (
                vec![
                    "publish".into(),
                    "--no-interaction".into(),
                    "--repository".into(),
                    "xtask".into(),
                    "--dist-dir".into(),
                    dir,
                ],
                "poetry publish",
                Some(Staged(staged)),
            )
        }
    };
    // Retries are ours: uv's own would retry a new-project 429, which only makes it worse.
    let mut cmd = exec::Cmd::new(tool).args(&args).dir(package_dir).env("UV_HTTP_RETRIES", "0");
    if backend == Backend::Poetry {
        cmd = cmd.env("POETRY_REPOSITORIES_XTASK_URL", publish_url);
    }
    // The one child that gets the upload credentials (from the store, under the tool's names).
    for (name, value) in credentials.env(backend) {
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

/// Sorts a failed upload by what the tool printed: an HTTP status decides when there is one;
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
        assert_eq!(c.env(Backend::Poetry), [("POETRY_PYPI_TOKEN_XTASK", "pypi-s3cret".to_string())]);
        let c = Credentials { token: None, username: Some("u".into()), password: Some("p4ss".into()), trusted: None };
        assert_eq!(c.env(Backend::Poetry).len(), 2);
        assert_eq!(c.describe(), "username and password from UV_PUBLISH_USERNAME and UV_PUBLISH_PASSWORD");
        // Trusted publishing: only uv's upload child gets the ID-token request, and its token is redacted.
        let c = Credentials {
            trusted: Some(("https://actions/token?x=1".into(), "id-req-s3cret".into())),
            ..Default::default()
        };
        assert!(c.trusted() && c.describe().starts_with("trusted publishing"));
        assert_eq!(c.env(Backend::Uv).iter().map(|(k, _)| *k).collect::<Vec<_>>(), Credentials::ID_TOKEN_VARIABLES);
        assert_eq!(c.redact("bearer id-req-s3cret"), "bearer [REDACTED]");
        // What uv prints of the token it minted, before an upload that then fails.
        let printed =
            "::add-mask::pypi-minted-1f2e\nerror: Upload failed with status code 403 (token pypi-minted-1f2e)";
        assert_eq!(c.redact(printed), "error: Upload failed with status code 403 (token [REDACTED])");
    }
}
