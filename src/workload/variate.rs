//! Variates from uniform draws, with the `libm` crate's logarithm, power and
//! exponential only: every target — native or wasm32 — draws bit-identical
//! numbers from the same seed. (`f64::ln` and friends call each platform's
//! own libm, whose last bits differ; so does `rand_distr`, whose ziggurats
//! and gamma sampler use them.)
//!
//! The standard normal, the exponential and the Weibull are drawn by
//! inversion of their distribution functions (one uniform each); the gamma
//! by Marsaglia and Tsang's rejection method on those normals and uniforms.

use rand::distr::{Open01, OpenClosed01};
use rand::Rng;

/// One standard normal variate: the normal quantile of one uniform draw.
pub(crate) fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    normal_quantile(rng.sample(Open01))
}

/// One exponential variate of rate `rate` (mean `1 / rate`): the quantile
/// `-ln(u) / rate` of one uniform draw `u` in (0, 1].
pub(crate) fn exponential<R: Rng + ?Sized>(rng: &mut R, rate: f64) -> f64 {
    -libm::log(rng.sample(OpenClosed01)) / rate
}

/// The gamma distribution of shape `k > 0` and scale `theta > 0` (mean
/// `k theta`, coefficient of variation `1 / sqrt(k)`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gamma {
    scale: f64,
    method: GammaMethod,
}

#[derive(Debug, Clone, Copy)]
enum GammaMethod {
    /// Shape 1, the exponential: `-ln(u) theta`, so that gamma gaps of CV 1
    /// are exactly [`exponential`]'s.
    Exponential,
    /// Marsaglia and Tsang, "A simple method for generating gamma
    /// variables", ACM TOMS 26(3), 2000: for a shape `a >= 1`, `d = a - 1/3`
    /// and `c = 1 / sqrt(9 d)`. A shape `k < 1` draws `a = k + 1` and
    /// multiplies by `u^(1/k)` (their section 6), `boost = Some(1 / k)`.
    Squeeze { d: f64, c: f64, boost: Option<f64> },
}

impl Gamma {
    /// Shape `shape` and scale `scale`, both positive and finite (the config
    /// checks the coefficient of variation they come from).
    pub(crate) fn new(shape: f64, scale: f64) -> Self {
        let method = if shape == 1.0 {
            GammaMethod::Exponential
        } else {
            let (a, boost) = if shape < 1.0 {
                (shape + 1.0, Some(1.0 / shape))
            } else {
                (shape, None)
            };
            let d = a - 1.0 / 3.0;
            GammaMethod::Squeeze {
                d,
                c: 1.0 / (9.0 * d).sqrt(),
                boost,
            }
        };
        Self { scale, method }
    }

    /// One variate.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self.method {
            GammaMethod::Exponential => exponential(rng, 1.0) * self.scale,
            GammaMethod::Squeeze { d, c, boost } => {
                let shrink = boost.map_or(1.0, |inv_shape| {
                    libm::pow(rng.sample::<f64, _>(Open01), inv_shape)
                });
                shrink * marsaglia_tsang(rng, d, c) * self.scale
            }
        }
    }
}

/// A gamma variate of shape `d + 1/3 >= 1` and scale 1: `d v` for
/// `v = (1 + c x)^3` of a standard normal `x`, accepted with the squeeze
/// `u < 1 - 0.0331 x^4` or the exact test `ln u < x^2 / 2 + d (1 - v + ln v)`.
/// Accepts at least 95% of proposals for every shape.
fn marsaglia_tsang<R: Rng + ?Sized>(rng: &mut R, d: f64, c: f64) -> f64 {
    loop {
        let x = standard_normal(rng);
        let cube_root = 1.0 + c * x;
        if cube_root <= 0.0 {
            continue;
        }
        let v = cube_root * cube_root * cube_root;
        let u: f64 = rng.sample(Open01);
        let x2 = x * x;
        if u < 1.0 - 0.0331 * x2 * x2 || libm::log(u) < 0.5 * x2 + d * (1.0 - v + libm::log(v)) {
            return d * v;
        }
    }
}

/// The Weibull distribution of scale `lambda > 0` and shape `k > 0`, drawn
/// by inversion: `lambda (-ln u)^(1/k)` of one uniform `u` in (0, 1].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Weibull {
    scale: f64,
    inv_shape: f64,
}

