//! Sampling of token counts from a [`LengthDist`].

use super::variate::standard_normal;
use crate::config::LengthDist;
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
}
