//! Trace files: the Azure LLM inference traces, the Mooncake traces,
//! BurstGPT and a plain CSV, read line by line into the
//! [`TraceRecord`]s the core replays.
//!
//! The file is streamed: one record is parsed when the replay asks for it,
//! so memory does not grow with the trace. Trace time starts at the first
//! record. A record earlier than the one before is an error, unless
//! `workload.trace.sort` is set, which reads the whole trace into memory
//! and sorts it (stably, so equal times keep their file order).

mod columns;
mod datetime;
mod mooncake;
mod table;

use crate::config::{excerpt, TraceConfig, TraceFormat};
use crate::io::lines::{read_bounded_text_line, trace_read_message, MAX_LINE_BYTES};
use crate::workload::{TraceContent, TraceError, TraceRecord, TraceRecords};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// A point in trace time as the file writes it.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Stamp {
    /// Seconds (BurstGPT, the plain CSV).
    Secs(f64),
    /// Milliseconds (Mooncake).
    Millis(f64),
    /// Nanoseconds since the Unix epoch (Azure date-times).
    Nanos(i64),
}

impl Stamp {
    /// Seconds from `origin` (a stamp of the same file) to this one.
    fn secs_since(self, origin: Stamp) -> f64 {
        match (self, origin) {
            (Stamp::Secs(t), Stamp::Secs(o)) => t - o,
            (Stamp::Millis(t), Stamp::Millis(o)) => (t - o) / 1000.0,
            (Stamp::Nanos(t), Stamp::Nanos(o)) => (t - o) as f64 / 1e9,
            // One file has one kind of stamp.
            _ => 0.0,
        }
    }
}

/// One parsed line, before its time is made relative to the trace's start.
#[derive(Debug, Clone, PartialEq)]
struct RawRecord {
    line: u64,
    stamp: Stamp,
    input_tokens: u32,
    output_tokens: u32,
    content: TraceContent,
}

/// A format's line reader.
trait Parser: Send {
    /// The next record, `None` at the end of the file.
    fn next_raw(&mut self) -> Option<Result<RawRecord, TraceError>>;
    /// The name of the time field, for out-of-order errors.
    fn time_field(&self) -> &'static str;
}

