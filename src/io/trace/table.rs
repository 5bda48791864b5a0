//! The CSV trace formats (Azure, BurstGPT, plain), read record by record,
//! each record at most [`MAX_LINE_BYTES`] long.

use super::columns::{Layout, PREFIX_ID, SESSION_ID};
use super::{datetime, number, tokens, Parser, RawRecord, Stamp};
use crate::config::{excerpt, with_hint, TraceFormat};
use crate::engine::kv_cache::chain_hash;
use crate::io::lines::{LineError, MAX_LINE_BYTES};
use crate::workload::{TraceContent, TraceError};
use csv::{ByteRecord, Reader, ReaderBuilder, Trim};
use std::fs::File;
use std::io::{self, Read};

/// Salt of content keys made from `prefix_id` / `session_id` text.
const KEY_SALT: u64 = 0xC5F_0000_0000_0005;

/// The trace file as the CSV reader reads it: no read goes past `limit`,
/// the start of the record being read plus [`MAX_LINE_BYTES`] and its
/// newline. The CSV reader asks for more input only once it has used every
/// byte it holds for the record it reads, so a read at the limit means the
/// record is longer than that: it fails with [`RecordTooLong`] instead of
/// growing the record without end (a file without newlines, `/dev/zero`).
struct BoundedInput {
    file: File,
    /// Bytes read so far.
    offset: u64,
    /// The offset no read may pass.
    limit: u64,
}

impl BoundedInput {
    fn new(file: File) -> Self {
        let mut input = Self {
            file,
            offset: 0,
            limit: 0,
        };
        input.record_starts_at(0);
        input
    }

    /// The next record starts at byte `start`.
    fn record_starts_at(&mut self, start: u64) {
        self.limit = start.saturating_add(MAX_LINE_BYTES as u64 + 1);
    }
}

/// The payload of the I/O error of a record past the limit.
#[derive(Debug)]
struct RecordTooLong;

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        LineError::TooLong(MAX_LINE_BYTES).fmt(f)
    }
}

impl std::error::Error for RecordTooLong {}

impl Read for BoundedInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.offset);
        if room == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong));
        }
        let len = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..len])?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// A CSV reader's error as a trace message: a record past the limit says
/// so, and a row of the wrong width counts its fields.
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<RecordTooLong>()) =>
        {
            RecordTooLong.to_string()
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, but the header has {expected_len}"),
        _ => e.to_string(),
    }
}

/// Where each needed column is.
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: usize,
    input: usize,
    output: usize,
    /// `prefix_id`, else `session_id` (the plain format).
    key: [Option<usize>; 2],
}

/// Reads one CSV format.
pub(super) struct CsvParser {
    reader: Reader<BoundedInput>,
    record: ByteRecord,
    layout: &'static Layout,
    columns: Columns,
    file: String,
}

impl CsvParser {
    /// Reads the header of `input` and finds `format`'s columns in it.
    pub fn new(input: File, file: String, format: TraceFormat) -> Result<Self, TraceError> {
        let layout = Layout::of(format).ok_or_else(|| TraceError {
            file: file.clone(),
            line: 0,
            field: String::new(),
            message: format!("{} is not a CSV format", format.name()),
        })?;
        let mut reader = ReaderBuilder::new()
            .trim(Trim::All)
            .buffer_capacity(1 << 16)
            .from_reader(BoundedInput::new(input));
        let header_error = |message: String, field: &str| TraceError {
            file: file.clone(),
            line: 1,
            field: field.into(),
            message,
        };
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| header_error(format!("cannot read the header: {}", csv_message(&e)), ""))?
            .iter()
            .map(|n| n.trim_start_matches('\u{feff}').to_string())
            .collect();
        let find = |name: &str| names.iter().position(|n| n == name);
        let required = |name: &'static str| {
            find(name).ok_or_else(|| {
                header_error(
                    format!(
                        "no such column in the header (the {} format has the columns {})",
                        layout.format.name(),
                        layout.required().join(",")
                    ),
                    name,
                )
            })
        };
        let columns = Columns {
            time: required(layout.time)?,
            input: required(layout.input)?,
            output: required(layout.output)?,
            key: if layout.optional.is_empty() {
                [None, None]
            } else {
                [find(PREFIX_ID), find(SESSION_ID)]
            },
        };
        if layout.strict {
            let known: Vec<&str> = layout
                .required()
                .into_iter()
                .chain(layout.optional.iter().copied())
                .collect();
            if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
                return Err(header_error(
                    with_hint(
                        format!("unknown column (expected {})", known.join(", ")),
                        unknown,
                        &known,
                    ),
                    &excerpt(unknown),
                ));
            }
        }
        Ok(Self {
            reader,
            record: ByteRecord::new(),
            layout,
            columns,
            file,
        })
    }

    fn error(&self, field: &str, message: String) -> TraceError {
        TraceError {
            file: self.file.clone(),
            line: self.record.position().map_or(0, |p| p.line()),
            field: field.into(),
            message,
        }
    }

    /// Column `i` of the current record as text.
    fn cell(&self, i: usize, field: &str) -> Result<&str, TraceError> {
        let bytes = self.record.get(i).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| self.error(field, "not UTF-8 text".into()))
    }

    fn parse(&self) -> Result<RawRecord, TraceError> {
        let l = self.layout;
        let c = self.columns;
        let time = self.cell(c.time, l.time)?;
        let stamp = match l.format {
            TraceFormat::Azure => {
                datetime::parse_nanos(time)
                    .map(Stamp::Nanos)
                    .ok_or_else(|| {
                        self.error(
                            l.time,
                            format!(
                            "expected a date-time such as 2023-11-16 18:15:46.6805900, got '{}'",
                            excerpt(time)
                        ),
                        )
                    })?
            }
            _ => Stamp::Secs(number(time, "seconds").map_err(|m| self.error(l.time, m))?),
        };
        let input_tokens =
            tokens(self.cell(c.input, l.input)?).map_err(|m| self.error(l.input, m))?;
        let output_tokens =
            tokens(self.cell(c.output, l.output)?).map_err(|m| self.error(l.output, m))?;
        let mut content = TraceContent::Unique;
        for (kind, (column, name)) in c.key.iter().zip([PREFIX_ID, SESSION_ID]).enumerate() {
            if let Some(i) = column {
                let key = self.cell(*i, name)?;
                if !key.is_empty() {
                    // A prefix_id and a session_id of the same text are different content.
                    let salt = chain_hash(KEY_SALT, kind as u64);
                    let k = key.bytes().fold(salt, |h, b| chain_hash(h, u64::from(b)));
                    content = TraceContent::Stream(k);
                    break;
                }
            }
        }
        Ok(RawRecord {
            line: self.record.position().map_or(0, |p| p.line()),
            stamp,
            input_tokens,
            output_tokens,
            content,
        })
    }
}

impl Parser for CsvParser {
    fn next_raw(&mut self) -> Option<Result<RawRecord, TraceError>> {
        let start = self.reader.position().clone();
        self.reader.get_mut().record_starts_at(start.byte());
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => Some(self.parse()),
            Err(e) => Some(Err(TraceError {
                file: self.file.clone(),
                // An I/O error has no position: it is in the record that starts here.
                line: e.position().unwrap_or(&start).line(),
                field: String::new(),
                message: csv_message(&e),
            })),
        }
    }

    fn time_field(&self) -> &'static str {
        self.layout.time
    }
}
