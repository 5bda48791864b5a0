//! The metric catalog: every metric column of a run's result, with the label
//! people read, its unit, which way is better and where the console report
//! shows it. One list feeds the console report, the key metrics of sweep
//! summaries and best points, the summary table and both HTML pages; a test
//! checks that it names exactly the columns [`metric_columns`] derives from
//! [`RunResult`], so the two cannot drift apart.
//!
//! Metric *values* come from the result's JSON form ([`metric_cells`]): the
//! result struct is the one source of truth for names, and this catalog
//! describes them.

use super::{RequestRecord, RunResult};
use crate::table::{Cell, Column, ColumnType};
use serde_json::Value as Json;
use std::sync::OnceLock;

/// Which way a metric is better, for best points and Pareto fronts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Lower is better (latencies, preemptions).
    Lower,
    /// Higher is better (throughput, cache hits).
    Higher,
    /// Neither: a count or fact about the run.
    Neither,
}

/// The unit of a metric, which also decides how it is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds.
    Millis,
    /// Tokens per second.
    TokensPerSec,
    /// Requests per second.
    RequestsPerSec,
    /// A fraction from 0 to 1, printed as a percentage.
    Fraction,
    /// A count of events or requests.
    Count,
    /// A count of tokens.
    Tokens,
    /// Events per completed request.
    PerRequest,
    /// A ratio of two quantities of the same kind (1 is parity).
    Ratio,
    /// Seconds of simulated time.
    Secs,
}

impl Unit {
    /// A value in this unit as the console report prints it.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Millis => format!("{value:.2}"),
            Unit::TokensPerSec => format!("{value:.1}"),
            Unit::RequestsPerSec | Unit::PerRequest | Unit::Ratio => format!("{value:.3}"),
            Unit::Fraction => format!("{:.1}%", value * 100.0),
            Unit::Count | Unit::Tokens => format!("{value:.0}"),
            Unit::Secs => format!("{value:.3} s"),
        }
    }

    /// The unit's symbol for axis labels (empty for counts and fractions).
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::TokensPerSec => "tokens/s",
            Unit::RequestsPerSec => "requests/s",
            Unit::Secs => "s",
            Unit::Fraction | Unit::Count | Unit::Tokens | Unit::PerRequest | Unit::Ratio => "",
        }
    }
}

/// The section of the console report a metric belongs to, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Latency distributions (a table: one row per distribution, one column per statistic).
    Latency,
    /// Throughput.
    Throughput,
    /// Utilisation.
    Utilization,
    /// Preemptions.
    Preemptions,
    /// The prefix cache.
    PrefixCache,
    /// Request counts and facts of the run (the console's "Summary").
    Summary,
}

impl Group {
    /// Every group, in console order.
    pub const ALL: [Group; 6] = [
        Group::Latency,
        Group::Throughput,
        Group::Utilization,
        Group::Preemptions,
        Group::PrefixCache,
        Group::Summary,
    ];

    /// The section title.
    pub fn title(self) -> &'static str {
        match self {
            Group::Latency => "Latency (ms)",
            Group::Throughput => "Throughput",
            Group::Utilization => "Utilization",
            Group::Preemptions => "Preemptions",
            Group::PrefixCache => "Prefix cache",
            Group::Summary => "Summary",
        }
    }
}

/// One metric column of a run's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// Column name in the runs table (`ttft_ms_p50`, `output_tokens_per_sec`).
    pub column: String,
    /// What it measures, standing alone (`TTFT p50 (ms)`, `output tokens/s`).
    pub label: String,
    /// Its row in its console section (`Output tokens/s`; for a latency
    /// statistic, its distribution: `TTFT`). Empty when the console shows it
    /// inside another row.
    pub row: &'static str,
    /// Its console section.
    pub group: Group,
    /// Its unit.
    pub unit: Unit,
    /// Which way is better.
    pub better: Better,
    /// Whether it is a key metric: summarised over seeds, ranked for best
    /// points and charted in the sweep report.
    pub key: bool,
}

/// The latency distributions: column prefix, label and console row.
const LATENCIES: [(&str, &str); 3] = [
    ("ttft_ms", "TTFT"),
    ("e2e_ms", "E2E"),
    ("per_token_ms", "Per-token"),
];

