//! Warnings on a fitted calibration that is possible but implausible: an
//! efficiency above the datasheet peak or near zero, or a fit that still
//! misses the measurements by much. The fit is written anyway (the values
//! are valid); the warnings say what to check.

use super::Accuracy;
use crate::config::Calibration;

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
