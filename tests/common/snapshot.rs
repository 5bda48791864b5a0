//! Golden files: compare a test's output with a file committed under
//! `tests/golden/`, or, with `INFERENCE_LAB_BLESS=1`, rewrite the file.
//!
//! A mismatch fails with a line diff (the changed lines, some context), so
//! that a change of results or formats is seen, judged and then blessed on
//! purpose:
//!
//! ```text
//! INFERENCE_LAB_BLESS=1 cargo test --release --test golden
//! git diff tests/golden/
//! ```

use std::io::Write;
use std::path::PathBuf;

/// The environment variable that turns comparisons into rewrites.
pub const BLESS_VAR: &str = "INFERENCE_LAB_BLESS";

/// Lines of the diff shown at most, and unchanged lines shown around a change.
const SHOWN_LINES: usize = 40;
const CONTEXT_LINES: usize = 2;

/// The committed golden file `tests/golden/<name>`.
pub fn golden_path(name: &str) -> PathBuf {
    super::repo().join("tests/golden").join(name)
}

/// Asserts that `actual` equals the golden file `tests/golden/<name>`; with
/// `INFERENCE_LAB_BLESS=1`, writes `actual` there instead and says so on the
/// terminal when the file changed.
pub fn assert_snapshot(name: &str, actual: &str) {
    assert_committed(&format!("tests/golden/{name}"), actual);
}

/// Asserts that `actual` equals the committed file `rel` (relative to the
/// repository root); with `INFERENCE_LAB_BLESS=1`, writes it instead.
pub fn assert_committed(rel: &str, actual: &str) {
    let path = super::repo().join(rel);
    let committed = std::fs::read_to_string(&path).ok();
    if std::env::var(BLESS_VAR).is_ok_and(|v| v == "1") {
        if committed.as_deref() != Some(actual) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).expect("the golden file's directory can be created");
            }
            std::fs::write(&path, actual)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            // Straight to the terminal: the test harness would hide a println.
            let verb = if committed.is_some() {
                "changed"
            } else {
                "created"
            };
            let _ = writeln!(std::io::stderr().lock(), "blessed: {verb} {rel}");
        }
        return;
    }
    let Some(expected) = committed else {
        panic!(
            "no golden file {rel}; create it with {BLESS_VAR}=1 cargo test --release --test golden"
        );
    };
    if expected != actual {
        panic!(
            "the output differs from {rel}\n{}\nIf the change is deliberate, rerun with {BLESS_VAR}=1 and commit the new file.",
            diff(&expected, actual)
        );
    }
}

/// One line of a diff: unchanged, only in the golden file, only in the output.
#[derive(Clone, Copy, PartialEq)]
enum Line {
    Same(usize),
    Removed(usize),
    Added(usize),
}

/// The most cells of the common-subsequence table a diff builds; past it the
/// differing middles of the two texts are shown whole, the old one first.
const MAX_TABLE: usize = 4_000_000;

/// A line diff of two texts (a longest common subsequence of lines), shown as
/// the changed lines with `CONTEXT_LINES` around each change and line numbers,
/// at most `SHOWN_LINES` lines.
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
    let (a, b) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let table = (a.len() + 1).saturating_mul(b.len() + 1) <= MAX_TABLE;
    let (rows, columns) = if table {
        (a.len() + 1, b.len() + 1)
    } else {
        (0, 0)
    };
    let mut lcs = vec![vec![0u32; columns]; rows];
    if table {
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i][j] = if a[i] == b[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
    }
    let mut lines: Vec<Line> = (0..head).map(Line::Same).collect();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push(Line::Same(head + i));
            (i, j) = (i + 1, j + 1);
        } else if i == a.len() || (table && j < b.len() && lcs[i][j + 1] > lcs[i + 1][j]) {
            lines.push(Line::Added(head + j));
            j += 1;
        } else {
            lines.push(Line::Removed(head + i));
            i += 1;
        }
    }
    lines.extend((old.len() - tail..old.len()).map(Line::Same));
    let changed: Vec<usize> = (0..lines.len())
        .filter(|&k| !matches!(lines[k], Line::Same(_)))
        .collect();
    let near_change = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT_LINES);
    let first = changed.first().map_or(0, |&k| match lines[k] {
        Line::Same(n) | Line::Removed(n) | Line::Added(n) => n,
    });
    let mut out = format!("first difference at line {}:\n", first + 1);
    let (mut shown, mut gap) = (0, false);
    for (k, line) in lines.iter().enumerate() {
        if !near_change(k) {
            gap = true;
            continue;
        }
        if shown == SHOWN_LINES {
            out.push_str("  ... (more differences)\n");
            break;
        }
        if gap && shown > 0 {
            out.push_str("  ...\n");
        }
        gap = false;
        shown += 1;
        let (sign, number, text) = match *line {
            Line::Same(n) => (' ', n, old[n]),
            Line::Removed(n) => ('-', n, old[n]),
            Line::Added(n) => ('+', n, new[n]),
        };
        out.push_str(&format!("{sign}{:>5} | {text}\n", number + 1));
    }
    out.push_str("(- the golden file, + this run's output; line numbers of each)");
    out
}
