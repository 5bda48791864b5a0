//! Golden files: compare a test's output with a file committed under
//! `tests/golden/`, or, with `INFERENCE_LAB_BLESS=1`, rewrite the file.
//!
//! A mismatch fails with the first differing lines, so that a change of
//! results or formats is seen, judged and then blessed on purpose:
//!
//! ```text
//! INFERENCE_LAB_BLESS=1 cargo test --release --test golden
//! git diff tests/golden/
//! ```

use std::io::Write;
use std::path::PathBuf;

/// The environment variable that turns comparisons into rewrites.
pub const BLESS_VAR: &str = "INFERENCE_LAB_BLESS";

/// Lines of each side shown where the snapshot and the output differ.
const SHOWN_LINES: usize = 12;

/// The committed golden file `tests/golden/<name>`.
pub fn golden_path(name: &str) -> PathBuf {
    super::repo().join("tests/golden").join(name)
}

/// Asserts that `actual` equals the golden file `tests/golden/<name>`; with
/// `INFERENCE_LAB_BLESS=1`, writes `actual` there instead and says so on the
/// terminal when the file changed.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = golden_path(name);
    let committed = std::fs::read_to_string(&path).ok();
    if std::env::var(BLESS_VAR).is_ok_and(|v| v == "1") {
        if committed.as_deref() != Some(actual) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).expect("tests/golden can be created");
            }
            std::fs::write(&path, actual)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            // Straight to the terminal: the test harness would hide a println.
            let verb = if committed.is_some() {
                "changed"
            } else {
                "created"
            };
            let _ = writeln!(
                std::io::stderr().lock(),
                "blessed: {verb} tests/golden/{name}"
            );
        }
        return;
    }
    let Some(expected) = committed else {
        panic!(
            "no golden file tests/golden/{name}; create it with {BLESS_VAR}=1 cargo test --release --test golden"
        );
    };
    if expected != actual {
        panic!(
            "the output differs from tests/golden/{name}\n{}\nIf the change is deliberate, rerun with {BLESS_VAR}=1 and commit the new file.",
            diff(&expected, actual)
        );
    }
}

/// The differing middle of two texts: their common leading and trailing
/// lines cut off, at most `SHOWN_LINES` of each side shown, with line numbers.
pub fn diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.split('\n').collect();
    let new: Vec<&str> = actual.split('\n').collect();
    let head = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = format!("first difference at line {}:\n", head + 1);
    for (sign, lines) in [
        ('-', &old[head..old.len() - tail]),
        ('+', &new[head..new.len() - tail]),
    ] {
        for (i, line) in lines.iter().enumerate().take(SHOWN_LINES) {
            out.push_str(&format!("{sign}{:>5} | {line}\n", head + i + 1));
        }
        if lines.len() > SHOWN_LINES {
            out.push_str(&format!(
                "{sign}      ... {} more lines\n",
                lines.len() - SHOWN_LINES
            ));
        }
    }
    out.push_str("(- the golden file, + this run's output)");
    out
}
