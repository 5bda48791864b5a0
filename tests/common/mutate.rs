//! Mutations of input files for property tests: shipped configs, manifests,
//! datasets, step tables, measured files and traces, changed the way files
//! go wrong (flipped bits, cut or repeated lines, limits of the number types,
//! values of the wrong type, unknown keys, very long lines, deep nesting),
//! and the checks every parser must pass on them: an end within a deadline,
//! no panic, and an error of one line that names the file and the place.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long a parser may take on one mutated file (they take milliseconds;
/// a CI machine under load may be 100 times slower, a hang never ends).
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The longest error message a parser may give: a message quotes at most a
/// few hundred characters of a value, whatever the file holds.
pub const MAX_MESSAGE_CHARS: usize = 1500;

/// Values that break parsers: the limits of the number types, numbers no
/// type holds, not-a-numbers and infinities, and values of other types.
pub const HOSTILE_VALUES: &[&str] = &[
    "1e308",
    "-1e308",
    "1e309",
    "1e-320",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "99999999999999999999999999999999999999",
    "-1",
    "0",
    "-0",
    "0.5",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "null",
    "true",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "[1, \"a\"]",
    "1979-05-27T07:32:00Z",
    "0x7fffffffffffffff",
];

/// The proptest settings of a mutation test of `cases` cases: shrinking a
/// failure stops after a minute, so a hang (each try of which waits for the
/// deadline) fails the test in minutes.
pub fn settings(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    // The same cases on every run, so a red CI is a change and not luck;
    // `PROPTEST_RNG_SEED=N` explores other cases.
    let rng_seed = match default.rng_seed {
        RngSeed::Random => RngSeed::Fixed(18),
        chosen => chosen,
    };
    ProptestConfig {
        cases,
        max_shrink_time: 60_000,
        rng_seed,
        ..default
    }
}

/// One change to a file.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips bit `bit` of the byte at `at` (modulo the length).
    FlipBit {
        /// The byte.
        at: usize,
        /// The bit, 0 to 7.
        bit: u8,
    },
    /// Deletes `len` bytes from `at`.
    Delete {
        /// The first byte.
        at: usize,
        /// How many.
        len: usize,
    },
    /// Cuts the file at `at`.
    Truncate {
        /// The first byte cut.
        at: usize,
    },
    /// Repeats line `line` (modulo the line count) `times` more times.
    DuplicateLine {
        /// The line, 0-based.
        line: usize,
        /// How many copies.
        times: usize,
    },
    /// Replaces the `nth` value of the file (a number or a quoted string,
    /// modulo their count) with `with`.
    ReplaceValue {
        /// Which value.
        nth: usize,
        /// The new text.
        with: String,
    },
    /// Inserts `text` as a line before line `line` (modulo the line count).
    InsertLine {
        /// The line, 0-based.
        line: usize,
        /// What is inserted (a newline is added).
        text: Vec<u8>,
    },
    /// Makes the file empty.
    Empty,
}

/// Lines that are hostile in any text format: very long ones, a huge
/// number, bytes that are not UTF-8, control characters, a byte-order mark.
fn generic_lines() -> Vec<Vec<u8>> {
    vec![
        vec![b'x'; 300_000],
        vec![b'9'; 100_000],
        b"\xff\xfe\xc3(".to_vec(),
        b"\0\0\0".to_vec(),
        "\u{feff}".into(),
        b"\r".to_vec(),
        b"\"".to_vec(),
        b",,,,,,,,,,".to_vec(),
    ]
}

