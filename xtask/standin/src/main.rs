//! `standin`: a stand-in for GitHub's API on loopback, for tests and benchmarks (GitHub itself is
//! unreachable from them). The real `gh` talks to it over plain HTTP when run with
//! `GH_HOST=github.localhost` and `HTTP_PROXY=http://127.0.0.1:PORT` (gh's development host,
//! which it reaches over http through the proxy).
//!
//! It records every request (`--log FILE`, one JSON object per line, and `GET /__requests`),
//! with the `authorization` header redacted (`token_ok` says whether it was `STANDIN_TOKEN`),
//! and can add latency, answer every API call with an error status, or as rate-limited.
//! Routes are a match on method and path: GraphQL, and the REST release routes. Releases and
//! pull requests that clients create are kept in memory (`rest::Created`), visible to later
//! requests and to tests through `GET /__state`. With `STANDIN_ID_TOKEN_REQUEST_TOKEN` and
//! `STANDIN_ID_TOKEN_KEY` set, it is also the Actions ID-token endpoint (`actions`) that trusted
//! publishing asks for a job's OIDC token.
// A server for tests, not the product: it starts a thread per connection and sleeps for its
// `--latency-ms`, outside the xtask's rules on threads and pauses (`xtask/clippy.toml`).
#![allow(clippy::disallowed_methods)]

mod actions;
mod graphql;
mod http;
mod rest;

use std::{
    collections::BTreeMap,
    io::Write,
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

const USAGE: &str =
    "usage: standin [--port N] [--latency-ms N] [--pulls FILE] [--any-pull] [--fail STATUS [--fail-first N | --fail-after N]] [--rate-limit] [--log FILE]
  --pulls FILE   JSON object: {\"123\": {\"title\": \"…\", \"author\": \"…\", \"files\": [\"a/b.py\"]}}
  --any-pull     every pull request number exists, titled `Pull request #N`
  --fail STATUS  answer every API request with this HTTP status
  --fail-first N only the first N API requests (in arrival order)
  --fail-after N only the API requests after the first N
  --rate-limit   answer every GraphQL request as GitHub does when the rate limit is exhausted
With STANDIN_ID_TOKEN_REQUEST_TOKEN and STANDIN_ID_TOKEN_KEY in the environment, `GET …/idtoken`
is the Actions ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL).
Prints `listening on 127.0.0.1:PORT` on stdout once ready. `GET /__requests` is the request log,
`GET /__state` the releases and pull requests created so far.";

pub struct Pull {
    pub title: String,
    pub author: String,
    pub files: Vec<String>,
}

/// The `authorization` header as the log shows it: its scheme, never the credential.
fn redacted(header: Option<&str>) -> Option<String> {
    header.map(|h| match h.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} [REDACTED]"),
        None => "[REDACTED]".to_string(),
    })
}

/// Whether the request carried the token in `STANDIN_TOKEN` (the environment, like every
/// secret), so tests can tell that the right one arrived without the log holding it; `null`
/// when no token is expected. The ID-token route expects the job's request token instead.
fn token_ok(state: &State, request: &http::Request) -> Value {
    let expected = match &state.id_token {
        Some(secrets) if actions::is_id_token_request(request) => Some(secrets.request_token.clone()),
        _ => std::env::var("STANDIN_TOKEN").ok(),
    };
    let header = request.header("authorization");
    match expected {
        Some(token) => json!(header.and_then(|h| h.split_once(' ')).is_some_and(|(_, sent)| sent.trim() == token)),
        None => Value::Null,
    }
}

pub struct State {
    pulls: BTreeMap<u64, Pull>,
    any_pull: bool,
    latency: Duration,
    fail: Option<u16>,
    /// Fail only API requests number 1..=N; all of them when `None`.
    fail_first: Option<usize>,
    /// Fail only API requests after number N.
    fail_after: Option<usize>,
    rate_limit: bool,
    started: Instant,
    log: Mutex<(Vec<Value>, Option<std::fs::File>)>,
    created: Mutex<rest::Created>,
    id_token: Option<actions::Secrets>,
}

impl State {
    pub fn pull(&self, number: u64) -> Option<Pull> {
        let created = self.created.lock().expect("no panic while holding the lock");
        let created = created.pulls.iter().find(|p| p.number == number);
        match (self.pulls.get(&number), created) {
            (Some(p), _) => Some(Pull { title: p.title.clone(), author: p.author.clone(), files: p.files.clone() }),
            (None, Some(p)) => Some(Pull { title: p.title.clone(), author: "octocat".into(), files: vec![] }),
            (None, None) if self.any_pull => {
                Some(Pull { title: format!("Pull request #{number}"), author: "octocat".into(), files: vec![] })
            }
            (None, None) => None,
        }
    }

    /// The number for a new pull request: above every known one, as GitHub numbers them.
    pub fn next_number(&self, created: &rest::Created) -> u64 {
        let known = self.pulls.keys().copied().chain(created.pulls.iter().map(|p| p.number));
        known.max().unwrap_or(0) + 1
    }

