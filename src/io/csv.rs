//! Tables as CSV with a header row, written whole or row by row. Floats are written in Rust's shortest
//! round-trip form, so CSV and Parquet hold the same values.

use super::error::{Error, Result};
use super::files::{write_atomic, AtomicFile};
use crate::table::{Cell, Column, Table};
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
    bytes.extend(format_rows(&table.rows)?);
    Ok(bytes)
}

/// The header row of `columns`.
fn header(columns: &[Column]) -> std::result::Result<Vec<u8>, ::csv::Error> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(columns.iter().map(|c| c.name.as_str()))?;
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// `rows` as CSV lines, each cell formatted into one reused buffer.
fn format_rows(rows: &[Vec<Cell>]) -> std::result::Result<Vec<u8>, ::csv::Error> {
    use std::fmt::Write;
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let mut field = String::new();
    for row in rows {
        for cell in row {
            field.clear();
            // Formatting into a String cannot fail.
            let _ = write!(field, "{cell}");
            writer.write_field(&field)?;
        }
        writer.write_record(None::<&[u8]>)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
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
        let chunks = rows
            .par_chunks(ROWS_PER_TASK)
            .map(format_rows)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::write_with(&self.path, e))?;
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
}