/// A strategy of one mutation; `lines` are lines hostile in the file's own
/// format (unknown keys, deep nesting), inserted besides the generic ones.
pub fn mutation(lines: Vec<Vec<u8>>) -> impl Strategy<Value = Mutation> {
    let mut inserted = generic_lines();
    inserted.extend(lines);
    let at = any::<usize>();
    prop_oneof![
        3 => (at, 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (at, 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => at.prop_map(|at| Mutation::Truncate { at }),
        2 => (at, prop_oneof![1usize..4, Just(1000), Just(20_000)])
            .prop_map(|(line, times)| Mutation::DuplicateLine { line, times }),
        4 => (at, proptest::sample::select(HOSTILE_VALUES))
            .prop_map(|(nth, with)| Mutation::ReplaceValue { nth, with: with.to_string() }),
        3 => (at, proptest::sample::select(inserted))
            .prop_map(|(line, text)| Mutation::InsertLine { line, text }),
        1 => Just(Mutation::Empty),
    ]
}

/// One to three mutations.
pub fn mutations(lines: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(lines), 1..=3)
}

/// `format` nested `depth` times around `inner` (`["[", "]"]` makes
/// `[[[...]]]`): deep nesting.
pub fn nested(open: &str, close: &str, inner: &str, depth: usize) -> Vec<u8> {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth)).into_bytes()
}

/// The spans of the values of `text`: numbers (with their sign) and quoted strings.
fn value_spans(text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        let starts_number = b.is_ascii_digit()
            || (matches!(b, b'-' | b'+') && text.get(i + 1).is_some_and(u8::is_ascii_digit));
        if b == b'"' {
            let end = text[i + 1..]
                .iter()
                .position(|&c| c == b'"' || c == b'\n')
                .map_or(text.len(), |p| i + 1 + p + 1);
            spans.push((i, end.min(text.len())));
            i = end;
        } else if starts_number && (i == 0 || !text[i - 1].is_ascii_alphanumeric()) {
            let end = text[i + 1..]
                .iter()
                .position(|c| {
                    !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-'))
                })
                .map_or(text.len(), |p| i + 1 + p);
            spans.push((i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    spans
}

/// The byte offsets where each line of `text` starts, and its end.
fn line_starts(text: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(
        text.iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .filter(|&i| i < text.len()),
    );
    starts
}

/// `text` changed by `m`.
pub fn apply(text: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = text.to_vec();
    let len = text.len();
    match m {
        Mutation::FlipBit { at, bit } if len > 0 => out[at % len] ^= 1 << bit,
        Mutation::Delete { at, len: n } if len > 0 => {
            let start = at % len;
            out.drain(start..(start + n).min(len));
        }
        Mutation::Truncate { at } => out.truncate(at % (len + 1)),
        Mutation::DuplicateLine { line, times } => {
            let starts = line_starts(text);
            let start = starts[line % starts.len()];
            let end = text[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(len, |p| start + p + 1);
            let mut copy = text[start..end].to_vec();
            if !copy.ends_with(b"\n") {
                copy.push(b'\n');
            }
            // At most about 2 MB more: a longer file is more work, not a worse one.
            let copies: Vec<u8> = copy.repeat((*times).min((2 << 20) / copy.len()));
            out.splice(start..start, copies);
        }
        Mutation::ReplaceValue { nth, with } => {
            let spans = value_spans(text);
            if !spans.is_empty() {
                let (start, end) = spans[nth % spans.len()];
                out.splice(start..end, with.bytes());
            }
        }
        Mutation::InsertLine { line, text: new } => {
            let starts = line_starts(text);
            let start = starts[line % starts.len()];
            let mut inserted = new.clone();
            inserted.push(b'\n');
            out.splice(start..start, inserted);
        }
        Mutation::Empty => out.clear(),
        _ => {}
    }
    out
}

/// `text` changed by each of `ms` in turn.
pub fn apply_all(text: &[u8], ms: &[Mutation]) -> Vec<u8> {
    ms.iter().fold(text.to_vec(), |t, m| apply(&t, m))
}

/// A scratch copy of the repository's tree around one file: every directory
/// on the path to the file is a real directory, everything else in them a
/// symlink to the repository's, so relative paths written in the file (a
/// base config, a calibration file, a trace) resolve as in the repository,
/// and the file itself can be overwritten.
pub struct Scratch {
    _dir: tempfile::TempDir,
    /// Where the copy of the file is written.
    pub path: PathBuf,
    /// The shipped file's content.
    pub original: Vec<u8>,
}

/// A [`Scratch`] for the repository file `rel`, holding `original`
/// (the shipped file's content when `None`).
pub fn scratch(rel: &str, original: Option<&[u8]>) -> Scratch {
    let repo = super::repo();
    let dir = tempfile::tempdir().expect("temporary directory");
    let rel = Path::new(rel);
    let mut real = dir.path().to_path_buf();
    let mut shipped = repo.clone();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        for entry in std::fs::read_dir(&shipped).into_iter().flatten().flatten() {
            if entry.file_name() != part.as_os_str() {
                std::os::unix::fs::symlink(entry.path(), real.join(entry.file_name()))
                    .expect("symlink");
            }
        }
        real = real.join(part);
        shipped = shipped.join(part);
        if i + 1 < parts.len() {
            std::fs::create_dir(&real).expect("scratch directory");
        }
    }
    let original = match original {
        Some(text) => text.to_vec(),
        None => std::fs::read(&shipped).unwrap_or_else(|e| panic!("{}: {e}", shipped.display())),
    };
    Scratch {
        _dir: dir,
        path: real,
        original,
    }
}

impl Scratch {
    /// Writes the file changed by `ms`; returns its content.
    pub fn write(&self, ms: &[Mutation]) -> Vec<u8> {
        let text = apply_all(&self.original, ms);
        std::fs::write(&self.path, &text).expect("mutated file written");
        text
    }
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Runs `f` on a thread with the main thread's stack size (8 MiB, as the
/// binary has) and returns what it returned; a panic or no end within
/// [`DEADLINE`] fails the test case (a hung thread is left behind, so the
/// test fails instead of blocking).
pub fn bounded<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        })
        .expect("thread starts");
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(payload)) => Err(TestCaseError::fail(format!(
            "panicked: {}",
            panic_text(payload.as_ref())
        ))),
        Err(_) => Err(TestCaseError::fail(format!("no end within {DEADLINE:?}"))),
    }
}

