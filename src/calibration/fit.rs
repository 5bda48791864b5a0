//! Fitting a [`Calibration`] to measured step times: least squares on the
//! relative error, `sum ((predicted - measured) / measured)^2`, over the four
//! parameters, with the simulator's own [`CostModel::time`] as the model.
//!
//! The model has kinks (each roofline is a `max`, the eager floor another), so
//! its derivatives jump where a step changes regime. A derivative-free
//! Nelder–Mead simplex handles that without fuss in four dimensions; it runs
//! from a few starts (with and without the eager floor binding) and restarts
//! from its best point until it stops improving. The parameters are mapped so
//! that every point of the search is a valid calibration: efficiencies through
//! a logistic onto (0, 1.5), overheads as squares of microseconds.

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

/// The most measured steps a fit needs: one more than its parameters.
pub const MIN_SAMPLES: usize = 5;

/// Upper bound of the fitted efficiencies (the config accepts up to 1.5).
const MAX_EFFICIENCY: f64 = 1.5;

/// Each sample's relative error `predicted / measured - 1` under `calibration`.
pub fn relative_errors(model: &CostModel, samples: &[Sample], calibration: &Calibration) -> Vec<f64> {
    samples
        .iter()
        .map(|s| model.time(&s.work, calibration) / s.measured_secs - 1.0)
        .collect()
}

/// The calibration that minimises the squared relative error over `samples`
/// (at least [`MIN_SAMPLES`] of them; fewer leave the fit undetermined and
/// give the datasheet). An eager floor that no sample reaches is not evidenced
/// by the data and is dropped (0).
pub fn fit(model: &CostModel, samples: &[Sample]) -> Calibration {
    if samples.len() < MIN_SAMPLES {
        return Calibration::DATASHEET;
    }
    let layers = model.num_layers();
    let objective = |p: &[f64; 4]| -> f64 {
        let c = decode(p);
        samples
            .iter()
            .map(|s| (model.time(&s.work, &c) / s.measured_secs - 1.0).powi(2))
            .sum()
    };
    let fastest = |eager: bool| {
        samples
            .iter()
            .filter(|s| s.work.eager == eager)
            .map(|s| s.measured_secs)
            .fold(f64::INFINITY, f64::min)
    };
    let overall = fastest(true).min(fastest(false));
    let overhead_starts = [0.0, 0.2 * overall / layers];
    let floor_starts = [0.0, fastest(true) / layers];
    let mut best: Option<([f64; 4], f64)> = None;
    for &overhead in &overhead_starts {
        for &floor in floor_starts.iter().filter(|f| f.is_finite()) {
            let start = encode(&Calibration {
                compute_efficiency: 0.7,
                bandwidth_efficiency: 0.7,
                step_overhead_per_layer: overhead,
                eager_floor_per_layer: floor,
            });
            let found = minimise(&objective, start);
            if best.is_none_or(|(_, v)| found.1 < v) {
                best = Some(found);
            }
        }
    }
    let mut calibration = best.map_or(Calibration::DATASHEET, |(p, _)| decode(&p));
    let floor_binds = samples.iter().any(|s| {
        s.work.eager
            && model.time(
                &s.work,
                &Calibration {
                    eager_floor_per_layer: 0.0,
                    ..calibration
                },
            ) < layers * calibration.eager_floor_per_layer
    });
    if !floor_binds {
        calibration.eager_floor_per_layer = 0.0;
    }
    calibration
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

/// Search coordinates -> calibration.
fn decode(p: &[f64; 4]) -> Calibration {
    let efficiency = |x: f64| MAX_EFFICIENCY / (1.0 + (-x).exp());
    Calibration {
        compute_efficiency: efficiency(p[0]),
        bandwidth_efficiency: efficiency(p[1]),
        step_overhead_per_layer: p[2] * p[2] * 1e-6,
        eager_floor_per_layer: p[3] * p[3] * 1e-6,
    }
}

/// Calibration -> search coordinates (the inverse of [`decode`]).
fn encode(c: &Calibration) -> [f64; 4] {
    let logit = |e: f64| {
        let x = e / MAX_EFFICIENCY;
        (x / (1.0 - x)).ln()
    };
    [
        logit(c.compute_efficiency),
        logit(c.bandwidth_efficiency),
        (c.step_overhead_per_layer * 1e6).sqrt(),
        (c.eager_floor_per_layer * 1e6).sqrt(),
    ]
}

/// Nelder–Mead from `start`, restarted from its best point until a restart no
/// longer improves; returns the best point and its value.
fn minimise(f: &impl Fn(&[f64; 4]) -> f64, start: [f64; 4]) -> ([f64; 4], f64) {
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
fn nelder_mead(f: &impl Fn(&[f64; 4]) -> f64, start: [f64; 4]) -> ([f64; 4], f64) {
    const N: usize = 4;
    let mut simplex = [start; N + 1];
    for (i, vertex) in simplex.iter_mut().skip(1).enumerate() {
        vertex[i] += (0.25 * vertex[i].abs()).max(0.5);
    }
    let mut values = simplex.map(|v| f(&v));
    let along = |from: &[f64; N], to: &[f64; N], t: f64| -> [f64; N] {
        std::array::from_fn(|j| from[j] + t * (to[j] - from[j]))
    };
    for _ in 0..5_000 {
        let mut order: [usize; N + 1] = std::array::from_fn(|i| i);
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.map(|i| simplex[i]);
        values = order.map(|i| values[i]);
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
        CostModel::new(&Config::from_toml_str(text, "t").unwrap())
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
            },
            Calibration {
                compute_efficiency: 0.9,
                bandwidth_efficiency: 0.5,
                step_overhead_per_layer: 5e-6,
                eager_floor_per_layer: 0.0,
            },
        ] {
            let c = fit(&model, &synthetic(&model, &truth));
            assert_close(c.compute_efficiency, truth.compute_efficiency, "compute");
            assert_close(c.bandwidth_efficiency, truth.bandwidth_efficiency, "bandwidth");
            assert_close(
                c.step_overhead_per_layer,
                truth.step_overhead_per_layer,
                "overhead",
            );
            if truth.eager_floor_per_layer > 0.0 {
                assert_close(c.eager_floor_per_layer, truth.eager_floor_per_layer, "floor");
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
        };
        let samples = synthetic(&model, &truth);
        for e in leave_one_out(&model, &samples[..12]) {
            assert!(e.abs() < 1e-4, "{e}");
        }
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
            eager_floor_per_layer: 252e-6,
        };
        let back = decode(&encode(&c));
        assert!((back.compute_efficiency - c.compute_efficiency).abs() < 1e-12);
        assert!((back.bandwidth_efficiency - c.bandwidth_efficiency).abs() < 1e-12);
        assert!((back.step_overhead_per_layer - c.step_overhead_per_layer).abs() < 1e-15);
        assert!((back.eager_floor_per_layer - c.eager_floor_per_layer).abs() < 1e-15);
    }
}
