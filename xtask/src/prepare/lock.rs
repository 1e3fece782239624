//! `prepare --lock`: `uv lock` in each package the release rewrote, several at once, each
//! reported as it ends. Runs after the edits are written: uv reads the files.

use std::{path::Path, time::Instant};

use anyhow::{bail, Result};

use crate::{exec, output, parallel};

/// How many lines of a failed `uv lock`'s output the report shows.
const TAIL: usize = 20;

/// Runs `uv lock` in every directory of `dirs` (relative to `root`); fails naming each failure.
pub fn lock_all(root: &Path, dirs: &[String]) -> Result<()> {
    let uv = exec::require("uv", "for `--lock`")?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plural = if dirs.len() == 1 { "" } else { "s" };
    output::note(&format!("locking {} package{plural} with `uv lock`, {} at once", dirs.len(), jobs.min(dirs.len())));
    let results = parallel::map(dirs, jobs, |dir| {
        let started = Instant::now();
        let (ok, text) = match exec::Cmd::new(&uv).arg("lock").dir(root.join(dir)).capture() {
            Ok(c) => (c.ok, c.text),
            Err(e) => (false, format!("cannot run `{}`: {e}", uv.display())),
        };
        let took = format!("{:.1}s", started.elapsed().as_secs_f64());
        if ok {
            output::status("locked", &format!("{dir} ({took})"));
        } else {
            output::status("failed", &format!("`uv lock` in {dir} ({took}):\n{}", exec::tail(&text, TAIL)));
        }
        ok
    });
    let failed: Vec<&str> = dirs.iter().zip(results).filter(|(_, ok)| !ok).map(|(d, _)| d.as_str()).collect();
    if !failed.is_empty() {
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
