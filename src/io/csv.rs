//! Tables as CSV with a header row, written whole or row by row. Floats are written in Rust's shortest
//! round-trip form, so CSV and Parquet hold the same values.

use super::error::{Error, Result};
use super::files::{write_atomic, AtomicFile};
use crate::table::{float, Cell, Column, Table};
use rayon::prelude::*;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Rows formatted per rayon task when a sink appends many: formatting the
/// cells is most of the cost of a table, so a window of a large sweep is
/// formatted on every thread of the pool it runs in.
const ROWS_PER_TASK: usize = 256;

/// Renders `table` as CSV text; empty fields are nulls.
pub fn to_csv(table: &Table) -> std::result::Result<Vec<u8>, ::csv::Error> {
    let mut bytes = header(&table.columns)?;
    bytes.extend(format_rows(&table.rows));
    Ok(bytes)
}

/// The header row of `columns`.
fn header(columns: &[Column]) -> std::result::Result<Vec<u8>, ::csv::Error> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(columns.iter().map(|c| c.name.as_str()))?;
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// `rows` as CSV lines, each cell written straight into the bytes: what
/// the csv crate writes with its default settings (fields quoted only when
/// they hold a comma, a quote or a line break, or when a record's only field
/// is empty), without formatting each cell into a buffer first.
fn format_rows(rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.iter().map(|r| r.len() * 12).sum());
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_cell(&mut out, cell, row.len() == 1);
        }
        out.push(b'\n');
    }
    out
}

/// Appends `cell` as a CSV field; `only` when it is its record's only field.
fn write_cell(out: &mut Vec<u8>, cell: &Cell, only: bool) {
    match cell {
        Cell::Null if only => out.extend_from_slice(b"\"\""),
        Cell::Null => {}
        Cell::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Cell::Float(x) => {
            // Writing into bytes cannot fail.
            let _ = float::write_float(*x, &mut Utf8Sink(out));
        }
        Cell::Text(s) if s.is_empty() && only => out.extend_from_slice(b"\"\""),
        Cell::Text(s) if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) => {
            out.push(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        Cell::Text(s) => out.extend_from_slice(s.as_bytes()),
        Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

/// Text written onto the end of a byte buffer.
struct Utf8Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes `table` to `path` as CSV, atomically.
pub fn write(table: &Table, path: &Path) -> Result<()> {
    let bytes = to_csv(table).map_err(|e| Error::write_with(path, e))?;
    write_atomic(path, &bytes).map_err(|e| Error::write(path, e))
}

/// A CSV file written row by row as a table grows, atomically: the file
/// appears whole at [`finish`](Self::finish) or not at all.
pub struct CsvSink {
    file: BufWriter<AtomicFile>,
    path: PathBuf,
}

impl CsvSink {
    /// Starts the file `path` with the header of `columns`.
    pub fn create(columns: &[Column], path: &Path) -> Result<Self> {
        let file = AtomicFile::create(path).map_err(|e| Error::write(path, e))?;
        let mut file = BufWriter::with_capacity(1 << 16, file);
        let header = header(columns).map_err(|e| Error::write_with(path, e))?;
        file.write_all(&header).map_err(|e| Error::write(path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends `rows`, formatted in parallel chunks (on the rayon pool the
    /// caller runs in) and written in order.
    pub fn write(&mut self, rows: &[Vec<Cell>]) -> Result<()> {
        let chunks: Vec<Vec<u8>> = rows.par_chunks(ROWS_PER_TASK).map(format_rows).collect();
        for chunk in chunks {
            self.file
                .write_all(&chunk)
                .map_err(|e| Error::write(&self.path, e))?;
        }
        Ok(())
    }

    /// Flushes the file to disk and gives it its name.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        let file = self
            .file
            .into_inner()
            .map_err(|e| Error::write(&path, e.into_error()))?;
        file.commit().map_err(|e| Error::write(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, ColumnType};

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

    /// What the csv crate writes for `rows`, each cell formatted by Display.
    fn with_the_csv_crate(rows: &[Vec<Cell>]) -> Vec<u8> {
        let mut writer = ::csv::Writer::from_writer(Vec::new());
        for row in rows {
            writer
                .write_record(row.iter().map(|c| c.to_string()))
                .unwrap();
        }
        writer.into_inner().unwrap()
    }

    fn any_cell() -> impl Strategy<Value = Cell> {
        prop_oneof![
            Just(Cell::Null),
            any::<i64>().prop_map(Cell::Int),
            any::<f64>().prop_map(Cell::Float),
            "[a-z ,\"\r\n#'.-]{0,6}".prop_map(Cell::Text),
            any::<bool>().prop_map(Cell::Bool),
        ]
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rows_are_written_as_the_csv_crate_writes_them(
            rows in (1..5usize).prop_flat_map(|width| {
                prop::collection::vec(prop::collection::vec(any_cell(), width), 1..6)
            })
        ) {
            prop_assert_eq!(
                String::from_utf8(format_rows(&rows)).unwrap(),
                String::from_utf8(with_the_csv_crate(&rows)).unwrap()
            );
        }
    }
}
