//! How `predict-steps` and `calibrate` print the accuracy of step prices.

use crate::calibration::Accuracy;

/// A relative error as a signed percentage.
pub(crate) fn percent(error: f64) -> String {
    format!("{:+.1}%", error * 100.0)
}

/// One line: MAPE, the largest error, and the MAPE of each kind.
pub(crate) fn accuracy_line(a: &Accuracy) -> String {
    let kinds: Vec<String> = a
        .by_kind
        .iter()
        .map(|(kind, n, mape)| format!("{} {:.1}% ({n})", kind.name(), mape * 100.0))
        .collect();
    format!(
        "MAPE {:5.1}%, max {:5.1}%; {}",
        a.mape * 100.0,
        a.max_error * 100.0,
        kinds.join(", ")
    )
}
