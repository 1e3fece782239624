//! One publish at a time per checkout: an exclusive lock on `target/publish/.lock`, held for
//! the whole run and released by the kernel when the process ends, however it ends (a `kill -9`
//! leaves nothing stale). A second run waits, saying for whom, until `--wait` runs out.

use std::{
    fs::File,
    io::{Read, Seek, Write},
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::{index, output};

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
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = holder(&mut file);
                if started.elapsed() >= wait {
                    bail!(
                        "another publish holds {} ({holder}) and did not finish within {}; wait for it to end, or pass a longer `--wait`",
                        path.display(),
                        index::human(wait)
                    );
                }
                if !said {
                    output::status("waiting", &format!("for another publish in this checkout to finish ({holder})"));
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
    // Who holds it, for the next run to say.
    let me = format!("process {}, started {}", std::process::id(), super::quota::utc(super::quota::now()));
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
