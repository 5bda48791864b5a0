//! Why a run could not finish.

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
    /// The config is in dataset mode but no dataset workload was supplied.
    #[error("workload.dataset_path is set: load the dataset (with --tokenizer and --chat-template) to run this config")]
    DatasetNotLoaded,
}
