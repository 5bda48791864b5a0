//! The lifecycle-metrics JSON of inference-perf (the load generator of the
//! llm-d benchmark harness), `summary_lifecycle_metrics.json` or
//! `stage_N_lifecycle_metrics.json`: latency distributions in seconds
//! (`mean`, `median`, `min`, `max`, `p90`, ...) under `successes.latency`
//! (older reports: under `successes`, or at the top), throughputs under
//! `successes.throughput`, and counts.

use super::{non_negative, Problem};
use crate::metrics::comparison::{check_comparable, Measured};
use serde_json::{Map, Value as Json};

/// What the format holds, for messages.
pub(super) const EXPECTED: &str =
    "request_latency or time_to_first_token (under successes.latency), in seconds";

/// inference-perf's latency distributions and the simulator's (`None`: no
/// counterpart; the simulator does not report the gaps between streamed
/// chunks).
const DISTRIBUTIONS: [(&str, Option<&str>); 5] = [
    ("request_latency", Some("e2e_ms")),
    ("time_to_first_token", Some("ttft_ms")),
    ("time_per_output_token", Some("per_token_ms")),
    ("inter_token_latency", None),
    ("normalized_time_per_output_token", None),
];

/// inference-perf's statistics and the simulator's.
const STATISTICS: [(&str, &str); 8] = [
    ("mean", "mean"),
    ("median", "p50"),
    ("p50", "p50"),
    ("min", "min"),
    ("max", "max"),
    ("p90", "p90"),
    ("p95", "p95"),
    ("p99", "p99"),
];

/// Where the distributions may be, newest layout first.
const LATENCY_PATHS: [&[&str]; 3] = [&["successes", "latency"], &["successes"], &[]];
/// Where the throughputs may be, newest layout first.
const THROUGHPUT_PATHS: [&[&str]; 2] = [&["successes", "throughput"], &["throughput"]];
/// Counts and durations: path and unit. The throughputs have the
/// simulator's own names (`requests_per_sec`, `output_tokens_per_sec`, ...).
const FACTS: [(&[&str], &str, &str); 3] = [
    (&["successes", "count"], "requests_completed", "requests"),
    (&["load_summary", "count"], "requests_total", "requests"),
    (&["benchmark_time_seconds"], "simulated_seconds", "seconds"),
];

fn at<'a>(json: &'a Map<String, Json>, path: &[&str]) -> Option<&'a Json> {
    let (last, parents) = path.split_last()?;
    let mut object = json;
    for key in parents {
        object = object.get(*key)?.as_object()?;
    }
    object.get(*last)
}

fn object_at<'a>(json: &'a Map<String, Json>, path: &[&str]) -> Option<&'a Map<String, Json>> {
    if path.is_empty() {
        return Some(json);
    }
    at(json, path)?.as_object()
}

/// The object holding the distributions, and its path.
fn latency_group(
    json: &Map<String, Json>,
) -> Option<(&Map<String, Json>, &'static [&'static str])> {
    LATENCY_PATHS.into_iter().find_map(|path| {
        let group = object_at(json, path)?;
        DISTRIBUTIONS
            .iter()
            .any(|(d, m)| m.is_some() && group.contains_key(*d))
            .then_some((group, path))
    })
}

