//! The result JSON of `vllm bench serve --save-result`: flat keys, latencies
//! in milliseconds (`mean_ttft_ms`, `median_tpot_ms`, `p99_e2el_ms`, and a
//! `pNN_` key for each `--metric-percentiles` value), throughputs and counts.

use super::{non_negative, Problem};
use crate::metrics::comparison::{check_comparable, Measured};
use serde_json::{Map, Value as Json};

/// What the format holds, for messages.
pub(super) const EXPECTED: &str = "keys such as mean_ttft_ms, p99_e2el_ms, request_throughput";

/// vLLM's latency distributions (the middle of `mean_ttft_ms`) and the
/// simulator's (`None`: it has no counterpart; the simulator does not
/// report the gaps between streamed chunks).
const DISTRIBUTIONS: [(&str, Option<&str>); 4] = [
    ("ttft", Some("ttft_ms")),
    ("tpot", Some("per_token_ms")),
    ("itl", None),
    ("e2el", Some("e2e_ms")),
];

/// vLLM's keys that are one metric each, and the simulator's metric.
const PLAIN: [(&str, &str, &str); 6] = [
    ("request_throughput", "requests_per_sec", "requests/s"),
    ("output_throughput", "output_tokens_per_sec", "tokens/s"),
    ("total_token_throughput", "total_tokens_per_sec", "tokens/s"),
    ("completed", "requests_completed", "requests"),
    ("num_prompts", "requests_total", "requests"),
    ("duration", "simulated_seconds", "seconds"),
];

/// The simulator's statistic for a vLLM statistic (`mean`, `median`, `p90`,
/// `p99.9`, `std`), if it has one.
fn statistic(stat: &str) -> Option<&'static str> {
    match stat {
        "mean" => return Some("mean"),
        "median" => return Some("p50"),
        _ => {}
    }
    let p: f64 = stat.strip_prefix('p')?.parse().ok()?;
    [
        (0.0, "min"),
        (50.0, "p50"),
        (90.0, "p90"),
        (95.0, "p95"),
        (99.0, "p99"),
        (100.0, "max"),
    ]
    .into_iter()
    .find(|(q, _)| *q == p)
    .map(|(_, s)| s)
}

/// A key `STAT_DIST_ms` as its distribution's entry and its statistic.
fn latency_key(key: &str) -> Option<(&'static (&'static str, Option<&'static str>), &str)> {
    let stem = key.strip_suffix("_ms")?;
    let (stat, dist) = stem.split_once('_')?;
    let entry = DISTRIBUTIONS.iter().find(|(d, _)| *d == dist)?;
    let known = matches!(stat, "mean" | "median" | "std")
        || stat
            .strip_prefix('p')
            .is_some_and(|p| p.parse::<f64>().is_ok());
    known.then_some((entry, stat))
}

/// Whether `json` looks like a vLLM result: it has a key this reader knows.
pub(super) fn recognises(json: &Map<String, Json>) -> bool {
    json.keys()
        .any(|k| latency_key(k).is_some() || PLAIN.iter().any(|(p, _, _)| p == k))
}

