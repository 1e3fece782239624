//! What the xtask's own uploads send (`publish/direct.rs`) against what `uv publish` sends for
//! the same files: a recording index on loopback takes both and keeps each request's parts
//! (their headers and contents) and credentials; they must be equal, file for file, so the index
//! records the same release whichever uploaded it.

use crate::support;

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
};

use support::{pypiserver::PypiServer, Sample};

const TOKEN: &str = "pypi-xtask-form-test-token-81d0";

/// One upload as the recording index saw it: the `Authorization` header, and every part of the
/// multipart body (its headers, then its contents) in order.
#[derive(Debug, PartialEq, Eq)]
struct Upload {
    authorization: String,
    parts: Vec<(Vec<String>, Vec<u8>)>,
}

impl Upload {
    /// The file name of the `content` part.
    fn filename(&self) -> String {
        let head = self.parts.iter().find(|(h, _)| h.iter().any(|l| l.contains("name=\"content\""))).expect("a file");
        let line = head.0.iter().find(|l| l.contains("filename=")).expect("a file name");
        line.split("filename=\"").nth(1).unwrap().trim_end_matches('"').to_string()
    }
}

/// An index that answers every upload with 200 and keeps it, keyed by file name.
struct Recorder {
    port: u16,
    uploads: Arc<Mutex<BTreeMap<String, Upload>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let uploads = Arc::new(Mutex::new(BTreeMap::new()));
        let kept = uploads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || serve(stream, &kept));
            }
        });
        Recorder { port, uploads }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn take(&self) -> BTreeMap<String, Upload> {
        std::mem::take(&mut *self.uploads.lock().unwrap())
    }
}

/// Answers the requests of one connection (keep-alive) until it closes.
fn serve(stream: TcpStream, kept: &Mutex<BTreeMap<String, Upload>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            headers.push(line);
        }
        let header = |name: &str| {
            headers
                .iter()
                .find_map(|h| h.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
                .unwrap_or("")
                .to_string()
        };
        let mut body = vec![0; header("content-length").parse().unwrap_or(0)];
        reader.read_exact(&mut body).unwrap();
        let boundary = header("content-type").split("boundary=").nth(1).unwrap_or("").to_string();
        let upload = Upload { authorization: header("authorization"), parts: parts(&body, &boundary) };
        kept.lock().unwrap().insert(upload.filename(), upload);
        out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
    }
}

/// The parts of a multipart body: each one's header lines, then its contents.
fn parts(body: &[u8], boundary: &str) -> Vec<(Vec<String>, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, delimiter.as_bytes()) {
        rest = &rest[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest_after_crlf = &rest[2..];
        let end = find(rest_after_crlf, format!("\r\n{delimiter}").as_bytes()).expect("a closing delimiter");
        let part = &rest_after_crlf[..end];
        let split = find(part, b"\r\n\r\n").expect("a blank line after the part's headers");
        let head = String::from_utf8_lossy(&part[..split]).lines().map(str::to_string).collect();
        out.push((head, part[split + 4..].to_vec()));
        rest = &rest_after_crlf[end + 2..];
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The built files under `target/publish/` whose names start with `prefix`.
fn builds_of(s: &Sample, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(s.root().join("target/publish")).unwrap() {
        let Ok(entries) = std::fs::read_dir(dir.unwrap().path()) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(prefix) && (name.ends_with(".whl") || name.ends_with(".tar.gz")) {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn the_xtask_uploads_what_uv_publish_uploads_field_for_field() {
    let s = Sample::new(20, 2);
    let ignore = s.read(".gitignore");
    s.write(".gitignore", &format!("{ignore}/target/\n"));
    support::commit_all(&s.root(), "Ignore target/");
    let server = PypiServer::start();
    s.use_build_index(&server);
    let recorder = Recorder::start();
    // The recorder keeps the files, so they never show on the index: each run fails at the
    // visibility wait, after its uploads. Core needs instrumentation on the index: uv puts it there.
    let publish = |dir: &str| {
        let run = s.xtask_env(
            &["publish", dir, "--index-url", &server.index_url(), "--publish-url", &recorder.url(), "--wait", "1s"],
            &[("UV_PUBLISH_TOKEN", TOKEN)],
        );
        assert!(run.stderr.contains("to be visible on the index"), "{}", run.stderr);
    };
    publish("llama-index-instrumentation");
    let instrumentation = builds_of(&s, "llama_index_instrumentation-");
    let out = support::command(support::tool("uv"))
        .args(["publish", "--no-progress", "--publish-url", &server.publish_url()])
        .args(&instrumentation)
        .env("UV_PUBLISH_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    publish("llama-index-core");
    let ours = recorder.take();
    assert_eq!(ours.len(), 4, "a wheel and an sdist each: {:?}", ours.keys());

    let builds = s.root().join("target/publish");
    for filename in ours.keys() {
        let path = std::fs::read_dir(&builds)
            .unwrap()
            .map(|d| d.unwrap().path().join(filename))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{filename} is not under {}", builds.display()));
        let out = support::command(support::tool("uv"))
            .args(["publish", "--no-progress", "--publish-url", &recorder.url()])
            .arg(&path)
            .env("UV_PUBLISH_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let uvs = recorder.take();
    for (filename, ours) in &ours {
        let uv = &uvs[filename];
        assert!(ours.parts.len() > 10, "{filename}: {:?}", ours.parts);
        let names = |u: &Upload| u.parts.iter().map(|(h, v)| format!("{h:?} {}", v.len())).collect::<Vec<_>>();
        assert_eq!(names(ours), names(uv), "{filename}: the parts' headers and sizes");
        assert!(ours == uv, "{filename}: the parts' contents and the credentials");
    }
}
