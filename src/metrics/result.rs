//! The result of one run: plain data that feeds the console report, the JSON
//! file and sweep tables alike. Field names are the public JSON keys.

use super::stats::{serialize_or_nulls, Stats};
use crate::config::Config;
use crate::workload::RequestId;
use serde::Serialize;

/// Everything a run reports (SPEC section 6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// The fully resolved configuration that ran.
    pub config: Config,
    /// Latency distributions.
    pub latency_metrics: LatencyMetrics,
    /// Rates over the busy window.
    pub throughput_metrics: ThroughputMetrics,
    /// Time-weighted utilisation.
    pub utilization: Utilization,
    /// Recompute preemptions.
    pub preemptions: Preemptions,
    /// Prefix cache effectiveness.
    pub prefix_cache: PrefixCacheMetrics,
    /// Request counts.
    pub requests: RequestCounts,
    /// Facts about the run itself.
    pub simulation: SimulationInfo,
    /// The deployment's GPUs, its load imbalance and each replica's figures.
    pub cluster: ClusterMetrics,
}

impl RunResult {
    /// The result of `config` with what the run measured.
    pub fn new(config: Config, metrics: RunMetrics) -> Self {
        let RunMetrics {
            latency_metrics,
            throughput_metrics,
            utilization,
            preemptions,
            prefix_cache,
            requests,
            simulation,
            cluster,
        } = metrics;
        Self {
            config,
            latency_metrics,
            throughput_metrics,
            utilization,
            preemptions,
            prefix_cache,
            requests,
            simulation,
            cluster,
        }
    }

    /// A result of `config` with every count zero and every metric of
    /// completed requests null (as a run with none): the shape of a result,
    /// from which sweep tables take their column names and types.
    pub fn zeroed(config: Config) -> Self {
        Self::new(config, RunMetrics::default())
    }
}

/// What a run measured: a [`RunResult`] without its config. The metrics
/// collector produces it; the driver of the run, which knows the config,
/// makes the result from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunMetrics {
    /// Latency distributions.
    pub latency_metrics: LatencyMetrics,
    /// Rates over the busy window.
    pub throughput_metrics: ThroughputMetrics,
    /// Time-weighted utilisation.
    pub utilization: Utilization,
    /// Recompute preemptions.
    pub preemptions: Preemptions,
    /// Prefix cache effectiveness.
    pub prefix_cache: PrefixCacheMetrics,
    /// Request counts.
    pub requests: RequestCounts,
    /// Facts about the run itself.
    pub simulation: SimulationInfo,
    /// The deployment's GPUs, its load imbalance and each replica's figures.
    pub cluster: ClusterMetrics,
}

/// The deployment as it ran: cluster-wide figures, and one entry per replica.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterMetrics {
    /// GPUs of the deployment: `tensor_parallel_size x replicas`.
    pub gpus: u64,
    /// The most requests any replica was sent over the mean per replica
    /// (1 is perfect balance; 0 when no request arrived).
    pub load_imbalance: f64,
    /// Each replica's figures, in replica order.
    pub replicas: Vec<ReplicaMetrics>,
}

/// What one replica of the deployment did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ReplicaMetrics {
    /// Requests the router sent to it (rejected ones included).
    pub requests: u64,
    /// Requests it completed.
    pub completed: u64,
    /// Its utilisation over the run's window.
    pub utilization: Utilization,
    /// Its recompute preemptions.
    pub preemptions: u64,
    /// Its admissions that reused at least one cached block.
    pub prefix_hits: u64,
}

impl ClusterMetrics {
    /// The figures of a deployment of `gpus` GPUs from its replicas'.
    pub fn new(gpus: u64, replicas: Vec<ReplicaMetrics>) -> Self {
        let most = replicas.iter().map(|r| r.requests).max().unwrap_or(0);
        let total: u64 = replicas.iter().map(|r| r.requests).sum();
        let load_imbalance = if total > 0 {
            most as f64 * replicas.len() as f64 / total as f64
        } else {
            0.0
        };
        Self {
            gpus,
            load_imbalance,
            replicas,
        }
    }
}

