//! Progress of a long test run on stderr. In CI (not a terminal): a line every 30 s and after
//! every 10th package, with the counts and what is running. On a terminal: one live line.

use std::{
    collections::BTreeSet,
    io::{IsTerminal, Write},
    sync::{Condvar, Mutex},
    time::{Duration, Instant},
};

use super::report::Verdict;

pub struct Progress {
    state: Mutex<State>,
    wake: Condvar,
    live: bool,
    /// How long without a line before the next one (a second for the live line).
    period: Duration,
    /// Where CI lines go instead of stderr, for tests.
    captured: Option<Mutex<Vec<String>>>,
}

struct State {
    total: usize,
    done: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
    running: BTreeSet<String>,
    last: Instant,
    finished: bool,
}

const EVERY: Duration = Duration::from_secs(30);

impl Progress {
    pub fn new(total: usize) -> Progress {
        let live = std::io::stderr().is_terminal();
        Progress::with(total, live, if live { Duration::from_secs(1) } else { EVERY }, None)
    }

    fn with(total: usize, live: bool, period: Duration, captured: Option<Mutex<Vec<String>>>) -> Progress {
        let state = State {
            total,
            done: 0,
            passed: 0,
            failed: 0,
            skipped: 0,
            running: BTreeSet::new(),
            last: Instant::now(),
            finished: false,
        };
        Progress { state: Mutex::new(state), wake: Condvar::new(), live, period, captured }
    }

    pub fn start(&self, dir: &str) {
        let mut s = self.lock();
        s.running.insert(dir.to_string());
        if self.live {
            self.print(&mut s);
        }
    }

    /// `message` (a failure, say) is printed above the live line.
    pub fn finish(&self, dir: &str, verdict: Verdict, message: Option<String>) {
        let mut s = self.lock();
        s.running.remove(dir);
        s.done += 1;
        match verdict {
            Verdict::Passed => s.passed += 1,
            Verdict::Skipped => s.skipped += 1,
            _ => s.failed += 1,
        }
        if let Some(m) = message {
            if self.live {
                eprint!("\r\x1b[2K");
            }
            eprintln!("{m}");
        }
        if self.live || s.done.is_multiple_of(10) {
            self.print(&mut s);
        }
    }

    /// Prints a line whenever 30 s pass without one (a live line every second), until [`end`].
    pub fn tick(&self) {
        let period = self.period;
        let mut s = self.lock();
        while !s.finished {
            let wait = period.saturating_sub(s.last.elapsed());
            s = self.wake.wait_timeout(s, wait).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
            if !s.finished && s.last.elapsed() >= period {
                self.print(&mut s);
            }
        }
    }

    pub fn end(&self) {
        let mut s = self.lock();
        s.finished = true;
        if self.live {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
        self.wake.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn print(&self, s: &mut State) {
        s.last = Instant::now();
        let line = line(s.done, s.total, [s.passed, s.failed, s.skipped], &s.running);
        if self.live {
            let width = 200;
            let shown: String = line.chars().take(width).collect();
            eprint!("\r\x1b[2K{shown}");
            let _ = std::io::stderr().flush();
        } else if let Some(captured) = &self.captured {
            captured.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        } else {
            eprintln!("{line}");
        }
    }
}

/// `progress: 20/645 done, 17 passed, 2 failed, 1 skipped; running (2): a, b`
pub fn line(done: usize, total: usize, [passed, failed, skipped]: [usize; 3], running: &BTreeSet<String>) -> String {
    let mut names: Vec<&str> = running.iter().map(String::as_str).take(10).collect();
    if running.len() > 10 {
        names.push("…");
    }
    format!(
        "progress: {done}/{total} done, {passed} passed, {failed} failed, {skipped} skipped; running ({}): {}",
        running.len(),
        if names.is_empty() { "-".to_string() } else { names.join(", ") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_a_terminal_a_line_per_period_and_per_tenth_package() {
        let p = Progress::with(12, false, Duration::from_millis(100), Some(Mutex::new(Vec::new())));
        std::thread::scope(|s| {
            s.spawn(|| p.tick());
            p.start("slow");
            for k in 0..10 {
                p.finish(&format!("quick{k}"), Verdict::Passed, None);
            }
            // Nothing finishes for a while: the period's line says what is running.
            std::thread::sleep(Duration::from_millis(450));
            p.end();
        });
        let lines = p.captured.unwrap().into_inner().unwrap();
        assert_eq!(lines[0], "progress: 10/12 done, 10 passed, 0 failed, 0 skipped; running (1): slow");
        assert!(lines.len() >= 2, "{lines:?}");
        assert!(lines[1..].iter().all(|l| l == &lines[0]), "{lines:?}");
    }

    #[test]
    fn the_line_has_counts_and_what_runs() {
        let running = ["a".to_string(), "b".to_string()].into();
        assert_eq!(
            super::line(4, 9, [2, 1, 1], &running),
            "progress: 4/9 done, 2 passed, 1 failed, 1 skipped; running (2): a, b"
        );
    }
}
