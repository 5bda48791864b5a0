//! The console summary at the end of a sweep: for each key metric, the point
//! that did best and its value.

use super::table::{Cell, Table, STATUS_OK};
use crate::report::style::Style;

/// A key metric and which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMetric {
    /// Column name.
    pub column: &'static str,
    /// What the column measures, for people.
    pub label: &'static str,
    /// Whether lower values are better (latencies) or higher (throughput).
    pub lower_is_better: bool,
}

/// The metrics a sweep's summary ranks points by.
pub const KEY_METRICS: &[KeyMetric] = &[
    KeyMetric {
        column: "ttft_ms_p50",
        label: "TTFT p50 (ms)",
        lower_is_better: true,
    },
    KeyMetric {
        column: "ttft_ms_p99",
        label: "TTFT p99 (ms)",
        lower_is_better: true,
    },
    KeyMetric {
        column: "e2e_ms_p50",
        label: "E2E p50 (ms)",
        lower_is_better: true,
    },
    KeyMetric {
        column: "e2e_ms_p99",
        label: "E2E p99 (ms)",
        lower_is_better: true,
    },
    KeyMetric {
        column: "per_token_ms_p50",
        label: "per-token p50 (ms)",
        lower_is_better: true,
    },
    KeyMetric {
        column: "output_tokens_per_sec",
        label: "output tokens/s",
        lower_is_better: false,
    },
    KeyMetric {
        column: "requests_per_sec",
        label: "requests/s",
        lower_is_better: false,
    },
    KeyMetric {
        column: "preemptions_per_request_mean",
        label: "preemptions per request",
        lower_is_better: true,
    },
];

/// The best finished row for `metric`: its index and value. Ties go to the
/// lower point index.
pub fn best_row(table: &Table, metric: &KeyMetric) -> Option<(usize, f64)> {
    let col = table.column(metric.column)?;
    let status = table.column("status")?;
    let mut best: Option<(usize, f64)> = None;
    for (i, row) in table.rows.iter().enumerate() {
        if row[status] != Cell::Text(STATUS_OK.into()) {
            continue;
        }
        let Cell::Float(value) = row[col] else {
            continue;
        };
        if value.is_nan() {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, b)) if metric.lower_is_better => value < b,
            Some((_, b)) => value > b,
        };
        if better {
            best = Some((i, value));
        }
    }
    best
}

/// The summary table: one line per key metric with the best point's settings.
/// `swept` are the swept keys' column names.
pub fn render(table: &Table, swept: &[&str], style: Style) -> String {
    let mut lines = vec![style.heading("Best points")];
    let width = KEY_METRICS.iter().map(|m| m.label.len()).max().unwrap_or(0);
    for metric in KEY_METRICS {
        let Some((row, value)) = best_row(table, metric) else {
            continue;
        };
        let settings: Vec<String> = swept
            .iter()
            .filter_map(|key| {
                let col = table.column(key)?;
                Some(format!("{key}={}", table.rows[row][col]))
            })
            .collect();
        lines.push(format!(
            "  {:<width$}  {}  {}",
            metric.label,
            style.value(&format!("{value:>10.2}")),
            settings.join(" ")
        ));
    }
    if lines.len() == 1 {
        lines.push("  no run finished".into());
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::table::{Column, ColumnType};

    fn table() -> Table {
        let col = Column::new;
        let ok = || Cell::Text(STATUS_OK.into());
        Table {
            columns: vec![
                col("scheduler.policy", ColumnType::Text),
                col("status", ColumnType::Text),
                col("ttft_ms_p50", ColumnType::Float),
                col("output_tokens_per_sec", ColumnType::Float),
            ],
            rows: vec![
                vec![
                    Cell::Text("fcfs".into()),
                    ok(),
                    Cell::Float(30.0),
                    Cell::Float(900.0),
                ],
                vec![
                    Cell::Text("sof".into()),
                    ok(),
                    Cell::Float(20.0),
                    Cell::Float(800.0),
                ],
                vec![
                    Cell::Text("lof".into()),
                    Cell::Text("failed".into()),
                    Cell::Null,
                    Cell::Null,
                ],
                vec![
                    Cell::Text("sif".into()),
                    ok(),
                    Cell::Float(20.0),
                    Cell::Float(950.0),
                ],
            ],
        }
    }

    #[test]
    fn best_rows_respect_direction_ties_and_failures() {
        let t = table();
        assert_eq!(best_row(&t, &KEY_METRICS[0]), Some((1, 20.0)));
        assert_eq!(best_row(&t, &KEY_METRICS[5]), Some((3, 950.0)));
        assert_eq!(best_row(&t, &KEY_METRICS[1]), None, "no such column");
    }

    #[test]
    fn renders_one_line_per_metric_with_the_settings() {
        let text = render(&table(), &["scheduler.policy"], Style::plain());
        assert!(text.contains("TTFT p50 (ms)"), "{text}");
        assert!(text.contains("20.00  scheduler.policy=sof"), "{text}");
        assert!(text.contains("950.00  scheduler.policy=sif"), "{text}");
    }
}
