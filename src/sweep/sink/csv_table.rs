//! `runs.csv`: the runs table as CSV with a header row. Floats are written in
//! Rust's shortest round-trip form, so CSV and Parquet hold the same values.

use crate::report::files::write_atomic;
use crate::sweep::table::{Cell, Table};
use anyhow::{Context, Result};
use std::path::Path;

/// Renders `table` as CSV text; empty fields are nulls.
pub fn to_csv(table: &Table) -> Result<Vec<u8>> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(table.columns.iter().map(|c| c.name.as_str()))?;
    for row in &table.rows {
        writer.write_record(row.iter().map(Cell::to_string))?;
    }
    Ok(writer.into_inner()?)
}

/// Writes `table` to `path` as CSV, atomically.
pub fn write(table: &Table, path: &Path) -> Result<()> {
    write_atomic(path, &to_csv(table)?)
        .with_context(|| format!("cannot write '{}'", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::table::{Column, ColumnType};

    #[test]
    fn renders_header_values_and_nulls() {
        let table = Table {
            columns: vec![
                Column {
                    name: "scheduler.policy".into(),
                    kind: ColumnType::Text,
                },
                Column {
                    name: "ttft_ms_p50".into(),
                    kind: ColumnType::Float,
                },
                Column {
                    name: "n".into(),
                    kind: ColumnType::Int,
                },
            ],
            rows: vec![
                vec![Cell::Text("fcfs".into()), Cell::Float(0.1), Cell::Int(3)],
                vec![Cell::Text("a, b".into()), Cell::Null, Cell::Int(-1)],
            ],
        };
        let text = String::from_utf8(to_csv(&table).unwrap()).unwrap();
        assert_eq!(
            text,
            "scheduler.policy,ttft_ms_p50,n\nfcfs,0.1,3\n\"a, b\",,-1\n"
        );
    }
}
