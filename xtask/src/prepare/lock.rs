//! `prepare --lock`: `uv lock` in each package the release rewrote, several at once, each
//! reported as it ends. Runs after the edits are written: uv reads the files.

use std::{
    io::Read,
    path::Path,
    sync::atomic::{AtomicUsize, Ordering},
    sync::Mutex,
    time::Instant,
};

use anyhow::{bail, Result};

use crate::{exec, output};

/// How many lines of a failed `uv lock`'s output the report shows.
const TAIL: usize = 20;

/// Runs `uv lock` in every directory of `dirs` (relative to `root`); fails naming each failure.
pub fn lock_all(root: &Path, dirs: &[String]) -> Result<()> {
    let uv = exec::require("uv", "for `--lock`")?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get()).min(dirs.len()).max(1);
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    output::note(&format!("locking {} package{} with `uv lock`, {jobs} at once", dirs.len(), plural(dirs.len())));
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                while let Some(dir) = dirs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let started = Instant::now();
                    let (ok, log) = uv_lock(&uv, &root.join(dir));
                    let took = format!("{:.1}s", started.elapsed().as_secs_f64());
                    let mut failed = failed.lock().expect("no panics while holding the lock");
                    if ok {
                        output::status("locked", &format!("{dir} ({took})"));
                    } else {
                        let lines: Vec<&str> = log.lines().collect();
                        let tail = lines[lines.len().saturating_sub(TAIL)..].join("\n    ");
                        output::status("failed", &format!("`uv lock` in {dir} ({took}):\n    {tail}"));
                        failed.push(dir.clone());
                    }
                }
            });
        }
    });
    let mut failed = failed.into_inner().expect("the threads are done");
    if !failed.is_empty() {
        failed.sort();
        bail!(
            "`uv lock` failed in {} of {} packages ({}); the version edits are written, so fix the cause and lock \
             those again: `cargo xtask pkg exec {} -- uv lock`",
            failed.len(),
            dirs.len(),
            failed.join(", "),
            failed.join(" ")
        );
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One `uv lock`, with stderr merged into the log and no virtualenv of the caller's.
fn uv_lock(uv: &Path, dir: &Path) -> (bool, String) {
    let expr = duct::cmd(uv, ["lock"]).dir(dir).env_remove("VIRTUAL_ENV").stderr_to_stdout().unchecked();
    let mut log = String::new();
    let result = expr.reader().and_then(|mut reader| {
        reader.read_to_string(&mut log)?;
        Ok(reader.try_wait()?.map(|o| o.status.success()).unwrap_or(false))
    });
    match result {
        Ok(ok) => (ok, log),
        Err(e) => (false, format!("{log}\ncannot run `uv lock`: {e}")),
    }
}
