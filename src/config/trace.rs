//! `workload.trace`: replay of a recorded request trace (arrival times and
//! lengths, and for some formats what the prompts share).

use super::error::ConfigError;
use super::fields::{choice_names, names, Field, FieldDefault, FieldKind};
use super::reader::Section;
use serde::Serialize;

/// The file format of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    /// Azure LLM inference traces: CSV `TIMESTAMP,ContextTokens,GeneratedTokens`,
    /// timestamps as date-times.
    Azure,
    /// Mooncake traces: JSON lines with `timestamp` (ms), `input_length`,
    /// `output_length` and `hash_ids` (one per 512-token block).
    Mooncake,
    /// BurstGPT: CSV with `Timestamp` (s), `Request tokens`, `Response tokens`.
    Burstgpt,
    /// Plain CSV: `arrival_secs,input_tokens,output_tokens`, optional
    /// `prefix_id` and `session_id`.
    Csv,
}

impl TraceFormat {
    /// Every format with its configuration name.
    pub const ALL: [(&'static str, TraceFormat); 4] = [
        ("azure", TraceFormat::Azure),
        ("mooncake", TraceFormat::Mooncake),
        ("burstgpt", TraceFormat::Burstgpt),
        ("csv", TraceFormat::Csv),
    ];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(n, _)| n)
    }
}

/// A trace to replay and which part of it.
///
/// Trace time starts at the trace's first record. The window
/// `[start_secs, start_secs + duration_secs)` is cut in trace time, so the
/// same requests are replayed whatever `time_scale`; a request at trace time
/// `t` arrives at simulated time `(t - start_secs) / time_scale`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceConfig {
    /// The trace file, as written in the config; the command line resolves a
    /// relative path against the config file's directory.
    pub path: String,
    /// The format; `None` tells it from the file's first line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<TraceFormat>,
    /// Arrival times are divided by this: 2 replays the trace twice as fast.
    pub time_scale: f64,
    /// Start of the window, in trace seconds.
    pub start_secs: f64,
    /// Length of the window, in trace seconds (to the end of the trace when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// Replay at most this many requests (of the window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
    /// Sort the records by time before replaying (reads the whole trace into
    /// memory); without it a record earlier than the one before is an error.
    pub sort: bool,
}

const PATH: Field = Field::new(
    "path",
    FieldKind::Path,
    "the trace file; a relative path is relative to the config file",
);
const FORMAT: Field = Field::new(
    "format",
    FieldKind::Choice(&FORMAT_NAMES),
    "the trace's format",
)
.default(FieldDefault::Derived("told from the file's first line"));
const TIME_SCALE: Field = Field::new(
    "time_scale",
    FieldKind::Positive,
    "arrival times are divided by it: 2 replays the trace twice as fast",
)
.default(FieldDefault::Number(1.0));
const START_SECS: Field = Field::new(
    "start_secs",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "start of the window, in trace seconds from the first record",
)
.default(FieldDefault::Number(0.0))
.unit("s");
const DURATION_SECS: Field = Field::new(
    "duration_secs",
    FieldKind::Positive,
    "length of the window, in trace seconds (to the end of the trace when absent)",
)
.default(FieldDefault::Absent)
.unit("s");
const MAX_REQUESTS: Field = Field::new(
    "max_requests",
    FieldKind::Integer { min: 1 },
    "replay at most this many requests of the window",
)
.default(FieldDefault::Absent)
.unit("requests");
const SORT: Field = Field::new(
    "sort",
    FieldKind::Bool,
    "sort the records by time first (reads the whole trace into memory); without it a record out of time order is an error",
)
.default(FieldDefault::Bool(false));

/// The `workload.trace` fields.
pub const TRACE_FIELDS: &[Field] = &[
    PATH,
    FORMAT,
    TIME_SCALE,
    START_SECS,
    DURATION_SECS,
    MAX_REQUESTS,
    SORT,
];

const FORMAT_NAMES: [&str; TraceFormat::ALL.len()] = choice_names(TraceFormat::ALL);

impl TraceConfig {
    /// Reads and validates the table at `s`.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        s.check_fields(&names(TRACE_FIELDS))?;
        let path = s.text(&PATH)?;
        if path.is_empty() {
            return Err(s.error("path", "expected a file path, got an empty string"));
        }
        let format = match s.raw(FORMAT.name) {
            None => None,
            Some(_) => Some(s.choice(FORMAT.name, &TraceFormat::ALL, None)?),
        };
        Ok(Self {
            path,
            format,
            time_scale: s.positive(&TIME_SCALE)?,
            start_secs: s.non_negative(&START_SECS)?,
            duration_secs: s.opt_positive(&DURATION_SECS)?,
            max_requests: s.opt_int(&MAX_REQUESTS)?,
            sort: s.flag(&SORT)?,
        })
    }

    /// End of the window in trace seconds, if it has one.
    pub fn end_secs(&self) -> Option<f64> {
        self.duration_secs.map(|d| self.start_secs + d)
    }
}
