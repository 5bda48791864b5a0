//! Calibration of the cost model against measured GPU step times: step tables
//! (the CSV that `predict-steps` and `calibrate` read), the fit, and accuracy
//! summaries. Text in, numbers out: the command line reads and writes files.
//! See docs/calibration.md.

pub mod fit;
pub mod models;
pub mod plausibility;
pub mod steps;

pub use fit::{fit, leave_one_out, relative_errors, Sample, MIN_SAMPLES};
pub use models::StepModels;
pub use plausibility::{plausibility_warnings, undetermined_warning};
pub use steps::{parse_steps, Step, StepKind, StepTable, StepsError};

/// How far predictions are from measurements: relative errors summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    /// Mean absolute relative error.
    pub mape: f64,
    /// The largest absolute relative error.
    pub max_error: f64,
    /// Index of the step with the largest error.
    pub worst: usize,
    /// Per kind present: the kind, its number of steps and their MAPE.
    pub by_kind: Vec<(StepKind, usize, f64)>,
}

impl Accuracy {
    /// Summarises `errors` (relative, signed) of steps of `kinds` (same order).
    /// `None` when there are no errors.
    pub fn of(kinds: &[StepKind], errors: &[f64]) -> Option<Self> {
        let mape = |e: &mut dyn Iterator<Item = f64>| {
            let (sum, n) = e.fold((0.0, 0usize), |(s, n), x| (s + x.abs(), n + 1));
            (sum / n as f64, n)
        };
        let (overall, n) = mape(&mut errors.iter().copied());
        if n == 0 {
            return None;
        }
        let (worst, max_error) =
            errors
                .iter()
                .map(|e| e.abs())
                .enumerate()
                .fold(
                    (0, 0.0),
                    |best, (i, e)| if e > best.1 { (i, e) } else { best },
                );
        let by_kind = StepKind::ALL
            .iter()
            .filter_map(|&(_, kind)| {
                let (m, n) = mape(
                    &mut kinds
                        .iter()
                        .zip(errors)
                        .filter(|(k, _)| **k == kind)
                        .map(|(_, e)| *e),
                );
                (n > 0).then_some((kind, n, m))
            })
            .collect();
        Some(Self {
            mape: overall,
            max_error,
            worst,
            by_kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_overall_and_per_kind() {
        let kinds = [StepKind::Decode, StepKind::Prefill, StepKind::Decode];
        let a = Accuracy::of(&kinds, &[0.1, -0.3, -0.2]).unwrap();
        assert!((a.mape - 0.2).abs() < 1e-12);
        assert_eq!((a.worst, a.max_error), (1, 0.3));
        assert_eq!(a.by_kind.len(), 2);
        assert_eq!(a.by_kind[0], (StepKind::Prefill, 1, 0.3));
        assert_eq!(a.by_kind[1].0, StepKind::Decode);
        assert!((a.by_kind[1].2 - 0.15).abs() < 1e-12);
        assert_eq!(Accuracy::of(&[], &[]), None);
    }
}
