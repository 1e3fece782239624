//! Spreading the selection over CI machines: `--shard K/N` and the `--timings` file that
//! balances the shards by each package's measured seconds. Pure apart from reading and writing
//! the timings file.

use std::{collections::BTreeMap, path::Path, str::FromStr};

use anyhow::{Context, Result};
use serde_json::json;

/// The K-th (1-based) of N parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`--shard {s}` is not a shard: write K/N with 1 <= K <= N, e.g. `--shard 2/4`");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Measured seconds by package directory.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Timings(pub BTreeMap<String, f64>);

impl Timings {
    /// The file's timings; none when it does not exist yet (the first CI run).
    pub fn read(path: &Path) -> Result<Timings> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Timings::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read the timings file `{}`", path.display())),
        };
        let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
            format!("`{}` is not a timings file (JSON); delete it and the next run writes a new one", path.display())
        })?;
        let packages = value["packages"].as_object().with_context(|| {
            format!(
                "`{}` has no `packages` object of seconds; delete it and the next run writes a new one",
                path.display()
            )
        })?;
        Ok(Timings(packages.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect()))
    }

    /// Writes the file atomically, with seconds rounded to hundredths.
    pub fn write(&self, path: &Path) -> Result<()> {
        let packages: serde_json::Map<String, serde_json::Value> =
            self.0.iter().map(|(k, v)| (k.clone(), json!((v * 100.0).round() / 100.0))).collect();
        let text = serde_json::to_string_pretty(&json!({ "packages": packages }))? + "\n";
        crate::changeset::write_atomic(path, &text)
            .with_context(|| format!("cannot write the timings file `{}`", path.display()))
    }

    /// The median of the known timings (1 s when there are none), for packages without one.
    pub fn median(&self) -> f64 {
        let mut all: Vec<f64> = self.0.values().copied().collect();
        if all.is_empty() {
            return 1.0;
        }
        all.sort_by(f64::total_cmp);
        let mid = all.len() / 2;
        if all.len() % 2 == 1 {
            all[mid]
        } else {
            (all[mid - 1] + all[mid]) / 2.0
        }
    }

    /// Each of `dirs`' expected seconds.
    pub fn expected(&self, dirs: &[&str]) -> Vec<f64> {
        let median = self.median();
        dirs.iter().map(|d| self.0.get(*d).copied().unwrap_or(median)).collect()
    }
}

/// Which shard (0-based) each item goes to: longest first, each to the least loaded shard (ties
/// to the lower shard; equal durations in input order). Deterministic for the same input, and
/// never more than 4/3 of the best possible longest shard.
pub fn assign(expected: &[f64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..expected.len()).collect();
    order.sort_by(|&a, &b| expected[b].total_cmp(&expected[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; n.max(1)];
    let mut shard_of = vec![0; expected.len()];
    for i in order {
        let (s, _) = load.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0))).expect("n >= 1");
        load[s] += expected[i];
        shard_of[i] = s;
    }
    shard_of
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_or_name_the_value() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { k: 2, n: 4 }));
        for bad in ["0/3", "4/3", "x", "1/0", "1/", "/3", "-1/3"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains(&format!("`--shard {bad}`")), "{err}");
        }
    }

    /// A sample with known timings: a few long packages and many short ones, as in CI.
    fn sample() -> Vec<f64> {
        (0..120).map(|i| [240.0, 95.0, 40.0, 12.0, 7.5, 3.0][i % 6] + (i % 7) as f64).collect()
    }

    #[test]
    fn shards_are_disjoint_complete_deterministic_and_balanced() {
        let times = sample();
        for n in [1, 2, 3, 4, 8] {
            let shards = assign(&times, n);
            assert_eq!(shards, assign(&times, n), "deterministic");
            // Every item in exactly one shard: a function from items to shards is disjoint and
            // complete by construction; check that it uses only shards 0..n and every one.
            assert!(shards.iter().all(|&s| s < n));
            let mut load = vec![0.0; n];
            for (i, &s) in shards.iter().enumerate() {
                load[s] += times[i];
            }
            let ideal = times.iter().sum::<f64>() / n as f64;
            let worst = load.iter().copied().fold(0.0, f64::max);
            assert!(worst <= ideal * 1.25, "{n} shards: longest {worst:.1}s against ideal {ideal:.1}s");
        }
    }

    #[test]
    fn missing_timings_count_as_the_median() {
        let t = Timings(BTreeMap::from([("a".into(), 10.0), ("b".into(), 30.0), ("c".into(), 20.0)]));
        assert_eq!(t.median(), 20.0);
        assert_eq!(t.expected(&["b", "new"]), [30.0, 20.0]);
        assert_eq!(Timings::default().expected(&["new"]), [1.0]);
    }
}
