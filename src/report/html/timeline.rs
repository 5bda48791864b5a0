//! The time series of a single run, collected step by step through the
//! engine's [`Observer`] and downsampled into at most [`MAX_BUCKETS`] time
//! buckets, so a run of a million requests still makes a small page.

use crate::engine::{Observer, StepSummary};

/// Most points a series keeps.
pub const MAX_BUCKETS: usize = 2000;
/// Width of a bucket at the start, simulated seconds; it doubles whenever
/// the run outgrows [`MAX_BUCKETS`] buckets.
const FIRST_WIDTH: f64 = 1e-3;

/// Sums over the steps that ended in one time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bucket {
    steps: u32,
    time: f64,
    running: f64,
    waiting: f64,
    batch: f64,
    kv: f64,
    step_ms: f64,
}

impl Bucket {
    fn add(&mut self, other: &Bucket) {
        self.steps += other.steps;
        self.time += other.time;
        self.running += other.running;
        self.waiting += other.waiting;
        self.batch += other.batch;
        self.kv += other.kv;
        self.step_ms += other.step_ms;
    }
}

/// One point of the downsampled series: means over the steps of a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Mean simulated time of the steps, seconds.
    pub time_secs: f64,
    /// Requests running after a step.
    pub running: f64,
    /// Requests waiting after a step.
    pub waiting: f64,
    /// Requests in a step's batch.
    pub batch: f64,
    /// KV cache utilisation, percent.
    pub kv_percent: f64,
    /// Step duration, milliseconds.
    pub step_ms: f64,
    /// Steps averaged into this sample.
    pub steps: u32,
}

/// Collects a run's step summaries into time buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    width: f64,
    buckets: Vec<Bucket>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Self {
            width: FIRST_WIDTH,
            buckets: Vec::new(),
        }
    }

    /// Adds one step.
    pub fn add(&mut self, s: &StepSummary) {
        let mut index = (s.now_secs / self.width).max(0.0) as usize;
        while index >= MAX_BUCKETS {
            self.halve();
            index = (s.now_secs / self.width).max(0.0) as usize;
        }
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, Bucket::default());
        }
        self.buckets[index].add(&Bucket {
            steps: 1,
            time: s.now_secs,
            running: s.running as f64,
            waiting: s.waiting as f64,
            batch: f64::from(s.num_seqs),
            kv: s.kv_utilization * 100.0,
            step_ms: s.step_secs * 1e3,
        });
    }

    /// Merges neighbouring buckets: twice the width, half the buckets.
    fn halve(&mut self) {
        let merged = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut b = pair[0];
                if let Some(second) = pair.get(1) {
                    b.add(second);
                }
                b
            })
            .collect();
        self.buckets = merged;
        self.width *= 2.0;
    }

    /// The downsampled series, in time order (buckets without a step are skipped).
    pub fn samples(&self) -> Vec<Sample> {
        self.buckets
            .iter()
            .filter(|b| b.steps > 0)
            .map(|b| {
                let n = f64::from(b.steps);
                Sample {
                    time_secs: b.time / n,
                    running: b.running / n,
                    waiting: b.waiting / n,
                    batch: b.batch / n,
                    kv_percent: b.kv / n,
                    step_ms: b.step_ms / n,
                    steps: b.steps,
                }
            })
            .collect()
    }
}

impl Observer for Timeline {
    fn on_step(&mut self, summary: &StepSummary) {
        self.add(summary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(now_secs: f64, running: usize) -> StepSummary {
        StepSummary {
            step: 0,
            now_secs,
            step_secs: 0.01,
            num_seqs: running as u32,
            new_tokens: 0,
            prefill_tokens: 0,
            running,
            waiting: 2,
            kv_utilization: 0.5,
            completed: 0,
            arrived: 0,
        }
    }

    #[test]
    fn stays_bounded_and_keeps_every_step() {
        let mut t = Timeline::new();
        let steps = 1_000_000;
        for i in 0..steps {
            t.add(&step(i as f64 * 0.01, 4));
        }
        let samples = t.samples();
        assert!(samples.len() <= MAX_BUCKETS, "{}", samples.len());
        assert!(samples.len() > MAX_BUCKETS / 4, "{}", samples.len());
        assert_eq!(
            samples.iter().map(|s| u64::from(s.steps)).sum::<u64>(),
            steps
        );
        assert!(samples.windows(2).all(|w| w[0].time_secs < w[1].time_secs));
        let s = samples[10];
        assert_eq!((s.running, s.waiting, s.batch), (4.0, 2.0, 4.0));
        assert!((s.kv_percent - 50.0).abs() < 1e-9 && (s.step_ms - 10.0).abs() < 1e-9);
    }

    #[test]
    fn averages_the_steps_of_a_bucket() {
        let mut t = Timeline::new();
        t.add(&step(0.0001, 2));
        t.add(&step(0.0002, 4));
        t.add(&step(0.5, 8));
        let samples = t.samples();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].running, 3.0);
        assert_eq!(samples[1].running, 8.0);
    }
}
