//! Benchmark results measured on a real server, read into the simulator's
//! metric names so a run can be set against them: the result JSON of vLLM's
//! `vllm bench serve --save-result`, the lifecycle-metrics JSON of
//! inference-perf (the llm-d benchmark harness), and a plain `metric,value`
//! CSV. Latencies come out in milliseconds whatever unit the file uses.

mod csv;
mod inference_perf;
mod vllm;

use super::error::{Error, Result};
use super::lines::{read_text_file, MAX_LINE_BYTES};
use crate::metrics::comparison::Measured;
use serde_json::Value as Json;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The formats a measured file may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `vllm bench serve --save-result` JSON (`mean_ttft_ms`, `request_throughput`, ...).
    Vllm,
    /// inference-perf lifecycle-metrics JSON (`request_latency`, `time_to_first_token`, ... in seconds).
    InferencePerf,
    /// A CSV with the header `metric,value`, metrics named by the simulator's columns.
    Csv,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Vllm => "vllm",
            Format::InferencePerf => "inference-perf",
            Format::Csv => "csv",
        }
    }

    /// What a file of this format is, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Vllm => "vllm bench serve result",
            Format::InferencePerf => "inference-perf lifecycle metrics",
            Format::Csv => "metric,value CSV",
        }
    }

    /// The metrics a file of this format is expected to hold, for messages.
    fn expected(self) -> &'static str {
        match self {
            Format::Vllm => vllm::EXPECTED,
            Format::InferencePerf => inference_perf::EXPECTED,
            Format::Csv => csv::EXPECTED,
        }
    }
}

/// A measured file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredFile {
    /// The format it was read as (given, or detected from its content).
    pub format: Format,
    /// Its metrics, in the simulator's terms.
    pub measured: Measured,
}

/// What is wrong with one field of a measured file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    /// The field (a JSON key path, or `line N` of a CSV).
    field: String,
    /// What is wrong and what was expected.
    message: String,
}

impl Problem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A JSON number, as `f64`, that must be at least 0; `Ok(None)` for a null
/// (the file has no value for it).
fn non_negative(value: &Json, field: &str, unit: &str) -> Result<Option<f64>, Problem> {
    match value {
        Json::Null => Ok(None),
        Json::Number(n) => match n.as_f64() {
            Some(x) if x >= 0.0 => Ok(Some(x)),
            _ => Err(Problem::new(
                field,
                format!("expected a number of at least 0 ({unit}), got {n}"),
            )),
        },
        other => Err(Problem::new(
            field,
            format!("expected a number ({unit}), got {other}"),
        )),
    }
}

/// Reads the measured file `path` as `format`, or as the format its content
/// shows when `None`.
///
/// # Errors
/// The file cannot be read; it is not valid JSON or CSV; a field a metric
/// is read from holds something else than a number; or nothing in it has a
/// simulator counterpart. Messages name the file and the field.
pub fn read(path: &Path, format: Option<Format>) -> Result<MeasuredFile> {
    let read_error = |e| Error::read("measured file", path, e);
    let is_json = match format {
        Some(Format::Csv) => false,
        Some(_) => true,
        None => starts_with_brace(path).map_err(read_error)?,
    };
    // A CSV's lines are bounded; a JSON result may be one long line.
    let max_line = if is_json { usize::MAX } else { MAX_LINE_BYTES };
    let text = read_text_file(path, max_line).map_err(read_error)?;
    let invalid =
        |p: Problem| Error::invalid(format!("{}: {}: {}", path.display(), p.field, p.message));
    let (format, measured) = match format {
        _ if !is_json => (Format::Csv, csv::parse(&text).map_err(invalid)?),
        given => {
            let json = parse_json(path, &text)?;
            let format = match given {
                Some(f) => f,
                None => detect(&json).ok_or_else(|| {
                    Error::invalid(format!(
                        "{}: neither a vllm bench serve result ({}) nor inference-perf lifecycle metrics ({}); name the format with --format",
                        path.display(),
                        vllm::EXPECTED,
                        inference_perf::EXPECTED
                    ))
                })?,
            };
            let measured = match format {
                Format::InferencePerf => inference_perf::map(&json),
                _ => vllm::map(&json),
            };
            (format, measured.map_err(invalid)?)
        }
    };
    if measured.values.is_empty() {
        return Err(Error::invalid(format!(
            "{}: no metric the simulator reports; a {} holds {}",
            path.display(),
            format.describe(),
            format.expected()
        )));
    }
    Ok(MeasuredFile { format, measured })
}

