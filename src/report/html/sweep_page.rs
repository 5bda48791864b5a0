//! The sweep report: from the summary table (seeds folded out) and
//! `sweep.json`, one page with a chart per key metric and numeric swept key,
//! a throughput-versus-latency scatter with its Pareto front, the metadata
//! and a sortable table. See docs/reports.md.

use super::svg::{self, short_number, Chart, Mark, Point, Series, XAxis};
use super::{document, escape, key_value_table};
use crate::metrics::catalog::{key_metrics, metric, Metric};
use crate::table::schema::{summary_key_columns, CI_SUFFIX, MEAN_SUFFIX, SWEEP};
use crate::table::{Cell, ColumnType, Table};
use serde_json::Value as Json;

/// The scatter's latency (x) metric: lower is better.
pub const SCATTER_LATENCY: &str = "e2e_ms_p99";
/// The scatter's throughput (y) metric: higher is better.
pub const SCATTER_THROUGHPUT: &str = "output_tokens_per_sec";
/// A log x axis when the swept values span at least this ratio.
const LOG_RATIO: f64 = 4.0;

fn numeric(kind: ColumnType) -> bool {
    matches!(kind, ColumnType::Int | ColumnType::Float)
}

fn value(cell: &Cell) -> Option<f64> {
    cell.as_number()
}

/// A row's settings of the keys `keys`, as `name=value, ...`.
fn settings(summary: &Table, row: &[Cell], keys: &[usize]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|&k| format!("{}={}", short_key(&summary.columns[k].name), row[k]))
        .collect();
    parts.join(", ")
}

/// A key without its section (`scheduler.policy` -> `policy`), for legends.
pub fn short_key(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The chart of `metric` against the key `x`: one series per combination of
/// the other keys, points at the mean with the 95% interval as error bars.
pub fn metric_chart(summary: &Table, metric: &Metric, x: usize) -> Option<Chart> {
    let mean = summary.column(&format!("{}{MEAN_SUFFIX}", metric.column))?;
    let ci = summary.column(&format!("{}{CI_SUFFIX}", metric.column));
    let others: Vec<usize> = summary_key_columns(summary)
        .into_iter()
        .filter(|&k| k != x)
        .collect();
    let x_col = &summary.columns[x];
    let categories: Vec<String> = if numeric(x_col.kind) {
        Vec::new()
    } else {
        let mut names: Vec<String> = Vec::new();
        for row in &summary.rows {
            let name = row[x].to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    };
    let mut series: Vec<Series> = Vec::new();
    for row in &summary.rows {
        let Some(y) = value(&row[mean]) else {
            continue;
        };
        let px = if categories.is_empty() {
            match value(&row[x]) {
                Some(v) => v,
                None => continue,
            }
        } else {
            let name = row[x].to_string();
            categories.iter().position(|c| *c == name).unwrap_or(0) as f64
        };
        let err = ci.and_then(|c| value(&row[c]));
        let name = settings(summary, row, &others);
        let tip = format!(
            "{}={}{}{}: {} {}{}",
            x_col.name,
            row[x],
            if name.is_empty() { "" } else { ", " },
            name,
            metric.label,
            short_number(y),
            err.map(|e| format!(" ± {}", short_number(e)))
                .unwrap_or_default()
        );
        let point = Point { x: px, y, err, tip };
        svg::push_point(&mut series, name, point, Mark::Line);
    }
    let xs: Vec<f64> = series.iter().flat_map(|s| &s.points).map(|p| p.x).collect();
    let x_axis = if !categories.is_empty() {
        XAxis::Categories(categories)
    } else {
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo > 0.0 && hi / lo >= LOG_RATIO {
            XAxis::Log
        } else {
            XAxis::Linear
        }
    };
    let log_note = if x_axis == XAxis::Log {
        " (log scale)"
    } else {
        ""
    };
    Some(Chart {
        id: format!("{} vs {}", metric.column, x_col.name),
        title: format!("{} by {}", metric.label, short_key(&x_col.name)),
        x_label: format!("{}{log_note}", x_col.name),
        y_label: metric.label.to_string(),
        x_axis,
        series,
        front: None,
        guides: Vec::new(),
    })
}

/// The points not dominated by another: no other point has a latency at
/// most theirs and a throughput at least theirs with one strictly better.
/// `points` are (latency, throughput); returns their indices.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            let (li, ti) = points[i];
            !points
                .iter()
                .any(|&(l, t)| l <= li && t >= ti && (l < li || t > ti))
        })
        .collect()
}