impl Weibull {
    /// Scale `scale` and shape `shape`, both positive and finite.
    pub(crate) fn new(scale: f64, shape: f64) -> Self {
        Self {
            scale,
            inv_shape: 1.0 / shape,
        }
    }

    /// One variate.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u: f64 = rng.sample(OpenClosed01);
        self.scale * libm::pow(-libm::log(u), self.inv_shape)
    }
}

/// The standard normal quantile `x` with `P(Z <= x) = p`, for `0 < p < 1`:
/// Wichura's algorithm AS 241 (PPND16, Applied Statistics 37(3), 1988,
/// 477–484), rational approximations accurate to about 1e-16. Most draws
/// (`|p - 0.5| <= 0.425`) need no logarithm.
fn normal_quantile(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * horner(&CENTRAL_NUM, r) / horner(&CENTRAL_DEN, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-libm::log(tail)).sqrt();
    let x = if r <= 5.0 {
        horner(&NEAR_NUM, r - 1.6) / horner(&NEAR_DEN, r - 1.6)
    } else {
        horner(&FAR_NUM, r - 5.0) / horner(&FAR_DEN, r - 5.0)
    };
    if q < 0.0 {
        -x
    } else {
        x
    }
}

/// `c[0] + c[1] x + ... + c[7] x^7`, evaluated from the highest power down.
fn horner(c: &[f64; 8], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, k| acc * x + k)
}

