//! Where a publish run's time goes, for its `time:` line (and the benchmark that reads it):
//! the wall time of each phase, and inside them the time summed over workers of the build
//! hooks, the builds (by the frontend and by the tool's command), the uploads and the waits for
//! visibility. Workers add to it from their threads.

use std::{
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::Duration,
};

use super::report::count;

/// What is summed over workers.
#[derive(Clone, Copy)]
pub enum Part {
    Hooks,
    FrontendBuild,
    ToolBuild,
    Upload,
    Wait,
}

const PARTS: usize = 5;

#[derive(Default)]
pub struct Timing {
    nanos: [AtomicU64; PARTS],
    counts: [AtomicUsize; PARTS],
}

/// The wall time of each phase of a run.
pub struct Phases {
    pub packages: usize,
    pub fresh: usize,
    pub jobs: usize,
    pub building: Duration,
    pub checking: Duration,
    pub waves: usize,
    pub uploading: Duration,
}

impl Timing {
    pub fn add(&self, part: Part, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos[part as usize].fetch_add(nanos, Ordering::Relaxed);
        self.counts[part as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn secs(&self, part: Part) -> f64 {
        self.nanos[part as usize].load(Ordering::Relaxed) as f64 / 1e9
    }

    fn count(&self, part: Part) -> usize {
        self.counts[part as usize].load(Ordering::Relaxed)
    }

    /// The `time:` line: phases' wall times first, then the sums over workers in parentheses.
    pub fn line(&self, p: &Phases) -> String {
        format!(
            "time: building {} ({} fresh, {} at once) {:.1}s (summed: hooks {:.1}s, {} by the build frontend {:.1}s, {} by the tool's command {:.1}s); checking {:.1}s; uploading and waiting for visibility in {} {:.1}s (summed: {} {:.1}s, waits {:.1}s)",
            count(p.packages, "package"),
            p.fresh,
            p.jobs,
            p.building.as_secs_f64(),
            self.secs(Part::Hooks),
            self.count(Part::FrontendBuild),
            self.secs(Part::FrontendBuild),
            self.count(Part::ToolBuild),
            self.secs(Part::ToolBuild),
            p.checking.as_secs_f64(),
            count(p.waves, "wave"),
            p.uploading.as_secs_f64(),
            count(self.count(Part::Upload), "upload"),
            self.secs(Part::Upload),
            self.secs(Part::Wait),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_sums_each_part_over_workers() {
        let t = Timing::default();
        t.add(Part::Hooks, Duration::from_millis(1500));
        t.add(Part::FrontendBuild, Duration::from_millis(100));
        t.add(Part::FrontendBuild, Duration::from_millis(200));
        t.add(Part::ToolBuild, Duration::from_millis(900));
        t.add(Part::Upload, Duration::from_millis(250));
        t.add(Part::Wait, Duration::from_millis(50));
        let phases = Phases {
            packages: 3,
            fresh: 3,
            jobs: 2,
            building: Duration::from_millis(2600),
            checking: Duration::from_millis(10),
            waves: 2,
            uploading: Duration::from_millis(400),
        };
        expect_test::expect!["time: building 3 packages (3 fresh, 2 at once) 2.6s (summed: hooks 1.5s, 2 by the build frontend 0.3s, 1 by the tool's command 0.9s); checking 0.0s; uploading and waiting for visibility in 2 waves 0.4s (summed: 1 upload 0.2s, waits 0.1s)"]
            .assert_eq(&t.line(&phases));
    }
}
