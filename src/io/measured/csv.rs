//! A plain CSV of measured metrics: the header `metric,value`, then one row
//! per metric named by the simulator's own columns (`ttft_ms_p99`,
//! `output_tokens_per_sec`), in the simulator's units (milliseconds,
//! tokens per second, fractions).

use super::Problem;
use crate::metrics::comparison::{check_comparable, Measured};

/// What the format holds, for messages.
pub(super) const EXPECTED: &str = "the header metric,value and rows such as ttft_ms_p99,250";

/// The rows of `text`; `#` starts a comment line.
pub(super) fn parse(text: &str) -> Result<Measured, Problem> {
    let mut reader = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| Problem::new("line 1", e.to_string()))?
        .clone();
    if header.iter().collect::<Vec<_>>() != ["metric", "value"] {
        let got = header.iter().collect::<Vec<_>>().join(",");
        return Err(Problem::new(
            "line 1",
            format!("expected the header 'metric,value', got '{got}'"),
        ));
    }
    let mut measured = Measured::default();
    let mut lines: Vec<(&'static str, u64)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, ::csv::Position::line);
            Problem::new(format!("line {line}"), e.to_string())
        })?;
        let line = record.position().map_or(0, ::csv::Position::line);
        let field = format!("line {line}");
        let name = record.get(0).unwrap_or_default();
        let metric = check_comparable(name).map_err(|m| Problem::new(&field, m))?;
        if let Some((_, first)) = lines.iter().find(|(m, _)| *m == metric) {
            return Err(Problem::new(
                field,
                format!("{metric} is given twice (first on line {first})"),
            ));
        }
        let text = record.get(1).unwrap_or_default();
        let value = text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                Problem::new(
                    format!("{field}: {metric}"),
                    format!("expected a number of at least 0, got '{text}'"),
                )
            })?;
        lines.push((metric, line));
        measured.push(metric, value, format!("line {line}"));
    }
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_in_the_simulators_names_and_units() {
        let m = parse("metric,value\n# measured\nttft_ms_p99 , 250.5\ntotal_tokens_per_sec,900\n")
            .unwrap();
        let got: Vec<(&str, f64, &str)> = m
            .values
            .iter()
            .map(|v| (v.metric, v.value, v.source.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("ttft_ms_p99", 250.5, "line 3"),
                ("total_tokens_per_sec", 900.0, "line 4")
            ]
        );
        assert!(parse("metric,value\n").unwrap().values.is_empty());
    }

    #[test]
    fn bad_rows_say_which_line_and_what_was_expected() {
        let cases = [
            ("name,x\n", "line 1: expected the header 'metric,value', got 'name,x'"),
            (
                "metric,value\nttft_ms_p95x,3\n",
                "line 2: 'ttft_ms_p95x' is not a metric column of the runs table; did you mean 'ttft_ms_p95'?",
            ),
            ("metric,value\nttft_ms_p99,abc\n", "line 2: ttft_ms_p99: expected a number of at least 0, got 'abc'"),
            ("metric,value\nttft_ms_p99,\n", "line 2: ttft_ms_p99: expected a number of at least 0, got ''"),
            ("metric,value\nttft_ms_p99,1\nttft_ms_p99,2\n", "line 3: ttft_ms_p99 is given twice (first on line 2)"),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(format!("{}: {}", e.field, e.message), expected);
        }
        let e = parse("metric,value\nttft_ms_p99,1,2\n").unwrap_err();
        assert_eq!(e.field, "line 2");
    }
}
