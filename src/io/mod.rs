//! The I/O layer below sweeps and reports: config files (calibration files
//! inlined, relative paths resolved), workload sources that read files
//! (datasets, with their tokenizer and chat template, and traces) and their cache,
//! content digests of inputs, atomic writes, tables as Parquet and CSV, and
//! benchmark results measured on real servers.
//! Everything here returns the typed [`Error`]; nothing here draws progress
//! or prints: callers pass callbacks.

pub mod config_file;
pub mod csv;
pub mod dataset;
pub mod digest;
pub mod error;
pub mod files;
pub mod lines;
pub mod measured;
pub mod parquet;
pub mod requests;
pub mod trace;
pub mod workload;

pub use error::{Context, Error, ErrorClass, ErrorKind, Result};
