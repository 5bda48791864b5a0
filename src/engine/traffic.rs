//! The traffic side of a run, as a driver of engines sees it: one workload
//! whose requests get global ids in arrival order, the closed-loop feedback
//! from requests that ended, and the guard that stops a closed loop whose
//! every request is refused.

use super::error::SimError;
use super::observer::RejectReason;
use crate::workload::{RequestId, RequestSpec, Workload};

/// Consecutive closed-loop rejections (with no request accepted in between)
/// after which the run is declared stuck.
const MAX_CONSECUTIVE_REJECTIONS: u64 = 1_000_000;

/// A workload with the bookkeeping a driver needs around it.
#[derive(Debug, Clone)]
pub struct Traffic {
    workload: Workload,
    next_id: u64,
    consecutive_rejections: u64,
}

impl Traffic {
    /// The traffic of `workload`, whose first request gets id 0.
    pub fn new(workload: Workload) -> Self {
        Self {
            workload,
            next_id: 0,
            consecutive_rejections: 0,
        }
    }

    /// Arrival time of the next request, or `None` while none will come (the
    /// workload is exhausted, or every closed-loop user awaits a reply).
    pub fn peek_time(&self) -> Option<f64> {
        self.workload.peek_time()
    }

    /// Takes the next request with its global id. Call only after
    /// [`peek_time`](Self::peek_time) returned `Some`.
    pub fn next_request(&mut self) -> (RequestId, RequestSpec) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        (id, self.workload.next_request())
    }

    /// A request completed at `finish_secs`: in a closed loop its user sends
    /// the next one then.
    pub fn on_completed(&mut self, finish_secs: f64) {
        self.workload.on_request_done(finish_secs);
    }

    /// What became of a request submitted at `time_secs` (the later of its
    /// arrival and the engine's clock). A refused request ends at once (in a
    /// closed loop its user sends the next one); too many refusals in a row
    /// in a closed loop mean that no request of the workload can run, which
    /// is an error instead of an endless loop.
    pub fn on_submitted(
        &mut self,
        outcome: Result<(), RejectReason>,
        time_secs: f64,
    ) -> Result<(), SimError> {
        let Err(reason) = outcome else {
            self.consecutive_rejections = 0;
            return Ok(());
        };
        self.workload.on_request_done(time_secs);
        self.consecutive_rejections += 1;
        if self.workload.is_closed_loop()
            && self.consecutive_rejections >= MAX_CONSECUTIVE_REJECTIONS
        {
            return Err(SimError::Stalled {
                time_secs,
                detail: format!(
                    "{MAX_CONSECUTIVE_REJECTIONS} requests in a row were rejected ({reason}); no request of this workload can run"
                ),
            });
        }
        Ok(())
    }
}
