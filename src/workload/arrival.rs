//! Open-loop arrival processes: when the next request arrives.

use super::variate::exponential;
use crate::config::ArrivalPattern;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Generates arrival times of an open-loop pattern, starting at t = 0.
#[derive(Debug, Clone)]
pub(crate) struct ArrivalProcess {
    pattern: ArrivalPattern,
    rate: f64,
    group_size: u64,
    rng: ChaCha8Rng,
    /// Index of the next arrival.
    index: u64,
    /// Time of the current group (burst) or of the last arrival (gap patterns).
    time: f64,
}

impl ArrivalProcess {
    /// A process at `rate` requests/s; `group_size` is the burst or batch size.
    pub fn new(pattern: ArrivalPattern, rate: f64, group_size: u64, rng: ChaCha8Rng) -> Self {
        Self {
            pattern,
            rate,
            group_size: group_size.max(1),
            rng,
            index: 0,
            time: 0.0,
        }
    }

    /// The time of the next arrival (and advances to the one after).
    pub fn next_time(&mut self) -> f64 {
        let k = self.index;
        self.index += 1;
        if k == 0 {
            return 0.0;
        }
        match self.pattern {
            ArrivalPattern::Poisson => self.time += exponential(&mut self.rng, self.rate),
            ArrivalPattern::Uniform => self.time += self.rng.random_range(0.0..=2.0 / self.rate),
            ArrivalPattern::FixedRate => self.time = k as f64 / self.rate,
            ArrivalPattern::Burst => {
                if k % self.group_size == 0 {
                    self.time += exponential(&mut self.rng, self.rate / self.group_size as f64);
                }
            }
            ArrivalPattern::Batched => {
                self.time = (k / self.group_size) as f64 * self.group_size as f64 / self.rate
            }
            // Closed-loop arrivals are driven by completions, not by this process.
            ArrivalPattern::ClosedLoop => {}
        }
        self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn times(pattern: ArrivalPattern, rate: f64, group: u64, n: usize) -> Vec<f64> {
        let mut p = ArrivalProcess::new(pattern, rate, group, ChaCha8Rng::seed_from_u64(11));
        (0..n).map(|_| p.next_time()).collect()
    }

    /// Mean rate over n arrivals: (n - 1) gaps over the span.
    fn rate_of(t: &[f64]) -> f64 {
        (t.len() - 1) as f64 / (t[t.len() - 1] - t[0])
    }

    #[test]
    fn every_pattern_keeps_its_mean_rate() {
        for (pattern, tol) in [
            (ArrivalPattern::Poisson, 0.02),
            (ArrivalPattern::Uniform, 0.02),
            (ArrivalPattern::FixedRate, 1e-9),
            (ArrivalPattern::Burst, 0.05),
            (ArrivalPattern::Batched, 0.01),
        ] {
            let t = times(pattern, 4.0, 10, 100_001);
            let r = rate_of(&t);
            assert!((r - 4.0).abs() / 4.0 < tol, "{pattern:?}: rate {r}");
            assert!(
                t.windows(2).all(|w| w[1] >= w[0]),
                "{pattern:?} not monotone"
            );
        }
    }

    #[test]
    fn fixed_rate_gaps_are_exact() {
        assert_eq!(
            times(ArrivalPattern::FixedRate, 2.0, 1, 4),
            [0.0, 0.5, 1.0, 1.5]
        );
    }

    #[test]
    fn batched_and_burst_arrive_in_groups() {
        let t = times(ArrivalPattern::Batched, 8.0, 4, 12);
        assert_eq!(
            t,
            [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
        );
        let t = times(ArrivalPattern::Burst, 8.0, 3, 9);
        assert!(t[0] == t[2] && t[3] == t[5] && t[6] == t[8] && t[3] > t[0] && t[6] > t[3]);
    }

    #[test]
    fn uniform_gaps_stay_within_two_over_rate() {
        let t = times(ArrivalPattern::Uniform, 4.0, 1, 10_000);
        assert!(t.windows(2).all(|w| w[1] - w[0] <= 0.5));
    }
}
