//! Step tables: the CSV of step shapes (and, optionally, measured step times)
//! that `predict-steps` prices and `calibrate` fits, in the format of the
//! shipped measurements (docs/calibration.md). Parsing is text in, rows out;
//! the command line reads and writes the files.

use crate::config::{excerpt, with_hint};
use crate::engine::cost::{BatchShape, Work};
use std::fmt;

/// The columns every step table has.
pub const REQUIRED_COLUMNS: &[&str] = &[
    "kind",
    "num_seqs",
    "new_tokens_per_seq",
    "context_tokens",
    "prefill_chunk_tokens",
];

/// The optional column holding the measured step time, in milliseconds.
pub const MEASURED_COLUMN: &str = "median_ms";

/// The optional column giving the GPUs of the replica that ran each step
/// (vLLM's `--tensor-parallel-size`); without it every step runs at the
/// config's `deployment.tensor_parallel_size`.
pub const TENSOR_PARALLEL_COLUMN: &str = "tensor_parallel_size";

/// The largest tensor parallelism a step table may name: more GPUs than any
/// node or NVLink domain holds is a typing error, not a measurement.
pub const MAX_TENSOR_PARALLEL: u64 = 1024;

/// What a measured step computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    /// `num_seqs` prompts of `new_tokens_per_seq` tokens each on top of
    /// `context_tokens` cached ones; each samples one token.
    Prefill,
    /// `num_seqs` sequences decoding one token each at `context_tokens`.
    Decode,
    /// A chunked-prefill step: the decodes of a decode step plus one fresh
    /// prompt of `prefill_chunk_tokens` tokens that samples its first token.
    Mixed,
}

impl StepKind {
    /// Every kind with its name in the CSV, in report order.
    pub const ALL: [(&'static str, StepKind); 3] = [
        ("prefill", StepKind::Prefill),
        ("decode", StepKind::Decode),
        ("mixed", StepKind::Mixed),
    ];

    /// The kind's name in the CSV.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("", |(name, _)| name)
    }
}

/// One step's shape, and its measured time when the table has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// What the step computed.
    pub kind: StepKind,
    /// Sequences (prompts or decoding requests), at most `u32::MAX`.
    pub num_seqs: u32,
    /// New tokens of each sequence (1 for decodes).
    pub new_tokens_per_seq: u64,
    /// Tokens of each sequence already cached before the step.
    pub context_tokens: u64,
    /// Mixed steps: tokens of the fresh prompt chunk (0 otherwise).
    pub prefill_chunk_tokens: u64,
    /// Measured step time in seconds, if the table has a `median_ms` column.
    pub measured_secs: Option<f64>,
    /// GPUs of the replica that ran the step, if the table has a
    /// `tensor_parallel_size` column.
    pub tensor_parallel_size: Option<u64>,
    /// Line of the step in its file (1-based; the header is line 1).
    pub line: usize,
}

impl Step {
    /// The batch the step ran, as the simulator's cost model sees it;
    /// `window` is the model's sliding window (0 when it has none).
    pub fn shape(&self, window: u64) -> BatchShape {
        let mut shape = BatchShape::default();
        let (context, seqs) = (self.context_tokens, self.num_seqs);
        match self.kind {
            StepKind::Prefill => {
                shape.add_many(
                    seqs,
                    context,
                    self.new_tokens_per_seq,
                    window,
                    Work::PrefillLast,
                );
            }
            StepKind::Decode | StepKind::Mixed => {
                shape.add_many(seqs, context, 1, window, Work::Decode);
                if self.kind == StepKind::Mixed {
                    shape.add(0, self.prefill_chunk_tokens, window, Work::PrefillLast);
                }
            }
        }
        shape
    }
}

/// A parsed step table: the header and each row's cells as written (so that
/// output can repeat them), with the parsed steps.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTable {
    /// The header's column names.
    pub header: Vec<String>,
    /// Each row's cells, as written.
    pub cells: Vec<Vec<String>>,
    /// Each row's step.
    pub steps: Vec<Step>,
}

impl StepTable {
    /// Whether every step has a measured time.
    pub fn is_measured(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.measured_secs.is_some())
    }
}

/// A problem in a step table, located by file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepsError {
    /// The file.
    pub source: String,
    /// The 1-based line (the header is line 1).
    pub line: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for StepsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: line {}: {}", self.source, self.line, self.message)
    }
}

impl std::error::Error for StepsError {}