/// The statistics of each latency distribution, in console column order.
pub const LATENCY_STATS: [&str; 7] = super::stats::STAT_NAMES;

/// The latency statistics that are key metrics, per distribution.
const KEY_LATENCIES: [&str; 5] = [
    "ttft_ms_p50",
    "ttft_ms_p99",
    "e2e_ms_p50",
    "e2e_ms_p99",
    "per_token_ms_p50",
];

/// The metrics that are not latency statistics, in result order:
/// (column, label, console row, group, unit, better, key).
type Plain = (
    &'static str,
    &'static str,
    &'static str,
    Group,
    Unit,
    Better,
    bool,
);
const PLAIN: [Plain; 15] = [
    (
        "input_tokens_per_sec",
        "input tokens/s",
        "Input tokens/s",
        Group::Throughput,
        Unit::TokensPerSec,
        Better::Higher,
        false,
    ),
    (
        "output_tokens_per_sec",
        "output tokens/s",
        "Output tokens/s",
        Group::Throughput,
        Unit::TokensPerSec,
        Better::Higher,
        true,
    ),
    (
        "requests_per_sec",
        "requests/s",
        "Requests/s",
        Group::Throughput,
        Unit::RequestsPerSec,
        Better::Higher,
        true,
    ),
    (
        "avg_kv_cache_util",
        "KV cache utilization",
        "KV cache",
        Group::Utilization,
        Unit::Fraction,
        Better::Neither,
        false,
    ),
    (
        "avg_flops_util",
        "FLOPS utilization",
        "FLOPS",
        Group::Utilization,
        Unit::Fraction,
        Better::Neither,
        false,
    ),
    (
        "avg_bandwidth_util",
        "bandwidth utilization",
        "Bandwidth",
        Group::Utilization,
        Unit::Fraction,
        Better::Neither,
        false,
    ),
    (
        "preemptions_total",
        "preemptions",
        "Total",
        Group::Preemptions,
        Unit::Count,
        Better::Lower,
        false,
    ),
    (
        "preemptions_per_request_mean",
        "preemptions per request",
        "Per request",
        Group::Preemptions,
        Unit::PerRequest,
        Better::Lower,
        true,
    ),
    (
        "prefix_cache_hits",
        "prefix cache hits",
        "Hits",
        Group::PrefixCache,
        Unit::Count,
        Better::Higher,
        false,
    ),
    (
        "prefix_cache_misses",
        "prefix cache misses",
        "Misses",
        Group::PrefixCache,
        Unit::Count,
        Better::Lower,
        false,
    ),
    (
        "prefix_cache_hit_rate",
        "prefix cache hit rate",
        "Hit rate",
        Group::PrefixCache,
        Unit::Fraction,
        Better::Higher,
        false,
    ),
    (
        "prefix_cache_cached_tokens",
        "prompt tokens from the prefix cache",
        "Tokens saved",
        Group::PrefixCache,
        Unit::Tokens,
        Better::Higher,
        false,
    ),
    (
        "prefix_cache_token_hit_rate",
        "prefix cache token hit rate",
        "",
        Group::PrefixCache,
        Unit::Fraction,
        Better::Higher,
        false,
    ),
    (
        "requests_total",
        "requests arrived",
        "",
        Group::Summary,
        Unit::Count,
        Better::Neither,
        false,
    ),
    (
        "requests_completed",
        "requests completed",
        "Requests completed",
        Group::Summary,
        Unit::Count,
        Better::Higher,
        false,
    ),
];

/// The facts of the run that close the catalog (after `requests_rejected`).
const TAIL: [Plain; 3] = [
    (
        "requests_rejected",
        "requests rejected",
        "",
        Group::Summary,
        Unit::Count,
        Better::Lower,
        false,
    ),
    (
        "simulated_seconds",
        "simulated time (s)",
        "Simulated time",
        Group::Summary,
        Unit::Secs,
        Better::Neither,
        false,
    ),
    (
        "steps",
        "engine steps",
        "Engine steps",
        Group::Summary,
        Unit::Count,
        Better::Neither,
        false,
    ),
];

