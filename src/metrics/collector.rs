//! Gathers what a run needs for its metrics, compactly: three floats per
//! completed request plus running sums.

use super::result::{
    LatencyMetrics, Preemptions, PrefixCacheMetrics, RequestCounts, RequestRecord, RunResult,
    SimulationInfo, ThroughputMetrics, Utilization,
};
use super::stats::Stats;
use crate::config::Config;

/// Accumulates metrics during a run.
#[derive(Debug, Default)]
pub(crate) struct MetricsCollector {
    ttft: Vec<f64>,
    e2e: Vec<f64>,
    per_token: Vec<f64>,
    input_tokens: u64,
    output_tokens: u64,
    first_arrival: Option<f64>,
    last_completion: f64,
    busy_secs: f64,
    flops: f64,
    bytes: f64,
    kv_util_secs: f64,
    records: Option<Vec<RequestRecord>>,
}

/// Scheduler-side totals handed over at the end.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunTotals {
    pub arrived: u64,
    pub rejected: u64,
    pub preemptions: u64,
    pub prefix_hits: u64,
    pub prefix_misses: u64,
    pub cached_tokens: u64,
    pub lookup_tokens: u64,
    pub steps: u64,
    pub end_secs: f64,
}

impl MetricsCollector {
    /// A collector; `keep_records` also keeps one [`RequestRecord`] per completed request.
    pub fn new(keep_records: bool) -> Self {
        Self {
            records: keep_records.then(Vec::new),
            ..Self::default()
        }
    }

    /// Notes an arrival (the throughput window starts at the first one).
    pub fn on_arrival(&mut self, t: f64) {
        self.first_arrival.get_or_insert(t);
    }

    /// Notes a step of `secs` seconds with its work and the KV utilisation during it.
    #[inline]
    pub fn on_step(&mut self, secs: f64, flops: f64, bytes: f64, kv_util: f64) {
        self.busy_secs += secs;
        self.flops += flops;
        self.bytes += bytes;
        self.kv_util_secs += kv_util * secs;
    }

    /// Records a completed request.
    pub fn on_complete(&mut self, record: RequestRecord) {
        let ttft = record.first_token_secs - record.arrival_secs;
        let e2e = record.finish_secs - record.arrival_secs;
        self.ttft.push(ttft);
        self.e2e.push(e2e);
        if record.output_tokens > 1 {
            self.per_token
                .push((e2e - ttft) / f64::from(record.output_tokens - 1));
        }
        self.input_tokens += u64::from(record.input_tokens);
        self.output_tokens += u64::from(record.output_tokens);
        self.last_completion = self.last_completion.max(record.finish_secs);
        if let Some(records) = &mut self.records {
            records.push(record);
        }
    }

    /// Completed requests so far.
    pub fn completed(&self) -> u64 {
        self.e2e.len() as u64
    }

    /// Summarises the run.
    pub fn finish(
        mut self,
        config: &Config,
        totals: RunTotals,
    ) -> (RunResult, Option<Vec<RequestRecord>>) {
        let completed = self.completed();
        let window = self.last_completion - self.first_arrival.unwrap_or(0.0);
        let per_sec = |x: f64| if window > 0.0 { x / window } else { 0.0 };
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let hw = &config.hardware;
        let result = RunResult {
            config: config.clone(),
            latency_metrics: LatencyMetrics {
                ttft_ms: Stats::of(&mut self.ttft, 1e3),
                e2e_ms: Stats::of(&mut self.e2e, 1e3),
                per_token_ms: Stats::of(&mut self.per_token, 1e3),
            },
            throughput_metrics: ThroughputMetrics {
                input_tokens_per_sec: per_sec(self.input_tokens as f64),
                output_tokens_per_sec: per_sec(self.output_tokens as f64),
                requests_per_sec: per_sec(completed as f64),
            },
            utilization: Utilization {
                avg_kv_cache_util: ratio(self.kv_util_secs, window.max(self.busy_secs)),
                avg_flops_util: ratio(self.flops, hw.compute_flops * self.busy_secs),
                avg_bandwidth_util: ratio(self.bytes, hw.memory_bandwidth * self.busy_secs),
            },
            preemptions: Preemptions {
                total: totals.preemptions,
                per_request_mean: ratio(totals.preemptions as f64, completed as f64),
            },
            prefix_cache: PrefixCacheMetrics {
                hits: totals.prefix_hits,
                misses: totals.prefix_misses,
                hit_rate: ratio(
                    totals.prefix_hits as f64,
                    (totals.prefix_hits + totals.prefix_misses) as f64,
                ),
                cached_tokens: totals.cached_tokens,
                token_hit_rate: ratio(totals.cached_tokens as f64, totals.lookup_tokens as f64),
            },
            requests: RequestCounts {
                total: totals.arrived,
                completed,
                rejected: totals.rejected,
            },
            simulation: SimulationInfo {
                simulated_seconds: totals.end_secs,
                steps: totals.steps,
                wall_seconds: 0.0,
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
        };
        (result, self.records)
    }
}
