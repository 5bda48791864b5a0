//! The human-readable reports: the one printed at the end of a run, laid out
//! from the metric catalog (sections, row labels and units all come from
//! it), and the best points of a sweep.

use super::style::Style;
use crate::config::DeploymentConfig;
use crate::metrics::catalog::{catalog, metric_cells, Group, Metric, Unit, LATENCY_STATS};
use crate::metrics::RunResult;
use crate::table::best::best_points_by_load;
use crate::table::schema::{
    summary_key_columns, CAPACITY, CI_SUFFIX, COST_PER_MILLION, MEAN_SUFFIX,
};
use crate::table::{Cell, Table};
use std::collections::HashMap;
use std::fmt::Write;

/// Renders the end-of-run report (SPEC section 2, "Console output of a run").
pub fn render(result: &RunResult, style: Style) -> String {
    let json = serde_json::to_value(result).unwrap_or_default();
    let cells: HashMap<String, Cell> = metric_cells(&json).into_iter().collect();
    let mut out = String::new();
    let c = &result.config;
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "inference-lab {}: {} on {}, policy {}",
            result.simulation.version,
            c.server.model.name,
            c.server.hardware.name,
            c.server.scheduler.policy.name()
        ))
    );
    let d = &c.server.deployment;
    if *d != DeploymentConfig::default() {
        let mut line = format!("Deployment: {}", d.describe());
        if d.replicas > 1 {
            line.push_str(&format!(
                ", load imbalance {}",
                Unit::Ratio.format(result.cluster.load_imbalance)
            ));
        }
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    latency_table(&mut out, &cells, style);
    for group in Group::ALL.into_iter().skip(1) {
        let mut rows: Vec<(&'static str, String)> = catalog()
            .iter()
            .filter(|m| m.group == group && !m.row.is_empty())
            .map(|m| (m.row, row_text(m, &cells, result, style)))
            .collect();
        if group == Group::Summary {
            rows.push((
                "Wall time",
                Unit::Secs.format(result.simulation.wall_seconds),
            ));
        }
        let _ = writeln!(out, "\n{}", style.heading(group.title()));
        for (name, value) in rows {
            let _ = writeln!(out, "  {name:<20}{}", style.value(&value));
        }
    }
    out
}

/// The latency section: one row per distribution, one column per statistic.
fn latency_table(out: &mut String, cells: &HashMap<String, Cell>, style: Style) {
    let mut header = format!("{:<12}", Group::Latency.title());
    for stat in LATENCY_STATS {
        let _ = write!(header, "{stat:>10}");
    }
    let _ = writeln!(out, "{}", style.heading(&header));
    let mut families: Vec<&str> = Vec::new();
    for m in catalog().iter().filter(|m| m.group == Group::Latency) {
        if !families.contains(&m.row) {
            families.push(m.row);
        }
    }
    for family in families {
        let values: String = catalog()
            .iter()
            .filter(|m| m.group == Group::Latency && m.row == family)
            .map(|m| format!("{:>10}", cell_text(m, cells)))
            .collect();
        let _ = writeln!(out, "  {family:<10}{values}");
    }
}

/// A metric's value, 0 when it has none (no completed request).
fn number(cells: &HashMap<String, Cell>, column: &str) -> f64 {
    cells.get(column).and_then(Cell::as_number).unwrap_or(0.0)
}

/// What the console prints for a metric without a value (no completed request).
const NO_VALUE: &str = "-";

/// The text of a metric's console row, with the metrics shown beside it.
fn row_text(m: &Metric, cells: &HashMap<String, Cell>, result: &RunResult, style: Style) -> String {
    let own = cell_text(m, cells);
    let beside = |column: &str| {
        catalog()
            .iter()
            .find(|other| other.column == column)
            .map(|other| cell_text(other, cells))
            .unwrap_or_default()
    };
    match m.column.as_str() {
        "prefix_cache_cached_tokens" => {
            format!(
                "{own} ({} of prompt tokens)",
                beside("prefix_cache_token_hit_rate")
            )
        }
        "requests_completed" => {
            let mut text = format!("{own} of {}", beside("requests_total"));
            if number(cells, "requests_rejected") > 0.0 {
                text.push_str(&format!(
                    " ({} {})",
                    beside("requests_rejected"),
                    style.warn(&format!("rejected: {}", rejection_causes(result)))
                ));
            }
            text
        }
        _ => own,
    }
}

/// The limits that rejected a run's requests, each with its count and
/// value: `3 longer than max_seq_len 4096, 2 with a prompt over the token
/// budget (max_num_batched_tokens 2048, chunked prefill off)`.
fn rejection_causes(result: &RunResult) -> String {
    let by = result.requests.rejected_by;
    let server = &result.config.server;
    [
        (
            by.max_seq_len,
            format!("longer than max_seq_len {}", server.model.max_seq_len),
        ),
        (by.kv_cache, "larger than the whole KV cache".to_string()),
        (
            by.token_budget,
            format!(
                "with a prompt over the token budget (max_num_batched_tokens {}, chunked prefill off)",
                server.scheduler.max_num_batched_tokens
            ),
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, cause)| format!("{n} {cause}"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// One metric's value in its unit ([`NO_VALUE`] when it has none).
fn cell_text(m: &Metric, cells: &HashMap<String, Cell>) -> String {
    match cells.get(&m.column) {
        Some(Cell::Int(i)) => i.to_string(),
        Some(Cell::Float(f)) => m.unit.format(*f),
        _ => NO_VALUE.to_string(),
    }
}

/// The best points of a sweep's summary table: one line per key metric
/// with the best configuration's mean over seeds (and its 95% interval), at
/// each load of a sweep across loads.
pub fn best_points_report(summary: &Table, style: Style) -> String {
    let groups = best_points_by_load(summary);
    let width = groups
        .iter()
        .flat_map(|g| &g.points)
        .map(|b| b.metric.label.len())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for group in &groups {
        let at = group
            .load
            .as_ref()
            .map_or_else(String::new, |load| format!(" at {load}"));
        lines.push(style.heading(&format!("Best points{at} (mean over seeds, 95% interval)")));
        for b in &group.points {
            let interval = b
                .ci95
                .map_or_else(|| " ".repeat(11), |ci| format!(" ± {ci:<8.2}"));
            lines.push(format!(
                "  {:<width$}  {}{interval}  {}",
                b.metric.label,
                style.value(&format!("{:>10.2}", b.mean)),
                b.settings.join(" ")
            ));
        }
        if group.points.is_empty() {
            lines.push("  no run finished".into());
        }
    }
    lines.join("\n") + "\n"
}

/// The capacity of each configuration of a search's capacity summary (the
/// highest load of `over` meeting every SLO, mean over seeds with its 95%
/// interval, and the cost per million output tokens where priced), with the
/// highest first.
pub fn capacity_report(summary: &Table, over: &str, style: Style) -> String {
    let mut lines = vec![style.heading(&format!(
        "Capacity: highest {over} meeting every SLO (mean over seeds, 95% interval)"
    ))];
    let keys = summary_key_columns(summary);
    let get = |row: &[Cell], name: &str| summary.column(name).and_then(|c| row[c].as_number());
    let mut rows: Vec<(f64, String)> = summary
        .rows
        .iter()
        .map(|row| {
            let mean = get(row, &format!("{CAPACITY}{MEAN_SUFFIX}"));
            let ci = get(row, &format!("{CAPACITY}{CI_SUFFIX}"));
            let cost = get(row, &format!("{COST_PER_MILLION}{MEAN_SUFFIX}"));
            let settings: Vec<String> = keys
                .iter()
                .map(|&k| format!("{}={}", summary.columns[k].name, row[k]))
                .collect();
            let value = mean.map_or_else(|| format!("{:>10}", "none"), |m| format!("{m:>10.3}"));
            let interval = ci.map_or_else(|| " ".repeat(11), |ci| format!(" ± {ci:<8.3}"));
            let price = cost.map_or_else(String::new, |c| format!("  ${c:.3}/M tokens"));
            (
                mean.unwrap_or(f64::NEG_INFINITY),
                format!(
                    "  {}{interval}{price}  {}",
                    style.value(&value),
                    settings.join(" ")
                ),
            )
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    lines.extend(rows.into_iter().map(|(_, line)| line));
    if summary.rows.is_empty() {
        lines.push("  no search finished".into());
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::metrics::{Rejections, RequestCounts};

    /// Metrics the console shows inside the row of another, with the column of
    /// that row: the token hit rate beside the tokens saved, the arrivals and
    /// rejections beside the completions.
    const SHOWN_WITH: [(&str, &str); 3] = [
        ("prefix_cache_token_hit_rate", "prefix_cache_cached_tokens"),
        ("requests_total", "requests_completed"),
        ("requests_rejected", "requests_completed"),
    ];

    /// Metrics the console shows in its header (for a deployment of more
    /// than one GPU), with the text that introduces them.
    const IN_HEADER: [(&str, &str); 2] = [("gpus", " GPUs"), ("load_imbalance", "load imbalance")];

    #[test]
    fn every_metric_of_the_catalog_is_on_the_console() {
        let mut config = Config::builtin_default().unwrap();
        config.server.deployment.replicas = 2;
        let result = RunResult::zeroed(config);
        let text = render(&result, Style::plain());
        for (_, intro) in IN_HEADER {
            assert!(
                text.lines().nth(1).is_some_and(|l| l.contains(intro)),
                "{intro}"
            );
        }
        for m in catalog() {
            let shown = !m.row.is_empty() && text.contains(m.row)
                || SHOWN_WITH.iter().any(|(c, _)| *c == m.column)
                || IN_HEADER.iter().any(|(c, _)| *c == m.column);
            assert!(shown, "{} is not on the console", m.column);
        }
        for (column, with) in SHOWN_WITH {
            let row = catalog().iter().find(|m| m.column == with).unwrap().row;
            assert!(
                !row.is_empty() && text.contains(row),
                "{column} beside {with}"
            );
        }
        assert!(text.contains("Latency (ms)"));
        assert!(text.contains("Wall time"));
    }

    #[test]
    fn a_run_that_completed_nothing_shows_no_latency_and_names_the_limits() {
        let mut result = RunResult::zeroed(Config::builtin_default().unwrap());
        result.requests = RequestCounts {
            total: 5,
            completed: 0,
            rejected: 5,
            rejected_by: Rejections {
                max_seq_len: 2,
                kv_cache: 0,
                token_budget: 3,
            },
        };
        let text = render(&result, Style::plain());
        let ttft = text.lines().find(|l| l.contains("TTFT")).unwrap();
        assert_eq!(
            ttft.split_whitespace().skip(1).collect::<Vec<_>>(),
            [NO_VALUE; 7]
        );
        for row in ["Requests/s", "Per request"] {
            let line = text.lines().find(|l| l.trim_start().starts_with(row));
            assert!(line.is_some_and(|l| l.ends_with(NO_VALUE)), "{row}: {text}");
        }
        let budget = result.config.server.scheduler.max_num_batched_tokens;
        let max_seq_len = result.config.server.model.max_seq_len;
        let expected = format!(
            "0 of 5 (5 rejected: 2 longer than max_seq_len {max_seq_len}, \
             3 with a prompt over the token budget (max_num_batched_tokens {budget}, chunked prefill off))"
        );
        assert!(text.contains(&expected), "{text}");
    }
}
