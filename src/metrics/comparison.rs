//! A run's metrics set against measured ones: what a benchmark client
//! measured, mapped onto the simulator's metric columns (the readers of
//! benchmark files live in the I/O layer), and the relative error of each.
//! Plain data and arithmetic; no I/O.

use super::catalog::{catalog, metric, not_a_column, Group, Unit};
use crate::table::Cell;
use serde::Serialize;
use std::collections::HashMap;

/// A metric that is not a column of the runs table but a sum of columns, so
/// benchmark figures without a column of their own can be compared:
/// (name, the columns it adds up, its unit, the catalog column it follows).
const DERIVED: [(&str, &[&str], Unit, &str); 1] = [(
    "total_tokens_per_sec",
    &["input_tokens_per_sec", "output_tokens_per_sec"],
    Unit::TokensPerSec,
    "output_tokens_per_sec",
)];

/// The names a measured value may be given: every metric column and the
/// derived metrics.
pub fn comparable_names() -> Vec<&'static str> {
    catalog()
        .iter()
        .map(|m| m.column.as_str())
        .chain(DERIVED.iter().map(|d| d.0))
        .collect()
}

/// `name` as a comparable metric (a metric column or a derived metric), or
/// what is wrong with it, with the closest name when it looks like a typo.
pub fn check_comparable(name: &str) -> Result<&'static str, String> {
    comparable_names()
        .into_iter()
        .find(|n| *n == name)
        .ok_or_else(|| not_a_column(name, &comparable_names()))
}

/// The unit of a comparable metric.
pub fn unit(name: &str) -> Option<Unit> {
    metric(name)
        .map(|m| m.unit)
        .or_else(|| DERIVED.iter().find(|d| d.0 == name).map(|d| d.2))
}

/// Whether a metric counts in the mean error: every metric but the facts of
/// the run (request counts, simulated time), which say whether the
/// simulated run is the measured one rather than how well it predicts it.
fn averaged(name: &str) -> bool {
    metric(name).is_none_or(|m| m.group != Group::Summary)
}

/// Where a comparable metric sorts: its catalog position (a derived metric
/// right after the column it follows).
fn order(name: &str) -> (usize, usize) {
    let position = |column: &str| catalog().iter().position(|m| m.column == column);
    match position(name) {
        Some(i) => (i, 0),
        None => DERIVED
            .iter()
            .find(|d| d.0 == name)
            .and_then(|d| position(d.3))
            .map_or((usize::MAX, 0), |i| (i, 1)),
    }
}

/// One measured value, mapped onto a comparable metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// The metric (a column of the runs table, or a derived metric).
    pub metric: &'static str,
    /// The value, in the metric's unit (milliseconds, not seconds).
    pub value: f64,
    /// Where the file has it (`mean_ttft_ms`, `successes.latency.request_latency.p90`).
    pub source: String,
}

/// What a benchmark file measured, in the simulator's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// The values with a simulator counterpart, one per metric.
    pub values: Vec<Measurement>,
    /// The file's metrics without one (or a second value for a metric
    /// already measured), by where the file has them.
    pub skipped: Vec<String>,
}

impl Measured {
    /// Adds `value` for `metric`, found at `source`; a second value for the
    /// same metric is skipped (the first one counts).
    pub fn push(&mut self, metric: &'static str, value: f64, source: impl Into<String>) {
        let source = source.into();
        if self.values.iter().any(|m| m.metric == metric) {
            self.skipped.push(source);
        } else {
            self.values.push(Measurement {
                metric,
                value,
                source,
            });
        }
    }

    /// Records a metric of the file that has no simulator counterpart.
    pub fn skip(&mut self, source: impl Into<String>) {
        self.skipped.push(source.into());
    }
}

/// One metric, simulated against measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedMetric {
    /// The metric.
    pub metric: &'static str,
    /// Where the measured file has it.
    pub source: String,
    /// What the simulation gave (`None`: no value, for example no completed request).
    pub simulated: Option<f64>,
    /// What was measured.
    pub measured: f64,
    /// `simulated / measured - 1` (`None` without a simulated value or with
    /// a measured zero).
    pub relative_error: Option<f64>,
    /// Whether it counts in the mean absolute percentage error.
    pub averaged: bool,
}

/// Every measured metric against the simulation, in catalog order, and the
/// mean absolute percentage error over those that count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The metrics compared.
    pub metrics: Vec<ComparedMetric>,
    /// The measured file's metrics without a simulator counterpart.
    pub skipped: Vec<String>,
    /// Mean of `|relative_error|` over the averaged metrics with an error
    /// (`None` when there is none).
    pub mape: Option<f64>,
    /// How many metrics the MAPE is over.
    pub mape_metrics: usize,
}

