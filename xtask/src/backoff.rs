//! The one retry driver: `retry` runs an attempt until it succeeds, fails for good, or its
//! `Limit` (a number of retries, or a deadline) is spent, and owns the pauses (exponential
//! backoff, with jitter for requests, or the server's own delay when it named one), the count of
//! attempts, the deadline and the status line between attempts. Every retry loop and every wait
//! for the index to show something goes through it: index requests, uploads, visibility waits
//! and the install proof's resolver.

use std::time::{Duration, Instant};

/// A pause that starts at `first` and doubles with each attempt, up to `max`; with `jitter`,
/// each pause is moved by up to ±25%.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub jitter: bool,
}

impl Backoff {
    /// The pause before retry `attempt` (0-based): the server's `retry_after` when it gave one
    /// (it knows when it will take requests again), else the doubled pause, with ±25% jitter
    /// when asked, so that many CI jobs or parallel uploads failing together do not retry in
    /// lockstep.
    pub fn pause(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after;
        }
        let base = self.first.saturating_mul(1 << attempt.min(16)).min(self.max);
        if !self.jitter {
            return base;
        }
        let jitter = (random() % 501) as f64 / 1000.0 - 0.25;
        base.mul_f64(1.0 + jitter)
    }
}

/// How long a retry loop goes on.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// At most this many retries after the first attempt.
    Retries(u32),
    /// Until this long after the first attempt began; the last pause is cut to end there.
    Within(Duration),
}

/// What one attempt ended in, short of a failure that no retry can fix (the attempt's `Err`).
pub enum Attempt<T, E> {
    Done(T),
    /// Worth another attempt: why, and the server's delay when it named one.
    Again(E, Option<Duration>),
}

/// Where a retry loop stands before a pause, for its status line.
pub struct Pause {
    /// How long it pauses now.
    pub pause: Duration,
    /// How long since the first attempt began.
    pub waited: Duration,
}

/// The limit was spent: the last attempt's reason, how many attempts were made, how long it took.
pub struct GaveUp<E> {
    pub last: E,
    pub attempts: u32,
    pub waited: Duration,
}

/// Runs `attempt` (given its 0-based number) until it is `Done`, fails (`Err`, returned at once)
/// or `limit` is spent (`Ok(Err(GaveUp))`). Before each pause `status` is called with the reason
/// and the `Pause`, to say on stderr what the loop waits for.
pub fn retry<T, E, X>(
    backoff: Backoff,
    limit: Limit,
    mut attempt: impl FnMut(u32) -> Result<Attempt<T, E>, X>,
    mut status: impl FnMut(&E, &Pause),
) -> Result<Result<T, GaveUp<E>>, X> {
    let start = Instant::now();
    let mut n = 0;
    loop {
        let (why, retry_after) = match attempt(n)? {
            Attempt::Done(found) => return Ok(Ok(found)),
            Attempt::Again(why, after) => (why, after),
        };
        let waited = start.elapsed();
        let pause = match limit {
            Limit::Retries(max) if n < max => backoff.pause(n, retry_after),
            Limit::Within(within) if waited < within => backoff.pause(n, retry_after).min(within - waited),
            _ => return Ok(Err(GaveUp { last: why, attempts: n + 1, waited })),
        };
        status(&why, &Pause { pause, waited });
        // The one place a retry waits.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(pause);
        n += 1;
    }
}

/// A pseudo-random number without a `rand` crate: std's randomly keyed hasher over the time and
/// a counter.
pub fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(crate::time::nanos());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let b = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30), jitter: true };
        for attempt in 0..10 {
            let base = (1000u64 << attempt).min(30_000) as f64;
            let got = b.pause(attempt, None).as_millis() as f64;
            assert!(got >= base * 0.74 && got <= base * 1.26, "attempt {attempt}: {got}ms");
        }
    }

    #[test]
    fn the_servers_delay_wins() {
        let b = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30), jitter: true };
        assert_eq!(b.pause(5, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(b.pause(0, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn without_jitter_the_pause_doubles_exactly() {
        let b = Backoff { first: Duration::from_millis(2), max: Duration::from_millis(5), jitter: false };
        let pauses: Vec<u128> = (0..4).map(|n| b.pause(n, None).as_millis()).collect();
        assert_eq!(pauses, [2, 4, 5, 5]);
    }

    #[test]
    fn retries_until_done_and_says_why_before_each_pause() {
        let b = Backoff { first: Duration::ZERO, max: Duration::ZERO, jitter: false };
        let mut said = Vec::new();
        let got = retry(
            b,
            Limit::Retries(5),
            |n| Ok::<_, ()>(if n < 2 { Attempt::Again(format!("try {n}"), None) } else { Attempt::Done(n) }),
            |why, p| said.push(format!("{why} ({:?})", p.pause)),
        );
        assert_eq!(got.ok().and_then(Result::ok), Some(2));
        assert_eq!(said, ["try 0 (0ns)", "try 1 (0ns)"]);
    }

    #[test]
    fn gives_up_after_its_retries_and_stops_at_a_hard_failure() {
        let b = Backoff { first: Duration::ZERO, max: Duration::ZERO, jitter: false };
        let gave_up = retry(b, Limit::Retries(2), |n| Ok::<Attempt<(), _>, ()>(Attempt::Again(n, None)), |_, _| {});
        let gave_up = gave_up.ok().and_then(Result::err).map(|g| (g.last, g.attempts));
        assert_eq!(gave_up, Some((2, 3)));
        let failed = retry(
            b,
            Limit::Retries(9),
            |n| if n == 1 { Err("hard") } else { Ok(Attempt::<(), _>::Again(n, None)) },
            |_, _| {},
        );
        assert_eq!(failed.err(), Some("hard"));
    }

    #[test]
    fn a_spent_deadline_gives_up_after_one_attempt() {
        let b = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(1), jitter: false };
        let got = retry(
            b,
            Limit::Within(Duration::ZERO),
            |_| Ok::<Attempt<(), _>, ()>(Attempt::Again("no", None)),
            |_, _| {},
        );
        assert_eq!(got.ok().and_then(Result::err).map(|g| g.attempts), Some(1));
    }
}
