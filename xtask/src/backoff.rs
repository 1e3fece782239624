//! The one retry pause: exponential backoff with jitter, or the server's own delay when it
//! named one. The index client and publish's uploads both wait through it.

use std::time::Duration;

/// A pause that starts at `first` and doubles with each attempt, up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The pause before retry `attempt` (0-based): the server's `retry_after` when it gave one
    /// (it knows when it will take requests again), else the doubled pause with ±25% jitter, so
    /// that many CI jobs or parallel uploads failing together do not retry in lockstep.
    pub fn pause(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after;
        }
        let base = self.first.saturating_mul(1 << attempt.min(16)).min(self.max);
        let jitter = (random() % 501) as f64 / 1000.0 - 0.25;
        base.mul_f64(1.0 + jitter)
    }
}

/// A pseudo-random number without a `rand` crate: std's randomly keyed hasher over the time and
/// a counter.
pub fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let b = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30) };
        for attempt in 0..10 {
            let base = (1000u64 << attempt).min(30_000) as f64;
            let got = b.pause(attempt, None).as_millis() as f64;
            assert!(got >= base * 0.74 && got <= base * 1.26, "attempt {attempt}: {got}ms");
        }
    }

    #[test]
    fn the_servers_delay_wins() {
        let b = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(30) };
        assert_eq!(b.pause(5, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(b.pause(0, Some(Duration::ZERO)), Duration::ZERO);
    }
}
