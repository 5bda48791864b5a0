//! Gathers what a run needs for its metrics, compactly: three floats per
//! completed request plus running sums. Collectors of several engines merge
//! into one, and the summary is computed once, at the end, from the raw
//! samples of all of them.

use super::result::{
    ClusterMetrics, LatencyMetrics, Preemptions, PrefixCacheMetrics, Rejections, RequestCounts,
    RequestRecord, RunMetrics, SimulationInfo, ThroughputMetrics, Utilization,
};
use super::stats::Stats;

/// The peak rates of one engine's device: the denominators of its FLOP and
/// bandwidth utilisation (from the engine's cost model).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Peaks {
    /// Peak FLOP/s.
    pub compute_flops: f64,
    /// Peak memory bytes/s.
    pub memory_bandwidth: f64,
}

/// One engine's busy time with its peaks: utilisation is averaged over
/// engines weighted by `peak * busy_secs`, so a merge keeps each engine's own
/// denominator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct EngineTime {
    busy_secs: f64,
    peaks: Peaks,
}

/// Accumulates the raw samples of a run (or of one engine of it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsCollector {
    ttft: Vec<f64>,
    e2e: Vec<f64>,
    per_token: Vec<f64>,
    input_tokens: u64,
    output_tokens: u64,
    first_arrival: Option<f64>,
    last_completion: f64,
    /// The engine this collector was made for.
    own: EngineTime,
    /// Engines of collectors merged into this one.
    merged: Vec<EngineTime>,
    flops: f64,
    bytes: f64,
    kv_util_secs: f64,
    records: Option<Vec<RequestRecord>>,
    /// How much later than the engine the client sees each request's tokens.
    client: ClientDelay,
}

/// How much later than the engine a client sees a request's first and last
/// token (`hardware.calibration`'s `request_overhead` and `stream_lag_steps`).
/// Both are 0 by default: the client sees what the engine does.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClientDelay {
    /// Seconds of API-server work per request.
    pub request_overhead: f64,
    /// Inter-token intervals of the request by which its streamed tokens trail the engine.
    pub stream_lag_steps: f64,
}

impl ClientDelay {
    /// Seconds a request whose tokens came `inter_token` seconds apart is seen late.
    fn of(&self, inter_token: f64) -> f64 {
        self.request_overhead + self.stream_lag_steps * inter_token
    }
}

/// Counters an engine keeps beside its samples, handed over at the end.
/// Counts add up over engines; the end time is the latest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunTotals {
    /// Requests submitted (rejected ones included).
    pub arrived: u64,
    /// Requests refused at arrival, by limit.
    pub rejected: Rejections,
    /// Recompute preemptions.
    pub preemptions: u64,
    /// Admissions that reused at least one cached block.
    pub prefix_hits: u64,
    /// Admissions that looked up the cache and reused nothing.
    pub prefix_misses: u64,
    /// Prompt tokens taken from the cache instead of computed.
    pub cached_tokens: u64,
    /// Prompt tokens looked up in the cache.
    pub lookup_tokens: u64,
    /// Engine steps run.
    pub steps: u64,
    /// Simulated time at the end, seconds.
    pub end_secs: f64,
}

impl RunTotals {
    /// Adds another engine's totals to these.
    pub fn merge(&mut self, other: &RunTotals) {
        self.arrived += other.arrived;
        self.rejected.merge(&other.rejected);
        self.preemptions += other.preemptions;
        self.prefix_hits += other.prefix_hits;
        self.prefix_misses += other.prefix_misses;
        self.cached_tokens += other.cached_tokens;
        self.lookup_tokens += other.lookup_tokens;
        self.steps += other.steps;
        self.end_secs = self.end_secs.max(other.end_secs);
    }
}

impl MetricsCollector {
    /// A collector for an engine with `peaks` whose clients see its tokens
    /// `client` late; `keep_records` also keeps one [`RequestRecord`] per
    /// completed request.
    pub fn new(keep_records: bool, peaks: Peaks, client: ClientDelay) -> Self {
        Self {
            own: EngineTime {
                busy_secs: 0.0,
                peaks,
            },
            records: keep_records.then(Vec::new),
            client,
            ..Self::default()
        }
    }

    /// Notes an arrival (the throughput window starts at the first one).
    pub(crate) fn on_arrival(&mut self, t: f64) {
        self.first_arrival.get_or_insert(t);
    }

    /// Notes a step of `secs` seconds with its work and the KV utilisation during it.
    #[inline]
    pub(crate) fn on_step(&mut self, secs: f64, flops: f64, bytes: f64, kv_util: f64) {
        self.own.busy_secs += secs;
        self.flops += flops;
        self.bytes += bytes;
        self.kv_util_secs += kv_util * secs;
    }

