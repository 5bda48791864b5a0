//! The columns of the CSV trace formats: one table that both format
//! detection and parsing read.

use crate::config::TraceFormat;

/// The columns of one CSV format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// The format.
    pub format: TraceFormat,
    /// Arrival time column.
    pub time: &'static str,
    /// Prompt tokens column.
    pub input: &'static str,
    /// Output tokens column.
    pub output: &'static str,
    /// Optional columns the format knows.
    pub optional: &'static [&'static str],
    /// Whether other columns are an error (our own format) or ignored
    /// (published traces carry more columns than a replay needs).
    pub strict: bool,
}

/// The plain format's optional content-key columns.
pub(super) const PREFIX_ID: &str = "prefix_id";
/// See [`PREFIX_ID`].
pub(super) const SESSION_ID: &str = "session_id";

/// Every CSV format.
pub(super) const LAYOUTS: [Layout; 3] = [
    Layout {
        format: TraceFormat::Azure,
        time: "TIMESTAMP",
        input: "ContextTokens",
        output: "GeneratedTokens",
        optional: &[],
        strict: false,
    },
    Layout {
        format: TraceFormat::Burstgpt,
        time: "Timestamp",
        input: "Request tokens",
        output: "Response tokens",
        optional: &[],
        strict: false,
    },
    Layout {
        format: TraceFormat::Csv,
        time: "arrival_secs",
        input: "input_tokens",
        output: "output_tokens",
        optional: &[PREFIX_ID, SESSION_ID],
        strict: true,
    },
];

impl Layout {
    /// The layout of a CSV `format`.
    pub fn of(format: TraceFormat) -> Option<&'static Layout> {
        LAYOUTS.iter().find(|l| l.format == format)
    }

    /// The required columns.
    pub fn required(&self) -> [&'static str; 3] {
        [self.time, self.input, self.output]
    }

    /// `name: a,b,c` for messages.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.format.name(), self.required().join(","))
    }
}

/// The CSV format whose required columns all appear in `header` (one line of
/// comma-separated names), if exactly one does.
pub(super) fn detect(header: &str) -> Option<TraceFormat> {
    let names: Vec<&str> = header
        .split(',')
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    let mut matching = LAYOUTS
        .iter()
        .filter(|l| l.required().iter().all(|c| names.contains(c)));
    match (matching.next(), matching.next()) {
        (Some(l), None) => Some(l.format),
        _ => None,
    }
}

/// Every CSV format's header, for messages.
pub(super) fn describe_all() -> String {
    LAYOUTS
        .iter()
        .map(Layout::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_the_format() {
        assert_eq!(
            detect("TIMESTAMP,ContextTokens,GeneratedTokens"),
            Some(TraceFormat::Azure)
        );
        assert_eq!(
            detect("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type"),
            Some(TraceFormat::Burstgpt)
        );
        assert_eq!(
            detect("arrival_secs, input_tokens, output_tokens, prefix_id"),
            Some(TraceFormat::Csv)
        );
        assert_eq!(detect("time,in,out"), None);
    }
}
