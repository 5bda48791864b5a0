//! The single-run page (`--plot`): queue lengths, batch size, KV cache
//! utilisation and step time over simulated time, and the distributions
//! (CDFs) of TTFT and end-to-end latency.

use super::svg::{self, short_number, Chart, Mark, Point, Series, XAxis};
use super::timeline::Sample;
use super::{document, key_value_table};
use crate::metrics::catalog::{key_metrics, metric_cells};
use crate::metrics::RequestRecord;
use crate::table::Cell;
use serde_json::Value as Json;

/// Most points of a CDF.
pub const MAX_CDF_POINTS: usize = 400;

/// A line without markers through `(x, y)` pairs.
fn trace(name: &str, points: impl Iterator<Item = (f64, f64)>) -> Series {
    Series {
        name: name.into(),
        points: points
            .map(|(x, y)| Point {
                x,
                y,
                err: None,
                tip: String::new(),
            })
            .collect(),
        mark: Mark::Trace,
    }
}

/// A chart of series over simulated time.
fn over_time(id: &str, title: &str, y_label: &str, series: Vec<Series>) -> Chart {
    Chart {
        id: id.into(),
        title: title.into(),
        x_label: "simulated time (s)".into(),
        y_label: y_label.into(),
        x_axis: XAxis::Linear,
        series,
        front: None,
        guides: Vec::new(),
    }
}

/// The time-series charts of a run.
pub fn timeline_charts(samples: &[Sample]) -> Vec<Chart> {
    let series = |name: &str, f: fn(&Sample) -> f64| {
        trace(name, samples.iter().map(|s| (s.time_secs, f(s))))
    };
    vec![
        over_time(
            "queues",
            "Queue lengths",
            "requests",
            vec![
                series("running", |s| s.running),
                series("waiting", |s| s.waiting),
            ],
        ),
        over_time(
            "batch",
            "Running batch size",
            "requests in the step",
            vec![series("batch size", |s| s.batch)],
        ),
        over_time(
            "kv",
            "KV cache utilisation",
            "KV cache used (%)",
            vec![series("KV cache", |s| s.kv_percent)],
        ),
        over_time(
            "step",
            "Step time",
            "step duration (ms)",
            vec![series("step time", |s| s.step_ms)],
        ),
    ]
}

/// The empirical CDF of `values` as at most [`MAX_CDF_POINTS`] points
/// (value, percent of values at or below it), at evenly spaced ranks.
pub fn cdf(values: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let m = n.min(MAX_CDF_POINTS);
    (0..m)
        .map(|k| {
            let i = if m == 1 { n - 1 } else { k * (n - 1) / (m - 1) };
            (sorted[i], (i + 1) as f64 / n as f64 * 100.0)
        })
        .collect()
}

/// The TTFT and end-to-end latency CDFs of the completed requests.
pub fn latency_charts(records: &[RequestRecord]) -> Vec<Chart> {
    let ttft: Vec<f64> = records
        .iter()
        .map(|r| (r.first_token_secs - r.arrival_secs) * 1e3)
        .collect();
    let e2e: Vec<f64> = records
        .iter()
        .map(|r| (r.finish_secs - r.arrival_secs) * 1e3)
        .collect();
    let chart = |id: &str, title: &str, x_label: &str, values: &[f64]| Chart {
        id: id.into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: "requests at or below (%)".into(),
        x_axis: XAxis::Linear,
        series: vec![trace("CDF", cdf(values).into_iter())],
        front: None,
        guides: Vec::new(),
    };
    vec![
        chart(
            "ttft cdf",
            "TTFT distribution",
            "time to first token (ms)",
            &ttft,
        ),
        chart(
            "e2e cdf",
            "End-to-end latency distribution",
            "end-to-end latency (ms)",
            &e2e,
        ),
    ]
}

/// The whole page of one run: its key metrics (from the result's JSON
/// form), the time series and the latency distributions.
pub fn run_page(
    title: &str,
    result: &Json,
    samples: &[Sample],
    records: &[RequestRecord],
) -> String {
    let cells = metric_cells(result);
    let mut rows: Vec<(String, String)> = key_metrics()
        .filter_map(|m| {
            let (_, cell) = cells.iter().find(|(name, _)| name == &m.column)?;
            let text = match cell {
                Cell::Float(x) => short_number(*x),
                other => other.to_string(),
            };
            Some((m.label.clone(), text))
        })
        .collect();
    rows.push(("completed requests".into(), records.len().to_string()));
    let mut body = format!("<h1>{}</h1>\n", super::escape(title));
    body.push_str(&key_value_table(&rows));
    body.push_str(&format!(
        "\n<h2>Over time</h2>\n<p class=\"note\">Means over time buckets ({} points per series at most).</p>\n<div class=\"charts\">",
        super::timeline::MAX_BUCKETS
    ));
    for chart in timeline_charts(samples) {
        body.push_str(&svg::render(&chart));
    }
    body.push_str("</div>\n<h2>Latency distributions</h2>\n<div class=\"charts\">");
    for chart in latency_charts(records) {
        body.push_str(&svg::render(&chart));
    }
    body.push_str("</div>\n");
    document(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u64) -> RequestRecord {
        RequestRecord {
            request_id: crate::workload::RequestId(i),
            arrival_secs: i as f64,
            first_token_secs: i as f64 + 0.1,
            finish_secs: i as f64 + 1.0,
            input_tokens: 10,
            output_tokens: 10,
            preemptions: 0,
            cached_tokens: 0,
            replica: 0,
        }
    }

    #[test]
    fn cdfs_are_bounded_monotone_and_end_at_100() {
        let values: Vec<f64> = (0..10_000).map(|i| f64::from(i % 997)).collect();
        let points = cdf(&values);
        assert_eq!(points.len(), MAX_CDF_POINTS);
        assert!(points
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert_eq!(points.last(), Some(&(996.0, 100.0)));
        assert_eq!(cdf(&[3.0, 1.0]), vec![(1.0, 50.0), (3.0, 100.0)]);
        assert!(cdf(&[]).is_empty());
    }

    #[test]
    fn the_page_has_six_charts_with_their_points() {
        let samples: Vec<Sample> = (0..50)
            .map(|i| Sample {
                time_secs: f64::from(i),
                running: 3.0,
                waiting: 1.0,
                batch: 3.0,
                kv_percent: 40.0,
                step_ms: 20.0,
                steps: 1,
            })
            .collect();
        let records: Vec<RequestRecord> = (0..30).map(record).collect();
        let result = serde_json::json!({"latency_metrics": {"ttft_ms": {"p50": 100.0}}});
        let page = run_page("run", &result, &samples, &records);
        assert_eq!(page.matches("<svg class=\"chart\"").count(), 6);
        assert!(page.contains(r#"data-chart="queues" data-series="2" data-points="100""#));
        assert!(page.contains(r#"data-chart="ttft cdf" data-series="1" data-points="30""#));
        assert!(
            page.contains("<td class=\"t\">TTFT p50 (ms)</td><td class=\"t\">100.0</td>"),
            "{page}"
        );
    }
}