/// Every key with a simulator counterpart, mapped; numeric keys without one
/// are skipped, and the rest (the run's settings, per-request lists) is not
/// a metric.
pub(super) fn map(json: &Map<String, Json>) -> Result<Measured, Problem> {
    let mut measured = Measured::default();
    for (key, value) in json {
        let target = if let Some((_, metric, unit)) = PLAIN.iter().find(|(p, _, _)| p == key) {
            Some((check_comparable(metric), *unit))
        } else if let Some(((_, dist), stat)) = latency_key(key) {
            match (dist, statistic(stat)) {
                (Some(dist), Some(stat)) => {
                    Some((check_comparable(&format!("{dist}_{stat}")), "milliseconds"))
                }
                _ => None,
            }
        } else {
            None
        };
        match target {
            Some((Ok(metric), unit)) => match non_negative(value, key, unit)? {
                Some(v) => measured.push(metric, v, key.as_str()),
                None => measured.skip(key.as_str()),
            },
            _ if value.is_number() => measured.skip(key.as_str()),
            _ => {}
        }
    }
    Ok(measured)
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

    #[test]
    fn maps_every_key_with_a_counterpart_and_skips_the_others() {
        let file = object(json!({
            "date": "20260101-000000", "backend": "vllm", "num_prompts": 100,
            "duration": 50.5, "completed": 100, "failed": 0,
            "total_input_tokens": 51200, "total_output_tokens": 12800,
            "request_throughput": 1.98, "request_goodput": null,
            "output_throughput": 253.4, "total_token_throughput": 1267.2,
            "ttfts": [0.1, 0.2], "itls": [[0.01]],
            "mean_ttft_ms": 120.5, "median_ttft_ms": 110.0, "std_ttft_ms": 30.0,
            "p99_ttft_ms": 250.0, "p99.9_ttft_ms": 260.0, "p50_ttft_ms": 111.0,
            "mean_tpot_ms": 20.0, "p90_tpot_ms": 25.0,
            "mean_itl_ms": 19.0, "p99_itl_ms": 40.0,
            "mean_e2el_ms": 3000.0, "median_e2el_ms": 2900.0, "p100_e2el_ms": 5000.0,
        }));
        assert!(recognises(&file));
        let m = map(&file).unwrap();
        let got: Vec<(&str, f64, &str)> = m
            .values
            .iter()
            .map(|v| (v.metric, v.value, v.source.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("requests_total", 100.0, "num_prompts"),
                ("simulated_seconds", 50.5, "duration"),
                ("requests_completed", 100.0, "completed"),
                ("requests_per_sec", 1.98, "request_throughput"),
                ("output_tokens_per_sec", 253.4, "output_throughput"),
                ("total_tokens_per_sec", 1267.2, "total_token_throughput"),
                ("ttft_ms_mean", 120.5, "mean_ttft_ms"),
                ("ttft_ms_p50", 110.0, "median_ttft_ms"),
                ("ttft_ms_p99", 250.0, "p99_ttft_ms"),
                ("per_token_ms_mean", 20.0, "mean_tpot_ms"),
                ("per_token_ms_p90", 25.0, "p90_tpot_ms"),
                ("e2e_ms_mean", 3000.0, "mean_e2el_ms"),
                ("e2e_ms_p50", 2900.0, "median_e2el_ms"),
                ("e2e_ms_max", 5000.0, "p100_e2el_ms"),
            ]
        );
        assert_eq!(
            m.skipped,
            [
                "failed",
                "total_input_tokens",
                "total_output_tokens",
                "std_ttft_ms",
                "p99.9_ttft_ms",
                "p50_ttft_ms",
                "mean_itl_ms",
                "p99_itl_ms",
            ]
        );
    }

    #[test]
    fn a_mapped_key_must_hold_a_number_of_at_least_zero() {
        for (value, expected) in [
            (
                json!("fast"),
                "mean_ttft_ms: expected a number (milliseconds), got \"fast\"",
            ),
            (
                json!(-1.0),
                "mean_ttft_ms: expected a number of at least 0 (milliseconds), got -1.0",
            ),
        ] {
            let e = map(&object(json!({ "mean_ttft_ms": value }))).unwrap_err();
            assert_eq!(format!("{}: {}", e.field, e.message), expected);
        }
        let e = map(&object(json!({ "completed": [1] }))).unwrap_err();
        assert_eq!(e.message, "expected a number (requests), got [1]");
        let m = map(&object(json!({ "mean_ttft_ms": null, "model_id": "x" }))).unwrap();
        assert!(m.values.is_empty());
        assert_eq!(m.skipped, ["mean_ttft_ms"]);
        assert!(!recognises(&object(
            json!({ "model_id": "x", "mean_foo_ms": 1 })
        )));
    }
}