/// The throughput-versus-latency scatter: one dot per configuration,
/// coloured by its first text key, with the Pareto front marked.
pub fn scatter_chart(summary: &Table) -> Option<Chart> {
    let (lat_m, thr_m) = (metric(SCATTER_LATENCY)?, metric(SCATTER_THROUGHPUT)?);
    let lat = summary.column(&format!("{SCATTER_LATENCY}{MEAN_SUFFIX}"))?;
    let thr = summary.column(&format!("{SCATTER_THROUGHPUT}{MEAN_SUFFIX}"))?;
    let keys = summary_key_columns(summary);
    let colour_by = keys
        .iter()
        .copied()
        .find(|&k| !numeric(summary.columns[k].kind));
    let mut series: Vec<Series> = Vec::new();
    let mut all: Vec<(f64, f64, String)> = Vec::new();
    for row in &summary.rows {
        let (Some(x), Some(y)) = (value(&row[lat]), value(&row[thr])) else {
            continue;
        };
        let name = colour_by.map_or_else(|| "configurations".to_string(), |k| row[k].to_string());
        let tip = format!(
            "{}: {} {}, {} {}",
            settings(summary, row, &keys),
            lat_m.label,
            short_number(x),
            thr_m.label,
            short_number(y)
        );
        all.push((x, y, tip.clone()));
        let point = Point {
            x,
            y,
            err: None,
            tip,
        };
        svg::push_point(&mut series, name, point, Mark::Dots);
    }
    let xy: Vec<(f64, f64)> = all.iter().map(|(x, y, _)| (*x, *y)).collect();
    let front = pareto_front(&xy)
        .into_iter()
        .map(|i| Point {
            x: all[i].0,
            y: all[i].1,
            err: None,
            tip: all[i].2.clone(),
        })
        .collect();
    Some(Chart {
        id: "throughput vs latency".into(),
        title: format!("{} vs {}", thr_m.label, lat_m.label),
        x_label: format!("{} (lower is better)", lat_m.label),
        y_label: format!("{} (higher is better)", thr_m.label),
        x_axis: XAxis::Linear,
        series,
        front: Some(front),
        guides: Vec::new(),
    })
}

