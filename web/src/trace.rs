//! What the playground draws besides the result: the run's time series
//! (queues, batch size, KV cache use and step time over simulated time) and
//! the distributions of the request latencies, kept small whatever the run's
//! length.

use inference_lab::engine::{Observer, StepSummary};
use inference_lab::metrics::RequestRecord;
use serde::Serialize;

/// Most points of a time series.
pub const MAX_POINTS: usize = 1000;
/// Most points of a latency distribution.
pub const MAX_CDF_POINTS: usize = 400;
/// Simulated seconds a time bucket spans at first; doubled whenever the run
/// would need more than [`MAX_POINTS`] buckets.
const FIRST_BUCKET_SECS: f64 = 1e-3;

/// The quantities of a step, in the order [`TimeSeries`] sums them.
const TIME: usize = 0;
const RUNNING: usize = 1;
const WAITING: usize = 2;
const BATCH: usize = 3;
const KV_PERCENT: usize = 4;
const STEP_MS: usize = 5;
const QUANTITIES: usize = 6;

/// Collects step summaries into time buckets: per bucket, the number of
/// steps and the sum of each quantity, so each point is a mean over steps.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    bucket_secs: f64,
    steps: Vec<u32>,
    sums: Vec<[f64; QUANTITIES]>,
}

impl Default for TimeSeries {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeSeries {
    /// No steps yet.
    pub fn new() -> Self {
        Self {
            bucket_secs: FIRST_BUCKET_SECS,
            steps: Vec::new(),
            sums: Vec::new(),
        }
    }

    fn bucket_of(&self, time_secs: f64) -> usize {
        (time_secs / self.bucket_secs).max(0.0) as usize
    }

    /// Folds pairs of neighbouring buckets into one of twice the span.
    fn coarsen(&mut self) {
        let n = self.steps.len().div_ceil(2);
        for i in 0..n {
            let (a, b) = (2 * i, 2 * i + 1);
            let mut sum = self.sums[a];
            let mut steps = self.steps[a];
            if b < self.steps.len() {
                steps += self.steps[b];
                sum.iter_mut().zip(self.sums[b]).for_each(|(x, y)| *x += y);
            }
            self.steps[i] = steps;
            self.sums[i] = sum;
        }
        self.steps.truncate(n);
        self.sums.truncate(n);
        self.bucket_secs *= 2.0;
    }

    /// The series, one point per non-empty bucket, in time order.
    pub fn points(&self) -> Timeline {
        let mut t = Timeline::default();
        for (steps, sum) in self.steps.iter().zip(&self.sums).filter(|(n, _)| **n > 0) {
            let mean = |q: usize| sum[q] / f64::from(*steps);
            t.time_secs.push(mean(TIME));
            t.running.push(mean(RUNNING));
            t.waiting.push(mean(WAITING));
            t.batch.push(mean(BATCH));
            t.kv_percent.push(mean(KV_PERCENT));
            t.step_ms.push(mean(STEP_MS));
        }
        t
    }
}

impl Observer for TimeSeries {
    fn on_step(&mut self, s: &StepSummary) {
        let mut i = self.bucket_of(s.now_secs);
        while i >= MAX_POINTS {
            self.coarsen();
            i = self.bucket_of(s.now_secs);
        }
        if i >= self.steps.len() {
            self.steps.resize(i + 1, 0);
            self.sums.resize(i + 1, [0.0; QUANTITIES]);
        }
        self.steps[i] += 1;
        let sum = &mut self.sums[i];
        sum[TIME] += s.now_secs;
        sum[RUNNING] += s.running as f64;
        sum[WAITING] += s.waiting as f64;
        sum[BATCH] += f64::from(s.num_seqs);
        sum[KV_PERCENT] += s.kv_utilization * 100.0;
        sum[STEP_MS] += s.step_secs * 1e3;
    }
}

/// Means over the steps of each time bucket, one array per quantity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// Mean simulated time of the bucket's steps, seconds.
    pub time_secs: Vec<f64>,
    /// Requests running after a step.
    pub running: Vec<f64>,
    /// Requests waiting after a step.
    pub waiting: Vec<f64>,
    /// Requests in a step's batch.
    pub batch: Vec<f64>,
    /// KV cache utilisation, percent.
    pub kv_percent: Vec<f64>,
    /// Step duration, milliseconds.
    pub step_ms: Vec<f64>,
}

