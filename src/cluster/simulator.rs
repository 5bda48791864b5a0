//! The single run: one traffic stream through the router of a deployment.
//! The driver takes the replicas' events and the arrivals in time order by
//! the engines' ordering rule (see [`server`](crate::engine::server)),
//! routes and submits each request at its arrival, and feeds completions and
//! rejections back to the traffic (so closed-loop users send their next
//! request through the router).

use super::Cluster;
use crate::config::Config;
use crate::engine::{Advance, EngineEventKind, Observer, RunOutput, SimError, SimOptions, Traffic};
use crate::workload::Workload;

/// One simulation in progress.
#[derive(Debug)]
pub struct Simulator<'c> {
    config: &'c Config,
    cluster: Cluster,
    traffic: Traffic,
    /// Let a replica run its events up to the next arrival in one call (off
    /// on the reference path, which takes one event at a time).
    run_ahead: bool,
}

/// Runs `config`'s synthetic workload to completion.
pub fn simulate(
    config: &Config,
    options: SimOptions,
    observer: &mut dyn Observer,
) -> Result<RunOutput, SimError> {
    let workload = Workload::from_config(config).ok_or(SimError::DatasetNotLoaded)?;
    Simulator::new(config, workload, options).run(observer)
}

impl<'c> Simulator<'c> {
    /// A simulation of `config`'s deployment serving `workload`.
    pub fn new(config: &'c Config, workload: Workload, options: SimOptions) -> Self {
        Self {
            config,
            cluster: Cluster::new(&config.server, options),
            traffic: Traffic::new(workload),
            run_ahead: !options.reference,
        }
    }

    /// Runs until every request has completed or been rejected, or until
    /// the observer asks to stop ([`Observer::should_stop`]).
    pub fn run(mut self, obs: &mut dyn Observer) -> Result<RunOutput, SimError> {
        while self.advance(obs)? && !obs.should_stop() {}
        let (output, cluster) = self.cluster.finish();
        let mut run = output.into_run_output(self.config.clone());
        run.result.cluster = cluster;
        Ok(run)
    }

    /// Performs the next thing to happen: an arrival (routed and submitted)
    /// or a replica's event. Returns `false` once every request has
    /// completed or been rejected.
    fn advance(&mut self, obs: &mut dyn Observer) -> Result<bool, SimError> {
        let event = self.cluster.next_event();
        let arrival_first = match (self.traffic.peek_time(), event) {
            (None, None) => return Ok(false),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(t), Some(e)) => {
                let at = e.event.time_secs;
                t < at || (t == at && e.event.kind == EngineEventKind::StepStart)
            }
        };
        match event {
            Some(e) if !arrival_first => {
                // Until the next arrival nothing reaches the replica from
                // outside: it runs its events up to there in one call.
                let horizon = if self.run_ahead {
                    self.traffic.peek_time().unwrap_or(f64::INFINITY)
                } else {
                    f64::NEG_INFINITY
                };
                if let Advance::StepEnded { finished } =
                    self.cluster.advance_until(e.replica, horizon, obs)?
                {
                    for c in finished {
                        self.traffic.on_completed(c.request_id, c.finish_secs);
                    }
                }
            }
            _ => {
                let (id, spec) = self.traffic.next_request();
                let arrival_secs = spec.arrival_secs;
                obs.on_arrival(id, arrival_secs);
                let (_, now_secs, outcome) = self.cluster.submit(id, spec, obs);
                self.traffic
                    .on_submitted(id, outcome, arrival_secs.max(now_secs))?;
                self.traffic.check()?;
            }
        }
        Ok(true)
    }
}
