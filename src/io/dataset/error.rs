//! The error every dataset-mode input problem becomes: which file (or flag),
//! which line, and what is wrong.

use std::fmt;

/// A problem with a dataset, a tokenizer or a chat template.
///
/// Rendered on one line as `SOURCE: line N: MESSAGE` (or `SOURCE: MESSAGE`
/// when no line applies), for example
/// `prompts.jsonl: line 7: messages[1].role: unknown role 'usr' (expected one of ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetError {
    /// The file (dataset, tokenizer or template) or flag the problem is in.
    pub source: String,
    /// 1-based line within `source`, when the problem has one.
    pub line: Option<u64>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl DatasetError {
    /// A problem with the whole of `source`.
    pub fn new(source: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            line: None,
            message: message.into(),
        }
    }

    /// A problem at `line` of `source`.
    pub fn at_line(source: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            line: Some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.source, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

impl std::error::Error for DatasetError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_on_one_line() {
        assert_eq!(
            DatasetError::at_line("d.jsonl", 3, "invalid JSON").to_string(),
            "d.jsonl: line 3: invalid JSON"
        );
        assert_eq!(
            DatasetError::new("t.json", "cannot read").to_string(),
            "t.json: cannot read"
        );
    }
}
