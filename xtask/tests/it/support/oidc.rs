//! Trusted publishing's index side: a certificate authority and a certificate for 127.0.0.1 made
//! with the `openssl` CLI, and `oidc_index.py` run by the tools' Python: the real pypiserver,
//! which takes uploads only from `__token__` with a token minted by trusted publishing, behind a
//! TLS front that answers the index's OIDC routes and forwards the uploads. uv trusts the
//! authority through `SSL_CERT_FILE` ([`OidcIndex::env`]).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use super::{tool, TempDir};

/// The audience the index asks ID tokens for.
pub const AUDIENCE: &str = "xtask-test-index";

/// A running index stand-in with its pypiserver, stopped on drop.
pub struct OidcIndex {
    // Declared first: the server stops before its files go.
    child: Child,
    /// The TLS front's port: uploads and the OIDC routes.
    pub port: u16,
    /// pypiserver's own port, plain HTTP: the JSON API and the simple pages.
    pub pypiserver_port: u16,
    dir: TempDir,
}

impl OidcIndex {
    /// Starts the index. An ID token is genuine when it is for [`AUDIENCE`] and signed with
    /// `id_token_key`. `flags`: `--refuse` refuses every mint (no trusted publisher configured),
    /// `--expire` makes every minted token expire before its upload.
    pub fn start(id_token_key: &str, flags: &[&str]) -> OidcIndex {
        let dir = TempDir::new("oidc-index");
        certificates(dir.path());
        std::fs::create_dir_all(dir.path().join("packages")).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/oidc_index.py");
        let mut cmd = Command::new(tool("python"));
        cmd.arg(script)
            .arg("--cert")
            .arg(dir.path().join("chain.pem"))
            .arg("--key")
            .arg(dir.path().join("key.pem"))
            .arg("--packages")
            .arg(dir.path().join("packages"))
            .arg("--also")
            .arg(super::wheels::dir())
            .args(["--audience", AUDIENCE])
            .arg("--log")
            .arg(dir.path().join("requests.jsonl"))
            .arg("--minted")
            .arg(dir.path().join("minted.txt"))
            .args(flags)
            .env("OIDC_ID_TOKEN_KEY", id_token_key)
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ports = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|rest| rest.split_once(", pypiserver on 127.0.0.1:"))
            .and_then(|(tls, http)| Some((tls.parse().ok()?, http.parse().ok()?)));
        let Some((port, pypiserver_port)) = ports else {
            let status = child.wait().unwrap();
            panic!("the index stand-in did not say where it listens ({status}): {line:?}")
        };
        OidcIndex { child, port, pypiserver_port, dir }
    }

    /// Where uploads go, and so where uv looks for the OIDC routes: `https://127.0.0.1:PORT/`.
    pub fn publish_url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    /// pypiserver's JSON API base, where the xtask reads what the index holds.
    pub fn index_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.pypiserver_port)
    }

    /// What makes uv trust the front's certificate, and builds resolve from pypiserver (which
    /// serves the tests' build wheels), never from the public index.
    pub fn env(&self) -> Vec<(String, String)> {
        let simple = format!("{}/simple/", self.index_url());
        vec![
            ("SSL_CERT_FILE".into(), self.dir.path().join("ca.pem").display().to_string()),
            ("UV_DEFAULT_INDEX".into(), simple.clone()),
            ("PIP_INDEX_URL".into(), simple),
            ("UV_PYTHON_DOWNLOADS".into(), "never".into()),
        ]
    }

    /// The files uploaded so far.
    pub fn served(&self) -> std::collections::BTreeSet<String> {
        let dir = self.dir.path().join("packages");
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    /// Every request the stand-in answered, in order (no secrets in them).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The tokens minted so far, in order: the secrets to look for everywhere else.
    pub fn minted(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.path().join("minted.txt")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }

    /// The request log as written: to prove it holds no secret.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default()
    }
}

impl Drop for OidcIndex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ca.pem` (an authority made for this test), and `key.pem` with `chain.pem`, a certificate
/// for the IP address 127.0.0.1 that it signed: rustls, which uv uses, refuses a self-signed
/// authority as a server's own certificate.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("the `openssl` CLI runs");
        assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let authority = ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=xtask test authority"];
    openssl(&[&["req", "-x509"][..], &ec, &authority].concat());
    openssl(
        &[&["req", "-new"][..], &ec, &["-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]].concat(),
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    let chain =
        std::fs::read_to_string(dir.join("leaf.pem")).unwrap() + &std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
}
