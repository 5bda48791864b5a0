//! Warnings on a fitted calibration that is possible but implausible: an
//! efficiency above the datasheet peak or near zero, a fit that still
//! misses the measurements by much, or measurements too alike to determine
//! the fit's parameters. The fit is written anyway (the values are valid);
//! the warnings say what to check.

use super::fit::{Sample, MIN_SAMPLES};
use super::Accuracy;
use crate::config::Calibration;

/// The parameters a fit determines: compute and bandwidth efficiency, the
/// step overhead and the eager floor.
pub const FITTED_PARAMETERS: usize = MIN_SAMPLES - 1;

/// The warning that `samples` cannot determine the fit: fewer distinct step
/// shapes (the same work: FLOPs, bytes, sequences, parallelism) than the
/// fit has parameters, however many rows repeat them. Many calibrations
/// then fit equally well and the one written is an arbitrary pick.
pub fn undetermined_warning(samples: &[Sample]) -> Option<String> {
    let mut shapes: Vec<_> = samples.iter().map(|s| shape_key(&s.work)).collect();
    shapes.sort_unstable();
    shapes.dedup();
    let distinct = shapes.len();
    if distinct >= FITTED_PARAMETERS {
        return None;
    }
    let what = match distinct {
        1 => "every row is the same step shape".to_string(),
        n => format!("the rows hold only {n} distinct step shapes"),
    };
    Some(format!(
        "{what} ({} rows): they cannot determine the fit's {FITTED_PARAMETERS} parameters (compute_efficiency, bandwidth_efficiency, step_overhead_per_layer, eager_floor_per_layer), so the values written are one of many that fit as well; measure steps of at least {FITTED_PARAMETERS} shapes (prefill and decode, several batch sizes and context lengths)",
        samples.len()
    ))
}

/// A step's work as exact bits, to tell shapes apart.
fn shape_key(work: &crate::engine::cost::StepWork) -> [u64; 8] {
    [
        work.linear_flops,
        work.weight_bytes,
        work.attention_flops,
        work.kv_bytes,
        work.interconnect_bytes,
        work.collective_steps,
        work.num_seqs,
        f64::from(u8::from(work.eager)),
    ]
    .map(f64::to_bits)
}

/// An efficiency below this is "near 0": the datasheet peak is more than 20
/// times what the steps achieve, which a real GPU does not do.
pub const LOW_EFFICIENCY: f64 = 0.05;

/// A calibrated mean absolute relative error above this (20%) is a poor fit.
pub const POOR_FIT_MAPE: f64 = 0.2;

/// The warnings on `fitted`, whose errors on the measured steps are
/// `calibrated`; empty when it looks plausible.
pub fn plausibility_warnings(fitted: &Calibration, calibrated: Option<&Accuracy>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, value, peak) in [
        ("compute_efficiency", fitted.compute_efficiency, "FLOP/s"),
        (
            "bandwidth_efficiency",
            fitted.bandwidth_efficiency,
            "bandwidth",
        ),
    ] {
        if value > 1.0 {
            warnings.push(format!(
                "fitted {name} {value:.3} is above 1: the steps ran faster than the datasheet's peak {peak} allows; check the hardware preset, the model and each step's tensor_parallel_size"
            ));
        } else if value < LOW_EFFICIENCY {
            warnings.push(format!(
                "fitted {name} {value:.3} is near 0 (below {LOW_EFFICIENCY}): the steps ran over 20 times slower than the datasheet's peak {peak}; check the units (median_ms is milliseconds), the hardware preset and the model"
            ));
        }
    }
    if let Some(a) = calibrated.filter(|a| a.mape > POOR_FIT_MAPE) {
        warnings.push(format!(
            "the calibrated model still misses the measured steps by {:.1}% on average (worst {:.1}%, step {}): the cost model does not explain these measurements well",
            a.mape * 100.0,
            a.max_error * 100.0,
            a.worst + 1
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accuracy(mape: f64) -> Accuracy {
        Accuracy {
            mape,
            max_error: 2.0 * mape,
            worst: 3,
            by_kind: Vec::new(),
        }
    }

    #[test]
    fn steps_of_too_few_shapes_cannot_determine_the_fit() {
        let work = |num_seqs: f64| crate::engine::cost::StepWork {
            linear_flops: 1e12 * num_seqs,
            weight_bytes: 1.6e10,
            attention_flops: 1e9,
            kv_bytes: 1e8 * num_seqs,
            interconnect_bytes: 0.0,
            collective_steps: 0.0,
            eager: false,
            num_seqs,
        };
        let samples = |sizes: &[f64]| -> Vec<Sample> {
            sizes
                .iter()
                .map(|&n| Sample {
                    work: work(n),
                    measured_secs: 0.01,
                })
                .collect()
        };
        let same = undetermined_warning(&samples(&[8.0; 20])).unwrap();
        assert!(same.starts_with("every row is the same step shape (20 rows): they cannot determine the fit's 4 parameters"), "{same}");
        let two = undetermined_warning(&samples(&[1.0, 8.0, 1.0, 8.0, 8.0])).unwrap();
        assert!(
            two.starts_with("the rows hold only 2 distinct step shapes (5 rows)"),
            "{two}"
        );
        assert_eq!(
            undetermined_warning(&samples(&[1.0, 2.0, 4.0, 8.0, 8.0])),
            None
        );
    }

    #[test]
    fn plausible_fits_pass_and_implausible_ones_are_named() {
        let good = Calibration {
            compute_efficiency: 0.6,
            bandwidth_efficiency: 0.8,
            ..Calibration::DATASHEET
        };
        assert!(plausibility_warnings(&good, Some(&accuracy(0.05))).is_empty());
        assert!(
            plausibility_warnings(&Calibration::DATASHEET, None).is_empty(),
            "1 is the peak itself"
        );
        let odd = Calibration {
            compute_efficiency: 1.2,
            bandwidth_efficiency: 0.01,
            ..Calibration::DATASHEET
        };
        let w = plausibility_warnings(&odd, Some(&accuracy(0.3)));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].starts_with("fitted compute_efficiency 1.200 is above 1"),
            "{}",
            w[0]
        );
        assert!(
            w[1].starts_with("fitted bandwidth_efficiency 0.010 is near 0"),
            "{}",
            w[1]
        );
        assert!(
            w[2].contains("by 30.0% on average (worst 60.0%, step 4)"),
            "{}",
            w[2]
        );
    }
}
