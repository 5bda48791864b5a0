//! The report of a capacity search: the capacity of each configuration as
//! bars with their 95% intervals (and the cost per million output tokens
//! where priced), and for each SLO the metric against the load, every probe
//! of every seed, with the SLO drawn across and each configuration's found
//! capacity marked. See docs/reports.md.

use super::escape;
use super::svg::{self, short_number, Chart, Guide, GuideAxis, Mark, Point, Series, XAxis};
use super::sweep_page::{page_end, short_key};
use crate::metrics::catalog::metric;
use crate::table::schema::{
    summary_key_columns, CAPACITY, CI_SUFFIX, COST_PER_MILLION, MEAN_SUFFIX, OVERLOAD, STATUS,
    STATUS_OK, SWEEP,
};
use crate::table::{Cell, Table};
use serde_json::Value as Json;

/// What was searched: the load key and the SLOs (column, upper bound).
#[derive(Debug, Clone, PartialEq)]
pub struct Search<'a> {
    /// The key searched (`workload.arrival_rate`).
    pub over: &'a str,
    /// The SLOs, in manifest order.
    pub slos: &'a [(String, f64)],
}

/// The key columns of `summary` that tell configurations apart: a key whose
/// value follows from an earlier one (a zipped `hardware.cost_per_hour`
/// beside `hardware`) is left out of the labels.
pub fn label_columns(summary: &Table) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    for k in summary_key_columns(summary) {
        let determined = !kept.is_empty()
            && summary.rows.iter().all(|a| {
                summary.rows.iter().all(|b| {
                    let same_before = kept.iter().all(|&c| a[c] == b[c]);
                    !same_before || a[k] == b[k]
                })
            });
        if !determined {
            kept.push(k);
        }
    }
    kept
}

