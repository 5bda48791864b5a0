//! The one error type of the I/O half (config files, datasets, traces,
//! tables, sweeps): a context (what was being done, outermost first) around a
//! kind that says what went wrong, so a caller can tell a bad input from a
//! full disk without reading the message, and the command line can map every
//! error to its exit code in one place.

use crate::calibration::StepsError;
use crate::config::ConfigError;
use crate::engine::SimError;
use crate::io::dataset::DatasetError;
use crate::workload::TraceError;
use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A config, sweep manifest or calibration file that breaks the rules.
    Config(ConfigError),
    /// A dataset, tokenizer or chat template that cannot be used.
    Dataset(DatasetError),
    /// A step table that cannot be used.
    Steps(StepsError),
    /// A trace file that cannot be replayed.
    Trace(TraceError),
    /// An input that is not usable, described in full (a trace line, a
    /// flag that does not fit the config, shards of different sweeps).
    Invalid(String),
    /// Flags (or manifest settings) that do not fit the config: a
    /// tokenizer for a config without a dataset, a dataset without one.
    Usage(String),
    /// An input file that is missing or unreadable.
    Read {
        /// What the file is, for the message (`config file`, `step table`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// An output that could not be written (disk full, no permission).
    Write {
        /// What the output is, for the message (`results to`, `the plot`;
        /// empty for a plain file).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it could not be written.
        source: std::io::Error,
    },
    /// An output directory that could not be created.
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why it could not be created.
        source: std::io::Error,
    },
    /// A simulation that could not finish.
    Simulation(SimError),
}

/// The broad class of an error: who has to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The inputs (configs, manifests, datasets, files named by them) need fixing.
    Input,
    /// The command line (or the manifest's settings) does not fit the config.
    Usage,
    /// The outputs could not be written.
    Output,
    /// A simulation failed.
    Run,
}

/// An error with the context it happened in.
#[derive(Debug)]
pub struct Error {
    context: Vec<String>,
    kind: ErrorKind,
}

/// A result of the I/O layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` without context.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            context: Vec::new(),
            kind,
        }
    }

    /// An unusable input, described by `message` (which names the file and field).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid(message.into()))
    }

    /// A file that could not be read.
    pub fn read(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Read {
            what,
            path: path.to_path_buf(),
            source,
        })
    }

    /// An output that could not be written.
    pub fn write(path: &Path, source: std::io::Error) -> Self {
        Self::write_as("", path, source)
    }

    /// An output that could not be written, named by `what` in the message
    /// (`cannot write results to 'r.json': ...`).
    pub fn write_as(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Write {
            what,
            path: path.to_path_buf(),
            source,
        })
    }

    /// A file that could not be read or decoded by a library (Parquet,
    /// JSON): `error` becomes the reason.
    pub fn read_with(path: &Path, error: impl fmt::Display) -> Self {
        Self::read("", path, std::io::Error::other(error.to_string()))
    }

    /// An output that a library (Parquet, CSV, JSON) could not write:
    /// `error` becomes the reason.
    pub fn write_with(path: &Path, error: impl fmt::Display) -> Self {
        Self::write(path, std::io::Error::other(error.to_string()))
    }

    /// An output directory that could not be created.
    pub fn create_dir(path: &Path, source: std::io::Error) -> Self {
        Self::new(ErrorKind::CreateDir {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The same error, said to have happened while doing `what` (outermost first).
    #[must_use]
    pub fn context(mut self, what: impl Into<String>) -> Self {
        self.context.insert(0, what.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Who has to act.
    pub fn class(&self) -> ErrorClass {
        match self.kind {
            ErrorKind::Write { .. } | ErrorKind::CreateDir { .. } => ErrorClass::Output,
            ErrorKind::Usage(_) => ErrorClass::Usage,
            ErrorKind::Simulation(_) => ErrorClass::Run,
            _ => ErrorClass::Input,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Config(e) => e.fmt(f),
            ErrorKind::Dataset(e) => e.fmt(f),
            ErrorKind::Steps(e) => e.fmt(f),
            ErrorKind::Trace(e) => e.fmt(f),
            ErrorKind::Invalid(message) | ErrorKind::Usage(message) => f.write_str(message),
            ErrorKind::Read {
                what: "",
                path,
                source,
            } => {
                write!(f, "cannot read '{}': {source}", path.display())
            }
            ErrorKind::Read { what, path, source } => {
                write!(f, "cannot read {what} '{}': {source}", path.display())
            }
            ErrorKind::Write {
                what: "",
                path,
                source,
            } => write!(f, "cannot write '{}': {source}", path.display()),
            ErrorKind::Write { what, path, source } => {
                write!(f, "cannot write {what} '{}': {source}", path.display())
            }
            ErrorKind::CreateDir { path, source } => {
                write!(
                    f,
                    "cannot create the output directory '{}': {source}",
                    path.display()
                )
            }
            ErrorKind::Simulation(e) => e.fmt(f),
        }
    }
}

impl fmt::Display for Error {
    /// One line: each context, then the kind, joined by `: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.context {
            write!(f, "{c}: ")?;
        }
        self.kind.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Config(e) => Some(e),
            ErrorKind::Dataset(e) => Some(e),
            ErrorKind::Steps(e) => Some(e),
            ErrorKind::Trace(e) => Some(e),
            ErrorKind::Read { source, .. }
            | ErrorKind::Write { source, .. }
            | ErrorKind::CreateDir { source, .. } => Some(source),
            ErrorKind::Simulation(e) => Some(e),
            ErrorKind::Invalid(_) | ErrorKind::Usage(_) => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::new(ErrorKind::Config(e))
    }
}

impl From<DatasetError> for Error {
    fn from(e: DatasetError) -> Self {
        Self::new(ErrorKind::Dataset(e))
    }
}

impl From<StepsError> for Error {
    fn from(e: StepsError) -> Self {
        Self::new(ErrorKind::Steps(e))
    }
}

impl From<TraceError> for Error {
    fn from(e: TraceError) -> Self {
        Self::new(ErrorKind::Trace(e))
    }
}

impl From<SimError> for Error {
    /// A simulation that stopped on a bad trace line is a bad input, not a
    /// failed run.
    fn from(e: SimError) -> Self {
        match e {
            SimError::Trace(trace) => Self::new(ErrorKind::Trace(trace)),
            other => Self::new(ErrorKind::Simulation(other)),
        }
    }
}

/// Adds context to the error of a [`Result`], as `anyhow` does.
pub trait Context<T> {
    /// On error, says it happened while doing what `what` returns.
    fn context_with<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context_with<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_context_then_kind_and_classifies() {
        let e = Error::read(
            "config file",
            Path::new("c.toml"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.class(), ErrorClass::Input);
        assert!(e
            .to_string()
            .starts_with("cannot read config file 'c.toml': "));
        let e = Error::write(Path::new("/x"), std::io::Error::other("disk full")).context("saving");
        assert_eq!(e.to_string(), "saving: cannot write '/x': disk full");
        let e = Error::write_as("results to", Path::new("r"), std::io::Error::other("full"));
        assert_eq!(e.to_string(), "cannot write results to 'r': full");
        assert_eq!(e.class(), ErrorClass::Output);
        let e: Error = ConfigError::new("c.toml", "scheduler.block_size", "bad").into();
        assert_eq!(e.to_string(), "c.toml: scheduler.block_size: bad");
        assert!(matches!(e.kind(), ErrorKind::Config(_)));
    }
}