    /// Logs `request` and returns its number, counting from 1.
    fn record(&self, request: &http::Request) -> usize {
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let query = body["query"].as_str().unwrap_or("");
        let numbers: Vec<Value> =
            graphql::lookups(query, &body["variables"]).into_iter().map(|(_, n)| json!(n)).collect();
        let mut log = self.log.lock().expect("no panic while holding the lock");
        let n = log.0.len() + 1;
        let entry = json!({
            "n": n,
            "at_ms": self.started.elapsed().as_millis() as u64,
            "method": request.method,
            "path": request.path,
            "authorization": redacted(request.header("authorization")),
            "token_ok": token_ok(self, request),
            "user_agent": request.header("user-agent"),
            "pull_requests": numbers,
            "body": request.body,
        });
        if let Some(file) = &mut log.1 {
            let _ = writeln!(file, "{entry}");
        }
        log.0.push(entry);
        n
    }
}

fn main() {
    let state = match parse_args(std::env::args().skip(1).collect()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("standin: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let (state, port) = state;
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("standin: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("a bound listener has an address");
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    let state = Arc::new(state);
    for stream in listener.incoming().flatten() {
        let state = Arc::clone(&state);
        std::thread::spawn(move || serve(&state, stream));
    }
}

fn serve(state: &State, stream: TcpStream) {
    let Ok(request) = http::read_request(&stream) else { return };
    let response = route(state, &request);
    let _ = http::write_response(&stream, &response);
}

/// Method and path to handler. Every API route is recorded, delayed and subject to `--fail`;
/// `/__requests` and `/__state` are not.
fn route(state: &State, request: &http::Request) -> http::Response {
    if request.path == "/__requests" {
        let log = state.log.lock().expect("no panic while holding the lock");
        return http::Response::json(200, &Value::Array(log.0.clone()));
    }
    if request.path == "/__state" {
        return http::Response::json(200, &state.created.lock().expect("no panic while holding the lock").snapshot());
    }
    let n = state.record(request);
    std::thread::sleep(state.latency);
    let failing = state.fail_first.is_none_or(|first| n <= first) && state.fail_after.is_none_or(|after| n > after);
    if let Some(status) = state.fail.filter(|_| failing) {
        return http::Response::json(status, &json!({"message": "Server Error"}));
    }
    match (request.method.as_str(), request.path.as_str()) {
        _ if actions::is_id_token_request(request) => actions::id_token(state.id_token.as_ref(), request),
        ("POST", "/graphql" | "/api/graphql") => {
            if state.rate_limit {
                let body = json!({"errors": [{"type": "RATE_LIMITED", "message": "API rate limit already exceeded for user ID 1."}]});
                return http::Response::json(200, &body)
                    .with_header("X-RateLimit-Remaining", "0")
                    .with_header("X-RateLimit-Reset", "1767225600");
            }
            let (status, body) = graphql::answer(state, &request.body);
            http::Response::json(status, &body)
        }
        (method, path) if path.starts_with("/repos/") || path.starts_with("/api/uploads/repos/") => {
            // GitHub Enterprise Server takes uploads at `/api/uploads/repos/…`, github.com at the
            // uploads host's `/repos/…`: the same route.
            let path = path.strip_prefix("/api/uploads").unwrap_or(path);
            let mut created = state.created.lock().expect("no panic while holding the lock");
            rest::releases(&mut created, method, path, request).unwrap_or_else(not_found)
        }
        _ => not_found(),
    }
}

fn not_found() -> http::Response {
    http::Response::json(404, &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}))
}

fn parse_args(args: Vec<String>) -> Result<(State, u16), String> {
    let mut state = State {
        pulls: BTreeMap::new(),
        any_pull: false,
        latency: Duration::ZERO,
        fail: None,
        fail_first: None,
        fail_after: None,
        rate_limit: false,
        started: Instant::now(),
        log: Mutex::new((Vec::new(), None)),
        created: Mutex::new(rest::Created::default()),
        id_token: actions::Secrets::from_env(),
    };
    let mut port = 0u16;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
        match arg.as_str() {
            "--port" => port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--latency-ms" => {
                state.latency =
                    Duration::from_millis(value("--latency-ms")?.parse().map_err(|e| format!("--latency-ms: {e}"))?)
            }
            "--fail-after" => {
                state.fail_after = Some(value("--fail-after")?.parse().map_err(|e| format!("--fail-after: {e}"))?)
            }
            "--fail-first" => {
                state.fail_first = Some(value("--fail-first")?.parse().map_err(|e| format!("--fail-first: {e}"))?)
            }
            "--fail" => state.fail = Some(value("--fail")?.parse().map_err(|e| format!("--fail: {e}"))?),
            "--rate-limit" => state.rate_limit = true,
            "--any-pull" => state.any_pull = true,
            "--log" => {
                let path = value("--log")?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| format!("--log {path}: {e}"))?;
                state.log.get_mut().expect("not shared yet").1 = Some(file);
            }
            "--pulls" => {
                let path = value("--pulls")?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("--pulls {path}: {e}"))?;
                let map: BTreeMap<String, Value> =
                    serde_json::from_str(&text).map_err(|e| format!("--pulls {path}: {e}"))?;
                for (k, v) in map {
                    let number =
                        k.parse().map_err(|_| format!("--pulls {path}: `{k}` is not a pull request number"))?;
                    let files = v["files"]
                        .as_array()
                        .map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    let pull = Pull {
                        title: v["title"].as_str().unwrap_or("").to_string(),
                        author: v["author"].as_str().unwrap_or("octocat").to_string(),
                        files,
                    };
                    state.pulls.insert(number, pull);
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok((state, port))
}
