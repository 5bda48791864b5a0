//! Typed tables, the neutral data shape that sweeps write, reports read and
//! the console prints: named, typed columns and rows of cells, plus the
//! names of every bookkeeping column and output file ([`schema`]), the
//! seed-folded summary ([`summary`]) and best-point selection ([`best`]).
//!
//! Plain data and pure functions: no I/O, so the browser build can use it too.

pub mod best;
pub mod float;
pub mod schema;
pub mod summary;

use std::fmt;

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

impl Cell {
    /// The cell as a finite number, if it is one (integers widen to floats).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Cell::Float(x) if x.is_finite() => Some(*x),
            Cell::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl fmt::Display for Cell {
    /// The cell as CSV writes it: nulls empty, floats in Rust's shortest
    /// round-trip form and always with a decimal point or exponent, so CSV
    /// readers type a float column as floats even when its values are whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => Ok(()),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => float::write_float(*x, f),
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

impl Column {
    /// A column `name` of type `kind`.
    pub fn new(name: &str, kind: ColumnType) -> Self {
        Self {
            name: name.to_string(),
            kind,
        }
    }
}

/// A typed table, rows in point order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The index of the column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// Runs tables for tests of the modules that read them.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::schema::{ERROR, POINT, RUN_ID, STATUS, STATUS_FAILED, STATUS_OK, SWEEP};
    use super::{Cell, Column, ColumnType, Table};
    use crate::metrics::catalog::key_metrics;

    /// A runs table of the sweep `t` with the swept `keys` and one row per entry of `rows`:
    /// the key cells and, for a finished run, one value per key metric (a
    /// failed run has `None`).
    pub fn runs(keys: &[(&str, ColumnType)], rows: Vec<(Vec<Cell>, Option<Vec<f64>>)>) -> Table {
        let mut columns = vec![
            Column::new(RUN_ID, ColumnType::Text),
            Column::new(SWEEP, ColumnType::Text),
            Column::new(POINT, ColumnType::Int),
        ];
        columns.extend(keys.iter().map(|(name, kind)| Column::new(name, *kind)));
        columns.push(Column::new(STATUS, ColumnType::Text));
        columns.push(Column::new(ERROR, ColumnType::Text));
        columns.extend(key_metrics().map(|m| Column::new(&m.column, ColumnType::Float)));
        let rows = rows
            .into_iter()
            .enumerate()
            .map(|(point, (key_cells, metrics))| {
                let mut row = vec![
                    Cell::Text(format!("id{point}")),
                    Cell::Text("t".into()),
                    Cell::Int(point as i64),
                ];
                row.extend(key_cells);
                let status = if metrics.is_some() {
                    STATUS_OK
                } else {
                    STATUS_FAILED
                };
                row.push(Cell::Text(status.into()));
                row.push(Cell::Null);
                match metrics {
                    Some(values) => row.extend(values.into_iter().map(Cell::Float)),
                    None => row.extend(key_metrics().map(|_| Cell::Null)),
                }
                row
            })
            .collect();
        Table { columns, rows }
    }
}
