//! The index's limit on new projects: the public index lets a user (and an IP) create 4
//! projects per 24 hours, and a rejected attempt seems to count against the window, so the plan
//! publishes the first N new projects in plan order and defers the rest, and a 429 about
//! project creation is never retried.

use std::time::Duration;

use crate::time;

/// The window the quota counts in.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// What to tell people about deferred projects: when the window lets them through.
pub fn rerun_hint(deferred: usize, per_day: Option<u32>) -> String {
    let limit = per_day.map_or("its limit".to_string(), |n| format!("{n} new projects per 24 hours"));
    format!(
        "{} deferred by the index's new-project quota ({limit}); run the same command again after {} (what is published is skipped)",
        super::report::count(deferred, "new project"),
        time::utc(time::now() + WINDOW.as_secs())
    )
}
