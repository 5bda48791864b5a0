//! The error every configuration problem becomes: which file, which field, what was expected.

use std::fmt;

/// A problem with a configuration (or sweep manifest) value.
///
/// Rendered on one line as `SOURCE: FIELD: MESSAGE`, for example
/// `config.toml: scheduler.block_size: expected an integer of at least 1, got 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the text came from: a file path, `<built-in default>`, or a preset name.
    pub source: String,
    /// Dotted path of the offending field (`scheduler.block_size`); empty for
    /// problems with the whole document (for example TOML syntax errors).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    /// An error about `field` in the document read from `source`.
    pub fn new(
        source: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            source: source.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: {}: {}", self.source, self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Suggests the closest of `candidates` to `word`, if one is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Characters of a value an error message quotes at most.
pub const EXCERPT_CHARS: usize = 200;

/// `text` as an error message quotes it: at most [`EXCERPT_CHARS`]
/// characters (then `...`), with control characters (newlines, NULs)
/// escaped, so that a message stays one short line whatever the input holds.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == EXCERPT_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends `; did you mean 'x'?` when a close candidate exists.
pub(crate) fn with_hint(message: String, word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates) {
        Some(hint) => format!("{message}; did you mean '{hint}'?"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_close_words_only() {
        let fields = ["policy", "block_size", "max_num_seqs"];
        assert_eq!(did_you_mean("polcy", &fields), Some("policy"));
        assert_eq!(did_you_mean("blocksize", &fields), Some("block_size"));
        assert_eq!(did_you_mean("zzz", &fields), None);
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(excerpt("a\nb\0c é"), "a\\nb\\0c é");
        let long = excerpt(&"x".repeat(10_000));
        assert_eq!(long.len(), EXCERPT_CHARS + 3);
        assert!(long.ends_with("x..."));
    }

    #[test]
    fn renders_on_one_line() {
        let e = ConfigError::new("c.toml", "scheduler.block_size", "expected an integer");
        assert_eq!(
            e.to_string(),
            "c.toml: scheduler.block_size: expected an integer"
        );
        let e = ConfigError::new("c.toml", "", "invalid TOML");
        assert_eq!(e.to_string(), "c.toml: invalid TOML");
    }
}
