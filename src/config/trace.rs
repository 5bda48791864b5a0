//! `workload.trace`: replay of a recorded request trace (arrival times and
//! lengths, and for some formats what the prompts share).

use super::error::ConfigError;
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

impl TraceConfig {
    const FIELDS: &'static [&'static str] = &[
        "path",
        "format",
        "time_scale",
        "start_secs",
        "duration_secs",
        "max_requests",
        "sort",
    ];

    /// Reads and validates the table at `s`.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        s.check_fields(Self::FIELDS)?;
        let path: String = s.req("path")?;
        if path.is_empty() {
            return Err(s.error("path", "expected a file path, got an empty string"));
        }
        let format = match s.raw("format") {
            None => None,
            Some(_) => Some(s.choice("format", &TraceFormat::ALL, None)?),
        };
        Ok(Self {
            path,
            format,
            time_scale: s.opt_positive_float("time_scale")?.unwrap_or(1.0),
            start_secs: s.non_negative_float("start_secs", Some(0.0))?,
            duration_secs: s.opt_positive_float("duration_secs")?,
            max_requests: s.opt_int_at_least("max_requests", 1)?,
            sort: s.opt("sort")?.unwrap_or(false),
        })
    }

    /// End of the window in trace seconds, if it has one.
    pub fn end_secs(&self) -> Option<f64> {
        self.duration_secs.map(|d| self.start_secs + d)
    }
}
