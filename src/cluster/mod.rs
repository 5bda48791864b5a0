//! A deployment: replicas behind a router on one simulated clock, and the
//! single-run driver that feeds it one traffic stream.
//!
//! Every replica is an [`Engine`] of the same [`ServerConfig`] (one engine
//! per group of `tensor_parallel_size` GPUs). The driver takes the engines'
//! events and the traffic's arrivals in time order; at equal times a StepEnd
//! (of any replica) comes first, then the arrivals, then a StepStart, and
//! among replicas the lower index first. The router sees every request at its
//! arrival, after every event before it, and picks its replica. The engines'
//! outputs merge into one result at the end, with each replica's figures
//! beside the cluster's. No I/O, no clock, no threads.

mod router;
mod simulator;

pub use router::{Router, PREFIX_AFFINITY_LOAD_BOUND};
pub use simulator::{simulate, Simulator};

use crate::config::ServerConfig;
use crate::engine::{
    Advance, Engine, EngineEvent, EngineEventKind, EngineOutput, Observer, RejectReason, SimError,
    SimOptions,
};
use crate::metrics::{ClusterMetrics, ReplicaMetrics};
use crate::workload::{RequestId, RequestSpec};

/// The replicas of one deployment and their router.
#[derive(Debug)]
pub struct Cluster {
    engines: Vec<Engine>,
    router: Router,
    gpus: u64,
    /// Each replica's next event, kept beside the engines so that finding
    /// the earliest reads one small array instead of every engine.
    next: Vec<Option<EngineEvent>>,
    /// A replica that advanced since `next` was last brought up to date.
    stale: Option<usize>,
}

/// An event of one replica.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaEvent {
    /// The replica's index.
    pub replica: usize,
    /// Its next event.
    pub event: EngineEvent,
}

impl Cluster {
    /// `server.deployment.replicas` idle engines of `server` at time 0.
    pub fn new(server: &ServerConfig, options: SimOptions) -> Self {
        let d = &server.deployment;
        let replicas = d.replicas.max(1) as usize;
        let engines: Vec<Engine> = (0..replicas as u32)
            .map(|replica| Engine::for_replica(server, options, replica))
            .collect();
        Self {
            next: engines.iter().map(Engine::next_event).collect(),
            engines,
            router: Router::new(d.router),
            gpus: d.gpus(),
            stale: None,
        }
    }

    /// The replicas' engines, in replica order.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// The earliest next event of any replica by the ordering rule (at equal
    /// times a StepEnd before a StepStart, then the lower replica).
    pub fn next_event(&mut self) -> Option<ReplicaEvent> {
        if let Some(r) = self.stale.take() {
            self.next[r] = self.engines[r].next_event();
        }
        let mut next: Option<ReplicaEvent> = None;
        for (replica, event) in self.next.iter().enumerate() {
            let Some(event) = *event else {
                continue;
            };
            let earlier = next.is_none_or(|n| {
                event.time_secs < n.event.time_secs
                    || (event.time_secs == n.event.time_secs
                        && event.kind == EngineEventKind::StepEnd
                        && n.event.kind == EngineEventKind::StepStart)
            });
            if earlier {
                next = Some(ReplicaEvent { replica, event });
            }
        }
        next
    }

    /// Routes request `id` to a replica and submits it there; returns the
    /// replica, its clock and what it made of the request.
    pub fn submit(
        &mut self,
        id: RequestId,
        spec: RequestSpec,
        obs: &mut dyn Observer,
    ) -> (usize, f64, Result<(), RejectReason>) {
        let replica = self.router.route(&spec, &self.engines);
        let engine = &mut self.engines[replica];
        let outcome = engine.submit(id, spec, obs);
        self.next[replica] = engine.next_event();
        (replica, engine.now_secs(), outcome)
    }

    /// Performs the next event of `replica`, then its next ones while they
    /// come strictly before `horizon_secs` and before every other replica's
    /// next event ([`Engine::advance_until`]).
    pub fn advance_until(
        &mut self,
        replica: usize,
        horizon_secs: f64,
        obs: &mut dyn Observer,
    ) -> Result<Advance<'_>, SimError> {
        let horizon_secs = self
            .next
            .iter()
            .enumerate()
            .filter(|&(r, _)| r != replica)
            .filter_map(|(_, e)| e.map(|e| e.time_secs))
            .fold(horizon_secs, f64::min);
        self.stale = Some(replica);
        self.engines[replica].advance_until(horizon_secs, obs)
    }

    /// Hands over the merged output of all replicas with the deployment's
    /// figures. Call it when no replica has an event left.
    pub fn finish(self) -> (EngineOutput, ClusterMetrics) {
        let mut outputs = self.engines.into_iter().map(Engine::finish);
        // `new` builds at least one engine.
        let Some(mut merged) = outputs.next() else {
            return (
                EngineOutput::default(),
                ClusterMetrics::new(self.gpus, Vec::new()),
            );
        };
        let rest: Vec<EngineOutput> = outputs.collect();
        let window = merged
            .metrics
            .joint_window_secs(rest.iter().map(|o| &o.metrics));
        let replica = |o: &EngineOutput| ReplicaMetrics {
            requests: o.totals.arrived,
            completed: o.metrics.completed(),
            utilization: o.metrics.utilization(window),
            preemptions: o.totals.preemptions,
            prefix_hits: o.totals.prefix_hits,
        };
        let replicas: Vec<ReplicaMetrics> =
            std::iter::once(&merged).chain(&rest).map(replica).collect();
        for other in rest {
            merged.merge(other);
        }
        (merged, ClusterMetrics::new(self.gpus, replicas))
    }
}

#[cfg(test)]
mod tests;
