//! Reading text files: one line at a time with a bound on the length of a
//! line (a file without newlines, a 50 MB line or `/dev/zero`, fails fast
//! with the limit it broke instead of growing one buffer without end), or
//! whole, with the line and column where a file stops being UTF-8.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::Path;

/// The longest line a dataset (or trace) line may be, in bytes, its newline
/// left out: 8 MiB, far above any real chat request or trace record (a
/// prompt of a million tokens is about 4 MB of text).
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// Why a line could not be read.
#[derive(Debug)]
pub enum LineError {
    /// Reading failed.
    Io(io::Error),
    /// The line is longer than the limit, in bytes.
    TooLong(usize),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Io(e) => write!(f, "cannot read: {e}"),
            LineError::TooLong(max) => write!(
                f,
                "the line is longer than {} MiB ({max} bytes), the limit on a line",
                max >> 20
            ),
        }
    }
}

/// Appends the next line of `reader` to `buf`, its `\n` included when it
/// has one; returns the bytes read, 0 at the end of the input. A line of
/// more than `max` bytes (its newline left out) is an error once `max + 1`
/// bytes were read: never more is buffered.
pub fn read_bounded_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<usize, LineError> {
    let start = buf.len();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader
        .by_ref()
        .take(limit)
        .read_until(b'\n', buf)
        .map_err(LineError::Io)?;
    let content = buf[start..].strip_suffix(b"\n").unwrap_or(&buf[start..]);
    if content.len() > max {
        return Err(LineError::TooLong(max));
    }
    Ok(n)
}

/// [`read_bounded_line`] into `text` (cleared first), for readers that
/// want the line as text: a line that is not UTF-8 is an I/O error of kind
/// `InvalidData`, as [`BufRead::read_line`] gives.
pub fn read_bounded_text_line<R: BufRead>(
    reader: &mut R,
    text: &mut String,
    max: usize,
) -> Result<usize, LineError> {
    let mut buf = std::mem::take(text).into_bytes();
    buf.clear();
    let n = read_bounded_line(reader, &mut buf, max)?;
    *text = String::from_utf8(buf)
        .map_err(|e| LineError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    Ok(n)
}

/// Reads the whole text file `path`, one line at a time, each line at most
/// `max_line` bytes (`usize::MAX`: no limit). A longer line, or bytes that
/// are not UTF-8, are an error of kind `InvalidData` that says where:
/// `line 3: the line is longer than ...`, `line 3, column 7: not UTF-8 text`
/// (the column counts bytes).
pub fn read_text_file(path: &Path, max_line: usize) -> io::Result<String> {
    let mut reader = io::BufReader::new(std::fs::File::open(path)?);
    let mut bytes = Vec::new();
    for line in 1.. {
        let start = bytes.len();
        let n = read_bounded_line(&mut reader, &mut bytes, max_line).map_err(|e| match e {
            LineError::Io(e) => e,
            too_long => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {line}: {too_long}"),
            ),
        })?;
        if n == 0 {
            break;
        }
        if let Err(e) = std::str::from_utf8(&bytes[start..]) {
            let column = e.valid_up_to() + 1;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {line}, column {column}: not UTF-8 text"),
            ));
        }
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A trace reader's message for a line that could not be read.
pub fn trace_read_message(error: &LineError) -> String {
    match error {
        LineError::Io(e) => format!("cannot read the trace: {e}"),
        LineError::TooLong(_) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], max: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut reader = text;
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            match read_bounded_line(&mut reader, &mut buf, max) {
                Ok(0) => return out,
                Ok(_) => out.push(Ok(buf)),
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    #[test]
    fn lines_up_to_the_limit_read_and_a_longer_one_is_an_error() {
        let ok = lines(b"abcd\nab\nabcd", 4);
        let expected: Vec<Result<Vec<u8>, String>> = vec![
            Ok(b"abcd\n".to_vec()),
            Ok(b"ab\n".to_vec()),
            Ok(b"abcd".to_vec()),
        ];
        assert_eq!(ok, expected);
        let long = lines(b"ab\nabcde\nx\n", 4);
        assert_eq!(long[0], Ok(b"ab\n".to_vec()));
        assert_eq!(
            long[1],
            Err("the line is longer than 0 MiB (4 bytes), the limit on a line".into())
        );
        assert_eq!(long.len(), 2);
    }

    #[test]
    fn a_file_that_is_not_utf8_names_the_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, b"a = 1\nb = \"x\xffy\"\n").unwrap();
        let e = read_text_file(&path, usize::MAX).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "line 2, column 7: not UTF-8 text");
        std::fs::write(&path, "é = 1\nb = 2").unwrap();
        assert_eq!(read_text_file(&path, usize::MAX).unwrap(), "é = 1\nb = 2");
    }

    #[test]
    fn a_whole_file_read_stops_at_a_line_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "ab\nabcd\nabcde\n").unwrap();
        assert_eq!(read_text_file(&path, 5).unwrap(), "ab\nabcd\nabcde\n");
        let e = read_text_file(&path, 4).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            e.to_string(),
            "line 3: the line is longer than 0 MiB (4 bytes), the limit on a line"
        );
    }

    #[test]
    fn an_endless_line_stops_at_the_limit() {
        let mut endless = io::BufReader::new(io::repeat(0));
        let mut buf = Vec::new();
        let err = read_bounded_line(&mut endless, &mut buf, 1000).unwrap_err();
        assert!(matches!(err, LineError::TooLong(1000)));
        assert_eq!(buf.len(), 1001, "read one byte past the limit, no more");
    }
}
