//! Per-request rows (`--per-request`): each run writes its own
//! `runs/<run_id>.requests.parquet` as it finishes, and the sweep streams them,
//! in point order, into one `requests.parquet` one row group at a time, so
//! memory never holds more than one run's requests.

use super::parquet_table::writer_properties;
use crate::metrics::RequestRecord;
use crate::report::files::{write_atomic_unsynced, AtomicFile};
use anyhow::{Context, Result};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

/// The columns of `requests.parquet`.
pub fn schema() -> SchemaRef {
    let float = |name: &str| Field::new(name, DataType::Float64, false);
    let int = |name: &str| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        int("request_id"),
        float("arrival_secs"),
        float("first_token_secs"),
        float("finish_secs"),
        int("input_tokens"),
        int("output_tokens"),
        int("preemptions"),
        int("cached_tokens"),
    ]))
}

/// One run's request records as a record batch.
pub fn to_record_batch(run_id: &str, records: &[RequestRecord]) -> Result<RecordBatch> {
    let floats = |f: fn(&RequestRecord) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(records.iter().map(f)))
    };
    let ints = |f: fn(&RequestRecord) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(records.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            run_id,
            records.len(),
        ))),
        ints(|r| r.request_id.0 as i64),
        floats(|r| r.arrival_secs),
        floats(|r| r.first_token_secs),
        floats(|r| r.finish_secs),
        ints(|r| i64::from(r.input_tokens)),
        ints(|r| i64::from(r.output_tokens)),
        ints(|r| i64::from(r.preemptions)),
        ints(|r| i64::from(r.cached_tokens)),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// Writes one run's requests to `path`, atomically.
pub fn write_run(path: &Path, run_id: &str, records: &[RequestRecord]) -> Result<()> {
    let batch = to_record_batch(run_id, records)?;
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema(), Some(writer_properties()))?;
    writer.write(&batch)?;
    writer.close()?;
    write_atomic_unsynced(path, &bytes)
        .with_context(|| format!("cannot write '{}'", path.display()))
}

/// Streams the per-run files `parts`, in order, into one Parquet file at `out`.
pub fn concatenate<'a>(parts: impl IntoIterator<Item = &'a Path>, out: &Path) -> Result<u64> {
    let file =
        AtomicFile::create(out).with_context(|| format!("cannot write '{}'", out.display()))?;
    let mut writer = ArrowWriter::try_new(file, schema(), Some(writer_properties()))?;
    let mut rows = 0;
    for part in parts {
        let context = || format!("cannot read '{}'", part.display());
        let reader = ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(part).with_context(context)?,
        )
        .with_context(context)?
        .build()
        .with_context(context)?;
        for batch in reader {
            let batch = batch.with_context(context)?;
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
    }
    writer
        .into_inner()?
        .commit()
        .with_context(|| format!("cannot write '{}'", out.display()))?;
    Ok(rows)
}
