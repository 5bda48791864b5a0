//! Open-loop arrival processes: when the next request arrives.
//!
//! Every random draw of a process is independent of its rate: the rate only
//! scales the gaps. So at every `arrival_rate` the same seed gives the same
//! draws, and the arrival times only stretch or shrink (common random
//! numbers, which a capacity search relies on).

use super::variate::{exponential, Gamma, Weibull};
use crate::config::ArrivalPattern;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Generates arrival times of an open-loop pattern, starting at t = 0.
#[derive(Debug, Clone)]
pub(crate) struct ArrivalProcess {
    pattern: ArrivalPattern,
    rate: f64,
    group_size: u64,
    /// Gaps of mean 1 for the patterns with a coefficient of variation.
    unit_gaps: Option<UnitGaps>,
    rng: ChaCha8Rng,
    /// Index of the next arrival.
    index: u64,
    /// Time of the current group (burst) or of the last arrival (gap patterns).
    time: f64,
}

/// A gap distribution with mean 1 and a given coefficient of variation.
#[derive(Debug, Clone, Copy)]
enum UnitGaps {
    Gamma(Gamma),
    Weibull(Weibull),
}

impl UnitGaps {
    /// Mean-1 gaps of `pattern` with coefficient of variation `cv` (in the
    /// range the config accepts), or `None` for a pattern without a CV.
    fn new(pattern: ArrivalPattern, cv: f64) -> Option<Self> {
        match pattern {
            // Gamma(k, theta): mean k theta, CV 1 / sqrt(k).
            ArrivalPattern::Gamma => Some(UnitGaps::Gamma(Gamma::new(1.0 / (cv * cv), cv * cv))),
            // Weibull(lambda, k): mean lambda Gamma(1 + 1/k); k from the CV.
            ArrivalPattern::Weibull => {
                let k = weibull_shape(cv);
                let scale = libm::exp(-libm::lgamma(1.0 + 1.0 / k));
                Some(UnitGaps::Weibull(Weibull::new(scale, k)))
            }
            _ => None,
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            UnitGaps::Gamma(d) => d.sample(rng),
            UnitGaps::Weibull(d) => d.sample(rng),
        }
    }
}

impl ArrivalProcess {
    /// A process at `rate` requests/s; `group_size` is the burst or batch
    /// size, `cv` the gaps' coefficient of variation (gamma and weibull).
    pub fn new(
        pattern: ArrivalPattern,
        rate: f64,
        group_size: u64,
        cv: Option<f64>,
        rng: ChaCha8Rng,
    ) -> Self {
        Self {
            pattern,
            rate,
            group_size: group_size.max(1),
            unit_gaps: cv.and_then(|cv| UnitGaps::new(pattern, cv)),
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
            // Dividing by the rate, as `exponential` does, makes gamma with
            // CV 1 draw exactly the Poisson pattern's times.
            ArrivalPattern::Gamma | ArrivalPattern::Weibull => {
                let gap = self.unit_gaps.map_or(1.0, |g| g.sample(&mut self.rng));
                self.time += gap / self.rate;
            }
            // Closed-loop and trace arrivals do not come from this process.
            ArrivalPattern::ClosedLoop | ArrivalPattern::Trace => {}
        }
        self.time
    }
}

