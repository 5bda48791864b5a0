//! The Mooncake traces: one JSON object per line with `timestamp` (ms),
//! `input_length`, `output_length` and `hash_ids` (one id per 512-token
//! block of the prompt; equal ids are equal content).

use super::{number, tokens, Parser, RawRecord, Stamp};
use crate::config::excerpt;
use crate::io::lines::{read_bounded_text_line, trace_read_message, MAX_LINE_BYTES};
use crate::workload::{TraceContent, TraceError};
use serde::Deserialize;
use serde_json::Value;
use std::fs::File;
use std::io::BufReader;

/// Tokens per `hash_ids` entry.
const MOONCAKE_BLOCK_TOKENS: u32 = 512;

/// The fields of a line the replay reads; others are ignored.
#[derive(Deserialize)]
struct Line {
    timestamp: Option<Value>,
    input_length: Option<Value>,
    output_length: Option<Value>,
    hash_ids: Option<Value>,
}

/// Reads a Mooncake trace line by line.
pub(super) struct MooncakeParser {
    reader: BufReader<File>,
    text: String,
    line: u64,
    file: String,
}

impl MooncakeParser {
    /// A parser of `input`, named `file` in errors.
    pub fn new(input: File, file: String) -> Self {
        Self {
            reader: BufReader::new(input),
            text: String::new(),
            line: 0,
            file,
        }
    }

    fn error(&self, field: &str, message: String) -> TraceError {
        TraceError {
            file: self.file.clone(),
            line: self.line,
            field: field.into(),
            message,
        }
    }

    fn parse(&self) -> Result<RawRecord, TraceError> {
        let line: Line = serde_json::from_str(&self.text)
            .map_err(|e| self.error("", format!("expected a JSON object: {e}")))?;
        let field = |value: Option<Value>, name: &str| {
            value.ok_or_else(|| self.error(name, "missing".into()))
        };
        // Numbers are read through their text, so every field gets the same
        // checks (and messages) as the CSV formats'.
        let text = |value: Value, name: &str| match value {
            Value::Number(n) => Ok(n.to_string()),
            other => Err(self.error(
                name,
                format!("expected a number, got {}", excerpt(&other.to_string())),
            )),
        };
        let stamp = number(
            &text(field(line.timestamp, "timestamp")?, "timestamp")?,
            "milliseconds",
        )
        .map_err(|m| self.error("timestamp", m))?;
        let length = |value: Option<Value>, name: &str| {
            tokens(&text(field(value, name)?, name)?).map_err(|m| self.error(name, m))
        };
        let input_tokens = length(line.input_length, "input_length")?;
        let output_tokens = length(line.output_length, "output_length")?;
        let content = match line.hash_ids {
            None | Some(Value::Null) => TraceContent::Unique,
            Some(Value::Array(items)) => TraceContent::BlockIds {
                block_tokens: MOONCAKE_BLOCK_TOKENS,
                ids: items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_u64().ok_or_else(|| {
                            self.error(
                                "hash_ids",
                                format!(
                                    "entry {i}: expected a non-negative integer id, got {}",
                                    excerpt(&v.to_string())
                                ),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
            Some(other) => {
                return Err(self.error(
                    "hash_ids",
                    format!(
                        "expected an array of ids, got {}",
                        excerpt(&other.to_string())
                    ),
                ))
            }
        };
        Ok(RawRecord {
            line: self.line,
            stamp: Stamp::Millis(stamp),
            input_tokens,
            output_tokens,
            content,
        })
    }
}

impl Parser for MooncakeParser {
    fn next_raw(&mut self) -> Option<Result<RawRecord, TraceError>> {
        loop {
            self.text.clear();
            self.line += 1;
            match read_bounded_text_line(&mut self.reader, &mut self.text, MAX_LINE_BYTES) {
                Ok(0) => return None,
                Ok(_) if self.text.trim().is_empty() => continue,
                Ok(_) => return Some(self.parse()),
                Err(e) => return Some(Err(self.error("", trace_read_message(&e)))),
            }
        }
    }

    fn time_field(&self) -> &'static str {
        "timestamp"
    }
}
