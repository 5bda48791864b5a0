//! inference-lab simulates a GPU server running a vLLM-style LLM inference
//! engine — a scheduler batching requests under a token budget, a paged KV
//! cache with prefix caching, and a roofline cost model of the GPU — and
//! reports latency, throughput, utilisation and preemption metrics, for one
//! run or for whole parameter sweeps.
//!
//! # Layers
//!
//! Imports point one way: `cli -> {sweep, report} -> io -> core`.
//!
//! - The deterministic core: [`config`] (validated once), [`workload`]
//!   (seeded arrivals and lengths), [`engine`] (scheduler, KV cache, cost
//!   model, and the [`engine::Engine`] that [`engine::Simulator`] drives),
//!   [`metrics`] (collectors, the result, the metric catalog) and
//!   [`calibration`]. No I/O, no clock, no threads: the same resolved config
//!   gives bit-identical results on any machine, and it builds for wasm32.
//! - [`table`]: typed tables, their column and file names, seed-folded
//!   summaries and best points; plain data both sides read.
//! - [`report`]: the console report and the HTML pages, rendered to strings.
//! - `io` (feature `io`): config files, workload sources that read files
//!   (datasets), input digests, atomic writes, Parquet and CSV.
//! - `sweep` (feature `sweep`): manifests, plans, strategies, the parallel
//!   runner with a progress callback, resume, shards and merge.
//! - `cli` (feature `cli`, the default): clap, progress bars, and the one
//!   place errors become messages and exit codes.
//!
//! A library user can run sweeps without clap with
//! `default-features = false, features = ["sweep"]`.
#![warn(missing_docs)]

pub mod calibration;
pub mod config;
pub mod engine;
pub mod metrics;
pub mod report;
pub mod table;
pub mod workload;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "io")]
pub mod io;
#[cfg(feature = "sweep")]
pub mod sweep;
