//! One publish at a time per checkout: an exclusive lock on `target/publish/.lock`, held for
//! the whole run and released by the kernel when the process ends, however it ends (a `kill -9`
//! leaves nothing stale). A second run waits, saying for whom, until `--wait` runs out.

use std::{
    fs::File,
    io::{Read, Seek, Write},
    path::Path,
    time::Duration,
};

use anyhow::{bail, Context, Result};

use crate::time;
use crate::{
    backoff::{self, Attempt, Backoff, Limit},
    output,
};

/// How often a waiting run tries the lock again.
const POLL: Backoff = Backoff { first: Duration::from_millis(250), max: Duration::from_millis(250), jitter: false };

/// Held while it lives.
pub struct Lock {
    _file: File,
}

/// Takes the lock of `dir` (created if needed), waiting at most `wait` for the run that holds it.
pub fn acquire(dir: &Path, wait: Duration) -> Result<Lock> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(".lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let attempt = |_| match file.try_lock() {
        Ok(()) => Ok(Attempt::Done(())),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Attempt::Again(holder(&mut file), None)),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    };
    let mut said = false;
    let status = |holder: &String, _: &backoff::Pause| {
        if !said {
            output::status("waiting", &format!("for another publish in this checkout to finish ({holder})"));
            said = true;
        }
    };
    let locked = backoff::retry(POLL, Limit::Within(wait), attempt, status);
    if let Err(gave_up) = locked.with_context(|| format!("cannot lock {}", path.display()))? {
        bail!(
            "another publish holds {} ({}) and did not finish within {}; wait for it to end, or pass a longer `--wait`",
            path.display(),
            gave_up.last,
            time::human(wait)
        );
    }
    // Who holds it, for the next run to say.
    let me = format!("process {}, started {}", std::process::id(), time::utc(time::now()));
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(me.as_bytes()));
    Ok(Lock { _file: file })
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    if text.trim().is_empty() {
        "held by a run that is starting".into()
    } else {
        text.trim().to_string()
    }
}