/// A configuration's label: its values of `columns` (named in `names`,
/// looked up in `table`), joined by commas.
fn label(table: &Table, row: &[Cell], names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            table
                .column(n)
                .map_or(String::new(), |c| row[c].to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bars of `column` (its mean, with the 95% interval as error bars) per
/// configuration: the first label key along x, one series per combination
/// of the others.
pub fn bar_chart(summary: &Table, column: &str, y_label: &str) -> Option<Chart> {
    let mean = summary.column(&format!("{column}{MEAN_SUFFIX}"))?;
    let ci = summary.column(&format!("{column}{CI_SUFFIX}"));
    let labels = label_columns(summary);
    let (&x, rest) = labels.split_first()?;
    let rest_names: Vec<&str> = rest
        .iter()
        .map(|&k| summary.columns[k].name.as_str())
        .collect();
    let mut categories: Vec<String> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    for row in &summary.rows {
        let Some(y) = row[mean].as_number() else {
            continue;
        };
        let category = row[x].to_string();
        let index = match categories.iter().position(|c| *c == category) {
            Some(i) => i,
            None => {
                categories.push(category.clone());
                categories.len() - 1
            }
        };
        let name = if rest.is_empty() {
            short_key(column).to_string()
        } else {
            label(summary, row, &rest_names)
        };
        let err = ci.and_then(|c| row[c].as_number());
        let tip = format!(
            "{category}{}{name}: {y_label} {}{}",
            if rest.is_empty() { " " } else { ", " },
            short_number(y),
            err.map(|e| format!(" ± {}", short_number(e)))
                .unwrap_or_default()
        );
        let point = Point {
            x: index as f64,
            y,
            err,
            tip,
        };
        svg::push_point(&mut series, name, point, Mark::Bars);
    }
    if series.is_empty() {
        return None;
    }
    let legend = if rest_names.is_empty() {
        String::new()
    } else {
        let keys: Vec<&str> = rest_names.iter().map(|n| short_key(n)).collect();
        format!(" (bars: {})", keys.join(", "))
    };
    Some(Chart {
        id: format!("{column} bars"),
        title: format!("{y_label} by configuration"),
        x_label: format!("{}{legend}", summary.columns[x].name),
        y_label: y_label.to_string(),
        x_axis: XAxis::Categories(categories),
        series,
        front: None,
        guides: Vec::new(),
    })
}

/// The SLO's metric against the searched load: one series per
/// configuration through every probe of every seed that ran to the end
/// (probes the overload detector stopped are left out: their metrics cover
/// part of a run), the SLO as a horizontal line and each configuration's
/// mean capacity as a vertical one in its colour.
pub fn load_chart(
    capacity: &Table,
    runs: &Table,
    search: &Search<'_>,
    slo: &(String, f64),
) -> Option<Chart> {
    let (column, max) = (slo.0.as_str(), slo.1);
    let x = runs.column(search.over)?;
    let y = runs.column(column)?;
    let status = runs.column(STATUS);
    let overload = runs.column(OVERLOAD);
    let names: Vec<&str> = label_columns(capacity)
        .into_iter()
        .map(|k| capacity.columns[k].name.as_str())
        .collect();
    let mut series: Vec<Series> = Vec::new();
    for row in &runs.rows {
        let ok = status.is_none_or(|c| matches!(&row[c], Cell::Text(s) if s == STATUS_OK));
        let stopped = overload.is_some_and(|c| row[c] != Cell::Null);
        let (Some(px), Some(py)) = (row[x].as_number(), row[y].as_number()) else {
            continue;
        };
        if !ok || stopped {
            continue;
        }
        let name = label(runs, row, &names);
        let tip = format!(
            "{name}: {} = {}, {column} {}",
            search.over,
            short_number(px),
            short_number(py)
        );
        let point = Point {
            x: px,
            y: py,
            err: None,
            tip,
        };
        svg::push_point(&mut series, name, point, Mark::Line);
    }
    if series.is_empty() {
        return None;
    }
    let mut guides = vec![Guide {
        axis: GuideAxis::Horizontal,
        value: max,
        label: format!("SLO {column} ≤ {}", short_number(max)),
        series: None,
    }];
    let mean = capacity.column(&format!("{CAPACITY}{MEAN_SUFFIX}"));
    for row in &capacity.rows {
        let Some(value) = mean.and_then(|c| row[c].as_number()) else {
            continue;
        };
        let name = label(capacity, row, &names);
        let Some(i) = series.iter().position(|s| s.name == name) else {
            continue;
        };
        guides.push(Guide {
            axis: GuideAxis::Vertical,
            value,
            label: format!("capacity of {name}: {}", short_number(value)),
            series: Some(i),
        });
    }
    let y_label = metric(column).map_or_else(|| column.to_string(), |m| m.label.to_string());
    Some(Chart {
        id: format!("{column} vs {}", search.over),
        title: format!("{y_label} against {}", short_key(search.over)),
        x_label: search.over.to_string(),
        y_label,
        // Linear: the bisection's probes crowd the knee, which a log axis
        // would squeeze into a corner.
        x_axis: XAxis::Linear,
        series,
        front: None,
        guides,
    })
}

/// The whole report page of a capacity search: `capacity` is its
/// `capacity_summary` table, `runs` its runs table (every probe).
pub fn search_page(
    capacity: &Table,
    runs: &Table,
    search: &Search<'_>,
    meta: Option<&Json>,
) -> String {
    let name = capacity
        .column(SWEEP)
        .and_then(|c| capacity.rows.first().map(|r| r[c].to_string()))
        .unwrap_or_else(|| "search".into());
    let slos: Vec<String> = search
        .slos
        .iter()
        .map(|(c, m)| format!("{c} ≤ {}", short_number(*m)))
        .collect();
    let mut body = format!("<h1>Capacity search: {}</h1>\n", escape(&name));
    body.push_str(&format!(
        "<p class=\"note\">{} configurations. Capacity: the highest {} at which every SLO holds ({}) and the run is not overloaded, searched for each seed on its own; bars are the mean over seeds with 95% Student-t intervals. Hover a bar or a point for its values.</p>\n",
        capacity.rows.len(),
        escape(search.over),
        escape(&slos.join(", "))
    ));
    let bars: Vec<Chart> = [
        (CAPACITY, format!("capacity ({})", short_key(search.over))),
        (
            COST_PER_MILLION,
            "USD per million output tokens".to_string(),
        ),
    ]
    .iter()
    .filter_map(|(column, label)| bar_chart(capacity, column, label))
    .collect();
    if !bars.is_empty() {
        body.push_str("<h2>Capacity per configuration</h2>\n<div class=\"charts\">");
        for chart in &bars {
            body.push_str(&svg::render(chart));
        }
        body.push_str("</div>\n");
    }
    let curves: Vec<Chart> = search
        .slos
        .iter()
        .filter_map(|slo| load_chart(capacity, runs, search, slo))
        .collect();
    if !curves.is_empty() {
        body.push_str(&format!(
            "<h2>Latency against load</h2>\n<p class=\"note\">Every probe that ran to the end (the overload detector's early stops are left out), all seeds; the dashed red line is the SLO, the dashed line in a configuration's colour its mean capacity.</p>\n<div class=\"charts\">{}</div>\n",
            curves.iter().map(svg::render).collect::<String>()
        ));
    }
    page_end(
        body,
        meta,
        "Capacity summary",
        capacity,
        &format!("Capacity search: {name}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::{CAPACITY, PROBE, RUNS};
    use crate::table::{Column, ColumnType};

    /// A capacity summary of 2 policies x 2 GPUs, the price zipped with the GPU.
    fn capacity() -> Table {
        let col = Column::new;
        let mut rows = Vec::new();
        for (p, policy) in ["fcfs", "sif"].iter().enumerate() {
            for (g, (gpu, price)) in [("h100", 3.0), ("h200", 3.8)].iter().enumerate() {
                let cap = 10.0 + p as f64 + 2.0 * g as f64;
                rows.push(vec![
                    Cell::Text("s".into()),
                    Cell::Text((*policy).into()),
                    Cell::Text((*gpu).into()),
                    Cell::Float(*price),
                    Cell::Int(3),
                    Cell::Float(cap),
                    Cell::Float(0.5),
                    Cell::Float(price / cap),
                ]);
            }
        }
        Table {
            columns: vec![
                col(SWEEP, ColumnType::Text),
                col("scheduler.policy", ColumnType::Text),
                col("hardware", ColumnType::Text),
                col("hardware.cost_per_hour", ColumnType::Float),
                col(RUNS, ColumnType::Int),
                col("capacity_mean", ColumnType::Float),
                col("capacity_ci95", ColumnType::Float),
                col("cost_per_million_output_tokens_mean", ColumnType::Float),
            ],
            rows,
        }
    }

    /// Probes of the fcfs/h100 configuration at three loads, one stopped early.
    fn runs() -> Table {
        let col = Column::new;
        let probe = |i: i64, load: f64, ttft: f64, overload: Option<&str>| {
            vec![
                Cell::Int(i),
                Cell::Text("fcfs".into()),
                Cell::Text("h100".into()),
                Cell::Float(3.0),
                Cell::Float(load),
                Cell::Text(STATUS_OK.into()),
                overload.map_or(Cell::Null, |o| Cell::Text(o.into())),
                Cell::Float(ttft),
            ]
        };
        Table {
            columns: vec![
                col(PROBE, ColumnType::Int),
                col("scheduler.policy", ColumnType::Text),
                col("hardware", ColumnType::Text),
                col("hardware.cost_per_hour", ColumnType::Float),
                col("workload.arrival_rate", ColumnType::Float),
                col(STATUS, ColumnType::Text),
                col(OVERLOAD, ColumnType::Text),
                col("ttft_ms_p99", ColumnType::Float),
            ],
            rows: vec![
                probe(0, 1.0, 100.0, None),
                probe(1, 16.0, 0.0, Some("queue")),
                probe(2, 8.0, 900.0, None),
            ],
        }
    }

    #[test]
    fn a_zipped_key_does_not_split_the_labels() {
        let c = capacity();
        let names: Vec<&str> = label_columns(&c)
            .into_iter()
            .map(|k| c.columns[k].name.as_str())
            .collect();
        assert_eq!(names, ["scheduler.policy", "hardware"]);
    }

    #[test]
    fn capacity_bars_have_one_series_per_gpu_with_intervals() {
        let chart = bar_chart(&capacity(), CAPACITY, "capacity").unwrap();
        assert_eq!(
            chart.x_axis,
            XAxis::Categories(vec!["fcfs".into(), "sif".into()])
        );
        let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["h100", "h200"]);
        assert!(chart.series.iter().all(|s| s.mark == Mark::Bars));
        assert_eq!(chart.series[1].points[1].y, 13.0);
        assert_eq!(chart.series[1].points[1].err, Some(0.5));
        let svg = svg::render(&chart);
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 4);
        assert!(bar_chart(&capacity(), "no_such_column", "x").is_none());
    }

    #[test]
    fn the_load_chart_draws_the_slo_and_marks_each_capacity() {
        let slo = ("ttft_ms_p99".to_string(), 2000.0);
        let slos = [slo.clone()];
        let search = Search {
            over: "workload.arrival_rate",
            slos: &slos,
        };
        let chart = load_chart(&capacity(), &runs(), &search, &slo).unwrap();
        assert_eq!(chart.series.len(), 1);
        assert_eq!(chart.series[0].name, "fcfs, h100");
        let xs: Vec<f64> = chart.series[0].points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [1.0, 8.0], "the early stop at 16/s is left out");
        assert_eq!(chart.guides[0].axis, GuideAxis::Horizontal);
        assert_eq!(chart.guides[0].value, 2000.0);
        // Only fcfs/h100 has probes, so only its capacity is marked.
        assert_eq!(chart.guides.len(), 2);
        assert_eq!(chart.guides[1].value, 10.0);
        assert_eq!(chart.guides[1].series, Some(0));
        let svg = svg::render(&chart);
        assert!(svg.contains(r#"data-axis="y" data-value="2000""#));
        assert!(svg.contains(r#"data-axis="x" data-value="10""#));
        let page = search_page(&capacity(), &runs(), &search, None);
        assert_eq!(page.matches("<svg class=\"chart\"").count(), 3);
        assert!(page.contains("Capacity search: s"));
    }
}