/// Latency distributions over completed requests, in milliseconds. A
/// distribution without samples (no request completed; for `per_token_ms`,
/// none with two output tokens or more) is `None`, its statistics each
/// `null` in JSON and tables: never 0 ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyMetrics {
    /// Time to first token: first token time minus arrival.
    #[serde(serialize_with = "serialize_or_nulls")]
    pub ttft_ms: Option<Stats>,
    /// End to end: last token time minus arrival.
    #[serde(serialize_with = "serialize_or_nulls")]
    pub e2e_ms: Option<Stats>,
    /// `(e2e - ttft) / (output tokens - 1)`, requests with one output token left out.
    #[serde(serialize_with = "serialize_or_nulls")]
    pub per_token_ms: Option<Stats>,
}

/// Throughput over the window from the first arrival to the last
/// completion; `None` (JSON `null`) when no request completed, as the
/// window is then undefined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ThroughputMetrics {
    /// Prompt tokens of completed requests per second.
    pub input_tokens_per_sec: Option<f64>,
    /// Output tokens of completed requests per second.
    pub output_tokens_per_sec: Option<f64>,
    /// Completed requests per second.
    pub requests_per_sec: Option<f64>,
}

/// Utilisation as fractions from 0 to 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Utilization {
    /// KV cache bytes held, time-weighted over the whole run.
    pub avg_kv_cache_util: f64,
    /// Achieved over peak FLOP/s, weighted by step duration over busy steps.
    pub avg_flops_util: f64,
    /// Achieved over peak memory bandwidth, weighted by step duration over busy steps.
    pub avg_bandwidth_util: f64,
}

/// Recompute preemptions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Preemptions {
    /// All preemptions of the run.
    pub total: u64,
    /// Preemptions per completed request (`None`, JSON `null`, when none completed).
    pub per_request_mean: Option<f64>,
}

/// Prefix cache effectiveness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PrefixCacheMetrics {
    /// Admissions that reused at least one cached block.
    pub hits: u64,
    /// Admissions that looked up the cache and reused nothing.
    pub misses: u64,
    /// `hits / (hits + misses)`.
    pub hit_rate: f64,
    /// Prompt tokens reused from the cache instead of computed.
    pub cached_tokens: u64,
    /// `cached_tokens` over the prompt tokens looked up.
    pub token_hit_rate: f64,
}

/// Request counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Requests that arrived.
    pub total: u64,
    /// Requests that emitted their last token.
    pub completed: u64,
    /// Requests refused at arrival (too long for the model, the KV cache or
    /// the step's token budget).
    pub rejected: u64,
    /// The rejected requests by the limit that refused them; in JSON only
    /// when a request was rejected (it is no table column).
    #[serde(skip_serializing_if = "Rejections::is_empty")]
    pub rejected_by: Rejections,
}

/// Requests refused at arrival, by the limit that refused them (the first
/// that applies, in this order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rejections {
    /// Prompt plus output longer than `model.max_seq_len`.
    pub max_seq_len: u64,
    /// KV larger than the whole, empty KV cache.
    pub kv_cache: u64,
    /// Prompt longer than `scheduler.max_num_batched_tokens`, the token
    /// budget of a step, with chunked prefill off.
    pub token_budget: u64,
}

impl Rejections {
    /// All rejected requests.
    pub fn total(&self) -> u64 {
        self.max_seq_len + self.kv_cache + self.token_budget
    }

    /// Whether no request was rejected.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Adds another engine's rejections to these.
    pub fn merge(&mut self, other: &Rejections) {
        self.max_seq_len += other.max_seq_len;
        self.kv_cache += other.kv_cache;
        self.token_budget += other.token_budget;
    }
}

/// Facts about the run itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimulationInfo {
    /// Simulated time at the end of the run, seconds.
    pub simulated_seconds: f64,
    /// Engine steps run.
    pub steps: u64,
    /// Wall-clock seconds the run took (set by the caller; the core never reads the clock).
    pub wall_seconds: f64,
    /// Version of inference-lab that produced the result.
    pub version: String,
}

/// One completed request, for per-request output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RequestRecord {
    /// The request's global id (its arrival index in the run's traffic).
    pub request_id: RequestId,
    /// Arrival time, seconds.
    pub arrival_secs: f64,
    /// First token time, seconds.
    pub first_token_secs: f64,
    /// Last token time, seconds.
    pub finish_secs: f64,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Times the request was preempted.
    pub preemptions: u32,
    /// Prompt tokens reused from the prefix cache at its last admission.
    pub cached_tokens: u32,
    /// The replica that served it (its index in the deployment; 0 with one replica).
    pub replica: u32,
}
