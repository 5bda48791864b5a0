//! The single run: one [`Engine`] fed by one workload. The driver merges the
//! engine's events with the workload's arrivals by the engine's ordering rule
//! (see [`server`](super::server)), submits each arrival just before the step
//! start it precedes (or when the idle engine's clock reaches it), and feeds
//! completions and rejections back to the workload.

use super::error::SimError;
use super::observer::Observer;
use super::output::RunOutput;
use super::server::{Advance, Engine, EngineEvent, EngineEventKind, SimOptions};
use super::traffic::Traffic;
use crate::config::Config;
use crate::workload::Workload;

/// One simulation in progress.
#[derive(Debug)]
pub struct Simulator<'c> {
    config: &'c Config,
    engine: Engine,
    traffic: Traffic,
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
    /// A simulation of `config`'s server serving `workload`.
    pub fn new(config: &'c Config, workload: Workload, options: SimOptions) -> Self {
        Self {
            config,
            engine: Engine::new(&config.server, options),
            traffic: Traffic::new(workload),
        }
    }

    /// Runs until every request has completed or been rejected, or until
    /// the observer asks to stop ([`Observer::should_stop`]).
    pub fn run(mut self, obs: &mut dyn Observer) -> Result<RunOutput, SimError> {
        while self.advance(obs)? && !obs.should_stop() {}
        Ok(self.engine.finish().into_run_output(self.config.clone()))
    }

    /// Performs the engine's next event, submitting the arrivals that come
    /// before it first (jumping over idle time to the next arrival). Returns
    /// `false` once every request has completed or been rejected.
    fn advance(&mut self, obs: &mut dyn Observer) -> Result<bool, SimError> {
        loop {
            match self.engine.next_event() {
                Some(EngineEvent {
                    kind: EngineEventKind::StepEnd,
                    ..
                }) => break,
                Some(EngineEvent {
                    time_secs,
                    kind: EngineEventKind::StepStart,
                }) => {
                    self.submit_arrivals(time_secs, obs)?;
                    break;
                }
                None => {
                    let Some(t) = self.traffic.peek_time() else {
                        return Ok(false);
                    };
                    self.submit_arrivals(t, obs)?;
                }
            }
        }
        if let Advance::StepEnded { finished } = self.engine.advance(obs)? {
            for c in finished {
                self.traffic.on_completed(c.finish_secs);
            }
        }
        Ok(true)
    }

    /// Submits every request that has arrived by `until_secs`, with the
    /// feedback of those the engine refuses.
    fn submit_arrivals(&mut self, until_secs: f64, obs: &mut dyn Observer) -> Result<(), SimError> {
        while self.traffic.peek_time().is_some_and(|t| t <= until_secs) {
            let (id, spec) = self.traffic.next_request();
            let arrival_secs = spec.arrival_secs;
            obs.on_arrival(id, arrival_secs);
            let outcome = self.engine.submit(id, spec, obs);
            self.traffic
                .on_submitted(outcome, arrival_secs.max(self.engine.now_secs()))?;
        }
        self.traffic.check()
    }
}