fn dotted(path: &[&str], key: &str) -> String {
    path.iter()
        .copied()
        .chain([key])
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `json` looks like inference-perf's: it has a latency distribution.
pub(super) fn recognises(json: &Map<String, Json>) -> bool {
    latency_group(json).is_some()
}

/// The distributions (seconds, to milliseconds), throughputs and counts
/// with a simulator counterpart; the other statistics are skipped.
pub(super) fn map(json: &Map<String, Json>) -> Result<Measured, Problem> {
    let mut measured = Measured::default();
    if let Some((group, path)) = latency_group(json) {
        for (name, metric) in DISTRIBUTIONS {
            let Some(value) = group.get(name) else {
                continue;
            };
            let field = dotted(path, name);
            let (Some(prefix), Json::Object(stats)) = (metric, value) else {
                match value {
                    Json::Object(_) | Json::Null => measured.skip(field),
                    other => return Err(not_statistics(&field, other)),
                }
                continue;
            };
            for (stat, v) in stats {
                let source = format!("{field}.{stat}");
                let column = STATISTICS
                    .iter()
                    .find(|(s, _)| s == stat)
                    .and_then(|(_, ours)| check_comparable(&format!("{prefix}_{ours}")).ok());
                match column {
                    Some(column) => match non_negative(v, &source, "seconds")? {
                        Some(secs) => measured.push(column, secs * 1000.0, source),
                        None => measured.skip(source),
                    },
                    None if v.is_number() => measured.skip(source),
                    None => {}
                }
            }
        }
    }
    if let Some((throughput, path)) = THROUGHPUT_PATHS
        .into_iter()
        .find_map(|p| object_at(json, p).map(|o| (o, p)))
    {
        for (key, v) in throughput {
            let source = dotted(path, key);
            match check_comparable(key) {
                Ok(column) => match non_negative(v, &source, "per second")? {
                    Some(x) => measured.push(column, x, source),
                    None => measured.skip(source),
                },
                Err(_) if v.is_number() => measured.skip(source),
                Err(_) => {}
            }
        }
    }
    for (path, column, unit) in FACTS {
        if let (Some(v), Ok(column)) = (at(json, path), check_comparable(column)) {
            let source = path.join(".");
            if let Some(x) = non_negative(v, &source, unit)? {
                measured.push(column, x, source);
            }
        }
    }
    Ok(measured)
}

fn not_statistics(field: &str, value: &Json) -> Problem {
    Problem::new(
        field,
        format!(
            "expected an object of statistics in seconds (mean, median, p90, ...), got {value}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Json) -> Map<String, Json> {
        match v {
            Json::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn mapped(m: &Measured) -> Vec<(&str, f64, &str)> {
        m.values
            .iter()
            .map(|v| (v.metric, v.value, v.source.as_str()))
            .collect()
    }

    #[test]
    fn reads_the_current_layout_in_milliseconds() {
        let file = object(json!({
            "benchmark_time_seconds": 60.0,
            "load_summary": {"count": 120, "requested_rate": 2.0},
            "successes": {
                "count": 118,
                "latency": {
                    "request_latency": {"mean": 2.5, "min": 1.0, "max": 4.0, "p0.1": 1.0, "median": 2.4, "p90": 3.5, "p99": 3.9},
                    "time_to_first_token": {"mean": 0.125, "p95": 0.25},
                    "inter_token_latency": {"mean": 0.02},
                    "time_per_output_token": null,
                },
                "throughput": {"requests_per_sec": 1.9, "output_tokens_per_sec": 400.0, "images_per_sec": 0.0},
                "prompt_tokens": {"mean": 500.0},
            },
        }));
        assert!(recognises(&file));
        let m = map(&file).unwrap();
        let l = "successes.latency";
        assert_eq!(
            mapped(&m),
            [
                ("e2e_ms_mean", 2500.0, &*format!("{l}.request_latency.mean")),
                ("e2e_ms_min", 1000.0, &*format!("{l}.request_latency.min")),
                ("e2e_ms_max", 4000.0, &*format!("{l}.request_latency.max")),
                (
                    "e2e_ms_p50",
                    2400.0,
                    &*format!("{l}.request_latency.median")
                ),
                ("e2e_ms_p90", 3500.0, &*format!("{l}.request_latency.p90")),
                ("e2e_ms_p99", 3900.0, &*format!("{l}.request_latency.p99")),
                (
                    "ttft_ms_mean",
                    125.0,
                    &*format!("{l}.time_to_first_token.mean")
                ),
                (
                    "ttft_ms_p95",
                    250.0,
                    &*format!("{l}.time_to_first_token.p95")
                ),
                (
                    "requests_per_sec",
                    1.9,
                    "successes.throughput.requests_per_sec"
                ),
                (
                    "output_tokens_per_sec",
                    400.0,
                    "successes.throughput.output_tokens_per_sec"
                ),
                ("requests_completed", 118.0, "successes.count"),
                ("requests_total", 120.0, "load_summary.count"),
                ("simulated_seconds", 60.0, "benchmark_time_seconds"),
            ]
        );
        assert_eq!(
            m.skipped,
            [
                "successes.latency.request_latency.p0.1",
                "successes.latency.time_per_output_token",
                "successes.latency.inter_token_latency",
                "successes.throughput.images_per_sec",
            ]
        );
    }

    #[test]
    fn reads_older_layouts_and_rejects_values_that_are_not_numbers() {
        let top = object(json!({"time_to_first_token": {"median": 0.5}}));
        assert_eq!(
            mapped(&map(&top).unwrap()),
            [("ttft_ms_p50", 500.0, "time_to_first_token.median")]
        );
        let under = object(json!({"successes": {"request_latency": {"p90": 1.5}}}));
        assert_eq!(
            mapped(&map(&under).unwrap()),
            [("e2e_ms_p90", 1500.0, "successes.request_latency.p90")]
        );
        assert!(!recognises(&object(
            json!({"inter_token_latency": {"mean": 1}})
        )));
        let e = map(&object(json!({"request_latency": {"mean": "slow"}}))).unwrap_err();
        assert_eq!(e.field, "request_latency.mean");
        assert_eq!(e.message, "expected a number (seconds), got \"slow\"");
        let e = map(&object(json!({"request_latency": 2.0}))).unwrap_err();
        assert_eq!(e.field, "request_latency");
        assert!(e.message.starts_with("expected an object of statistics"));
    }
}