/// A run's time series and latency distributions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// The time series.
    pub timeline: Timeline,
    /// Empirical CDF of time to first token: `[ms, percent at or below]` pairs.
    pub ttft_ms: Vec<[f64; 2]>,
    /// Empirical CDF of end-to-end latency.
    pub e2e_ms: Vec<[f64; 2]>,
    /// Empirical CDF of the time per output token after the first
    /// (requests with one output token left out).
    pub per_token_ms: Vec<[f64; 2]>,
}

impl Trace {
    /// The trace of a run observed by `series` that completed `records`.
    pub fn new(series: &TimeSeries, records: &[RequestRecord]) -> Self {
        let ms = |secs: f64| secs * 1e3;
        Self {
            timeline: series.points(),
            ttft_ms: cdf(records
                .iter()
                .map(|r| ms(r.first_token_secs - r.arrival_secs))),
            e2e_ms: cdf(records.iter().map(|r| ms(r.finish_secs - r.arrival_secs))),
            per_token_ms: cdf(records
                .iter()
                .filter(|r| r.output_tokens > 1)
                .map(|r| ms(r.finish_secs - r.first_token_secs) / f64::from(r.output_tokens - 1))),
        }
    }
}

/// The empirical CDF of `values` at no more than [`MAX_CDF_POINTS`] ranks,
/// spread evenly from the smallest value to the largest.
pub fn cdf(values: impl Iterator<Item = f64>) -> Vec<[f64; 2]> {
    let mut sorted: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let points = n.min(MAX_CDF_POINTS);
    let rank = |k: usize| match points {
        1 => n - 1,
        _ => k * (n - 1) / (points - 1),
    };
    (0..points)
        .map(rank)
        .map(|i| [sorted[i], (i + 1) as f64 * 100.0 / n as f64])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(now_secs: f64, running: usize) -> StepSummary {
        StepSummary {
            now_secs,
            step_secs: 0.02,
            num_seqs: running as u32,
            running,
            waiting: 3,
            kv_utilization: 0.25,
            ..StepSummary::default()
        }
    }

    #[test]
    fn a_long_run_stays_within_max_points_and_keeps_every_step() {
        let mut s = TimeSeries::new();
        for i in 0..500_000 {
            s.on_step(&step(i as f64 * 0.02, 8));
        }
        let t = s.points();
        assert!(t.time_secs.len() <= MAX_POINTS && t.time_secs.len() > MAX_POINTS / 4);
        assert_eq!(s.steps.iter().map(|n| u64::from(*n)).sum::<u64>(), 500_000);
        assert!(t.time_secs.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((t.running[7], t.waiting[7], t.batch[7]), (8.0, 3.0, 8.0));
        assert!((t.kv_percent[7] - 25.0).abs() < 1e-9 && (t.step_ms[7] - 20.0).abs() < 1e-9);
    }

    #[test]
    fn a_point_is_the_mean_of_its_bucket() {
        let mut s = TimeSeries::new();
        s.on_step(&step(0.0002, 2));
        s.on_step(&step(0.0004, 6));
        s.on_step(&step(0.9, 1));
        let t = s.points();
        assert_eq!(t.running, [4.0, 1.0]);
        assert!((t.time_secs[0] - 0.0003).abs() < 1e-12);
    }

    #[test]
    fn cdf_spans_the_values_with_bounded_points() {
        assert!(cdf(std::iter::empty()).is_empty());
        assert_eq!(cdf([5.0].into_iter()), [[5.0, 100.0]]);
        assert_eq!(
            cdf([3.0, 1.0, 2.0, f64::NAN].into_iter()),
            [[1.0, 100.0 / 3.0], [2.0, 200.0 / 3.0], [3.0, 100.0]]
        );
        let big = cdf((0..10_000).map(f64::from));
        assert_eq!(big.len(), MAX_CDF_POINTS);
        assert_eq!(big[0], [0.0, 0.01]);
        assert_eq!(big[MAX_CDF_POINTS - 1], [9999.0, 100.0]);
    }
}
