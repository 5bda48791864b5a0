//! Fitting a [`Calibration`] to measured step times: least squares on the
//! relative error, `sum ((predicted - measured) / measured)^2`, over the four
//! parameters, with the simulator's own [`CostModel::time`] as the model.
//!
//! The model has kinks (each roofline is a `max`, the eager floor another), so
//! its derivatives jump where a step changes regime. The eager floor is solved
//! exactly for any values of the other three (it only lifts the eager steps
//! below it: a one-dimensional piecewise quadratic, see `best_floor`); a
//! derivative-free Nelder–Mead simplex searches the other three from two
//! starts and restarts from its best point until it stops improving. The
//! parameters are mapped so that every point of the search is a valid
//! calibration: efficiencies through a logistic onto (0, 1.5), the overhead as
//! the square of microseconds.

use crate::config::Calibration;
use crate::engine::cost::{CostModel, StepWork};

/// A measured step, ready for fitting: its work and its measured time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The step's FLOPs and bytes ([`CostModel::work`]).
    pub work: StepWork,
    /// The measured step time in seconds.
    pub measured_secs: f64,
}

/// The fewest measured steps a fit needs: one more than its parameters.
pub const MIN_SAMPLES: usize = 5;

use crate::config::MAX_EFFICIENCY;

/// Each sample's relative error `predicted / measured - 1` under `calibration`.
pub fn relative_errors(
    model: &CostModel,
    samples: &[Sample],
    calibration: &Calibration,
) -> Vec<f64> {
    samples
        .iter()
        .map(|s| model.time(&s.work, calibration) / s.measured_secs - 1.0)
        .collect()
}

/// The calibration that minimises the squared relative error over `samples`
/// (at least [`MIN_SAMPLES`] of them; fewer leave the fit undetermined and
/// give the datasheet). The eager floor is 0 unless it lifts some measured step.
pub fn fit(model: &CostModel, samples: &[Sample]) -> Calibration {
    if samples.len() < MIN_SAMPLES {
        return Calibration::DATASHEET;
    }
    let objective = |p: &[f64; 3]| best_floor(model, samples, &decode(p)).1;
    let fastest = samples
        .iter()
        .map(|s| s.measured_secs)
        .fold(f64::INFINITY, f64::min);
    let mut best: Option<([f64; 3], f64)> = None;
    for overhead in [0.0, 0.2 * fastest / model.num_layers()] {
        let start = encode(&Calibration {
            compute_efficiency: 0.7,
            bandwidth_efficiency: 0.7,
            step_overhead_per_layer: overhead,
            eager_floor_per_layer: 0.0,
            ..Calibration::DATASHEET
        });
        let found = minimise(&objective, start);
        if best.is_none_or(|(_, v)| found.1 < v) {
            best = Some(found);
        }
    }
    let calibration = best.map_or(Calibration::DATASHEET, |(p, _)| decode(&p));
    Calibration {
        eager_floor_per_layer: best_floor(model, samples, &calibration).0,
        ..calibration
    }
}

/// The eager floor (per layer) that minimises the squared relative error
/// given the other parameters of `calibration`, and that error. A floor `F`
/// lifts exactly the eager steps whose time without it is below `F`; over each
/// interval between two such times the error is a quadratic in `F` whose
/// minimum is `sum(1/m) / sum(1/m^2)` over the lifted steps' measurements `m`,
/// clamped to the interval. Ties go to the lower floor, so a floor that lifts
/// nothing is 0.
fn best_floor(model: &CostModel, samples: &[Sample], calibration: &Calibration) -> (f64, f64) {
    let unfloored = Calibration {
        eager_floor_per_layer: 0.0,
        ..*calibration
    };
    let mut eager: Vec<(f64, f64)> = Vec::new();
    let mut base = 0.0;
    for s in samples {
        let t = model.time(&s.work, &unfloored);
        base += squared_error(t, s.measured_secs);
        if s.work.eager {
            eager.push((t, s.measured_secs));
        }
    }
    eager.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut best_floor, mut best_error) = (0.0, base);
    // Lifting the k fastest: replace their errors by (F/m - 1)^2.
    let (mut error_below, mut inv, mut inv_sq) = (base, 0.0, 0.0);
    for k in 0..eager.len() {
        let (t, m) = eager[k];
        error_below -= squared_error(t, m);
        inv += 1.0 / m;
        inv_sq += 1.0 / (m * m);
        let upper = eager.get(k + 1).map_or(f64::INFINITY, |e| e.0);
        let floor = (inv / inv_sq).clamp(t, upper);
        let error = error_below
            + eager[..=k]
                .iter()
                .map(|(_, m)| squared_error(floor, *m))
                .sum::<f64>();
        // A floor must improve on more than rounding: on exact data every
        // error is ~1e-32, and which of two such sums is smaller is noise.
        if error < best_error - ROUNDING_NOISE {
            (best_floor, best_error) = (floor, error);
        }
    }
    (best_floor / model.num_layers(), best_error)
}

