//! A child that must not hang the run: hooks and the gate. It runs in a process group of its
//! own, its stdout and stderr merged into one pipe that this thread reads (copied on as it
//! comes when asked), with a heartbeat line while it runs quietly off a terminal, and at its
//! timeout the whole group is killed: a test runner's workers and their children go with it.
//! One thread: `poll` on the pipe wakes for output, the heartbeat and the deadline alike.
//! Being in a group of its own, a child would miss the Ctrl-C (or CI's cancel) meant for the
//! run: `forward` passes SIGINT, SIGTERM and SIGHUP on to every watched group, then lets the
//! signal end this process as it would have.

// Part of the edge: `Cmd::watched` hands its command here to be spawned.
#![allow(clippy::disallowed_types)]

use std::{
    io::{IsTerminal, Read, Write},
    os::fd::AsRawFd,
    process::{Command, ExitStatus},
    time::{Duration, Instant},
};

/// How a watched child runs.
pub struct Watch<'a> {
    /// What the heartbeat names: the hook as people read it.
    pub label: &'a str,
    pub timeout: Duration,
    /// A line every this often while it runs; `None` on a terminal, where its output shows.
    pub heartbeat: Option<Duration>,
    /// Whether its output is copied to the writer as it comes (else only kept).
    pub echo: bool,
}

/// The heartbeat's period: every 30 seconds when stderr is not a terminal (CI's logs), where a
/// quiet child would otherwise look like a hung one.
pub fn heartbeat() -> Option<Duration> {
    (!std::io::stderr().is_terminal()).then_some(Duration::from_secs(30))
}

#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    /// Killed, with its process group, at the timeout.
    TimedOut,
}

/// How it ended, and the end of what it printed (at most [`KEPT`] bytes, redacted).
#[derive(Debug)]
pub struct Watched {
    pub ended: Ended,
    pub text: String,
}

/// Enough for the last 20 lines of any sane output, bounded for a chatty test run.
const KEPT: usize = 256 * 1024;

/// After the child exits, how long a grandchild that holds the pipe open may keep it.
const GRACE: Duration = Duration::from_secs(1);

