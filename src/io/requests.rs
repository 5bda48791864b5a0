//! Per-request tables (`--per-request`): each run writes its own
//! `runs/<run_id>.requests.parquet` as it finishes, and the sweep streams them,
//! in point order, into one `requests.parquet` one row group at a time, so
//! memory never holds more than one run's requests. The columns are
//! `run_id` and then [`REQUEST_COLUMNS`], one per field of the request record.

use super::error::{Error, Result};
use super::files::{write_atomic_unsynced, AtomicFile};
use super::parquet::writer_properties;
use crate::metrics::catalog::{RecordField, REQUEST_COLUMNS};
use crate::metrics::RequestRecord;
use crate::table::schema::RUN_ID;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

/// The columns of `requests.parquet`.
pub fn schema() -> SchemaRef {
    let mut fields = vec![Field::new(RUN_ID, DataType::Utf8, false)];
    fields.extend(REQUEST_COLUMNS.iter().map(|(name, field)| {
        let kind = match field {
            RecordField::Int(_) => DataType::Int64,
            RecordField::Float(_) => DataType::Float64,
        };
        Field::new(*name, kind, false)
    }));
    Arc::new(Schema::new(fields))
}

/// One run's request records as a record batch.
pub fn to_record_batch(
    run_id: &str,
    records: &[RequestRecord],
) -> std::result::Result<RecordBatch, ArrowError> {
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
        std::iter::repeat_n(run_id, records.len()),
    ))];
    columns.extend(REQUEST_COLUMNS.iter().map(|(_, field)| -> ArrayRef {
        match *field {
            RecordField::Int(f) => Arc::new(Int64Array::from_iter_values(records.iter().map(f))),
            RecordField::Float(f) => {
                Arc::new(Float64Array::from_iter_values(records.iter().map(f)))
            }
        }
    }));
    RecordBatch::try_new(schema(), columns)
}

/// Writes one run's requests to `path`, atomically.
pub fn write_run(path: &Path, run_id: &str, records: &[RequestRecord]) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| Error::write_with(path, e);
    let batch = to_record_batch(run_id, records).map_err(|e| failed(&e))?;
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema(), Some(writer_properties()))
        .map_err(|e| failed(&e))?;
    writer.write(&batch).map_err(|e| failed(&e))?;
    writer.close().map_err(|e| failed(&e))?;
    write_atomic_unsynced(path, &bytes).map_err(|e| Error::write(path, e))
}

/// Whether `path` is a whole Parquet file: it exists and its footer (the
/// last thing written) reads, so a file cut short by a crash or a full disk
/// is told from a finished one.
pub fn is_complete(path: &Path) -> bool {
    std::fs::File::open(path)
        .is_ok_and(|file| ParquetRecordBatchReaderBuilder::try_new(file).is_ok())
}

/// Streams the per-run files `parts`, in order, into one Parquet file at
/// `out`; returns the number of rows.
pub fn concatenate<'a>(parts: impl IntoIterator<Item = &'a Path>, out: &Path) -> Result<u64> {
    let mut sink = RequestsSink::create(out)?;
    for part in parts {
        sink.append(part)?;
    }
    sink.finish()
}

/// The per-request table of a sweep, written run file by run file as the
/// sweep goes (atomically: whole at [`finish`](Self::finish) or not at all).
pub struct RequestsSink {
    writer: ArrowWriter<AtomicFile>,
    path: std::path::PathBuf,
    rows: u64,
}

impl RequestsSink {
    /// Starts the file `out`.
    pub fn create(out: &Path) -> Result<Self> {
        let file = AtomicFile::create(out).map_err(|e| Error::write(out, e))?;
        let writer = ArrowWriter::try_new(file, schema(), Some(writer_properties()))
            .map_err(|e| Error::write_with(out, e))?;
        Ok(Self {
            writer,
            path: out.to_path_buf(),
            rows: 0,
        })
    }

    /// Appends the rows of the per-run file `part`.
    pub fn append(&mut self, part: &Path) -> Result<()> {
        let unreadable = |e: &dyn std::fmt::Display| Error::read_with(part, e);
        let file = std::fs::File::open(part).map_err(|e| Error::read("", part, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| unreadable(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| unreadable(&e))?;
            self.rows += batch.num_rows() as u64;
            self.writer
                .write(&batch)
                .map_err(|e| Error::write_with(&self.path, e))?;
        }
        Ok(())
    }

    /// Writes the footer and gives the file its name; returns the row count.
    pub fn finish(self) -> Result<u64> {
        let path = self.path;
        self.writer
            .into_inner()
            .map_err(|e| Error::write_with(&path, e))?
            .commit()
            .map_err(|e| Error::write(&path, e))?;
        Ok(self.rows)
    }
}
