//! The runs table: one typed row per point. Its metric columns are derived
//! from the run result's JSON, the one source of truth for metric names, so
//! Parquet, CSV and the JSON files never disagree.

use super::plan::{Plan, Point};
use crate::config::Config;
use crate::metrics::RunResult;
use serde_json::Value as Json;
use std::fmt;
use toml::Value;

/// The type of a column, as written to Parquet (Int64, Float64, Utf8, Boolean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit signed integers.
    Int,
    /// 64-bit floats.
    Float,
    /// UTF-8 strings.
    Text,
    /// Booleans.
    Bool,
}

/// One cell. `Null` where a value does not exist (metrics of a failed run).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl fmt::Display for Cell {
    /// The cell as CSV writes it: nulls empty, floats in Rust's shortest
    /// round-trip form and always with a decimal point or exponent, so CSV
    /// readers type a float column as floats even when its values are whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => Ok(()),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x:?}"),
            Cell::Text(s) => f.write_str(s),
            Cell::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name (swept keys keep their dots).
    pub name: String,
    /// Column type.
    pub kind: ColumnType,
}

/// A typed table, rows in point order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Column {
    /// A column `name` of type `kind`.
    pub fn new(name: &str, kind: ColumnType) -> Self {
        Self {
            name: name.to_string(),
            kind,
        }
    }
}

impl Table {
    /// The index of the column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// Whether a run finished or failed.
pub const STATUS_OK: &str = "ok";
/// Status of a run that failed; its `error` column says why.
pub const STATUS_FAILED: &str = "failed";

/// Result groups whose fields are already unambiguous without the group name
/// (`ttft_ms_p50`, `output_tokens_per_sec`, `avg_kv_cache_util`, `steps`).
const UNPREFIXED_GROUPS: &[&str] = &[
    "latency_metrics",
    "throughput_metrics",
    "utilization",
    "simulation",
];

/// Result fields that are not metric columns: the config (its swept keys
/// have their own columns), the wall time (a column of its own) and the
/// version (in `sweep.json`).
const NOT_METRICS: &[&str] = &["config", "wall_seconds", "version"];

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
/// types of a result with all metrics zero.
pub fn metric_columns(config: &Config) -> Vec<Column> {
    let zeroed = serde_json::to_value(RunResult::zeroed(config.clone())).unwrap_or(Json::Null);
    metric_cells(&zeroed)
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

/// The type of a swept key's column, from all its values: integers stay
/// integers, integers mixed with floats become floats, strings and booleans
/// keep their type, and anything else (tables, mixed types) is written as
/// its TOML text.
pub fn swept_type<'a>(values: impl IntoIterator<Item = &'a Value>) -> ColumnType {
    let mut kind: Option<ColumnType> = None;
    for v in values {
        let this = match v {
            Value::Integer(_) => ColumnType::Int,
            Value::Float(_) => ColumnType::Float,
            Value::String(_) => ColumnType::Text,
            Value::Boolean(_) => ColumnType::Bool,
            _ => return ColumnType::Text,
        };
        kind = Some(match (kind, this) {
            (None, t) => t,
            (Some(a), b) if a == b => a,
            (Some(ColumnType::Int), ColumnType::Float)
            | (Some(ColumnType::Float), ColumnType::Int) => ColumnType::Float,
            _ => return ColumnType::Text,
        });
    }
    kind.unwrap_or(ColumnType::Text)
}

/// The column type of each of `plan`'s swept keys, in key order.
pub fn swept_types(plan: &Plan) -> Vec<ColumnType> {
    (0..plan.manifest.keys().count())
        .map(|k| swept_type(plan.points.iter().map(|p| &p.values[k])))
        .collect()
}

/// A swept value as a cell of a column of type `kind`.
pub fn swept_cell(value: &Value, kind: ColumnType) -> Cell {
    match (kind, value) {
        (ColumnType::Int, Value::Integer(i)) => Cell::Int(*i),
        (ColumnType::Float, Value::Integer(i)) => Cell::Float(*i as f64),
        (ColumnType::Float, Value::Float(f)) => Cell::Float(*f),
        (ColumnType::Bool, Value::Boolean(b)) => Cell::Bool(*b),
        (_, Value::String(s)) => Cell::Text(s.clone()),
        (_, other) => Cell::Text(other.to_string()),
    }
}

/// What became of one point: only what its table row needs, so a runner
/// holds a few hundred bytes per point whatever the size of the runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The run finished.
    Finished {
        /// Wall seconds the run took.
        wall_seconds: Option<f64>,
        /// One cell per metric column of the table's template.
        metrics: Vec<Cell>,
    },
    /// The run failed (or its config was invalid).
    Failed {
        /// Why.
        error: String,
        /// Wall seconds spent before it failed.
        wall_seconds: Option<f64>,
    },
}