/// Opens the trace at `path` (already resolved against the config's
/// directory) as `cfg` says: tells its format from the first line when
/// `cfg.format` is not set, checks the header, and returns its records.
/// With `cfg.sort` the whole trace is read and sorted here.
pub fn open(path: &Path, cfg: &TraceConfig) -> Result<TraceRecords, TraceError> {
    let file = path.display().to_string();
    let format = match cfg.format {
        Some(f) => f,
        None => detect(path)?,
    };
    let mut parser: Box<dyn Parser> = match format {
        TraceFormat::Mooncake => Box::new(mooncake::MooncakeParser::new(
            open_file(path)?,
            file.clone(),
        )),
        csv_format => Box::new(table::CsvParser::new(
            open_file(path)?,
            file.clone(),
            csv_format,
        )?),
    };
    if !cfg.sort {
        return Ok(Box::new(InOrder {
            parser,
            file,
            origin: None,
            last: None,
            done: false,
        }));
    }
    let mut records = Vec::new();
    while let Some(item) = parser.next_raw() {
        records.push(item?);
    }
    records.sort_by(|a, b| {
        a.stamp
            .partial_cmp(&b.stamp)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let origin = records.first().map(|r| r.stamp);
    Ok(Box::new(records.into_iter().map(move |r| {
        Ok(relative(r, origin.unwrap_or(Stamp::Secs(0.0))))
    })))
}

/// The format of the trace at `path` (from `cfg.format` or its first line),
/// after checking that its header fits: what `validate` checks.
pub fn check(path: &Path, cfg: &TraceConfig) -> Result<TraceFormat, TraceError> {
    let format = match cfg.format {
        Some(f) => f,
        None => detect(path)?,
    };
    if format != TraceFormat::Mooncake {
        table::CsvParser::new(open_file(path)?, path.display().to_string(), format)?;
    }
    Ok(format)
}

fn open_file(path: &Path) -> Result<File, TraceError> {
    File::open(path).map_err(|e| TraceError {
        file: path.display().to_string(),
        line: 0,
        field: String::new(),
        message: format!(
            "cannot open the trace: {e} (workload.trace.path: a relative path is relative to the config file's directory)"
        ),
    })
}

/// Tells the format from the first non-blank line: a JSON object is a
/// Mooncake line; a CSV header is matched against each CSV format's columns.
fn detect(path: &Path) -> Result<TraceFormat, TraceError> {
    let file = path.display().to_string();
    let mut reader = BufReader::new(open_file(path)?);
    let mut text = String::new();
    let mut line = 0;
    loop {
        text.clear();
        line += 1;
        let n = read_bounded_text_line(&mut reader, &mut text, MAX_LINE_BYTES).map_err(|e| {
            TraceError {
                file: file.clone(),
                line,
                field: String::new(),
                message: trace_read_message(&e),
            }
        })?;
        if n == 0 {
            return Err(TraceError {
                file,
                line: 0,
                field: String::new(),
                message: "the trace is empty".into(),
            });
        }
        if !text.trim().is_empty() {
            break;
        }
    }
    let first = text.trim().trim_start_matches('\u{feff}');
    if first.starts_with('{') {
        return Ok(TraceFormat::Mooncake);
    }
    columns::detect(first).ok_or_else(|| TraceError {
        file,
        line,
        field: String::new(),
        message: format!(
            "cannot tell the trace format from its first line '{}': expected {}, or a Mooncake JSON line; set workload.trace.format",
            excerpt(first),
            columns::describe_all()
        ),
    })
}

/// The record with its time in seconds after `origin`.
fn relative(r: RawRecord, origin: Stamp) -> TraceRecord {
    TraceRecord {
        line: r.line,
        arrival_secs: r.stamp.secs_since(origin),
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        content: r.content,
    }
}

/// Records in file order, checked to be in time order.
struct InOrder {
    parser: Box<dyn Parser>,
    file: String,
    origin: Option<Stamp>,
    /// The previous record's stamp and line.
    last: Option<(Stamp, u64)>,
    /// Set after the end or an error: nothing more is read.
    done: bool,
}

impl Iterator for InOrder {
    type Item = Result<TraceRecord, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let raw = match self.parser.next_raw() {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                self.done = true;
                return Some(Err(e));
            }
            None => {
                self.done = true;
                return None;
            }
        };
        if let Some((prev, prev_line)) = self.last {
            if raw.stamp < prev {
                self.done = true;
                return Some(Err(TraceError {
                    file: self.file.clone(),
                    line: raw.line,
                    field: self.parser.time_field().into(),
                    message: format!(
                        "earlier than line {prev_line}: the trace is out of time order (set workload.trace.sort = true to sort it, which holds the whole trace in memory)"
                    ),
                }));
            }
        }
        self.last = Some((raw.stamp, raw.line));
        let origin = *self.origin.get_or_insert(raw.stamp);
        Some(Ok(relative(raw, origin)))
    }
}

/// Token counts: a whole number (a whole float such as `12.0` too), at
/// least 1 (a 0 becomes 1, the least a request can have), at most `u32::MAX`.
fn tokens(text: &str) -> Result<u32, String> {
    let value = text
        .parse::<u64>()
        .ok()
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.9e19)
                .map(|f| f as u64)
        })
        .ok_or_else(|| format!("expected a whole number of tokens, got '{}'", excerpt(text)))?;
    u32::try_from(value.max(1))
        .map_err(|_| format!("{value} tokens is more than the simulator can hold"))
}

/// A time in the file's unit: a finite number.
fn number(text: &str, unit: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| format!("expected a number of {unit}, got '{}'", excerpt(text)))
}

#[cfg(test)]
mod tests;