/// A sum of squared relative errors below which differences are rounding
/// noise (relative errors of 1e-12), not a better fit.
const ROUNDING_NOISE: f64 = 1e-24;

/// `(predicted / measured - 1)^2`, the squared relative error the fit minimises.
fn squared_error(predicted: f64, measured: f64) -> f64 {
    let e = predicted / measured - 1.0;
    e * e
}

/// Leave-one-out: each sample's relative error under the calibration fitted
/// to all the others. An honest estimate of the error on a step not measured.
pub fn leave_one_out(model: &CostModel, samples: &[Sample]) -> Vec<f64> {
    (0..samples.len())
        .map(|i| {
            let rest: Vec<Sample> = samples
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, s)| *s)
                .collect();
            let c = fit(model, &rest);
            model.time(&samples[i].work, &c) / samples[i].measured_secs - 1.0
        })
        .collect()
}

/// Search coordinates -> calibration without an eager floor.
fn decode(p: &[f64; 3]) -> Calibration {
    let efficiency = |x: f64| MAX_EFFICIENCY / (1.0 + libm::exp(-x));
    Calibration {
        compute_efficiency: efficiency(p[0]),
        bandwidth_efficiency: efficiency(p[1]),
        step_overhead_per_layer: p[2] * p[2] * 1e-6,
        eager_floor_per_layer: 0.0,
        ..Calibration::DATASHEET
    }
}

/// Calibration -> search coordinates (the inverse of [`decode`]; the floor is not searched).
fn encode(c: &Calibration) -> [f64; 3] {
    let logit = |e: f64| {
        let x = e / MAX_EFFICIENCY;
        libm::log(x / (1.0 - x))
    };
    [
        logit(c.compute_efficiency),
        logit(c.bandwidth_efficiency),
        (c.step_overhead_per_layer * 1e6).sqrt(),
    ]
}

/// Nelder–Mead from `start`, restarted from its best point until a restart no
/// longer improves; returns the best point and its value.
fn minimise<const N: usize>(f: &impl Fn(&[f64; N]) -> f64, start: [f64; N]) -> ([f64; N], f64) {
    let mut best = (start, f(&start));
    for _ in 0..8 {
        let found = nelder_mead(f, best.0);
        let improved = found.1 < best.1 * (1.0 - 1e-12);
        if found.1 < best.1 {
            best = found;
        }
        if !improved {
            break;
        }
    }
    best
}