/// Whether `text` starts with a place in a file: a dotted field path
/// (`scheduler.block_size`, `grid."workload.seed"`, `messages[0].role`),
/// perhaps with its value (`scheduler.policy = "fcfs"`), followed by `: `.
fn starts_with_field(text: &str) -> bool {
    let place = &text[..text.find(": ").unwrap_or(0)];
    let field = place.split_once(" = ").map_or(place, |(field, _)| field);
    !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]\"'-".contains(c))
}

/// Whether `text` names a line: `line N` somewhere in it.
fn names_a_line(text: &str) -> bool {
    text.match_indices("line ")
        .any(|(i, _)| text[i + 5..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Checks an error message about the mutated file `file`: one line, at most
/// [`MAX_MESSAGE_CHARS`], naming the file and then a field or a line, or
/// saying one of `whole_file` (the messages about a file as a whole: empty,
/// of the wrong kind).
pub fn check_message(message: &str, file: &Path, whole_file: &[&str]) -> Result<(), TestCaseError> {
    let shown = || message.chars().take(MAX_MESSAGE_CHARS).collect::<String>();
    prop_assert!(!message.contains('\n'), "more than one line: {}", shown());
    prop_assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "{} characters: {}...",
        message.chars().count(),
        shown()
    );
    let name = file.display().to_string();
    let Some(at) = message.find(&name) else {
        return Err(TestCaseError::fail(format!(
            "does not name {name}: {message}"
        )));
    };
    let rest = message[at + name.len()..].trim_start_matches('\'');
    let rest = rest.strip_prefix(": ").unwrap_or(rest);
    prop_assert!(
        names_a_line(rest)
            || starts_with_field(rest)
            || whole_file.iter().any(|w| rest.contains(w)),
        "names no field or line: {message}"
    );
    Ok(())
}