impl Comparison {
    /// Sets `measured` against a run's metric cells ([`metric_cells`](super::catalog::metric_cells)
    /// of its result).
    pub fn new(cells: &[(String, Cell)], measured: &Measured) -> Self {
        let by_name: HashMap<&str, Option<f64>> = cells
            .iter()
            .map(|(name, cell)| (name.as_str(), cell.as_number()))
            .collect();
        let simulated = |name: &str| -> Option<f64> {
            match DERIVED.iter().find(|d| d.0 == name) {
                Some(d) => d.1.iter().map(|c| by_name.get(c).copied().flatten()).sum(),
                None => by_name.get(name).copied().flatten(),
            }
        };
        let mut metrics: Vec<ComparedMetric> = measured
            .values
            .iter()
            .map(|m| {
                let sim = simulated(m.metric).filter(|v| v.is_finite());
                ComparedMetric {
                    metric: m.metric,
                    source: m.source.clone(),
                    simulated: sim,
                    measured: m.value,
                    relative_error: sim.filter(|_| m.value != 0.0).map(|s| s / m.value - 1.0),
                    averaged: averaged(m.metric),
                }
            })
            .collect();
        metrics.sort_by_key(|m| order(m.metric));
        let errors: Vec<f64> = metrics
            .iter()
            .filter(|m| m.averaged)
            .filter_map(|m| m.relative_error)
            .map(f64::abs)
            .collect();
        let mape = (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64);
        Self {
            metrics,
            skipped: measured.skipped.clone(),
            mape,
            mape_metrics: errors.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells() -> Vec<(String, Cell)> {
        vec![
            ("ttft_ms_mean".into(), Cell::Float(110.0)),
            ("e2e_ms_p99".into(), Cell::Float(900.0)),
            ("input_tokens_per_sec".into(), Cell::Float(300.0)),
            ("output_tokens_per_sec".into(), Cell::Float(100.0)),
            ("requests_completed".into(), Cell::Int(50)),
            ("per_token_ms_mean".into(), Cell::Null),
        ]
    }

    #[test]
    fn errors_are_signed_and_the_mape_leaves_out_facts_of_the_run() {
        let mut m = Measured::default();
        m.push("requests_completed", 40.0, "completed");
        m.push("e2e_ms_p99", 1000.0, "p99_e2el_ms");
        m.push("ttft_ms_mean", 100.0, "mean_ttft_ms");
        m.push("ttft_ms_mean", 90.0, "p50_ttft_ms");
        m.skip("std_ttft_ms");
        let c = Comparison::new(&cells(), &m);
        let names: Vec<&str> = c.metrics.iter().map(|r| r.metric).collect();
        assert_eq!(names, ["ttft_ms_mean", "e2e_ms_p99", "requests_completed"]);
        let error = |i: usize| c.metrics[i].relative_error.unwrap();
        assert!((error(0) - 0.1).abs() < 1e-12);
        assert!((error(1) + 0.1).abs() < 1e-12);
        assert!((error(2) - 0.25).abs() < 1e-12);
        assert!(!c.metrics[2].averaged);
        assert_eq!(c.mape_metrics, 2);
        assert!((c.mape.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(c.skipped, ["p50_ttft_ms", "std_ttft_ms"]);
    }

    #[test]
    fn derived_metrics_add_their_columns_and_missing_values_have_no_error() {
        let mut m = Measured::default();
        m.push("per_token_ms_mean", 20.0, "mean_tpot_ms");
        m.push("total_tokens_per_sec", 500.0, "total_token_throughput");
        m.push("ttft_ms_mean", 0.0, "mean_ttft_ms");
        let c = Comparison::new(&cells(), &m);
        let names: Vec<&str> = c.metrics.iter().map(|r| r.metric).collect();
        assert_eq!(
            names,
            ["ttft_ms_mean", "per_token_ms_mean", "total_tokens_per_sec"]
        );
        assert_eq!(c.metrics[0].relative_error, None);
        assert_eq!(c.metrics[1].simulated, None);
        assert_eq!(c.metrics[2].simulated, Some(400.0));
        assert!((c.mape.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(c.mape_metrics, 1);
        assert_eq!(unit("total_tokens_per_sec"), Some(Unit::TokensPerSec));
        assert_eq!(unit("e2e_ms_p50"), Some(Unit::Millis));
        assert_eq!(Comparison::new(&cells(), &Measured::default()).mape, None);
    }

    #[test]
    fn unknown_names_get_a_hint() {
        assert_eq!(check_comparable("ttft_ms_p99"), Ok("ttft_ms_p99"));
        assert_eq!(
            check_comparable("total_tokens_per_sec"),
            Ok("total_tokens_per_sec")
        );
        let e = check_comparable("ttft_ms_p95x").unwrap_err();
        assert!(e.contains("did you mean 'ttft_ms_p95'"), "{e}");
    }
}
