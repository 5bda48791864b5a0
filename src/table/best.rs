//! Best points: for each key metric, the configuration of a sweep's summary
//! (seeds folded out) whose mean is best. Means, not single seeds: one
//! lucky seed must not win.

use super::schema::{summary_key_columns, CI_SUFFIX, MEAN_SUFFIX};
use super::Table;
use crate::metrics::catalog::{key_metrics, Better, Metric};

/// The best configuration for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct BestPoint {
    /// The metric.
    pub metric: &'static Metric,
    /// The summary row.
    pub row: usize,
    /// Its mean over seeds.
    pub mean: f64,
    /// The half-width of its 95% confidence interval (with two seeds or more).
    pub ci95: Option<f64>,
    /// Its settings, `key=value` for each configuration column.
    pub settings: Vec<String>,
}

/// The summary row whose mean of `metric` is best: its index and mean.
/// Ties go to the earlier row; rows without a mean are skipped.
pub fn best_row(summary: &Table, metric: &Metric) -> Option<(usize, f64)> {
    let col = summary.column(&format!("{}{MEAN_SUFFIX}", metric.column))?;
    let mut best: Option<(usize, f64)> = None;
    for (i, row) in summary.rows.iter().enumerate() {
        let Some(value) = row[col].as_number() else {
            continue;
        };
        let better = match (best, metric.better) {
            (None, _) => true,
            (Some((_, b)), Better::Lower) => value < b,
            (Some((_, b)), Better::Higher) => value > b,
            (Some(_), Better::Neither) => false,
        };
        if better {
            best = Some((i, value));
        }
    }
    best
}

/// The best configuration for every key metric that has a value.
pub fn best_points(summary: &Table) -> Vec<BestPoint> {
    let keys = summary_key_columns(summary);
    key_metrics()
        .filter_map(|metric| {
            let (row, mean) = best_row(summary, metric)?;
            let ci95 = summary
                .column(&format!("{}{CI_SUFFIX}", metric.column))
                .and_then(|c| summary.rows[row][c].as_number());
            let settings = keys
                .iter()
                .map(|&k| format!("{}={}", summary.columns[k].name, summary.rows[row][k]))
                .collect();
            Some(BestPoint {
                metric,
                row,
                mean,
                ci95,
                settings,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::catalog::metric;
    use crate::table::schema::{RUNS, SWEEP};
    use crate::table::{Cell, Column, ColumnType};

    fn summary() -> Table {
        let col = Column::new;
        Table {
            columns: vec![
                col(SWEEP, ColumnType::Text),
                col("scheduler.policy", ColumnType::Text),
                col(RUNS, ColumnType::Int),
                col("ttft_ms_p50_mean", ColumnType::Float),
                col("ttft_ms_p50_ci95", ColumnType::Float),
                col("output_tokens_per_sec_mean", ColumnType::Float),
            ],
            rows: [
                ("fcfs", Some(30.0), Some(900.0)),
                ("sof", Some(20.0), Some(800.0)),
                ("lof", None, None),
                ("sif", Some(20.0), Some(950.0)),
            ]
            .into_iter()
            .map(|(policy, ttft, tput)| {
                let f = |v: Option<f64>| v.map_or(Cell::Null, Cell::Float);
                vec![
                    Cell::Text("s".into()),
                    Cell::Text(policy.into()),
                    Cell::Int(5),
                    f(ttft),
                    f(ttft.map(|_| 1.5)),
                    f(tput),
                ]
            })
            .collect(),
        }
    }

    #[test]
    fn best_rows_respect_direction_ties_and_missing_means() {
        let t = summary();
        let m = |name| metric(name).unwrap();
        assert_eq!(best_row(&t, m("ttft_ms_p50")), Some((1, 20.0)));
        assert_eq!(best_row(&t, m("output_tokens_per_sec")), Some((3, 950.0)));
        assert_eq!(best_row(&t, m("ttft_ms_p99")), None, "no such column");
    }

    #[test]
    fn best_points_carry_the_interval_and_the_settings() {
        let best = best_points(&summary());
        assert_eq!(best.len(), 2);
        assert_eq!(best[0].metric.column, "ttft_ms_p50");
        assert_eq!(best[0].ci95, Some(1.5));
        assert_eq!(best[0].settings, ["scheduler.policy=sof"]);
        assert_eq!(best[1].ci95, None);
    }
}