/// The summary as a sortable HTML table (floats to four significant digits,
/// the exact value in `data-v` for sorting and copying).
pub fn summary_table(summary: &Table) -> String {
    let mut s =
        String::from("<div class=\"scroll\"><table class=\"sortable\" id=\"summary\"><thead><tr>");
    for c in &summary.columns {
        let class = if numeric(c.kind) { "" } else { " class=\"t\"" };
        s.push_str(&format!("<th{class}>{}</th>", escape(&c.name)));
    }
    s.push_str("</tr></thead><tbody>");
    for row in &summary.rows {
        s.push_str("<tr>");
        for (cell, c) in row.iter().zip(&summary.columns) {
            match cell {
                Cell::Float(x) => {
                    s.push_str(&format!("<td data-v=\"{x:?}\">{}</td>", short_number(*x)))
                }
                Cell::Null => s.push_str("<td data-v=\"\"></td>"),
                other if numeric(c.kind) => s.push_str(&format!("<td>{other}</td>")),
                other => s.push_str(&format!(
                    "<td class=\"t\">{}</td>",
                    escape(&other.to_string())
                )),
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// The metadata rows of `sweep.json`, in its order.
fn meta_rows(meta: &Json) -> Vec<(String, String)> {
    match meta {
        Json::Object(fields) => fields
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The whole report page of a sweep's `summary` and its `sweep.json`.
pub fn sweep_page(summary: &Table, meta: Option<&Json>) -> String {
    let name = summary
        .column(SWEEP)
        .and_then(|c| summary.rows.first().map(|r| r[c].to_string()))
        .unwrap_or_else(|| "sweep".into());
    let keys = summary_key_columns(summary);
    let numeric_keys: Vec<usize> = keys
        .iter()
        .copied()
        .filter(|&k| numeric(summary.columns[k].kind))
        .collect();
    // Without a numeric key, the text keys are the x axes.
    let x_keys = if numeric_keys.is_empty() {
        keys.clone()
    } else {
        numeric_keys
    };
    let mut body = format!("<h1>Sweep report: {}</h1>\n", escape(&name));
    body.push_str(&format!(
        "<p class=\"note\">{} configurations. Each point is the mean over the seeds of one configuration; error bars are 95% Student-t confidence intervals of that mean (none with a single seed). Hover a point for its values.</p>\n",
        summary.rows.len()
    ));
    if let Some(scatter) = scatter_chart(summary) {
        body.push_str("<h2>Throughput versus latency</h2>\n<div class=\"charts\">");
        body.push_str(&svg::render(&scatter));
        body.push_str("</div>\n");
    }
    let charts: Vec<Chart> = key_metrics()
        .flat_map(|metric| {
            x_keys
                .iter()
                .filter_map(move |&x| metric_chart(summary, metric, x))
        })
        .collect();
    if !charts.is_empty() {
        body.push_str("<h2>Key metrics by swept key</h2>\n<div class=\"charts\">");
        for chart in &charts {
            body.push_str(&svg::render(chart));
        }
        body.push_str("</div>\n");
    }
    page_end(
        body,
        meta,
        "Summary",
        summary,
        &format!("Sweep report: {name}"),
    )
}

/// Ends a sweep page: the `sweep.json` metadata, the sortable `table` under
/// `heading`, and the document around `body` titled `title`.
pub fn page_end(
    mut body: String,
    meta: Option<&Json>,
    heading: &str,
    table: &Table,
    title: &str,
) -> String {
    if let Some(meta) = meta {
        body.push_str("<h2>Sweep</h2>\n");
        body.push_str(&key_value_table(&meta_rows(meta)));
    }
    body.push_str(&format!(
        "\n<h2>{} (click a header to sort)</h2>\n",
        escape(heading)
    ));
    body.push_str(&summary_table(table));
    document(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::summary::summarize;

    fn first_key() -> &'static Metric {
        key_metrics().next().unwrap()
    }

    /// A runs table of 2 policies x 3 budgets x 2 seeds.
    fn summary() -> Table {
        let mut rows = Vec::new();
        for (p, policy) in ["fcfs", "sof"].iter().enumerate() {
            for (b, budget) in [2048, 8192, 16384].iter().enumerate() {
                for seed in 1..=2 {
                    let metrics = key_metrics()
                        .enumerate()
                        .map(|(m, _)| (m + 1) as f64 * (10.0 + b as f64 - p as f64) + seed as f64)
                        .collect();
                    let keys = vec![
                        Cell::Text((*policy).into()),
                        Cell::Int(*budget),
                        Cell::Int(seed),
                    ];
                    rows.push((keys, Some(metrics)));
                }
            }
        }
        summarize(&crate::table::fixtures::runs(
            &[
                ("scheduler.policy", ColumnType::Text),
                ("scheduler.max_num_batched_tokens", ColumnType::Int),
                ("workload.seed", ColumnType::Int),
            ],
            rows,
        ))
    }

    #[test]
    fn a_metric_chart_has_one_series_per_policy_with_error_bars() {
        let s = summary();
        let x = s.column("scheduler.max_num_batched_tokens").unwrap();
        let chart = metric_chart(&s, first_key(), x).unwrap();
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.point_count(), 6);
        assert_eq!(chart.series[0].name, "policy=fcfs");
        assert_eq!(chart.x_axis, XAxis::Log, "2048..16384 is a ratio of 8");
        assert!(chart.series[0].points.iter().all(|p| p.err.is_some()));
        let policy = s.column("scheduler.policy").unwrap();
        let by_policy = metric_chart(&s, first_key(), policy).unwrap();
        assert_eq!(by_policy.series.len(), 3, "one per budget");
        assert_eq!(
            by_policy.x_axis,
            XAxis::Categories(vec!["fcfs".into(), "sof".into()])
        );
    }

    #[test]
    fn the_pareto_front_keeps_the_undominated_points() {
        let pts = [
            (10.0, 100.0),
            (20.0, 150.0),
            (15.0, 90.0),
            (30.0, 150.0),
            (5.0, 50.0),
        ];
        assert_eq!(pareto_front(&pts), vec![0, 1, 4]);
        assert_eq!(pareto_front(&[]), Vec::<usize>::new());
    }

    #[test]
    fn a_configuration_that_completed_nothing_is_not_on_the_pareto_front() {
        let mut s = summary();
        let lat = s
            .column(&format!("{SCATTER_LATENCY}{MEAN_SUFFIX}"))
            .unwrap();
        let thr = s
            .column(&format!("{SCATTER_THROUGHPUT}{MEAN_SUFFIX}"))
            .unwrap();
        let front = |s: &Table| scatter_chart(s).unwrap().front.unwrap();
        // Were its metrics 0 (0 ms, 0 tokens/s), the lowest latency would put it on the front.
        s.rows[0][lat] = Cell::Float(0.0);
        s.rows[0][thr] = Cell::Float(0.0);
        assert!(front(&s).iter().any(|p| p.x == 0.0));
        // Null, as a run with every request rejected has them: no dot at all.
        s.rows[0][lat] = Cell::Null;
        s.rows[0][thr] = Cell::Null;
        assert_eq!(scatter_chart(&s).unwrap().point_count(), s.rows.len() - 1);
        assert!(front(&s).iter().all(|p| p.x > 0.0));
    }

    #[test]
    fn the_page_has_every_chart_the_metadata_and_the_table() {
        let s = summary();
        let meta: Json = serde_json::json!({"sweep": "t", "points": 12});
        let page = sweep_page(&s, Some(&meta));
        // One chart per key metric against the budget, plus the scatter.
        assert_eq!(
            page.matches("<svg class=\"chart\"").count(),
            key_metrics().count() + 1
        );
        assert_eq!(
            page.matches(r#"data-series="2" data-points="6""#).count(),
            key_metrics().count() + 1
        );
        assert!(page.contains(r#"<g class="front""#));
        assert!(page.contains("<td class=\"t\">points</td><td class=\"t\">12</td>"));
        let table = &page[page.find("id=\"summary\"").unwrap()..];
        assert_eq!(table.matches("<tr>").count(), 1 + 6, "header and six rows");
        assert!(page.contains("Sweep report: t"));
    }
}