/// One Nelder–Mead run (reflection 1, expansion 2, contraction and shrink 1/2).
fn nelder_mead<const N: usize>(f: &impl Fn(&[f64; N]) -> f64, start: [f64; N]) -> ([f64; N], f64) {
    let mut simplex: Vec<[f64; N]> = vec![start; N + 1];
    for (i, vertex) in simplex.iter_mut().skip(1).enumerate() {
        vertex[i] += (0.25 * vertex[i].abs()).max(0.5);
    }
    let mut values: Vec<f64> = simplex.iter().map(f).collect();
    let along = |from: &[f64; N], to: &[f64; N], t: f64| -> [f64; N] {
        std::array::from_fn(|j| from[j] + t * (to[j] - from[j]))
    };
    for _ in 0..5_000 {
        let mut order: Vec<usize> = (0..=N).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i]).collect();
        values = order.iter().map(|&i| values[i]).collect();
        if values[N] - values[0] <= 1e-15 * values[0].abs() + 1e-30 {
            break;
        }
        let centroid: [f64; N] =
            std::array::from_fn(|j| simplex[..N].iter().map(|v| v[j]).sum::<f64>() / N as f64);
        let worst = simplex[N];
        let reflected = along(&centroid, &worst, -1.0);
        let fr = f(&reflected);
        if fr < values[0] {
            let expanded = along(&centroid, &worst, -2.0);
            let fe = f(&expanded);
            (simplex[N], values[N]) = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < values[N - 1] {
            (simplex[N], values[N]) = (reflected, fr);
        } else {
            let contracted = if fr < values[N] {
                along(&centroid, &reflected, 0.5)
            } else {
                along(&centroid, &worst, 0.5)
            };
            let fc = f(&contracted);
            if fc < values[N].min(fr) {
                (simplex[N], values[N]) = (contracted, fc);
            } else {
                let best = simplex[0];
                for i in 1..=N {
                    simplex[i] = along(&best, &simplex[i], 0.5);
                    values[i] = f(&simplex[i]);
                }
            }
        }
    }
    let i = (0..=N)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    (simplex[i], values[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::steps::parse_steps;
    use crate::config::Config;

    const STEPS: &str = include_str!("../../tests/fixtures/h200-llama-3.1-8b-steps.csv");

    fn model() -> CostModel {
        let text = "hardware = 'h200'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=8\n[workload]\narrival_pattern='poisson'\narrival_rate=1.0\nnum_requests=1\ninput_len_dist={type='fixed',value=1}\noutput_len_dist={type='fixed',value=1}\n";
        CostModel::new(&Config::from_toml_str(text, "t").unwrap().server)
    }

    /// The fixture's shapes, timed by the model itself under `truth`.
    fn synthetic(model: &CostModel, truth: &Calibration) -> Vec<Sample> {
        let table = parse_steps(STEPS, "fixture").unwrap();
        table
            .steps
            .iter()
            .map(|s| {
                let work = model.work(&s.shape(0));
                Sample {
                    work,
                    measured_secs: model.time(&work, truth),
                }
            })
            .collect()
    }

    fn assert_close(got: f64, want: f64, what: &str) {
        assert!(
            (got - want).abs() <= 1e-4 * want,
            "{what}: fitted {got}, true {want}"
        );
    }

    #[test]
    fn fitting_recovers_the_parameters_that_generated_the_data() {
        let model = model();
        for truth in [
            Calibration {
                compute_efficiency: 0.6,
                bandwidth_efficiency: 0.85,
                step_overhead_per_layer: 50e-6,
                eager_floor_per_layer: 250e-6,
                ..Calibration::DATASHEET
            },
            Calibration {
                compute_efficiency: 0.9,
                bandwidth_efficiency: 0.5,
                step_overhead_per_layer: 5e-6,
                eager_floor_per_layer: 0.0,
                ..Calibration::DATASHEET
            },
        ] {
            let c = fit(&model, &synthetic(&model, &truth));
            assert_close(c.compute_efficiency, truth.compute_efficiency, "compute");
            assert_close(
                c.bandwidth_efficiency,
                truth.bandwidth_efficiency,
                "bandwidth",
            );
            assert_close(
                c.step_overhead_per_layer,
                truth.step_overhead_per_layer,
                "overhead",
            );
            if truth.eager_floor_per_layer > 0.0 {
                assert_close(
                    c.eager_floor_per_layer,
                    truth.eager_floor_per_layer,
                    "floor",
                );
            } else {
                assert_eq!(c.eager_floor_per_layer, 0.0);
            }
            let worst = relative_errors(&model, &synthetic(&model, &truth), &c)
                .into_iter()
                .fold(0.0, |m: f64, e| m.max(e.abs()));
            assert!(worst < 1e-5, "worst error {worst}");
        }
    }

    #[test]
    fn leave_one_out_is_exact_on_noiseless_data() {
        let model = model();
        let truth = Calibration {
            compute_efficiency: 0.7,
            bandwidth_efficiency: 0.8,
            step_overhead_per_layer: 20e-6,
            eager_floor_per_layer: 0.0,
            ..Calibration::DATASHEET
        };
        let samples = synthetic(&model, &truth);
        for e in leave_one_out(&model, &samples[..12]) {
            assert!(e.abs() < 1e-4, "{e}");
        }
    }

    #[test]
    fn the_floor_is_solved_exactly() {
        let model = model();
        let truth = Calibration {
            compute_efficiency: 0.6,
            bandwidth_efficiency: 0.85,
            step_overhead_per_layer: 50e-6,
            eager_floor_per_layer: 250e-6,
            ..Calibration::DATASHEET
        };
        let samples = synthetic(&model, &truth);
        let (floor, error) = best_floor(&model, &samples, &truth);
        assert!((floor - 250e-6).abs() < 1e-12, "{floor}");
        assert!(error < 1e-20, "{error}");
        // Data that no floor lifts gets none.
        let unfloored = Calibration {
            eager_floor_per_layer: 0.0,
            ..truth
        };
        let samples = synthetic(&model, &unfloored);
        assert_eq!(best_floor(&model, &samples, &truth).0, 0.0);
    }

    #[test]
    fn too_few_samples_give_the_datasheet() {
        let model = model();
        let samples = synthetic(&model, &Calibration::DATASHEET);
        assert_eq!(fit(&model, &samples[..4]), Calibration::DATASHEET);
    }

    #[test]
    fn coordinates_round_trip() {
        let c = Calibration {
            compute_efficiency: 0.59,
            bandwidth_efficiency: 1.2,
            step_overhead_per_layer: 54e-6,
            eager_floor_per_layer: 0.0,
            ..Calibration::DATASHEET
        };
        let back = decode(&encode(&c));
        assert!((back.compute_efficiency - c.compute_efficiency).abs() < 1e-12);
        assert!((back.bandwidth_efficiency - c.bandwidth_efficiency).abs() < 1e-12);
        assert!((back.step_overhead_per_layer - c.step_overhead_per_layer).abs() < 1e-15);
    }
}
