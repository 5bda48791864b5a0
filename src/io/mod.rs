//! Workload inputs read from files, for the command line: trace files
//! parsed into the records the core replays. The deterministic core never
//! reads files; it is handed what this layer reads.

pub mod trace;
