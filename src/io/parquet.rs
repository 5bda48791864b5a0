//! Tables as Parquet files: typed columns (Int64, Float64, Utf8, Boolean),
//! snappy-compressed, written atomically, whole or batch by batch.

use super::error::{Error, Result};
use super::files::AtomicFile;
use crate::table::{Cell, Column, ColumnType, Table};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

/// Rows per Parquet row group: bounds the writer's memory on large tables.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// The writer settings every Parquet file of a sweep uses: snappy, row
/// groups of [`ROW_GROUP_ROWS`], and dictionaries of at most
/// [`DICTIONARY_BYTES`] a column chunk.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_page_size_limit(DICTIONARY_BYTES)
        .set_created_by(format!("inference-lab {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The largest dictionary of a column chunk: a column with few distinct
/// values (policies, token budgets, counts that repeat) keeps its
/// dictionary, one whose values are nearly all distinct (latencies) falls
/// back to plain encoding early, before its encoder holds a row group's
/// values in a hash table. With parquet's 1 MiB default a million-point
/// sweep peaked at 155 MB RSS, with this 128 MB (its `runs.parquet` is
/// some 40% larger; without dictionaries 113 MB and twice the size).
pub const DICTIONARY_BYTES: usize = 64 * 1024;

/// The Arrow form of `table`.
pub fn to_record_batch(
    table: &Table,
) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
    record_batch(&table.columns, &table.rows)
}

/// The Arrow schema of a table with `columns` (every column nullable).
pub fn schema_of(columns: &[Column]) -> Arc<Schema> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, data_type(c.kind), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The Arrow form of `rows` (one cell per column of `columns`).
pub fn record_batch(
    columns: &[Column],
    rows: &[Vec<Cell>],
) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| column_array(rows, i, c.kind))
        .collect();
    RecordBatch::try_new(schema_of(columns), arrays)
}

/// A Parquet file written batch by batch as a table grows (one row group
/// per [`ROW_GROUP_ROWS`] rows), atomically: the file appears whole at
/// [`finish`](Self::finish) or not at all.
pub struct ParquetSink {
    columns: Vec<Column>,
    writer: ArrowWriter<AtomicFile>,
    path: std::path::PathBuf,
}

impl ParquetSink {
    /// Starts the file `path` of a table with `columns`.
    pub fn create(columns: &[Column], path: &Path) -> Result<Self> {
        let file = AtomicFile::create(path).map_err(|e| Error::write(path, e))?;
        let writer = ArrowWriter::try_new(file, schema_of(columns), Some(writer_properties()))
            .map_err(|e| Error::write_with(path, e))?;
        Ok(Self {
            columns: columns.to_vec(),
            writer,
            path: path.to_path_buf(),
        })
    }

    /// Appends `rows`.
    pub fn write(&mut self, rows: &[Vec<Cell>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let batch =
            record_batch(&self.columns, rows).map_err(|e| Error::write_with(&self.path, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| Error::write_with(&self.path, e))
    }

    /// Writes the footer and gives the file its name.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        self.writer
            .into_inner()
            .map_err(|e| Error::write_with(&path, e))?
            .commit()
            .map_err(|e| Error::write(&path, e))
    }
}

/// Writes `table` to `path` as Parquet, atomically.
pub fn write(table: &Table, path: &Path) -> Result<()> {
    let mut sink = ParquetSink::create(&table.columns, path)?;
    sink.write(&table.rows)?;
    sink.finish()
}

/// Reads a Parquet file written by [`write()`] (or any file whose columns are
/// Int64, Float64, Utf8 or Boolean) back into a [`Table`].
pub fn read(path: &Path) -> Result<Table> {
    let failed = |e: &dyn std::fmt::Display| Error::read_with(path, e);
    let file = std::fs::File::open(path).map_err(|e| Error::read("", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(&e))?;
    let mut columns = Vec::new();
    for field in builder.schema().fields() {
        let kind = match field.data_type() {
            DataType::Int64 => ColumnType::Int,
            DataType::Float64 => ColumnType::Float,
            DataType::Utf8 => ColumnType::Text,
            DataType::Boolean => ColumnType::Bool,
            other => {
                return Err(Error::invalid(format!(
                    "'{}': column '{}' has type {other}; expected Int64, Float64, Utf8 or Boolean",
                    path.display(),
                    field.name()
                )))
            }
        };
        columns.push(Column {
            name: field.name().clone(),
            kind,
        });
    }
    let mut rows = Vec::new();
    for batch in builder.build().map_err(|e| failed(&e))? {
        let batch = batch.map_err(|e| failed(&e))?;
        let start = rows.len();
        rows.resize(start + batch.num_rows(), Vec::with_capacity(columns.len()));
        for (array, column) in batch.columns().iter().zip(&columns) {
            for (i, row) in rows[start..].iter_mut().enumerate() {
                row.push(cell(array.as_ref(), i, column.kind));
            }
        }
    }
    Ok(Table { columns, rows })
}

/// Cell `i` of an Arrow array of the column type `kind`.
fn cell(array: &dyn Array, i: usize, kind: ColumnType) -> Cell {
    if array.is_null(i) {
        return Cell::Null;
    }
    let any = array.as_any();
    let value = match kind {
        ColumnType::Int => any
            .downcast_ref::<Int64Array>()
            .map(|a| Cell::Int(a.value(i))),
        ColumnType::Float => any
            .downcast_ref::<Float64Array>()
            .map(|a| Cell::Float(a.value(i))),
        ColumnType::Text => any
            .downcast_ref::<StringArray>()
            .map(|a| Cell::Text(a.value(i).to_string())),
        ColumnType::Bool => any
            .downcast_ref::<BooleanArray>()
            .map(|a| Cell::Bool(a.value(i))),
    };
    value.unwrap_or(Cell::Null)
}

fn data_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Text => DataType::Utf8,
        ColumnType::Bool => DataType::Boolean,
    }
}

fn column_array(rows: &[Vec<Cell>], i: usize, kind: ColumnType) -> ArrayRef {
    let cells = rows.iter().map(|r| &r[i]);
    match kind {
        ColumnType::Int => Arc::new(Int64Array::from_iter(cells.map(|c| match c {
            Cell::Int(v) => Some(*v),
            _ => None,
        }))),
        ColumnType::Float => Arc::new(Float64Array::from_iter(cells.map(|c| match c {
            Cell::Float(v) => Some(*v),
            Cell::Int(v) => Some(*v as f64),
            _ => None,
        }))),
        ColumnType::Bool => Arc::new(BooleanArray::from_iter(cells.map(|c| match c {
            Cell::Bool(v) => Some(*v),
            _ => None,
        }))),
        ColumnType::Text => Arc::new(StringArray::from_iter(cells.map(|c| match c {
            Cell::Text(v) => Some(v.as_str()),
            _ => None,
        }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_table_reads_back_equal() {
        let col = Column::new;
        let table = Table {
            columns: vec![
                col("scheduler.policy", ColumnType::Text),
                col("n", ColumnType::Int),
                col("x", ColumnType::Float),
                col("b", ColumnType::Bool),
            ],
            rows: vec![
                vec![
                    Cell::Text("fcfs".into()),
                    Cell::Int(3),
                    Cell::Float(0.1),
                    Cell::Bool(true),
                ],
                vec![Cell::Null, Cell::Null, Cell::Null, Cell::Null],
            ],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&table, &path).unwrap();
        assert_eq!(read(&path).unwrap(), table);
        let missing = read(&dir.path().join("none.parquet")).unwrap_err();
        assert!(missing.to_string().contains("none.parquet"), "{missing}");
    }
}