    /// Records a completed request, its first token and end as the client
    /// sees them: [`ClientDelay`] later than the engine produced them.
    pub(crate) fn on_complete(&mut self, mut record: RequestRecord) {
        let inter_token = if record.output_tokens > 1 {
            (record.finish_secs - record.first_token_secs) / f64::from(record.output_tokens - 1)
        } else {
            0.0
        };
        let delay = self.client.of(inter_token);
        record.first_token_secs += delay;
        record.finish_secs += delay;
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

    /// Takes in another engine's samples. When this collector keeps
    /// per-request records, `other`'s follow its own.
    pub fn merge(&mut self, other: MetricsCollector) {
        self.ttft.extend_from_slice(&other.ttft);
        self.e2e.extend_from_slice(&other.e2e);
        self.per_token.extend_from_slice(&other.per_token);
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.first_arrival = match (self.first_arrival, other.first_arrival) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_completion = self.last_completion.max(other.last_completion);
        self.merged.push(other.own);
        self.merged.extend_from_slice(&other.merged);
        self.flops += other.flops;
        self.bytes += other.bytes;
        self.kv_util_secs += other.kv_util_secs;
        if let (Some(ours), Some(theirs)) = (&mut self.records, other.records) {
            ours.extend(theirs);
        }
    }

    /// Seconds from the first arrival to the last completion: the window of
    /// throughput and KV utilisation.
    pub fn window_secs(&self) -> f64 {
        self.last_completion - self.first_arrival.unwrap_or(0.0)
    }

    /// Seconds from the first arrival to the last completion over this
    /// collector and `others` together (before they are merged).
    pub fn joint_window_secs<'a>(&self, others: impl IntoIterator<Item = &'a Self>) -> f64 {
        let mut first = self.first_arrival;
        let mut last = self.last_completion;
        for o in others {
            first = match (first, o.first_arrival) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = last.max(o.last_completion);
        }
        last - first.unwrap_or(0.0)
    }

    /// Utilisation of this collector's engines over `window_secs`: KV use
    /// time-weighted over the window (or an engine's busy time, if longer),
    /// FLOPs and bytes over each engine's peaks times its busy time.
    pub fn utilization(&self, window_secs: f64) -> Utilization {
        let engines = || std::iter::once(&self.own).chain(&self.merged);
        let kv_secs: f64 = engines().map(|e| window_secs.max(e.busy_secs)).sum();
        let peak_flop: f64 = engines().map(|e| e.peaks.compute_flops * e.busy_secs).sum();
        let peak_bytes: f64 = engines()
            .map(|e| e.peaks.memory_bandwidth * e.busy_secs)
            .sum();
        Utilization {
            avg_kv_cache_util: ratio(self.kv_util_secs, kv_secs),
            avg_flops_util: ratio(self.flops, peak_flop),
            avg_bandwidth_util: ratio(self.bytes, peak_bytes),
        }
    }

    /// Summarises the samples with the engines' `totals`; also returns the
    /// per-request records when they were kept.
    pub fn finish(mut self, totals: &RunTotals) -> (RunMetrics, Option<Vec<RequestRecord>>) {
        let completed = self.completed();
        let window = self.window_secs();
        // Rates of completed requests: none without one (the window has no end).
        let per_sec =
            |x: f64| (completed > 0).then_some(if window > 0.0 { x / window } else { 0.0 });
        let utilization = self.utilization(window);
        let metrics = RunMetrics {
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
            utilization,
            preemptions: Preemptions {
                total: totals.preemptions,
                per_request_mean: (completed > 0)
                    .then(|| totals.preemptions as f64 / completed as f64),
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
                rejected: totals.rejected.total(),
                rejected_by: totals.rejected,
            },
            simulation: SimulationInfo {
                simulated_seconds: totals.end_secs,
                steps: totals.steps,
                wall_seconds: 0.0,
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            cluster: ClusterMetrics::default(),
        };
        (metrics, self.records)
    }
}

/// `a / b`, or 0 when `b` is not positive.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::RequestId;

    fn record(id: u64, arrival: f64, first_token: f64, finish: f64) -> RequestRecord {
        RequestRecord {
            request_id: RequestId(id),
            arrival_secs: arrival,
            first_token_secs: first_token,
            finish_secs: finish,
            input_tokens: 10,
            output_tokens: 3,
            preemptions: 0,
            cached_tokens: 0,
            replica: 0,
        }
    }

    const PEAKS: Peaks = Peaks {
        compute_flops: 100.0,
        memory_bandwidth: 10.0,
    };

    #[test]
    fn one_engine_by_hand() {
        let mut c = MetricsCollector::new(true, PEAKS, ClientDelay::default());
        c.on_arrival(1.0);
        c.on_step(2.0, 50.0, 4.0, 0.5);
        c.on_complete(record(0, 1.0, 2.0, 5.0));
        let totals = RunTotals {
            arrived: 1,
            steps: 1,
            end_secs: 5.0,
            ..RunTotals::default()
        };
        let (m, records) = c.finish(&totals);
        let latency = |s: Option<Stats>| s.unwrap();
        assert_eq!(latency(m.latency_metrics.ttft_ms).p50, 1000.0);
        assert_eq!(latency(m.latency_metrics.per_token_ms).mean, 1500.0);
        // Window 1 s .. 5 s.
        assert_eq!(m.throughput_metrics.output_tokens_per_sec, Some(0.75));
        assert_eq!(m.utilization.avg_kv_cache_util, 1.0 / 4.0);
        assert_eq!(m.utilization.avg_flops_util, 50.0 / (100.0 * 2.0));
        assert_eq!(m.utilization.avg_bandwidth_util, 4.0 / (10.0 * 2.0));
        assert_eq!(records.unwrap().len(), 1);
    }

