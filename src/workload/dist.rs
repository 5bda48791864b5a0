//! Sampling of token counts from a [`LengthDist`] and of durations from a
//! [`DurationDist`].

use super::variate::{exponential, standard_normal};
use crate::config::{DurationDist, LengthDist};
use rand::Rng;

/// A ready-to-sample length distribution.
#[derive(Debug, Clone)]
pub(crate) enum LengthSampler {
    Fixed(u64),
    Uniform(u64, u64),
    /// Mean and standard deviation.
    Normal(f64, f64),
    /// Mean and standard deviation of the logarithm.
    LogNormal(f64, f64),
}

impl LengthSampler {
    /// Builds the sampler; parameters were validated with the config.
    pub fn new(dist: &LengthDist) -> Self {
        match *dist {
            LengthDist::Fixed { value } => LengthSampler::Fixed(value),
            LengthDist::Uniform { min, max } => LengthSampler::Uniform(min, max),
            // Finite parameters and std_dev >= 0 were checked by the config.
            LengthDist::Normal { mean, std_dev } => LengthSampler::Normal(mean, std_dev),
            LengthDist::Lognormal { mean, std_dev } => LengthSampler::LogNormal(mean, std_dev),
        }
    }

    /// One sample, rounded to an integer and clamped to `[floor, u32::MAX]`.
    pub fn sample<R: Rng>(&self, rng: &mut R, floor: u32) -> u32 {
        let value = match self {
            LengthSampler::Fixed(v) => *v as f64,
            LengthSampler::Uniform(lo, hi) => rng.random_range(*lo..=*hi) as f64,
            LengthSampler::Normal(mean, std_dev) => (mean + std_dev * standard_normal(rng)).round(),
            LengthSampler::LogNormal(mean, std_dev) => {
                libm::exp(mean + std_dev * standard_normal(rng)).round()
            }
        };
        value.clamp(f64::from(floor), f64::from(u32::MAX)) as u32
    }
}

/// A ready-to-sample duration distribution (seconds). Drawn by inversion
/// through `libm` (see `variate`), so every target gives the same samples.
#[derive(Debug, Clone)]
pub(crate) struct DurationSampler(DurationDist);

impl DurationSampler {
    /// The sampler of `dist` (validated with the config).
    pub fn new(dist: &DurationDist) -> Self {
        Self(*dist)
    }

    /// One sample in seconds, at least 0.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> f64 {
        let value = match self.0 {
            DurationDist::Fixed { value } => value,
            DurationDist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            DurationDist::Exponential { mean } if mean > 0.0 => exponential(rng, 1.0 / mean),
            DurationDist::Exponential { .. } => 0.0,
            DurationDist::Normal { mean, std_dev } => mean + std_dev * standard_normal(rng),
            DurationDist::Lognormal { mean, std_dev } => {
                libm::exp(mean + std_dev * standard_normal(rng))
            }
        };
        value.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample_mean(dist: LengthDist, n: usize) -> f64 {
        let s = LengthSampler::new(&dist);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..n)
            .map(|_| f64::from(s.sample(&mut rng, 1)))
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn fixed_is_exact() {
        assert_eq!(sample_mean(LengthDist::Fixed { value: 128 }, 100), 128.0);
    }

    #[test]
    fn uniform_mean_and_bounds() {
        let d = LengthDist::Uniform { min: 10, max: 30 };
        assert!((sample_mean(d, 200_000) - 20.0).abs() < 0.1);
        let s = LengthSampler::new(&d);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..10_000)
            .map(|_| s.sample(&mut rng, 1))
            .all(|v| (10..=30).contains(&v)));
    }

    #[test]
    fn normal_mean() {
        let d = LengthDist::Normal {
            mean: 500.0,
            std_dev: 50.0,
        };
        assert!((sample_mean(d, 200_000) - 500.0).abs() < 1.0);
    }

    #[test]
    fn lognormal_mean_is_exp_mu_plus_half_sigma_squared() {
        // exp(5 + 0.5^2 / 2) = exp(5.125) = 168.17...
        let d = LengthDist::Lognormal {
            mean: 5.0,
            std_dev: 0.5,
        };
        assert!((d.mean() - 168.174).abs() < 0.01);
        let m = sample_mean(d, 400_000);
        assert!((m - d.mean()).abs() / d.mean() < 0.01, "sample mean {m}");
    }

    #[test]
    fn samples_are_clamped_to_at_least_one() {
        let d = LengthDist::Normal {
            mean: 0.0,
            std_dev: 5.0,
        };
        let s = LengthSampler::new(&d);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert!((0..10_000).all(|_| s.sample(&mut rng, 1) >= 1));
    }
    fn duration_mean_and_cv(dist: DurationDist) -> (f64, f64) {
        let s = DurationSampler::new(&dist);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let xs: Vec<f64> = (0..200_000).map(|_| s.sample(&mut rng)).collect();
        assert!(xs.iter().all(|&x| x >= 0.0));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn durations_have_their_distributions_moments() {
        let close = |got: f64, want: f64| (got - want).abs() <= 0.01 * want;
        let (m, cv) = duration_mean_and_cv(DurationDist::Exponential { mean: 4.0 });
        assert!(close(m, 4.0) && close(cv, 1.0), "exponential {m} {cv}");
        let (m, cv) = duration_mean_and_cv(DurationDist::Uniform { min: 1.0, max: 3.0 });
        assert!(
            close(m, 2.0) && close(cv, 1.0 / 3f64.sqrt() / 2.0),
            "uniform {m} {cv}"
        );
        let (m, cv) = duration_mean_and_cv(DurationDist::Normal {
            mean: 10.0,
            std_dev: 2.0,
        });
        assert!(close(m, 10.0) && close(cv, 0.2), "normal {m} {cv}");
        // Lognormal: mean exp(mu + s^2 / 2), CV sqrt(exp(s^2) - 1).
        let (m, cv) = duration_mean_and_cv(DurationDist::Lognormal {
            mean: 1.0,
            std_dev: 0.5,
        });
        assert!(close(m, libm::exp(1.125)), "lognormal mean {m}");
        assert!(
            close(cv, libm::sqrt(libm::exp(0.25) - 1.0)),
            "lognormal cv {cv}"
        );
        assert_eq!(
            duration_mean_and_cv(DurationDist::Fixed { value: 2.5 }),
            (2.5, 0.0)
        );
    }
}
