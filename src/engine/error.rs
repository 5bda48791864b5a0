//! Why a run could not finish.

use crate::workload::TraceError;

/// Why a run could not finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// Work is waiting but no step can make progress (a bug or an input the
    /// arrival checks did not foresee), or a closed loop whose every request
    /// is refused. Reported instead of looping forever.
    #[error("simulation stalled at t = {time_secs:.3} s: {detail}")]
    Stalled {
        /// Simulated time when it was detected.
        time_secs: f64,
        /// What was stuck.
        detail: String,
    },
    /// The config's prompts come from a file (a dataset or a trace), but no
    /// workload read from it was supplied.
    #[error("the workload reads a file (workload.dataset_path or workload.trace): load it (a dataset with --tokenizer and --chat-template) to run this config")]
    DatasetNotLoaded,
    /// A trace record could not be read or parsed.
    #[error(transparent)]
    Trace(#[from] TraceError),
}
