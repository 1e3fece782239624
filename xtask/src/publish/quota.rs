//! The index's limit on new projects: the public index lets a user (and an IP) create 4
//! projects per 24 hours, and a rejected attempt seems to count against the window, so the plan
//! publishes the first N new projects in plan order and defers the rest, and a 429 about
//! project creation is never retried.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The window the quota counts in.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `2026-12-01 18:02 UTC`.
pub fn utc(secs: u64) -> String {
    format!("{} {:02}:{:02} UTC", crate::changelog::civil_date(secs), secs % 86_400 / 3600, secs % 3600 / 60)
}

/// What to tell people about deferred projects: when the window lets them through.
pub fn rerun_hint(deferred: usize, per_day: Option<u32>) -> String {
    let limit = per_day.map_or("its limit".to_string(), |n| format!("{n} new projects per 24 hours"));
    format!(
        "{} deferred by the index's new-project quota ({limit}); run the same command again after {} (what is published is skipped)",
        super::report::count(deferred, "new project"),
        utc(now() + WINDOW.as_secs())
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times() {
        assert_eq!(super::utc(1_767_225_600 + 3600 * 18 + 120), "2026-01-01 18:02 UTC");
    }
}
