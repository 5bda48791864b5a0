//! `runs.parquet`: the runs table as one Arrow record batch in a Parquet
//! file, typed columns (Int64, Float64, Utf8, Boolean), snappy-compressed.

use crate::report::files::AtomicFile;
use crate::sweep::table::{Cell, ColumnType, Table};
use anyhow::{Context, Result};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

/// Rows per Parquet row group: bounds the writer's memory on large tables.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// The writer settings every Parquet file of a sweep uses.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("inference-lab {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The Arrow form of `table`.
pub fn to_record_batch(table: &Table) -> Result<RecordBatch> {
    let fields: Vec<Field> = table
        .columns
        .iter()
        .map(|c| Field::new(&c.name, data_type(c.kind), true))
        .collect();
    let arrays: Vec<ArrayRef> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| column_array(table, i, c.kind))
        .collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// Writes `table` to `path` as Parquet, atomically.
pub fn write(table: &Table, path: &Path) -> Result<()> {
    let context = || format!("cannot write '{}'", path.display());
    let batch = to_record_batch(table)?;
    let file = AtomicFile::create(path).with_context(context)?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties()))?;
    writer.write(&batch).with_context(context)?;
    writer
        .into_inner()
        .with_context(context)?
        .commit()
        .with_context(context)
}

fn data_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Text => DataType::Utf8,
        ColumnType::Bool => DataType::Boolean,
    }
}

fn column_array(table: &Table, i: usize, kind: ColumnType) -> ArrayRef {
    let cells = table.rows.iter().map(|r| &r[i]);
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