    #[test]
    fn the_request_overhead_delays_what_the_client_sees() {
        // 0.25 s, and half of the 1.5 s between the 3 tokens.
        let client = ClientDelay {
            request_overhead: 0.25,
            stream_lag_steps: 0.5,
        };
        let mut c = MetricsCollector::new(true, PEAKS, client);
        c.on_arrival(1.0);
        c.on_complete(record(0, 1.0, 2.0, 5.0));
        let (m, records) = c.finish(&RunTotals::default());
        let mean = |s: Option<Stats>| s.unwrap().mean;
        assert_eq!(mean(m.latency_metrics.ttft_ms), 2000.0);
        assert_eq!(mean(m.latency_metrics.e2e_ms), 5000.0);
        // Per token: the same gap between first token and end.
        assert_eq!(mean(m.latency_metrics.per_token_ms), 1500.0);
        let r = records.unwrap()[0];
        assert_eq!((r.first_token_secs, r.finish_secs), (3.0, 6.0));
    }

    #[test]
    fn merged_engines_keep_their_own_peaks_and_pool_their_samples() {
        let mut a = MetricsCollector::new(true, PEAKS, ClientDelay::default());
        a.on_arrival(1.0);
        a.on_step(2.0, 50.0, 4.0, 0.5);
        a.on_complete(record(0, 1.0, 2.0, 5.0));
        let twice = Peaks {
            compute_flops: 200.0,
            memory_bandwidth: 20.0,
        };
        let mut b = MetricsCollector::new(true, twice, ClientDelay::default());
        b.on_arrival(0.0);
        b.on_step(1.0, 30.0, 6.0, 1.0);
        b.on_complete(record(1, 0.0, 3.0, 3.0));
        a.merge(b);
        let mut totals = RunTotals {
            arrived: 1,
            preemptions: 2,
            steps: 1,
            end_secs: 5.0,
            ..RunTotals::default()
        };
        totals.merge(&RunTotals {
            arrived: 1,
            rejected: Rejections {
                token_budget: 1,
                ..Rejections::default()
            },
            steps: 1,
            end_secs: 3.0,
            ..RunTotals::default()
        });
        assert_eq!(
            (
                totals.arrived,
                totals.rejected.token_budget,
                totals.preemptions
            ),
            (2, 1, 2)
        );
        assert_eq!((totals.steps, totals.end_secs), (2, 5.0));
        let (m, records) = a.finish(&totals);
        // TTFTs of 1 s and 3 s, over the window 0 s .. 5 s.
        let ttft = m.latency_metrics.ttft_ms.unwrap();
        assert_eq!((ttft.min, ttft.max, ttft.mean), (1000.0, 3000.0, 2000.0));
        assert_eq!(m.throughput_metrics.requests_per_sec, Some(2.0 / 5.0));
        assert_eq!((m.requests.completed, m.requests.rejected), (2, 1));
        assert_eq!(m.preemptions.per_request_mean, Some(1.0));
        // Each engine observed over the whole window.
        assert_eq!(m.utilization.avg_kv_cache_util, (0.5 * 2.0 + 1.0) / 10.0);
        assert_eq!(
            m.utilization.avg_flops_util,
            (50.0 + 30.0) / (100.0 * 2.0 + 200.0 * 1.0)
        );
        assert_eq!(
            m.utilization.avg_bandwidth_util,
            (4.0 + 6.0) / (10.0 * 2.0 + 20.0 * 1.0)
        );
        let ids: Vec<RequestId> = records.unwrap().iter().map(|r| r.request_id).collect();
        assert_eq!(ids, [RequestId(0), RequestId(1)]);
    }

    #[test]
    fn a_run_that_completed_nothing_has_no_latency_throughput_or_rate_per_request() {
        let mut c = MetricsCollector::new(false, PEAKS, ClientDelay::default());
        c.on_arrival(1.0);
        c.on_arrival(2.0);
        let totals = RunTotals {
            arrived: 2,
            rejected: Rejections {
                max_seq_len: 1,
                kv_cache: 1,
                ..Rejections::default()
            },
            end_secs: 2.0,
            ..RunTotals::default()
        };
        let (m, _) = c.finish(&totals);
        assert_eq!(m.latency_metrics, LatencyMetrics::default());
        assert_eq!(m.latency_metrics.ttft_ms, None);
        assert_eq!(m.throughput_metrics, ThroughputMetrics::default());
        assert_eq!(m.throughput_metrics.output_tokens_per_sec, None);
        assert_eq!(m.preemptions.per_request_mean, None);
        assert_eq!((m.requests.total, m.requests.rejected), (2, 2));
        let json = serde_json::to_value(m.latency_metrics).unwrap();
        assert!(json["e2e_ms"]["p99"].is_null(), "{json}");
        assert!(serde_json::to_value(m.throughput_metrics).unwrap()["requests_per_sec"].is_null());
    }
}
