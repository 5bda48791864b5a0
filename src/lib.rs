//! inference-lab simulates a GPU server running a vLLM-style LLM inference
//! engine — a scheduler batching requests under a token budget, a paged KV
//! cache with prefix caching, and a roofline cost model of the GPU — and
//! reports latency, throughput, utilisation and preemption metrics.
//!
//! Data flows one way: [`config::Config`] (validated once) ->
//! [`workload::Workload`] (seeded arrivals and lengths) ->
//! [`engine::Simulator`] (scheduler, KV cache, cost model) ->
//! [`metrics::RunResult`] -> reports and sweep tables ([`sweep`]). The core
//! (everything but [`cli`], [`dataset`], [`report`] and [`sweep`]) does no I/O and is deterministic: the same resolved config gives
//! bit-identical results on any machine.
#![warn(missing_docs)]

pub mod calibration;
pub mod config;
pub mod engine;
pub mod metrics;
pub mod workload;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod dataset;
// Native-only: charts and sweep statistics may use std's float functions
// (clippy.toml keeps them out of the core, whose numbers must match on every target).
#[cfg(feature = "cli")]
#[allow(clippy::disallowed_methods)]
pub mod report;
#[cfg(feature = "cli")]
#[allow(clippy::disallowed_methods)]
pub mod sweep;
