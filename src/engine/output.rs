//! What engines hand over at the end, and what a run produces from it.

use crate::config::Config;
use crate::metrics::{MetricsCollector, RequestRecord, RunResult, RunTotals};

/// What an engine hands over when it is done: its raw metrics and totals.
/// The outputs of several engines merge into one before they are summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOutput {
    /// The engine's samples.
    pub metrics: MetricsCollector,
    /// The engine's counters.
    pub totals: RunTotals,
}

impl EngineOutput {
    /// Takes in another engine's output.
    pub fn merge(&mut self, other: EngineOutput) {
        self.metrics.merge(other.metrics);
        self.totals.merge(&other.totals);
    }

    /// Summarises the run of `config` (the config the driver ran, recorded in
    /// the result).
    pub fn into_run_output(self, config: Config) -> RunOutput {
        let (metrics, requests) = self.metrics.finish(&self.totals);
        RunOutput {
            result: RunResult::new(config, metrics),
            requests,
        }
    }
}

/// What a run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// The run's metrics.
    pub result: RunResult,
    /// Per-request records, when [`SimOptions::record_requests`](super::SimOptions::record_requests) asked for them.
    pub requests: Option<Vec<RequestRecord>>,
}
