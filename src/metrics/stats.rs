//! Exact summary statistics: arithmetic mean and nearest-rank percentiles over
//! every value (no sketches).

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

/// The names of a [`Stats`]' fields, in field order: the statistics of a
/// distribution as its JSON keys and table columns name them.
pub const STAT_NAMES: [&str; 7] = ["min", "mean", "p50", "p90", "p95", "p99", "max"];

/// Summary of a non-empty set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Smallest value.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// Summarises `values` scaled by `scale` (for example 1000 for seconds to
    /// ms); `None` when there are none. Sorts `values` in place.
    pub fn of(values: &mut [f64], scale: f64) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable_by(f64::total_cmp);
        let sum: f64 = values.iter().sum();
        Some(Self {
            min: values[0] * scale,
            mean: sum / values.len() as f64 * scale,
            p50: nearest_rank(values, 50.0) * scale,
            p90: nearest_rank(values, 90.0) * scale,
            p95: nearest_rank(values, 95.0) * scale,
            p99: nearest_rank(values, 99.0) * scale,
            max: values[values.len() - 1] * scale,
        })
    }
}

/// Serializes `stats` as [`Stats`] does, or, when there are none (no
/// completed request), as the same fields each `null`: readers and tables
/// keep one key per statistic whatever the run.
pub fn serialize_or_nulls<S: Serializer>(
    stats: &Option<Stats>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match stats {
        Some(stats) => stats.serialize(serializer),
        None => {
            let mut s = serializer.serialize_struct("Stats", STAT_NAMES.len())?;
            for name in STAT_NAMES {
                s.serialize_field(name, &None::<f64>)?;
            }
            s.end()
        }
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted, non-empty `values`:
/// the smallest value with at least `p`% of the values at or below it.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_by_hand() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 50.0), 5.0);
        assert_eq!(nearest_rank(&v, 90.0), 9.0);
        assert_eq!(nearest_rank(&v, 95.0), 10.0);
        assert_eq!(nearest_rank(&v, 99.0), 10.0);
        assert_eq!(nearest_rank(&[7.0], 1.0), 7.0);
    }

    #[test]
    fn stats_by_hand() {
        let mut v = vec![0.004, 0.001, 0.003, 0.002];
        let s = Stats::of(&mut v, 1000.0).unwrap();
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 4.0);
        assert!((s.mean - 2.5).abs() < 1e-12);
        assert_eq!(s.p50, 2.0);
        assert_eq!(s.p99, 4.0);
        assert_eq!(Stats::of(&mut [], 1.0), None);
    }

    #[test]
    fn no_stats_serialize_as_the_same_keys_each_null() {
        #[derive(Serialize)]
        struct Holder(#[serde(serialize_with = "serialize_or_nulls")] Option<Stats>);
        let some = serde_json::to_value(Holder(Stats::of(&mut [1.0], 1.0))).unwrap();
        let none = serde_json::to_value(Holder(None)).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&some), STAT_NAMES);
        assert_eq!(keys(&none), STAT_NAMES);
        assert!(some.as_object().unwrap().values().all(|v| v == 1.0));
        assert!(none.as_object().unwrap().values().all(|v| v.is_null()));
    }
}