/// Whether the file at `path` starts with `{` after blanks: a JSON object.
fn starts_with_brace(path: &Path) -> std::io::Result<bool> {
    let mut reader = BufReader::new(File::open(path)?);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => return Ok(buf[i] == b'{'),
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// `text` as a JSON object.
fn parse_json(path: &Path, text: &str) -> Result<serde_json::Map<String, Json>> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(other) => Err(Error::invalid(format!(
            "{}: expected a JSON object of benchmark results, got {}",
            path.display(),
            kind(&other)
        ))),
        Err(e) => Err(Error::invalid(format!(
            "{}: not valid JSON: {e}",
            path.display()
        ))),
    }
}

/// What kind of JSON value `value` is, for messages.
fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The format a JSON object looks like, if either.
fn detect(json: &serde_json::Map<String, Json>) -> Option<Format> {
    if inference_perf::recognises(json) {
        Some(Format::InferencePerf)
    } else if vllm::recognises(json) {
        Some(Format::Vllm)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn detects_each_format_from_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let vllm = write(dir.path(), "v.json", r#"{"mean_ttft_ms": 12.5}"#);
        let perf = write(
            dir.path(),
            "p.json",
            r#"{"successes": {"latency": {"time_to_first_token": {"mean": 0.5}}}}"#,
        );
        let csv = write(dir.path(), "c.txt", "metric,value\nttft_ms_mean,3\n");
        assert_eq!(read(&vllm, None).unwrap().format, Format::Vllm);
        assert_eq!(read(&perf, None).unwrap().format, Format::InferencePerf);
        assert_eq!(read(&csv, None).unwrap().format, Format::Csv);
        let forced = read(&perf, Some(Format::Vllm)).unwrap_err().to_string();
        assert!(
            forced.contains("no metric the simulator reports"),
            "{forced}"
        );
    }

    #[test]
    fn bad_files_name_the_file_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read(&dir.path().join("none.json"), None).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read measured file"));
        let cases = [
            ("{\"mean_ttft_ms\": ", None, "not valid JSON"),
            (
                "{\"model_id\": \"m\"}",
                None,
                "name the format with --format",
            ),
            (
                "{\"mean_ttft_ms\": \"fast\"}",
                None,
                "mean_ttft_ms: expected a number",
            ),
            (
                "{\"model_id\": \"m\"}",
                Some(Format::Vllm),
                "no metric the simulator reports",
            ),
        ];
        for (text, format, message) in cases {
            let path = write(dir.path(), "bad.json", text);
            let e = read(&path, format).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{}: ", path.display())), "{e}");
            assert!(e.contains(message), "{e}");
        }
        // A CSV line past the limit fails there; a JSON result may be one long line.
        let long = "9".repeat(MAX_LINE_BYTES + 1);
        let path = write(
            dir.path(),
            "m.csv",
            &format!("metric,value\nttft_ms_p99,{long}\n"),
        );
        let e = read(&path, None).unwrap_err().to_string();
        assert!(e.ends_with("m.csv': line 2: the line is longer than 8 MiB (8388608 bytes), the limit on a line"), "{e}");
        let path = write(
            dir.path(),
            "long.json",
            &format!("{{\"mean_ttft_ms\": 1.5, \"x\": \"{long}\"}}"),
        );
        assert_eq!(read(&path, None).unwrap().format, Format::Vllm);
        let path = write(dir.path(), "bad.json", "[1]");
        let e = read(&path, None).unwrap_err().to_string();
        assert!(e.contains("metric,value"), "{e}");
        let e = read(&path, Some(Format::Vllm)).unwrap_err().to_string();
        assert!(e.contains("expected a JSON object"), "{e}");
    }
}
