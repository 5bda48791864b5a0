//! Whether a probe passed: every SLO holds on its metrics and the overload
//! detector did not stop it. The first SLO (in manifest order) that fails
//! is the probe's binding SLO; for a probe the detector stopped, the SLO it
//! proved would fail.

use super::spec::SearchSpec;
use crate::sweep::runs_table::Outcome;
use crate::table::schema::{BINDING_FAILED, BINDING_OVERLOAD};
use crate::table::Column;

/// The judgement of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every SLO holds.
    Pass,
    /// The probe fails, for this reason.
    Fail(Binding),
}

/// Why a probe failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The SLO at this index of the search's list does not hold (or its
    /// metric has no value).
    Slo(usize),
    /// The overload detector stopped the run for a reason that names none
    /// of the search's SLOs (a run file from elsewhere).
    Overload,
    /// The run itself failed (its `error` says why).
    RunFailed,
}

impl Verdict {
    /// Whether the probe passed.
    pub fn passed(self) -> bool {
        self == Verdict::Pass
    }
}

impl Binding {
    /// The `binding_slo` value: the SLO's column, `overload` or `failed`.
    pub fn name(self, spec: &SearchSpec) -> &str {
        match self {
            Binding::Slo(i) => spec.slos.get(i).map_or(BINDING_FAILED, |s| &s.column),
            Binding::Overload => BINDING_OVERLOAD,
            Binding::RunFailed => BINDING_FAILED,
        }
    }
}

/// The verdict on `outcome`, whose metric cells follow `template`.
pub fn verdict(spec: &SearchSpec, template: &[Column], outcome: &Outcome) -> Verdict {
    let metrics = match outcome {
        Outcome::Failed { .. } => return Verdict::Fail(Binding::RunFailed),
        Outcome::Finished {
            overload: Some(reason),
            ..
        } => {
            // The detector's reason starts with the SLO it proved would fail.
            let column = reason.split(' ').next().unwrap_or_default();
            return Verdict::Fail(
                spec.slos
                    .iter()
                    .position(|s| s.column == column)
                    .map_or(Binding::Overload, Binding::Slo),
            );
        }
        Outcome::Finished { metrics, .. } => metrics,
    };
    for (i, slo) in spec.slos.iter().enumerate() {
        let value = template
            .iter()
            .position(|c| c.name == slo.column)
            .and_then(|c| metrics.get(c))
            .and_then(|cell| cell.as_number());
        if !value.is_some_and(|v| v <= slo.max) {
            return Verdict::Fail(Binding::Slo(i));
        }
    }
    Verdict::Pass
}