/// Runs `cmd` (argv, directory, environment and stdin set by `Cmd`), watched as `watch` says;
/// its output and heartbeats go to `out`. Only a child that cannot start is an error.
pub fn run(mut cmd: Command, watch: &Watch<'_>, out: &mut dyn Write) -> std::io::Result<Watched> {
    let (mut reader, writer) = std::io::pipe()?;
    cmd.stdout(writer.try_clone()?).stderr(writer);
    // Its own group, so that the kill at the timeout reaches everything it started.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    forward::install();
    let mut child = cmd.spawn()?;
    // Our copies of the pipe's write end go with `cmd`: the pipe ends when the children's do.
    drop(cmd);
    let _group = forward::Group::add(child.id());
    let start = Instant::now();
    let deadline = start + watch.timeout;
    let mut next_beat = watch.heartbeat.map(|p| start + p);
    let mut kept: Vec<u8> = Vec::new();
    let mut exited: Option<(ExitStatus, Instant)> = None;
    let mut open = true;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let now = Instant::now();
        if now >= deadline && exited.is_none() {
            kill_group(child.id());
            let _ = child.wait();
            return Ok(Watched { ended: Ended::TimedOut, text: super::redact(&String::from_utf8_lossy(&kept)) });
        }
        if let (Some(at), Some(period)) = (next_beat, watch.heartbeat) {
            if now >= at {
                let _ = writeln!(out, "{}", beat(watch.label, now - start, super::redact(&last_line(&kept))));
                next_beat = Some(now + period);
            }
        }
        if exited.is_none() {
            exited = child.try_wait()?.map(|status| (status, now));
        }
        if let Some((status, at)) = exited {
            if !open || now >= at + GRACE {
                return Ok(Watched {
                    ended: Ended::Exited(status),
                    text: super::redact(&String::from_utf8_lossy(&kept)),
                });
            }
        }
        // Wake for output, the next heartbeat, the deadline, or to look at the child again.
        let mut wait = deadline.saturating_duration_since(now).min(Duration::from_millis(100));
        if let Some(at) = next_beat {
            wait = wait.min(at.saturating_duration_since(now));
        }
        if !open {
            // A poll of the child, not a retry (`xtask/clippy.toml`).
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(wait);
            continue;
        }
        if !readable(&reader, wait)? {
            continue;
        }
        match reader.read(&mut chunk) {
            Ok(0) => open = false,
            Ok(n) => {
                if watch.echo {
                    let _ = out.write_all(&chunk[..n]);
                    let _ = out.flush();
                }
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > KEPT {
                    kept.drain(..kept.len() - KEPT);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The process groups of the running watched children, for the signal handler.
mod forward {
    use std::sync::{
        atomic::{AtomicI32, Ordering},
        Once,
    };

    /// Build hooks run in parallel, one per worker; more than this at once go unforwarded.
    static GROUPS: [AtomicI32; 64] = [const { AtomicI32::new(0) }; 64];
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    /// A watched child's group, registered while it runs.
    pub struct Group(Option<usize>);

    impl Group {
        pub fn add(pid: u32) -> Group {
            let Ok(pid) = i32::try_from(pid) else { return Group(None) };
            Group(GROUPS.iter().position(|g| g.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst).is_ok()))
        }
    }

    impl Drop for Group {
        fn drop(&mut self) {
            if let Some(i) = self.0 {
                GROUPS[i].store(0, Ordering::SeqCst);
            }
        }
    }

    /// Once per process, for SIGINT, SIGTERM and SIGHUP; a signal this process ignored stays
    /// ignored.
    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            for signal in SIGNALS {
                // SAFETY: `handler` only makes async-signal-safe calls (kill, signal, raise) and
                // reads atomics.
                unsafe {
                    let previous = libc::signal(signal, handler as *const () as libc::sighandler_t);
                    if previous == libc::SIG_IGN {
                        libc::signal(signal, libc::SIG_IGN);
                    }
                }
            }
        });
    }

    extern "C" fn handler(signal: libc::c_int) {
        for group in &GROUPS {
            let pid = group.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: async-signal-safe; a group that is gone is an error we ignore.
                unsafe {
                    libc::kill(-pid, signal);
                }
            }
        }
        // Then end as the signal would have ended us without the handler.
        // SAFETY: async-signal-safe.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// Whether the pipe has data (or its end) within `wait`.
fn readable(reader: &std::io::PipeReader, wait: Duration) -> std::io::Result<bool> {
    let mut fd = libc::pollfd { fd: reader.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
    }
    Ok(n > 0)
}

/// SIGKILL to the group whose leader is `pid` (the child, by `process_group(0)`).
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: a plain system call; a group that is gone already is an error we ignore.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The last non-blank line of the output so far, shortened for one line of a log.
fn last_line(kept: &[u8]) -> String {
    let text = String::from_utf8_lossy(kept);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let mut shown: String = line.chars().take(160).collect();
    if line.chars().count() > 160 {
        shown.push('…');
    }
    shown
}

/// `     running `uv run pytest tests` in `llama-index-core` for 1m30s; last line: `…``
fn beat(label: &str, elapsed: Duration, last: String) -> String {
    let elapsed = crate::time::human(Duration::from_secs(elapsed.as_secs()));
    let last = if last.is_empty() { "no output yet".to_string() } else { format!("last line: {last}") };
    format!("{:>12} {label} for {elapsed}; {last}", "running")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration, heartbeat: Option<Duration>) -> (Watched, String) {
        let watch = Watch { label: "`hook`", timeout, heartbeat, echo: true };
        let mut out = Vec::new();
        let got = crate::exec::Cmd::new("sh").args(["-c", script]).watched(&watch, &mut out).unwrap();
        (got, String::from_utf8(out).unwrap())
    }

    #[test]
    fn output_is_echoed_and_kept_and_the_status_told() {
        let (got, out) = sh("echo one; echo two >&2; exit 3", Duration::from_secs(60), None);
        assert_eq!(got.text, "one\ntwo\n");
        assert_eq!(out, "one\ntwo\n");
        assert!(matches!(got.ended, Ended::Exited(s) if s.code() == Some(3)), "{got:?}");
    }

    #[test]
    fn at_the_timeout_the_whole_group_is_killed() {
        // A grandchild in the background that would outlive its parent, then a hang.
        let scratch = crate::scratch::Scratch::new("watch").unwrap();
        let pidfile = scratch.join("pid");
        let script = format!("sleep 600 & echo $! > {}; echo started; sleep 600", pidfile.display());
        // Long enough for a loaded machine to start it; the test waits it out in full.
        let (got, out) = sh(&script, Duration::from_secs(2), None);
        assert!(matches!(got.ended, Ended::TimedOut), "{got:?}");
        assert_eq!(out, "started\n");
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
        // Gone, or a zombie until its new parent reaps it: not running either way. A SIGKILL is
        // delivered when the process is next scheduled, so a loaded machine may show it running
        // for a moment after the kill: look again for a while before calling it alive.
        let stopped = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            (matches!(state, None | Some(Some('Z' | 'X'))), stat)
        };
        let mut seen = stopped();
        for _ in 0..100 {
            if seen.0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            seen = stopped();
        }
        assert!(seen.0, "the grandchild {pid} still runs: {}", seen.1);
    }

    #[test]
    fn a_quiet_child_gets_heartbeats_with_its_last_line() {
        let (got, out) = sh("echo warming up; sleep 1", Duration::from_secs(60), Some(Duration::from_millis(200)));
        assert!(matches!(got.ended, Ended::Exited(s) if s.success()), "{got:?}");
        let beats: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("running")).collect();
        assert!(!beats.is_empty(), "{out}");
        assert!(beats.iter().all(|b| b.starts_with("     running `hook` for ")), "{out}");
        // The first may come before `sh` printed anything on a loaded machine; the last not.
        assert!(
            beats.iter().all(|b| b.ends_with("; last line: warming up") || b.ends_with("; no output yet")),
            "{out}"
        );
        assert!(beats.last().is_some_and(|b| b.ends_with("; last line: warming up")), "{out}");
    }

    #[test]
    fn the_heartbeat_line() {
        assert_eq!(
            beat("`uv run pytest tests` in `llama-index-core`", Duration::from_millis(90_400), "test_a PASSED".into()),
            "     running `uv run pytest tests` in `llama-index-core` for 1m30s; last line: test_a PASSED"
        );
        assert_eq!(beat("`x`", Duration::from_secs(30), String::new()), "     running `x` for 30s; no output yet");
        assert_eq!(last_line(b"a\nb\n\n  \n"), "b");
    }
}