// AS 241's coefficients, lowest power first, as published.
#[allow(clippy::excessive_precision)]
const CENTRAL_NUM: [f64; 8] = [
    3.3871328727963666080e0,
    1.3314166789178437745e2,
    1.9715909503065514427e3,
    1.3731693765509461125e4,
    4.5921953931549871457e4,
    6.7265770927008700853e4,
    3.3430575583588128105e4,
    2.5090809287301226727e3,
];
#[allow(clippy::excessive_precision)]
const CENTRAL_DEN: [f64; 8] = [
    1.0,
    4.2313330701600911252e1,
    6.8718700749205790830e2,
    5.3941960214247511077e3,
    2.1213794301586595867e4,
    3.9307895800092710610e4,
    2.8729085735721942674e4,
    5.2264952788528545610e3,
];
#[allow(clippy::excessive_precision)]
const NEAR_NUM: [f64; 8] = [
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
];
#[allow(clippy::excessive_precision)]
const NEAR_DEN: [f64; 8] = [
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
];
#[allow(clippy::excessive_precision)]
const FAR_NUM: [f64; 8] = [
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
];
#[allow(clippy::excessive_precision)]
const FAR_DEN: [f64; 8] = [
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Mean and variance of `n` draws.
    fn moments(n: usize, mut draw: impl FnMut(&mut ChaCha8Rng) -> f64) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let xs: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        (mean, var)
    }

    #[test]
    fn standard_normal_has_mean_0_variance_1_and_symmetric_tails() {
        let n = 400_000;
        let (mean, var) = moments(n, standard_normal);
        // Standard errors: 1/sqrt(n) = 0.0016 for the mean, sqrt(2/n) = 0.0022 for the variance.
        assert!(mean.abs() < 0.008, "mean {mean}");
        assert!((var - 1.0).abs() < 0.011, "variance {var}");
        // P(|Z| > 1.96) = 5%, split evenly between the two tails.
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let z: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let high = z.iter().filter(|x| **x > 1.96).count() as f64 / n as f64;
        let low = z.iter().filter(|x| **x < -1.96).count() as f64 / n as f64;
        assert!(
            (high - 0.025).abs() < 0.002 && (low - 0.025).abs() < 0.002,
            "{low} {high}"
        );
    }

    #[test]
    fn exponential_has_mean_and_std_dev_one_over_the_rate() {
        let (mean, var) = moments(400_000, |r| exponential(r, 4.0));
        assert!((mean - 0.25).abs() < 0.002, "mean {mean}");
        assert!((var.sqrt() - 0.25).abs() < 0.002, "std dev {}", var.sqrt());
        // P(X > t) = exp(-rate t): the median is ln 2 / rate.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let above = (0..100_000)
            .filter(|_| exponential(&mut rng, 4.0) > std::f64::consts::LN_2 / 4.0)
            .count();
        assert!((above as f64 / 1e5 - 0.5).abs() < 0.006, "{above}");
    }

    #[test]
    fn the_quantile_inverts_the_normal_distribution_function() {
        // Phi(x) = erfc(-x / sqrt 2) / 2, from libm: an independent oracle
        // for each region of the approximation (centre, near and far tails).
        let phi = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
        let mut p: f64 = 1e-300;
        while p < 0.5 {
            let lower = normal_quantile(p);
            assert!(((phi(lower) - p) / p).abs() < 1e-12, "p {p}: x {lower}");
            if 1.0 - p < 1.0 {
                let upper = normal_quantile(1.0 - p);
                assert!((phi(upper) - (1.0 - p)).abs() < 3e-16, "1 - {p}: x {upper}");
                assert!(
                    (upper + normal_quantile(1.0 - (1.0 - p))).abs() < 1e-14 * upper.abs().max(1.0)
                );
            }
            p *= 1.37;
        }
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-15);
        assert!((normal_quantile(0.001) + 3.090232306167813).abs() < 1e-14);
        // Monotone, also across the regions' boundaries.
        let grid: Vec<f64> = (1..100_000)
            .map(|i| normal_quantile(f64::from(i) / 100_000.0))
            .collect();
        assert!(grid.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn gamma_has_mean_k_theta_and_variance_k_theta_squared() {
        // Below, at and above shape 1, and a large shape.
        for (shape, scale) in [(0.25, 4.0), (1.0, 0.5), (2.5, 1.0), (400.0, 0.0025)] {
            let d = Gamma::new(shape, scale);
            let (mean, var) = moments(400_000, |r| d.sample(r));
            let (want_mean, want_var) = (shape * scale, shape * scale * scale);
            // Standard errors of the mean: sqrt(var / n) <= 0.32% of the mean for shape >= 0.25.
            assert!(
                (mean - want_mean).abs() / want_mean < 0.012,
                "shape {shape}: mean {mean}"
            );
            assert!(
                (var - want_var).abs() / want_var < 0.05,
                "shape {shape}: variance {var}"
            );
        }
    }

    #[test]
    fn gamma_distribution_function_at_its_mean() {
        // P(X <= k theta) for shape 1/4 and 4, from the regularized lower
        // incomplete gamma function (series to 1e-15): an oracle for the
        // shape, beyond the first two moments.
        let lower_regularized = |a: f64, x: f64| {
            let (mut term, mut sum) = (1.0 / a, 1.0 / a);
            for n in 1..400 {
                term *= x / (a + f64::from(n));
                sum += term;
            }
            sum * libm::exp(a * libm::log(x) - x - libm::lgamma(a))
        };
        for shape in [0.25, 4.0] {
            let d = Gamma::new(shape, 2.0);
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let n = 200_000;
            let below = (0..n).filter(|_| d.sample(&mut rng) <= 2.0 * shape).count();
            let want = lower_regularized(shape, shape);
            assert!(
                (below as f64 / f64::from(n) - want).abs() < 0.005,
                "shape {shape}: {below} / {n} vs {want}"
            );
        }
    }

    #[test]
    fn gamma_of_shape_one_draws_exactly_the_exponential() {
        let d = Gamma::new(1.0, 1.0);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(3), ChaCha8Rng::seed_from_u64(3));
        for _ in 0..1000 {
            assert_eq!(d.sample(&mut a), exponential(&mut b, 1.0));
        }
    }

    #[test]
    fn weibull_has_its_mean_and_median() {
        // Mean lambda Gamma(1 + 1/k); median lambda (ln 2)^(1/k).
        for shape in [0.5, 1.0, 3.0] {
            let d = Weibull::new(2.0, shape);
            let (mean, _) = moments(400_000, |r| d.sample(r));
            let want = 2.0 * libm::tgamma(1.0 + 1.0 / shape);
            assert!(
                (mean - want).abs() / want < 0.01,
                "shape {shape}: mean {mean}"
            );
            let median = 2.0 * libm::pow(std::f64::consts::LN_2, 1.0 / shape);
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            let above = (0..100_000).filter(|_| d.sample(&mut rng) > median).count();
            assert!(
                (above as f64 / 1e5 - 0.5).abs() < 0.006,
                "shape {shape}: {above}"
            );
        }
    }

    #[test]
    fn draws_are_finite_and_take_one_uniform_each() {
        let mut a = ChaCha8Rng::seed_from_u64(9);
        let mut b = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..10_000 {
            assert!(standard_normal(&mut a).is_finite());
            assert!(exponential(&mut a, 1.0) >= 0.0);
        }
        for _ in 0..20_000 {
            let _: u64 = b.random();
        }
        assert_eq!(a.random::<u64>(), b.random::<u64>());
    }
}
