//! A fault-injecting HTTP proxy on loopback, std only: placed between the tool and a real
//! index, it forwards requests and fails a chosen share of them (HTTP 500, a reset connection,
//! or a stall longer than the client's read timeout), deterministically, to prove retries,
//! timeouts and waiting loops. One request per connection (`Connection: close`). It can also
//! add the upload times pypiserver's JSON API lacks (`upload_time_iso_8601`), as the public
//! index serves them.

use std::{
    io::{Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// How a failed request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An `HTTP 500` answer.
    Status500,
    /// The connection is reset (RST) once the request arrives, with no answer.
    Reset,
    /// The request is read, then nothing is answered for this long; then the connection closes.
    Stall(Duration),
    /// An `HTTP 200` with this body instead of the upstream's (HTML, garbage JSON).
    Body(&'static str),
    /// The public index's answer to a project creation past its quota: `429` with its
    /// `Ratelimit-Policy` header and an HTML page.
    TooManyNewProjects,
    /// A plain `429` asking to come back after this many seconds (`Retry-After`).
    Status429 { retry_after: u32 },
}

/// Which requests fail, counted from the last [`FaultProxy::set_faults`] (or the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    fault: Option<Fault>,
    /// Only uploads (POST requests) are counted and failed; the rest is forwarded.
    uploads_only: bool,
    /// Request `k` fails when `k % of < fail`; with `of == 0`, when `k < fail`.
    fail: u32,
    of: u32,
}

impl Faults {
    /// Every request is forwarded.
    pub fn none() -> Faults {
        Faults { fault: None, uploads_only: false, fail: 0, of: 1 }
    }
    /// Every request fails.
    pub fn all(fault: Fault) -> Faults {
        Faults { fault: Some(fault), uploads_only: false, fail: 1, of: 1 }
    }
    /// The first `fail` of every `of` requests fail: `share(1, 2, ..)` fails every other one,
    /// starting with the first.
    pub fn share(fail: u32, of: u32, fault: Fault) -> Faults {
        assert!(of > 0 && fail <= of, "a share is `fail` of `of` requests");
        Faults { fault: Some(fault), uploads_only: false, fail, of }
    }
    /// The first `n` requests fail, every later one is forwarded.
    pub fn first(n: u32, fault: Fault) -> Faults {
        Faults { fault: Some(fault), uploads_only: false, fail: n, of: 0 }
    }
    /// The same faults, for uploads only.
    pub fn on_uploads(self) -> Faults {
        Faults { uploads_only: true, ..self }
    }

    fn pick(&self, k: u64) -> Option<Fault> {
        let hit = if self.of == 0 { k < u64::from(self.fail) } else { k % u64::from(self.of) < u64::from(self.fail) };
        self.fault.filter(|_| hit)
    }
}

struct State {
    uploads: AtomicUsize,
    upstream_host: String,
    upstream_prefix: String,
    /// The faults and how many requests arrived since they were set.
    faults: Mutex<(Faults, u64)>,
    requests: AtomicUsize,
    stop: AtomicBool,
    /// Given to every file of every project's JSON answer, when set.
    upload_time: Mutex<Option<String>>,
}

pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream_url` (`http://host:port[/prefix]`).
    pub fn start(upstream_url: &str, faults: Faults) -> FaultProxy {
        let rest = upstream_url.strip_prefix("http://").expect("the proxy forwards to plain http:// URLs only");
        let (host, prefix) = rest.split_once('/').map_or((rest, String::new()), |(h, p)| (h, format!("/{p}")));
        let state = Arc::new(State {
            upstream_host: host.to_string(),
            upstream_prefix: prefix.trim_end_matches('/').to_string(),
            faults: Mutex::new((faults, 0)),
            requests: AtomicUsize::new(0),
            uploads: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            upload_time: Mutex::new(None),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || handle(&shared, stream));
            }
        });
        FaultProxy { port, state }
    }

    /// `http://127.0.0.1:PORT`: use it in place of the upstream URL (its path prefix included).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests arrived, failed ones included.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// How many uploads (POST requests) arrived, failed ones included.
    pub fn uploads(&self) -> usize {
        self.state.uploads.load(Ordering::SeqCst)
    }

    /// From the next request on, every file of a project's JSON answer says it was uploaded at
    /// `time` (`2026-01-01T00:00:00Z`); `None` forwards the answers as they are.
    pub fn serve_upload_times(&self, time: Option<&str>) {
        *self.state.upload_time.lock().unwrap() = time.map(str::to_string);
    }

    /// Changes the faults from the next request on, and restarts their count.
    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = (faults, 0);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(state: &State, mut client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    // Wait for the request's first bytes without consuming them: a reset must leave them unread,
    // which is what makes the kernel answer the close with RST instead of FIN.
    let mut probe = [0u8; 4];
    if !matches!(client.peek(&mut probe), Ok(n) if n > 0) || state.stop.load(Ordering::SeqCst) {
        return;
    }
    // The method's first bytes may come alone; a short wait gets the rest.
    for _ in 0..20 {
        if client.peek(&mut probe).unwrap_or(0) >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let post = &probe == b"POST";
    state.requests.fetch_add(1, Ordering::SeqCst);
    if post {
        state.uploads.fetch_add(1, Ordering::SeqCst);
    }
    let fault = {
        let mut guard = state.faults.lock().unwrap();
        if guard.0.uploads_only && !post {
            None
        } else {
            let k = guard.1;
            guard.1 += 1;
            guard.0.pick(k)
        }
    };
    if fault == Some(Fault::Reset) {
        drop(client);
        return;
    }
    let Some((head, body_start)) = read_head(&mut client) else { return };
    if matches!(fault, Some(Fault::TooManyNewProjects | Fault::Status429 { .. })) {
        // Read the upload before answering: closing on unread bytes would reset the connection
        // and hide the answer.
        drain(&mut client, &head, body_start.len());
    }
    match fault {
        Some(Fault::Status500) => {
            let body = "injected fault: HTTP 500\n";
            let _ = write!(
                client,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Some(Fault::Stall(d)) => {
            let until = Instant::now() + d;
            while Instant::now() < until && !state.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(Fault::Body(body)) => {
            let _ =
                write!(client, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
        Some(Fault::TooManyNewProjects) => {
            let body = "<html>\n <head><title>429 Too Many Requests</title></head>\n <body>\n  <h1>429 Too Many Requests</h1>\n  Too many new projects created<br/><br/>\n </body>\n</html>";
            let _ = write!(
                client,
                "HTTP/1.1 429 Too Many Requests\r\nRatelimit-Policy: \"project.create.ip\";q=4;w=86400, \"project.create.user\";q=4;w=86400\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Some(Fault::Status429 { retry_after }) => {
            let body = "429 Too Many Requests\n";
            let _ = write!(
                client,
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Some(Fault::Reset) => unreachable!("handled before reading"),
        None => forward(state, &mut client, &head, body_start),
    }
    let _ = client.shutdown(Shutdown::Both);
}

fn drain(client: &mut TcpStream, head: &[String], mut read: usize) {
    let length: usize = head
        .iter()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut chunk = vec![0u8; 64 * 1024];
    while read < length {
        match client.read(&mut chunk) {
            Ok(n) if n > 0 => read += n,
            _ => return,
        }
    }
}

/// Reads the request head; returns its lines and the bytes read past it (the body's start).
fn read_head(client: &mut TcpStream) -> Option<(Vec<String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).lines().map(str::to_string).collect();
            return Some((head, buf[end + 4..].to_vec()));
        }
        let n = client.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn forward(state: &State, client: &mut TcpStream, head: &[String], mut body: Vec<u8>) {
    let Ok(mut upstream) = TcpStream::connect(&state.upstream_host) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let mut parts = head[0].splitn(3, ' ');
    let (method, target, proto) =
        (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"), parts.next().unwrap_or("HTTP/1.1"));
    let mut out = format!(
        "{method} {}{target} {proto}\r\nHost: {}\r\nConnection: close\r\n",
        state.upstream_prefix, state.upstream_host
    );
    let mut length = 0usize;
    for line in &head[1..] {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if matches!(name.as_str(), "host" | "connection" | "keep-alive" | "proxy-connection") {
            continue;
        }
        if name == "content-length" {
            length = line.split_once(':').and_then(|(_, v)| v.trim().parse().ok()).unwrap_or(0);
        }
        out += line;
        out += "\r\n";
    }
    out += "\r\n";
    // The rest of the body (uploads), as announced by Content-Length.
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 * 1024)];
        match client.read(&mut chunk) {
            Ok(n) if n > 0 => body.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    if upstream.write_all(out.as_bytes()).and_then(|()| upstream.write_all(&body)).is_err() {
        return;
    }
    let time = state.upload_time.lock().unwrap().clone();
    match time.filter(|_| method == "GET" && target.split('?').next().unwrap_or("").ends_with("/json")) {
        Some(time) => {
            let mut answer = Vec::new();
            if upstream.read_to_end(&mut answer).is_ok() {
                let _ = client.write_all(&with_upload_times(&answer, &time));
            }
        }
        None => {
            let _ = std::io::copy(&mut upstream, client);
        }
    }
}

/// A project's JSON answer (whole, with its head) with `upload_time_iso_8601` on every file;
/// anything else is returned as it came.
fn with_upload_times(answer: &[u8], time: &str) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return answer.to_vec() };
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&answer[end + 4..]) else {
        return answer.to_vec();
    };
    let Some(releases) = json.get_mut("releases").and_then(|r| r.as_object_mut()) else { return answer.to_vec() };
    for files in releases.values_mut().filter_map(|f| f.as_array_mut()) {
        for file in files.iter_mut().filter_map(|f| f.as_object_mut()) {
            file.insert("upload_time_iso_8601".into(), time.into());
        }
    }
    let body = json.to_string();
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut out: String = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    out += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    out.into_bytes()
}
