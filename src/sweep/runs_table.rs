//! The runs table: one typed row per run (a grid point's run, or each probe
//! of a search), with the point's swept values and the run's metrics. The
//! metric columns come from the metric catalog (derived from the run
//! result), so Parquet, CSV and the JSON files never disagree.

use super::plan::{Plan, Point};
use super::run_id::RunId;
use super::search::spec::{Bounds, Load};
use crate::metrics::catalog::metric_cells;
use crate::table::schema::{
    ERROR, OVERLOAD, POINT, PROBE, RUN_ID, STATUS, STATUS_FAILED, STATUS_OK, SWEEP, WALL_SECONDS,
};

/// Key of a run's JSON that says why the overload detector stopped it.
pub const OVERLOAD_KEY: &str = "overload";
use crate::table::{Cell, Column, ColumnType, Table};
use serde_json::Value as Json;
use toml::Value;

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

/// The column type of each of `plan`'s swept keys, in key order, from the
/// values the manifest lists for it.
pub fn swept_types(plan: &Plan) -> Vec<ColumnType> {
    plan.manifest
        .dimensions
        .iter()
        .flat_map(|d| (0..d.keys.len()).map(move |k| swept_type(d.rows.iter().map(|r| &r[k]))))
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
        /// Why the overload detector stopped the run early (a search's
        /// probe), if it did; the metrics then cover what finished.
        overload: Option<String>,
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
    /// cell per column of `template` (null where the result has none).
    pub fn finished(result: &Json, template: &[Column]) -> Self {
        let cells = metric_cells(result);
        let metrics = template
            .iter()
            .map(|col| stored(&cells, col).unwrap_or(Cell::Null))
            .collect();
        Self::from_result(result, metrics)
    }

    /// [`finished`](Self::finished) for a result that holds every metric
    /// column of `template` (a number, or null where nothing completed);
    /// `None` for a torn or edited file, which resume redoes.
    pub fn finished_complete(result: &Json, template: &[Column]) -> Option<Self> {
        let cells = metric_cells(result);
        let metrics = template
            .iter()
            .map(|col| stored(&cells, col))
            .collect::<Option<Vec<Cell>>>()?;
        Some(Self::from_result(result, metrics))
    }

    fn from_result(result: &Json, metrics: Vec<Cell>) -> Self {
        Self::Finished {
            wall_seconds: result
                .pointer("/simulation/wall_seconds")
                .and_then(Json::as_f64),
            metrics,
            overload: result
                .get(OVERLOAD_KEY)
                .and_then(Json::as_str)
                .map(str::to_string),
        }
    }

    /// Whether the run failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// One run of a point, as its row of the runs table needs it.
#[derive(Debug, Clone)]
pub struct RunRow<'a> {
    /// The point the run belongs to.
    pub point: &'a Point,
    /// Which probe of the point's search it is (`None` for a grid point's run).
    pub probe: Option<u32>,
    /// The searched key's value of a probe.
    pub load: Option<Load>,
    /// The run's id.
    pub run_id: RunId,
    /// What became of it.
    pub outcome: Outcome,
    /// Its per-request Parquet file, for finished runs with `--per-request`.
    pub requests: Option<std::path::PathBuf>,
}

/// The column type of a searched key's values.
pub fn load_type(bounds: Bounds) -> ColumnType {
    match bounds {
        Bounds::Int { .. } => ColumnType::Int,
        Bounds::Float { .. } => ColumnType::Float,
    }
}

/// The runs table of `rows` (in point order, a point's probes in probe
/// order). `metric_template` fixes the metric columns (see
/// [`metric_columns`](crate::metrics::catalog::metric_columns)). A capacity
/// search's table also has the searched key (after the swept keys: each
/// probe's load) and `overload` (after `error`: why the overload detector
/// stopped the probe).
pub fn runs_table<'r, 'p: 'r>(
    plan: &Plan,
    metric_template: &[Column],
    rows: impl IntoIterator<Item = &'r RunRow<'p>>,
) -> Table {
    let swept = swept_types(plan);
    let search = plan.strategy.search();
    let mut columns = vec![
        Column::new(RUN_ID, ColumnType::Text),
        Column::new(SWEEP, ColumnType::Text),
        Column::new(POINT, ColumnType::Int),
        Column::new(PROBE, ColumnType::Int),
    ];
    columns.extend(
        plan.keys()
            .iter()
            .zip(&swept)
            .map(|(k, kind)| Column::new(k, *kind)),
    );
    if let Some(spec) = search {
        columns.push(Column::new(&spec.over, load_type(spec.bounds)));
    }
    columns.push(Column::new(STATUS, ColumnType::Text));
    columns.push(Column::new(ERROR, ColumnType::Text));
    if search.is_some() {
        columns.push(Column::new(OVERLOAD, ColumnType::Text));
    }
    columns.push(Column::new(WALL_SECONDS, ColumnType::Float));
    columns.extend(metric_template.iter().cloned());
    let table_rows = rows
        .into_iter()
        .map(|r| {
            let mut row = vec![
                Cell::Text(r.run_id.to_string()),
                Cell::Text(plan.manifest.name.clone()),
                Cell::Int(r.point.index as i64),
                r.probe.map_or(Cell::Null, |p| Cell::Int(i64::from(p))),
            ];
            row.extend(
                r.point
                    .values
                    .iter()
                    .zip(&swept)
                    .map(|(v, kind)| swept_cell(v, *kind)),
            );
            if search.is_some() {
                row.push(r.load.map_or(Cell::Null, Load::to_cell));
            }
            let (status, error, overload, wall, metrics) = match &r.outcome {
                Outcome::Finished {
                    wall_seconds,
                    metrics,
                    overload,
                } => (
                    STATUS_OK,
                    Cell::Null,
                    overload.clone().map_or(Cell::Null, Cell::Text),
                    wall_seconds,
                    metrics.clone(),
                ),
                Outcome::Failed {
                    error,
                    wall_seconds,
                } => (
                    STATUS_FAILED,
                    Cell::Text(error.clone()),
                    Cell::Null,
                    wall_seconds,
                    vec![Cell::Null; metric_template.len()],
                ),
            };
            row.extend([Cell::Text(status.into()), error]);
            if search.is_some() {
                row.push(overload);
            }
            row.push(wall.map_or(Cell::Null, Cell::Float));
            row.extend(metrics);
            row
        })
        .collect();
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

/// The cell of column `col` among a result's metric cells, in the column's type.
fn stored(cells: &[(String, Cell)], col: &Column) -> Option<Cell> {
    cells
        .iter()
        .find(|(name, _)| *name == col.name)
        .map(|(_, c)| conform(c, col.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

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
