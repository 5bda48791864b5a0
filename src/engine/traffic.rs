//! The traffic side of a run, as a driver of engines sees it: one workload
//! whose requests get global ids in arrival order, the closed-loop feedback
//! from requests that ended, and the guard that stops a closed loop whose
//! every request is refused.

use super::error::SimError;
use super::observer::RejectReason;
use crate::workload::{RequestEnd, RequestId, RequestSpec, Workload};

/// Consecutive closed-loop rejections (with no request accepted in between)
/// after which the run is declared stuck.
const MAX_CONSECUTIVE_REJECTIONS: u64 = 1_000_000;

/// A workload with the bookkeeping a driver needs around it.
#[derive(Debug)]
pub struct Traffic {
    workload: Workload,
    consecutive_rejections: u64,
}

impl Traffic {
    /// The traffic of `workload` (a fresh one: its first request gets id 0).
    pub fn new(workload: Workload) -> Self {
        Self {
            workload,
            consecutive_rejections: 0,
        }
    }

    /// Arrival time of the next request, or `None` while none will come (the
    /// workload is exhausted, or every closed-loop user awaits a reply).
    pub fn peek_time(&self) -> Option<f64> {
        self.workload.peek_time()
    }

    /// Takes the next request with its global id (how many requests the
    /// workload issued before it). Call only after
    /// [`peek_time`](Self::peek_time) returned `Some`.
    pub fn next_request(&mut self) -> (RequestId, RequestSpec) {
        let id = RequestId(self.workload.issued());
        (id, self.workload.next_request())
    }

    /// Whether the workload is still sound: a trace whose next record is bad
    /// stops the run with that record's error instead of silently ending
    /// the trace early.
    pub fn check(&self) -> Result<(), SimError> {
        match self.workload.error() {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    }

    /// Request `id` completed at `finish_secs`: in a closed loop its user
    /// sends the next one then, in a conversation the next turn follows.
    pub fn on_completed(&mut self, id: RequestId, finish_secs: f64) {
        self.workload
            .on_request_done(id, RequestEnd::Completed, finish_secs);
    }

    /// What became of request `id`, submitted at `time_secs` (the later of its
    /// arrival and the engine's clock). A refused request ends at once (in a
    /// closed loop its user sends the next one); too many refusals in a row
    /// in a closed loop mean that no request of the workload can run, which
    /// is an error instead of an endless loop.
    pub fn on_submitted(
        &mut self,
        id: RequestId,
        outcome: Result<(), RejectReason>,
        time_secs: f64,
    ) -> Result<(), SimError> {
        let Err(reason) = outcome else {
            self.consecutive_rejections = 0;
            return Ok(());
        };
        self.workload
            .on_request_done(id, RequestEnd::Rejected, time_secs);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ArrivalPattern, Config};

    fn traffic(pattern: ArrivalPattern) -> Traffic {
        let mut config = Config::builtin_default().unwrap();
        let w = &mut config.workload;
        w.arrival_pattern = pattern;
        w.num_concurrent_users = Some(1);
        w.num_requests = None;
        w.duration_secs = None;
        Traffic::new(Workload::synthetic(w).unwrap())
    }

    const REFUSED: Result<(), RejectReason> = Err(RejectReason::PromptOverBudget {
        tokens: 10,
        budget: 5,
    });

    /// Takes `n` requests and refuses each at `time_secs`.
    fn refuse(traffic: &mut Traffic, n: u64, time_secs: f64) -> Result<(), SimError> {
        for _ in 0..n {
            let (id, _) = traffic.next_request();
            traffic.on_submitted(id, REFUSED, time_secs)?;
        }
        Ok(())
    }

    #[test]
    fn ids_follow_arrival_order_and_closed_loop_users_wait_for_the_end() {
        let mut t = traffic(ArrivalPattern::ClosedLoop);
        assert_eq!(t.next_request().0, RequestId(0));
        assert_eq!(t.peek_time(), None, "the one user awaits its reply");
        t.on_submitted(RequestId(0), Ok(()), 0.0).unwrap();
        t.on_completed(RequestId(0), 1.5);
        assert_eq!(t.peek_time(), Some(1.5));
        let (id, spec) = t.next_request();
        assert_eq!((id, spec.arrival_secs), (RequestId(1), 1.5));
        // A refusal ends the request at once.
        t.on_submitted(id, REFUSED, 1.5).unwrap();
        assert_eq!(t.peek_time(), Some(1.5));
    }

    #[test]
    fn a_closed_loop_whose_every_request_is_refused_stops() {
        let mut t = traffic(ArrivalPattern::ClosedLoop);
        refuse(&mut t, MAX_CONSECUTIVE_REJECTIONS - 1, 1.0).unwrap();
        // One accepted request starts the count again.
        let (id, _) = t.next_request();
        t.on_submitted(id, Ok(()), 1.0).unwrap();
        t.on_completed(id, 2.0);
        refuse(&mut t, MAX_CONSECUTIVE_REJECTIONS - 1, 2.0).unwrap();
        let err = refuse(&mut t, 1, 3.0).unwrap_err();
        assert!(
            matches!(err, SimError::Stalled { time_secs, .. } if time_secs == 3.0),
            "{err}"
        );
        assert!(err.to_string().contains("in a row were rejected"), "{err}");
    }

    #[test]
    fn open_loop_refusals_never_stop_the_run() {
        let mut t = traffic(ArrivalPattern::Poisson);
        refuse(&mut t, MAX_CONSECUTIVE_REJECTIONS + 1, 1.0).unwrap();
    }
}
