//! Best points: for each key metric, the configuration of a sweep's summary
//! (seeds folded out) whose mean is best. Means, not single seeds: one
//! lucky seed must not win. A sweep across loads is judged at each load on
//! its own: the lightest load always has the lowest latency and the
//! heaviest the highest throughput, which says nothing about a policy.

use super::schema::{summary_key_columns, CI_SUFFIX, MEAN_SUFFIX};
use super::{Cell, Table};
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

/// The keys that set the offered load, in the order a load column is
/// looked for among a summary's swept keys.
pub const LOAD_KEYS: [&str; 2] = ["workload.arrival_rate", "workload.num_concurrent_users"];

/// The best points of one load of a sweep (or of the whole sweep when it
/// sweeps no load key).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadBest {
    /// `key=value` of the load, or `None` when no load key is swept.
    pub load: Option<String>,
    /// The best configuration at that load for every key metric with a value.
    pub points: Vec<BestPoint>,
}

/// The summary row among `rows` whose mean of `metric` is best: its index
/// and mean. Ties go to the earlier row; rows without a mean are skipped.
pub fn best_row(
    summary: &Table,
    metric: &Metric,
    rows: impl IntoIterator<Item = usize>,
) -> Option<(usize, f64)> {
    let col = summary.column(&format!("{}{MEAN_SUFFIX}", metric.column))?;
    let mut best: Option<(usize, f64)> = None;
    for i in rows {
        let Some(value) = summary.rows[i][col].as_number() else {
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

/// The summary's load column: the first swept key named in [`LOAD_KEYS`].
pub fn load_column(summary: &Table) -> Option<usize> {
    let keys = summary_key_columns(summary);
    LOAD_KEYS.iter().find_map(|name| {
        keys.iter()
            .copied()
            .find(|&k| summary.columns[k].name == *name)
    })
}

/// The best points at each load, lightest first (loads in the order the
/// summary first shows them when they are not numbers); one group for a
/// sweep without a load key. The load is left out of each point's settings.
pub fn best_points_by_load(summary: &Table) -> Vec<LoadBest> {
    let Some(load) = load_column(summary) else {
        return vec![LoadBest {
            load: None,
            points: best_points(summary, 0..summary.rows.len(), None),
        }];
    };
    let mut values: Vec<&Cell> = Vec::new();
    for row in &summary.rows {
        if !values.contains(&&row[load]) {
            values.push(&row[load]);
        }
    }
    values.sort_by(|a, b| match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => std::cmp::Ordering::Equal,
    });
    values
        .into_iter()
        .map(|value| {
            let rows = (0..summary.rows.len()).filter(|&i| summary.rows[i][load] == *value);
            LoadBest {
                load: Some(format!("{}={value}", summary.columns[load].name)),
                points: best_points(summary, rows, Some(load)),
            }
        })
        .collect()
}

/// The best configuration among `rows` for every key metric that has a
/// value; the column `except` (the load of a group) is left out of the
/// settings.
pub fn best_points(
    summary: &Table,
    rows: impl IntoIterator<Item = usize> + Clone,
    except: Option<usize>,
) -> Vec<BestPoint> {
    let keys: Vec<usize> = summary_key_columns(summary)
        .into_iter()
        .filter(|&k| Some(k) != except)
        .collect();
    key_metrics()
        .filter_map(|metric| {
            let (row, mean) = best_row(summary, metric, rows.clone())?;
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
        let all = 0..t.rows.len();
        assert_eq!(best_row(&t, m("ttft_ms_p50"), all.clone()), Some((1, 20.0)));
        assert_eq!(
            best_row(&t, m("output_tokens_per_sec"), all.clone()),
            Some((3, 950.0))
        );
        assert_eq!(best_row(&t, m("ttft_ms_p99"), all), None, "no such column");
        assert_eq!(best_row(&t, m("ttft_ms_p50"), [0, 3]), Some((3, 20.0)));
    }

    #[test]
    fn best_points_carry_the_interval_and_the_settings() {
        let t = summary();
        let best = best_points(&t, 0..t.rows.len(), None);
        assert_eq!(best.len(), 2);
        assert_eq!(best[0].metric.column, "ttft_ms_p50");
        assert_eq!(best[0].ci95, Some(1.5));
        assert_eq!(best[0].settings, ["scheduler.policy=sof"]);
        assert_eq!(best[1].ci95, None);
    }

    #[test]
    fn a_sweep_across_loads_is_judged_at_each_load() {
        let mut t = summary();
        t.columns
            .insert(2, Column::new("workload.arrival_rate", ColumnType::Float));
        for (row, load) in t.rows.iter_mut().zip([8.0, 2.0, 2.0, 8.0]) {
            row.insert(2, Cell::Float(load));
        }
        assert_eq!(load_column(&t), Some(2));
        let groups = best_points_by_load(&t);
        let loads: Vec<_> = groups.iter().map(|g| g.load.clone()).collect();
        assert_eq!(
            loads,
            [
                Some("workload.arrival_rate=2.0".to_string()),
                Some("workload.arrival_rate=8.0".to_string())
            ],
            "lightest first"
        );
        // At 2/s only sof has a mean; at 8/s sif beats fcfs.
        assert_eq!(groups[0].points[0].settings, ["scheduler.policy=sof"]);
        assert_eq!(groups[1].points[0].settings, ["scheduler.policy=sif"]);
        assert_eq!(groups[1].points[1].mean, 950.0);
        let whole = best_points_by_load(&summary());
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].load, None);
    }
}