/// Parses a step table; `source` names it in errors. Blank lines are skipped.
pub fn parse_steps(text: &str, source: &str) -> Result<StepTable, StepsError> {
    let error = |line: usize, message: String| StepsError {
        source: source.to_string(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((header_line, header_text)) = lines.next() else {
        return Err(error(
            1,
            format!(
                "empty file: expected a header with the columns {}",
                REQUIRED_COLUMNS.join(", ")
            ),
        ));
    };
    let header: Vec<String> = header_text
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let column = |name: &str| header.iter().position(|c| c == name);
    let mut required = [0usize; 5];
    for (slot, name) in required.iter_mut().zip(REQUIRED_COLUMNS) {
        *slot = column(name).ok_or_else(|| {
            error(
                header_line,
                format!(
                    "missing column '{name}' (the header has: {}; expected the columns {})",
                    excerpt(&header.join(", ")),
                    REQUIRED_COLUMNS.join(", ")
                ),
            )
        })?;
    }
    let measured = column(MEASURED_COLUMN);
    let tensor_parallel = column(TENSOR_PARALLEL_COLUMN);
    let mut cells = Vec::new();
    let mut steps = Vec::new();
    for (line, text) in lines {
        let row: Vec<String> = text.split(',').map(|c| c.trim().to_string()).collect();
        if row.len() != header.len() {
            return Err(error(
                line,
                format!(
                    "expected {} cells as in the header, got {}",
                    header.len(),
                    row.len()
                ),
            ));
        }
        let step = parse_row(&row, &required, measured, tensor_parallel, line)
            .map_err(|(col, message)| error(line, format!("{}: {message}", header[col])))?;
        cells.push(row);
        steps.push(step);
    }
    if steps.is_empty() {
        return Err(error(header_line, "no steps after the header".to_string()));
    }
    Ok(StepTable {
        header,
        cells,
        steps,
    })
}

/// One row; an error names the column index and what is wrong.
fn parse_row(
    row: &[String],
    columns: &[usize; 5],
    measured: Option<usize>,
    tensor_parallel: Option<usize>,
    line: usize,
) -> Result<Step, (usize, String)> {
    let [kind_col, seqs_col, new_col, context_col, chunk_col] = *columns;
    let kind_text = row[kind_col].as_str();
    let names: Vec<&str> = StepKind::ALL.iter().map(|(n, _)| *n).collect();
    let kind = StepKind::ALL
        .iter()
        .find(|(n, _)| *n == kind_text)
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            let message = format!(
                "unknown kind '{}' (expected one of: {})",
                excerpt(kind_text),
                names.join(", ")
            );
            (kind_col, with_hint(message, kind_text, &names))
        })?;
    let int = |col: usize, min: u64| -> Result<u64, (usize, String)> {
        let text = row[col].as_str();
        let value: u64 = text.parse().map_err(|_| {
            (
                col,
                format!("expected a non-negative integer, got '{}'", excerpt(text)),
            )
        })?;
        if value < min {
            return Err((col, format!("expected at least {min}, got {value}")));
        }
        Ok(value)
    };
    let num_seqs = int(seqs_col, 1)?;
    let num_seqs = u32::try_from(num_seqs).map_err(|_| {
        (
            seqs_col,
            format!(
                "expected at most {} sequences in a step, got {num_seqs}",
                u32::MAX
            ),
        )
    })?;
    let new_tokens_per_seq = int(new_col, 1)?;
    let context_tokens = int(context_col, 0)?;
    let prefill_chunk_tokens = int(chunk_col, 0)?;
    match kind {
        StepKind::Decode | StepKind::Mixed if new_tokens_per_seq != 1 => {
            return Err((
                new_col,
                format!(
                    "a {} step decodes one token per sequence: expected 1, got {new_tokens_per_seq}",
                    kind.name()
                ),
            ))
        }
        StepKind::Mixed if prefill_chunk_tokens == 0 => {
            return Err((
                chunk_col,
                "a mixed step has a prompt chunk: expected at least 1, got 0".to_string(),
            ))
        }
        StepKind::Prefill | StepKind::Decode if prefill_chunk_tokens != 0 => {
            return Err((
                chunk_col,
                format!(
                    "only mixed steps have a prompt chunk: expected 0 for a {} step, got {prefill_chunk_tokens}",
                    kind.name()
                ),
            ))
        }
        _ => {}
    }
    let measured_secs = measured
        .map(|col| {
            let text = row[col].as_str();
            match text.parse::<f64>() {
                Ok(ms) if ms.is_finite() && ms > 0.0 => Ok(ms / 1e3),
                _ => Err((
                    col,
                    format!(
                        "expected a time in milliseconds above 0, got '{}'",
                        excerpt(text)
                    ),
                )),
            }
        })
        .transpose()?;
    let tensor_parallel_size = tensor_parallel
        .map(|col| {
            let t = int(col, 1)?;
            if t > MAX_TENSOR_PARALLEL {
                return Err((
                    col,
                    format!("expected at most {MAX_TENSOR_PARALLEL} GPUs per replica, got {t}"),
                ));
            }
            Ok(t)
        })
        .transpose()?;
    Ok(Step {
        kind,
        num_seqs,
        new_tokens_per_seq,
        context_tokens,
        prefill_chunk_tokens,
        measured_secs,
        tensor_parallel_size,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "kind,num_seqs,new_tokens_per_seq,context_tokens,prefill_chunk_tokens,median_ms";

    fn error(body: &str) -> String {
        parse_steps(&format!("{HEADER}\n{body}"), "s.csv")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parses_rows_in_any_column_order() {
        let text = "context_tokens,kind,prefill_chunk_tokens,new_tokens_per_seq,num_seqs\n512,decode,0,1,8\n\n2048,mixed,256,1,32\n";
        let t = parse_steps(text, "s.csv").unwrap();
        assert_eq!(t.steps.len(), 2);
        assert_eq!(t.steps[0].kind, StepKind::Decode);
        assert_eq!(t.steps[0].num_seqs, 8);
        assert_eq!(t.steps[0].context_tokens, 512);
        assert_eq!(t.steps[1].prefill_chunk_tokens, 256);
        assert_eq!(t.steps[1].line, 4);
        assert!(!t.is_measured());
    }

    #[test]
    fn shapes_price_each_kind() {
        let t = parse_steps(
            &format!("{HEADER}\nprefill,2,100,10,0,5\ndecode,3,1,50,0,5\nmixed,2,1,40,30,5"),
            "s.csv",
        )
        .unwrap();
        assert!(t.is_measured());
        assert_eq!(t.steps[0].measured_secs, Some(0.005));
        let p = t.steps[0].shape(0);
        assert_eq!(
            (p.num_seqs, p.new_tokens, p.prefill_tokens, p.sampled),
            (2, 200, 200, 2)
        );
        assert_eq!(p.attended_full, 2.0 * (100.0 * 10.0 + 100.0 * 101.0 / 2.0));
        assert_eq!(p.context_full, 20);
        let d = t.steps[1].shape(0);
        assert_eq!(
            (d.num_seqs, d.new_tokens, d.prefill_tokens, d.sampled),
            (3, 3, 0, 3)
        );
        assert_eq!(d.attended_full, 3.0 * 51.0);
        let m = t.steps[2].shape(0);
        assert_eq!(
            (m.num_seqs, m.new_tokens, m.prefill_tokens, m.sampled),
            (3, 32, 30, 3)
        );
        assert_eq!(m.attended_full, 2.0 * 41.0 + 30.0 * 31.0 / 2.0);
        assert_eq!(m.context_full, 80);
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        assert_eq!(
            error("decode,8,1,512,0,5.1\nprefil,1,64,0,0,7.9"),
            "s.csv: line 3: kind: unknown kind 'prefil' (expected one of: prefill, decode, mixed); did you mean 'prefill'?"
        );
        assert_eq!(
            error("decode,-8,1,512,0,5.1"),
            "s.csv: line 2: num_seqs: expected a non-negative integer, got '-8'"
        );
        assert_eq!(
            error("decode,8,1,512,0,-5.1"),
            "s.csv: line 2: median_ms: expected a time in milliseconds above 0, got '-5.1'"
        );
        assert_eq!(
            error("decode,8,2,512,0,5.1"),
            "s.csv: line 2: new_tokens_per_seq: a decode step decodes one token per sequence: expected 1, got 2"
        );
        assert_eq!(
            error("mixed,8,1,512,0,5.1"),
            "s.csv: line 2: prefill_chunk_tokens: a mixed step has a prompt chunk: expected at least 1, got 0"
        );
        assert_eq!(
            error("decode,8,1,512"),
            "s.csv: line 2: expected 6 cells as in the header, got 4"
        );
        let e = parse_steps(
            "kind,num_seqs,new_tokens_per_seq,prefill_chunk_tokens\n",
            "s.csv",
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("s.csv: line 1: missing column 'context_tokens'"));
        assert_eq!(
            parse_steps(HEADER, "s.csv").unwrap_err().to_string(),
            "s.csv: line 1: no steps after the header"
        );
    }
}
