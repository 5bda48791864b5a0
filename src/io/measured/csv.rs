//! A plain CSV of measured metrics: the header `metric,value`, then one row
//! per metric named by the simulator's own columns (`ttft_ms_p99`,
//! `output_tokens_per_sec`), in the simulator's units (milliseconds,
//! tokens per second, fractions).

use super::Problem;
use crate::config::excerpt;
use crate::metrics::comparison::{check_comparable, Measured};

/// What the format holds, for messages.
pub(super) const EXPECTED: &str = "the header metric,value and rows such as ttft_ms_p99,250";

/// The fields of one line: split at commas, trimmed, surrounding double
/// quotes removed (metric names and numbers never need quoting).
fn fields(line: &str) -> Vec<&str> {
    line.split(',')
        .map(|f| {
            let f = f.trim();
            f.strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or(f)
        })
        .collect()
}

/// The rows of `text` (the header in any case); blank lines and lines
/// starting with `#` are skipped.
pub(super) fn parse(text: &str) -> Result<Measured, Problem> {
    let mut rows = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
    let (line, header) = rows.next().unwrap_or((1, ""));
    let names: Vec<String> = fields(header)
        .iter()
        .map(|f| f.to_ascii_lowercase())
        .collect();
    if names != ["metric", "value"] {
        return Err(Problem::new(
            format!("line {line}"),
            format!(
                "expected the header 'metric,value', got '{}'",
                excerpt(header)
            ),
        ));
    }
    let mut measured = Measured::default();
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    for (line, text) in rows {
        let field = format!("line {line}");
        let [name, value] = fields(text)[..] else {
            return Err(Problem::new(
                field,
                format!("expected two fields, metric,value, got '{}'", excerpt(text)),
            ));
        };
        let metric = check_comparable(name).map_err(|m| Problem::new(&field, m))?;
        if let Some((_, first)) = seen.iter().find(|(m, _)| *m == metric) {
            return Err(Problem::new(
                field,
                format!("{metric} is given twice (first on line {first})"),
            ));
        }
        let number = value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                Problem::new(
                    format!("{field}: {metric}"),
                    format!("expected a number of at least 0, got '{}'", excerpt(value)),
                )
            })?;
        seen.push((metric, line));
        measured.push(metric, number, field);
    }
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_in_the_simulators_names_and_units() {
        let m = parse("\u{feff}metric,value\n# measured\n\nttft_ms_p99 , 250.5\n\"total_tokens_per_sec\",900\n")
            .unwrap();
        let got: Vec<(&str, f64, &str)> = m
            .values
            .iter()
            .map(|v| (v.metric, v.value, v.source.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("ttft_ms_p99", 250.5, "line 4"),
                ("total_tokens_per_sec", 900.0, "line 5")
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
        assert_eq!(
            e.message,
            "expected two fields, metric,value, got 'ttft_ms_p99,1,2'"
        );
        let e = parse("# nothing\n").unwrap_err();
        assert_eq!(e.message, "expected the header 'metric,value', got ''");
    }
}
