//! Exact summary statistics: arithmetic mean and nearest-rank percentiles over
//! every value (no sketches).

use serde::Serialize;

/// Summary of a set of values (all zero when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
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
    /// Summarises `values` scaled by `scale` (for example 1000 for seconds to ms).
    /// Sorts `values` in place.
    pub fn of(values: &mut [f64], scale: f64) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_unstable_by(f64::total_cmp);
        let sum: f64 = values.iter().sum();
        Self {
            min: values[0] * scale,
            mean: sum / values.len() as f64 * scale,
            p50: nearest_rank(values, 50.0) * scale,
            p90: nearest_rank(values, 90.0) * scale,
            p95: nearest_rank(values, 95.0) * scale,
            p99: nearest_rank(values, 99.0) * scale,
            max: values[values.len() - 1] * scale,
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
        let s = Stats::of(&mut v, 1000.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 4.0);
        assert!((s.mean - 2.5).abs() < 1e-12);
        assert_eq!(s.p50, 2.0);
        assert_eq!(s.p99, 4.0);
        assert_eq!(Stats::of(&mut [], 1.0), Stats::default());
    }
}