/// The deployment's figures, after the facts of the run. The console shows
/// them in its header, not as rows.
const CLUSTER: [Plain; 2] = [
    (
        "gpus",
        "GPUs",
        "",
        Group::Summary,
        Unit::Count,
        Better::Lower,
        false,
    ),
    (
        "load_imbalance",
        "load imbalance (max over mean requests per replica)",
        "",
        Group::Summary,
        Unit::Ratio,
        Better::Lower,
        false,
    ),
];

/// Every metric column, in the order of the runs table.
pub fn catalog() -> &'static [Metric] {
    static CATALOG: OnceLock<Vec<Metric>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut all = Vec::new();
        for (prefix, row) in LATENCIES {
            for stat in LATENCY_STATS {
                let column = format!("{prefix}_{stat}");
                all.push(Metric {
                    key: KEY_LATENCIES.contains(&column.as_str()),
                    label: format!("{row} {stat} (ms)"),
                    column,
                    row,
                    group: Group::Latency,
                    unit: Unit::Millis,
                    better: Better::Lower,
                });
            }
        }
        for (column, label, row, group, unit, better, key) in
            PLAIN.into_iter().chain(TAIL).chain(CLUSTER)
        {
            all.push(Metric {
                column: column.to_string(),
                label: label.to_string(),
                row,
                group,
                unit,
                better,
                key,
            });
        }
        all
    })
}

/// The key metrics, in catalog order.
pub fn key_metrics() -> impl Iterator<Item = &'static Metric> {
    catalog().iter().filter(|m| m.key)
}

/// The metric of column `name`, if there is one.
pub fn metric(name: &str) -> Option<&'static Metric> {
    catalog().iter().find(|m| m.column == name)
}

/// The message for `name`, which is none of the metric names `names`: that
/// it is not a metric column, and the closest name when it looks like a typo.
pub fn not_a_column(name: &str, names: &[&str]) -> String {
    crate::config::with_hint(
        format!("'{name}' is not a metric column of the runs table"),
        name,
        names,
    )
}

/// Result groups whose fields are already unambiguous without the group name
/// (`ttft_ms_p50`, `output_tokens_per_sec`, `avg_kv_cache_util`, `steps`,
/// `gpus`). The per-replica figures of `cluster` are a list, which has no
/// column.
const UNPREFIXED_GROUPS: &[&str] = &[
    "latency_metrics",
    "throughput_metrics",
    "utilization",
    "simulation",
    "cluster",
];

/// Result fields that are not metric columns: the config (its swept keys
/// have their own columns), the wall time (a column of its own), the
/// version (in `sweep.json`) and the rejections by limit (in a result only
/// when a request was rejected; `requests_rejected` counts them all).
const NOT_METRICS: &[&str] = &["config", "wall_seconds", "version", "rejected_by"];

/// The scalar metrics of a run result (its JSON form), flattened with `_`.
pub fn metric_cells(result: &Json) -> Vec<(String, Cell)> {
    let mut cells = Vec::new();
    if let Json::Object(groups) = result {
        for (group, value) in groups {
            let prefix = if UNPREFIXED_GROUPS.contains(&group.as_str()) {
                ""
            } else {
                group
            };
            if !NOT_METRICS.contains(&group.as_str()) {
                flatten(prefix, value, &mut cells);
            }
        }
    }
    cells
}

fn flatten(prefix: &str, value: &Json, out: &mut Vec<(String, Cell)>) {
    match value {
        Json::Object(fields) => {
            for (name, v) in fields {
                if NOT_METRICS.contains(&name.as_str()) {
                    continue;
                }
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}_{name}")
                };
                flatten(&path, v, out);
            }
        }
        other => {
            if let Some(cell) = number(other) {
                out.push((prefix.to_string(), cell));
            }
        }
    }
}

