//! The one way to run work on several threads: a bounded pool of scoped threads over a slice,
//! the results in the order of the input (`map`), and two pieces of work side by side (`join`).

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex,
};

/// `work` applied to every item, on at most `jobs` threads (at least one), each taking the next
/// item as it finishes one, so that no thread idles while another has a long queue. The results
/// come back in the order of `items`, whatever order the work finished in. With one job or one
/// item it runs on the calling thread.
#[allow(clippy::disallowed_methods)] // the one thread pool
pub fn map<T: Sync, R: Send>(items: &[T], jobs: usize, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = jobs.max(1).min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    mine.push((i, work(item)));
                }
                done.lock().expect("no panics under the lock").extend(mine);
            });
        }
    });
    let mut done = done.into_inner().expect("threads are done");
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// `a` and `b` side by side: `a` on a second thread, `b` on the calling one; both results.
#[allow(clippy::disallowed_methods)] // the one thread pool
pub fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = b();
        // A panic in `a` is a bug of ours: let it go on unwinding as it would on this thread.
        (a.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), b)
    })
}

#[cfg(test)]
mod tests {
    use super::map;

    #[test]
    fn results_keep_the_input_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..50).collect();
        for jobs in [0, 1, 3, 8, 100] {
            // Early items sleep longest, so that with several threads they finish last.
            let out = map(&items, jobs, |&n| {
                std::thread::sleep(std::time::Duration::from_micros((50 - n) * 20));
                n * 2
            });
            assert_eq!(out, items.iter().map(|n| n * 2).collect::<Vec<_>>(), "jobs {jobs}");
        }
        assert!(map(&[] as &[u8], 4, |&b| b).is_empty());
    }

    #[test]
    fn no_more_threads_run_at_once_than_jobs() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        map(&[(); 40], 3, |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
        });
        assert!((1..=3).contains(&most.load(Ordering::SeqCst)), "{most:?}");
    }
}