impl Outcome {
    /// The outcome of a finished run, from its result JSON, with one metric
    /// cell per column of `template`.
    pub fn finished(result: &Json, template: &[Column]) -> Self {
        let cells = metric_cells(result);
        Self::Finished {
            wall_seconds: result
                .pointer("/simulation/wall_seconds")
                .and_then(Json::as_f64),
            metrics: template
                .iter()
                .map(|col| {
                    cells
                        .iter()
                        .find(|(name, _)| *name == col.name)
                        .map_or(Cell::Null, |(_, c)| conform(c, col.kind))
                })
                .collect(),
        }
    }

    /// Whether the run failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// Builds the runs table of `plan`'s points with their outcomes, in point
/// order. `metric_template` fixes the metric columns (see [`metric_columns`]).
pub fn runs_table<'a>(
    plan: &Plan,
    metric_template: &[Column],
    rows: impl IntoIterator<Item = (&'a Point, &'a Outcome)>,
) -> Table {
    let keys = plan.keys();
    let mut columns = vec![
        Column::new("run_id", ColumnType::Text),
        Column::new("sweep", ColumnType::Text),
        Column::new("point", ColumnType::Int),
    ];
    let swept = swept_types(plan);
    columns.extend(
        keys.iter()
            .zip(&swept)
            .map(|(k, kind)| Column::new(k, *kind)),
    );
    columns.extend([
        Column::new("status", ColumnType::Text),
        Column::new("error", ColumnType::Text),
        Column::new("wall_seconds", ColumnType::Float),
    ]);
    columns.extend(metric_template.iter().cloned());
    let mut table_rows = Vec::new();
    for (point, outcome) in rows {
        let mut row = vec![
            Cell::Text(point.run_id.to_string()),
            Cell::Text(plan.manifest.name.clone()),
            Cell::Int(point.index as i64),
        ];
        row.extend(
            point
                .values
                .iter()
                .zip(&swept)
                .map(|(v, kind)| swept_cell(v, *kind)),
        );
        let (status, error, wall, metrics) = match outcome {
            Outcome::Finished {
                wall_seconds,
                metrics,
            } => (STATUS_OK, Cell::Null, wall_seconds, metrics.clone()),
            Outcome::Failed {
                error,
                wall_seconds,
            } => (
                STATUS_FAILED,
                Cell::Text(error.clone()),
                wall_seconds,
                vec![Cell::Null; metric_template.len()],
            ),
        };
        row.extend([
            Cell::Text(status.into()),
            error,
            wall.map_or(Cell::Null, Cell::Float),
        ]);
        row.extend(metrics);
        table_rows.push(row);
    }
    Table {
        columns,
        rows: table_rows,
    }
}

/// A cell converted to the column's type (a float metric that happened to be
/// written as a whole number stays a float).
fn conform(cell: &Cell, kind: ColumnType) -> Cell {
    match (cell, kind) {
        (Cell::Int(i), ColumnType::Float) => Cell::Float(*i as f64),
        (c, _) => c.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_flatten_with_underscores_and_keep_their_types() {
        let config = Config::builtin_default().unwrap();
        let columns = metric_columns(&config);
        let find = |name: &str| {
            columns
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no column {name}"))
                .kind
        };
        assert_eq!(find("ttft_ms_p50"), ColumnType::Float);
        assert_eq!(find("e2e_ms_max"), ColumnType::Float);
        assert_eq!(find("per_token_ms_mean"), ColumnType::Float);
        assert_eq!(find("output_tokens_per_sec"), ColumnType::Float);
        assert_eq!(find("avg_kv_cache_util"), ColumnType::Float);
        assert_eq!(find("preemptions_total"), ColumnType::Int);
        assert_eq!(find("preemptions_per_request_mean"), ColumnType::Float);
        assert_eq!(find("prefix_cache_hit_rate"), ColumnType::Float);
        assert_eq!(find("requests_completed"), ColumnType::Int);
        assert_eq!(find("steps"), ColumnType::Int);
        assert_eq!(find("simulated_seconds"), ColumnType::Float);
        for absent in ["wall_seconds", "version", "config", "simulation_steps"] {
            assert!(columns.iter().all(|c| c.name != absent), "{absent}");
        }
        let mut names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), columns.len(), "column names are unique");
    }

    #[test]
    fn swept_columns_take_the_narrowest_type_of_their_values() {
        let v = |s: &str| -> Value { s.parse::<toml::Table>().unwrap()["x"].clone() };
        assert_eq!(swept_type(&[v("x = 1"), v("x = 2")]), ColumnType::Int);
        assert_eq!(swept_type(&[v("x = 1"), v("x = 2.5")]), ColumnType::Float);
        assert_eq!(swept_type(&[v("x = 'a'")]), ColumnType::Text);
        assert_eq!(swept_type(&[v("x = true")]), ColumnType::Bool);
        assert_eq!(swept_type(&[v("x = 1"), v("x = 'a'")]), ColumnType::Text);
        assert_eq!(swept_type(&[v("x = { a = 1 }")]), ColumnType::Text);
        assert_eq!(swept_cell(&v("x = 3"), ColumnType::Float), Cell::Float(3.0));
        assert_eq!(
            swept_cell(&v("x = 3"), ColumnType::Text),
            Cell::Text("3".into())
        );
    }
}