/// The Weibull shape `k` whose coefficient of variation is `cv`:
/// `CV(k)^2 = Gamma(1 + 2/k) / Gamma(1 + 1/k)^2 - 1` falls as `k` grows, so
/// bisection on `ln k` finds it (to the last bits, for the CVs the config accepts).
fn weibull_shape(cv: f64) -> f64 {
    let cv_of = |k: f64| {
        libm::expm1(libm::lgamma(1.0 + 2.0 / k) - 2.0 * libm::lgamma(1.0 + 1.0 / k)).sqrt()
    };
    let (mut lo, mut hi) = (libm::log(0.05), libm::log(500.0));
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if cv_of(libm::exp(mid)) > cv {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    libm::exp(0.5 * (lo + hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn times(pattern: ArrivalPattern, rate: f64, group: u64, n: usize) -> Vec<f64> {
        let mut p = ArrivalProcess::new(pattern, rate, group, None, ChaCha8Rng::seed_from_u64(11));
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

    fn gaps(pattern: ArrivalPattern, rate: f64, cv: f64, n: usize) -> Vec<f64> {
        let mut p = ArrivalProcess::new(pattern, rate, 1, Some(cv), ChaCha8Rng::seed_from_u64(5));
        let t: Vec<f64> = (0..=n).map(|_| p.next_time()).collect();
        t.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn gamma_and_weibull_gaps_have_the_configured_cv_and_rate() {
        for pattern in [ArrivalPattern::Gamma, ArrivalPattern::Weibull] {
            for cv in [0.5, 1.0, 2.0] {
                // The mean gap's standard error is cv / sqrt(n): 0.32% at CV 2
                // with 400,000 gaps, so the 1% bound is three of them (the
                // sample CV's is smaller than its 2% bound by more).
                let g = gaps(pattern, 4.0, cv, 400_000);
                let n = g.len() as f64;
                let mean = g.iter().sum::<f64>() / n;
                let var = g.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
                let (rate, sample_cv) = (1.0 / mean, var.sqrt() / mean);
                assert!(
                    (rate - 4.0).abs() / 4.0 < 0.01,
                    "{pattern:?} cv {cv}: rate {rate}"
                );
                assert!(
                    (sample_cv - cv).abs() / cv < 0.02,
                    "{pattern:?} cv {cv}: sample cv {sample_cv}"
                );
            }
        }
    }

    #[test]
    fn gamma_with_cv_one_is_exactly_poisson() {
        let mut gamma = ArrivalProcess::new(
            ArrivalPattern::Gamma,
            3.0,
            1,
            Some(1.0),
            ChaCha8Rng::seed_from_u64(2),
        );
        let mut poisson = ArrivalProcess::new(
            ArrivalPattern::Poisson,
            3.0,
            1,
            None,
            ChaCha8Rng::seed_from_u64(2),
        );
        for _ in 0..1000 {
            assert_eq!(gamma.next_time(), poisson.next_time());
        }
    }

    #[test]
    fn weibull_shape_gives_its_cv() {
        // k = 1 is the exponential (CV 1); k = 2 has CV sqrt(4/pi - 1).
        assert!((weibull_shape(1.0) - 1.0).abs() < 1e-9);
        let k2 = (4.0 / std::f64::consts::PI - 1.0).sqrt();
        assert!((weibull_shape(k2) - 2.0).abs() < 1e-9);
        // Across the range the config accepts, against tgamma.
        for cv in [0.01, 0.5, 3.0, 20.0] {
            let k = weibull_shape(cv);
            let (g1, g2) = (libm::tgamma(1.0 + 1.0 / k), libm::tgamma(1.0 + 2.0 / k));
            let got = (g2 / (g1 * g1) - 1.0).sqrt();
            assert!((got - cv).abs() / cv < 1e-9, "cv {cv}: k {k} gives {got}");
        }
    }

    #[test]
    fn every_draw_is_independent_of_the_rate() {
        // Common random numbers: at twice the rate every time halves.
        for (pattern, cv) in [
            (ArrivalPattern::Poisson, None),
            (ArrivalPattern::Uniform, None),
            (ArrivalPattern::FixedRate, None),
            (ArrivalPattern::Burst, None),
            (ArrivalPattern::Batched, None),
            (ArrivalPattern::Gamma, Some(2.5)),
            (ArrivalPattern::Weibull, Some(0.7)),
        ] {
            let at = |rate: f64| {
                let mut p = ArrivalProcess::new(pattern, rate, 4, cv, ChaCha8Rng::seed_from_u64(9));
                (0..2000)
                    .map(|_| p.next_time() * rate)
                    .collect::<Vec<f64>>()
            };
            let (slow, fast) = (at(1.5), at(6.0));
            for (a, b) in slow.iter().zip(&fast) {
                assert!(
                    (a - b).abs() <= 1e-9 * a.max(1.0),
                    "{pattern:?}: {a} vs {b}"
                );
            }
        }
    }
}