fn number(value: &Json) -> Option<Cell> {
    match value {
        Json::Number(n) => Some(match n.as_i64() {
            Some(i) if !n.is_f64() => Cell::Int(i),
            _ => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        // A metric that is not a number (no completed request) is null.
        Json::Null => Some(Cell::Null),
        _ => None,
    }
}

/// The metric columns every table has, whatever its runs: the names and
/// types of a result with all metrics zero (`zeroed`).
pub fn metric_columns(zeroed: &RunResult) -> Vec<Column> {
    let json = serde_json::to_value(zeroed).unwrap_or(Json::Null);
    metric_cells(&json)
        .into_iter()
        .map(|(name, cell)| Column {
            name,
            kind: match cell {
                Cell::Int(_) => ColumnType::Int,
                _ => ColumnType::Float,
            },
        })
        .collect()
}

/// How a per-request column takes its value from a [`RequestRecord`].
#[derive(Debug, Clone, Copy)]
pub enum RecordField {
    /// An integer field.
    Int(fn(&RequestRecord) -> i64),
    /// A float field.
    Float(fn(&RequestRecord) -> f64),
}

/// The columns of per-request tables (`requests.parquet`, after `run_id`),
/// one per field of [`RequestRecord`], in field order; a test checks them
/// against the record's serialized fields.
pub const REQUEST_COLUMNS: [(&str, RecordField); 9] = [
    ("request_id", RecordField::Int(|r| r.request_id.0 as i64)),
    ("arrival_secs", RecordField::Float(|r| r.arrival_secs)),
    (
        "first_token_secs",
        RecordField::Float(|r| r.first_token_secs),
    ),
    ("finish_secs", RecordField::Float(|r| r.finish_secs)),
    (
        "input_tokens",
        RecordField::Int(|r| i64::from(r.input_tokens)),
    ),
    (
        "output_tokens",
        RecordField::Int(|r| i64::from(r.output_tokens)),
    ),
    (
        "preemptions",
        RecordField::Int(|r| i64::from(r.preemptions)),
    ),
    (
        "cached_tokens",
        RecordField::Int(|r| i64::from(r.cached_tokens)),
    ),
    ("replica", RecordField::Int(|r| i64::from(r.replica))),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn columns() -> Vec<Column> {
        metric_columns(&RunResult::zeroed(Config::builtin_default().unwrap()))
    }

    #[test]
    fn the_catalog_names_exactly_the_result_columns_in_order() {
        let names: Vec<String> = columns().into_iter().map(|c| c.name).collect();
        let catalog: Vec<String> = catalog().iter().map(|m| m.column.clone()).collect();
        assert_eq!(catalog, names);
    }

    #[test]
    fn key_metrics_have_a_direction_and_labels_are_unique() {
        let keys: Vec<&str> = key_metrics().map(|m| m.column.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ttft_ms_p50",
                "ttft_ms_p99",
                "e2e_ms_p50",
                "e2e_ms_p99",
                "per_token_ms_p50",
                "output_tokens_per_sec",
                "requests_per_sec",
                "preemptions_per_request_mean"
            ]
        );
        assert!(key_metrics().all(|m| m.better != Better::Neither));
        let mut labels: Vec<&str> = catalog().iter().map(|m| m.label.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), catalog().len());
        assert_eq!(
            metric("ttft_ms_p99").map(|m| m.label.as_str()),
            Some("TTFT p99 (ms)")
        );
    }

    #[test]
    fn request_columns_are_the_record_fields() {
        let record = RequestRecord {
            request_id: crate::workload::RequestId(7),
            arrival_secs: 1.5,
            first_token_secs: 2.0,
            finish_secs: 3.0,
            input_tokens: 10,
            output_tokens: 4,
            preemptions: 1,
            cached_tokens: 16,
            replica: 3,
        };
        let json = serde_json::to_value(record).unwrap();
        let fields: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let names: Vec<&str> = REQUEST_COLUMNS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, fields);
        for (name, field) in REQUEST_COLUMNS {
            let value = match field {
                RecordField::Int(f) => f(&record) as f64,
                RecordField::Float(f) => f(&record),
            };
            assert_eq!(Some(value), json[name].as_f64(), "{name}");
            assert_eq!(
                matches!(field, RecordField::Int(_)),
                json[name].is_u64(),
                "{name}"
            );
        }
    }

    #[test]
    fn metrics_flatten_with_underscores_and_keep_their_types() {
        let columns = columns();
        let find = |name: &str| {
            columns
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no column {name}"))
                .kind
        };
        assert_eq!(find("ttft_ms_p50"), ColumnType::Float);
        assert_eq!(find("preemptions_total"), ColumnType::Int);
        assert_eq!(find("requests_completed"), ColumnType::Int);
        assert_eq!(find("steps"), ColumnType::Int);
        for absent in ["wall_seconds", "version", "config", "simulation_steps"] {
            assert!(columns.iter().all(|c| c.name != absent), "{absent}");
        }
    }
}
