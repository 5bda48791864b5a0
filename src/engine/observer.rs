//! How a running simulation talks to its caller (progress bars, logs) without
//! the core doing any I/O itself.

use crate::metrics::Rejections;
use crate::workload::RequestId;
use std::fmt;

/// State after one engine step, passed to [`Observer::on_step`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepSummary {
    /// Steps run so far (this one included).
    pub step: u64,
    /// Simulated time at the end of the step, seconds.
    pub now_secs: f64,
    /// Duration of the step, seconds.
    pub step_secs: f64,
    /// Requests in the step's batch.
    pub num_seqs: u32,
    /// Tokens computed in the step.
    pub new_tokens: u64,
    /// Of those, prompt (prefill) tokens.
    pub prefill_tokens: u64,
    /// Requests running after the step.
    pub running: usize,
    /// Requests waiting after the step.
    pub waiting: usize,
    /// KV cache utilisation during the step (0 to 1).
    pub kv_utilization: f64,
    /// Requests completed so far.
    pub completed: u64,
    /// Requests that have arrived so far (rejected ones included).
    pub arrived: u64,
}

/// Why a request was refused at arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Prompt plus output exceed `model.max_seq_len`.
    LongerThanMaxSeqLen {
        /// Prompt plus output tokens.
        tokens: u64,
        /// The model's limit.
        max_seq_len: u64,
    },
    /// Its KV would not fit even in the empty cache.
    LargerThanKvCache {
        /// Bytes it needs.
        bytes: u64,
        /// Bytes the cache has.
        capacity: u64,
    },
    /// Its prompt exceeds the step budget and chunked prefill is off.
    PromptOverBudget {
        /// Prompt tokens.
        tokens: u64,
        /// `scheduler.max_num_batched_tokens`.
        budget: u64,
    },
}

impl RejectReason {
    /// Counts this rejection under its limit in `rejections`.
    pub fn count(self, rejections: &mut Rejections) {
        let limit = match self {
            RejectReason::LongerThanMaxSeqLen { .. } => &mut rejections.max_seq_len,
            RejectReason::LargerThanKvCache { .. } => &mut rejections.kv_cache,
            RejectReason::PromptOverBudget { .. } => &mut rejections.token_budget,
        };
        *limit += 1;
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::LongerThanMaxSeqLen { tokens, max_seq_len } => {
                write!(f, "{tokens} tokens exceed max_seq_len {max_seq_len}")
            }
            RejectReason::LargerThanKvCache { bytes, capacity } => {
                write!(f, "needs {bytes} bytes of KV cache, more than the {capacity} it has")
            }
            RejectReason::PromptOverBudget { tokens, budget } => write!(
                f,
                "prompt of {tokens} tokens exceeds max_num_batched_tokens {budget} without chunked prefill"
            ),
        }
    }
}

/// A scheduler decision, reported with `--debug`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// A request arrived and was refused.
    Rejected {
        /// The request's global id.
        request_id: RequestId,
        /// Why.
        reason: RejectReason,
    },
    /// A waiting request started running.
    Admitted {
        /// The request's global id.
        request_id: RequestId,
        /// Tokens it computes in this step.
        tokens: u32,
        /// Prompt tokens found in the prefix cache.
        cached_tokens: u32,
    },
    /// A running request lost its KV and went back to the waiting queue.
    Preempted {
        /// The request's global id.
        request_id: RequestId,
        /// Tokens whose computation is discarded.
        discarded_tokens: u32,
    },
    /// A request emitted its last token.
    Finished {
        /// The request's global id.
        request_id: RequestId,
        /// Tokens whose K and V it held at the end: prompt plus output minus
        /// the last output token, which is never fed back.
        kv_tokens: u32,
    },
}

/// Receives progress from a running simulation. Every method has a no-op default.
pub trait Observer {
    /// Called after every step when [`wants_steps`](Self::wants_steps).
    fn on_step(&mut self, _summary: &StepSummary) {}
    /// Whether [`on_step`](Self::on_step) should be called (its summary
    /// costs a little every step). Only an observer that ignores steps
    /// says no.
    fn wants_steps(&self) -> bool {
        true
    }
    /// Whether [`on_event`](Self::on_event) should be called (it costs a little).
    fn wants_events(&self) -> bool {
        false
    }
    /// Called for each scheduler decision when [`wants_events`](Self::wants_events).
    fn on_event(&mut self, _now_secs: f64, _event: &Event) {}
    /// Called as each request arrives, before the engine sees it (so before
    /// its `Rejected` event, if it is refused).
    fn on_arrival(&mut self, _request_id: RequestId, _arrival_secs: f64) {}
    /// Whether the run should end now, before every request is done: an
    /// early stop (a capacity search's overload detector). Checked after
    /// every engine event; the result then covers what finished so far.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn wants_steps(&self) -> bool {
        false
    }
}
