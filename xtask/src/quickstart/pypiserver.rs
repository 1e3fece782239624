//! A real local package index: `pypi-server` on a free loopback port, serving one directory,
//! stopped when dropped. `rehearse` runs one, and so do the tests (`tests/it/support/pypiserver.rs`).

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    process::Child,
    time::Duration,
};

use anyhow::{bail, Context, Result};

use crate::backoff::{self, Attempt, Backoff, Limit};

/// A running `pypi-server`; killed and reaped on drop.
pub struct PypiServer {
    child: Child,
    port: u16,
}

impl PypiServer {
    /// Starts `program` serving `packages`, its output into `log`, and returns once it
    /// answers HTTP. Uploads need no password (`-a . -P .`), as on a throwaway index.
    pub fn start(program: &Path, packages: &Path, log: &Path) -> Result<PypiServer> {
        PypiServer::start_with(program, packages, &[], log)
    }

    /// [`PypiServer::start`], also serving the distributions in `also` (read only: uploads go
    /// to `packages`), as the tests serve their build backends' wheels.
    pub fn start_with(program: &Path, packages: &Path, also: &[&Path], log: &Path) -> Result<PypiServer> {
        // Another process may take the free port between our probe and the server's bind:
        // then the server exits, and we try another port.
        for _ in 0..5 {
            let port = free_port()?;
            let out = std::fs::File::create(log).with_context(|| format!("cannot write {}", log.display()))?;
            let mut child = crate::exec::Cmd::new(program)
                .args(["run", "-i", "127.0.0.1", "-p", &port.to_string(), "-a", ".", "-P", "."])
                .arg(packages)
                .args(also)
                .spawn(out.try_clone()?.into(), out.into())?;
            if wait_ready(&mut child, port)? {
                return Ok(PypiServer { child, port });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("`{}` did not start; its log is {}", program.display(), log.display())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`: the JSON API's base and, with a `/`, the upload URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the server answers within 30 s; false as soon as it exits.
fn wait_ready(child: &mut Child, port: u16) -> Result<bool> {
    let poll = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(100), jitter: false };
    let attempt = |_| -> Result<_> {
        if child.try_wait()?.is_some() {
            return Ok(Attempt::Done(false));
        }
        Ok(if http_get_status(port, "/") == Some(200) { Attempt::Done(true) } else { Attempt::Again((), None) })
    };
    Ok(backoff::retry(poll, Limit::Within(Duration::from_secs(30)), attempt, |_, _| {})?.unwrap_or(false))
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The status code of a plain HTTP GET on loopback, or `None` when nothing answers.
pub fn http_get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
