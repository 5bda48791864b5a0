//! The event loop: arrivals enter the waiting queue, the scheduler plans a
//! step, the cost model prices it, simulated time advances by its duration,
//! and the step's tokens are committed (first tokens, completions).

use super::cost::CostModel;
use super::kv_cache::{KvCache, KvLayout};
use super::observer::{Event, Observer, RejectReason, StepSummary};
use super::request::RequestTable;
use super::scheduler::Scheduler;
use crate::config::Config;
use crate::metrics::collector::RunTotals;
use crate::metrics::{MetricsCollector, RequestRecord, RunResult};
use crate::workload::{RequestSpec, TraceError, Workload};

/// Options of a run that do not change its results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// Keep one [`RequestRecord`] per completed request (for per-request tables).
    pub record_requests: bool,
    /// Take the plain path everywhere the engine has a faster equivalent, so
    /// tests can check that both give identical results.
    #[cfg(test)]
    pub(crate) reference: bool,
}

impl SimOptions {
    /// Default options, keeping per-request records when `record_requests`.
    // Test builds have more fields, so the update is needed there.
    #[allow(clippy::needless_update)]
    pub fn recording(record_requests: bool) -> Self {
        Self {
            record_requests,
            ..Self::default()
        }
    }
}

/// What a run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// The run's metrics.
    pub result: RunResult,
    /// Per-request records, when [`SimOptions::record_requests`] asked for them.
    pub requests: Option<Vec<RequestRecord>>,
}

/// Why a run could not finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// Work is waiting but no step can make progress: a bug or an input the
    /// arrival checks did not foresee. Reported instead of looping forever.
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

/// Consecutive closed-loop rejections (with no request admitted in between)
/// after which the run is declared stuck.
const MAX_CONSECUTIVE_REJECTIONS: u64 = 1_000_000;

/// One simulation in progress.
pub struct Simulator<'c> {
    config: &'c Config,
    workload: Workload,
    reqs: RequestTable,
    sched: Scheduler,
    kv: KvCache,
    cost: CostModel,
    metrics: MetricsCollector,
    now: f64,
    steps: u64,
    arrived: u64,
    rejected: u64,
    consecutive_rejections: u64,
    finished: Vec<u32>,
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
    /// A simulation of `config` serving `workload`.
    pub fn new(config: &'c Config, workload: Workload, options: SimOptions) -> Self {
        let cost = CostModel::new(config);
        let layout = KvLayout::new(config);
        #[allow(unused_mut)]
        let mut kv = KvCache::new(layout, config.scheduler.enable_prefix_caching);
        #[cfg(test)]
        kv.set_map_everything(options.reference);
        #[cfg(test)]
        let use_group = !options.reference;
        #[cfg(not(test))]
        let use_group = true;
        Self {
            config,
            workload,
            reqs: RequestTable::default(),
            sched: Scheduler::new(&config.scheduler, cost.window(), use_group),
            kv,
            cost,
            metrics: MetricsCollector::new(options.record_requests),
            now: 0.0,
            steps: 0,
            arrived: 0,
            rejected: 0,
            consecutive_rejections: 0,
            finished: Vec::new(),
        }
    }

    /// Runs until every request has completed or been rejected.
    pub fn run(mut self, obs: &mut dyn Observer) -> Result<RunOutput, SimError> {
        while self.advance(obs)? {}
        Ok(self.finish())
    }

    /// Takes arrivals and runs one engine step (jumping over idle time first).
    /// Returns `false` once every request has completed or been rejected.
    fn advance(&mut self, obs: &mut dyn Observer) -> Result<bool, SimError> {
        self.take_arrivals(obs)?;
        while self.sched.running.is_empty() && self.sched.num_waiting() == 0 {
            // Idle server: jump to the next arrival, or stop when none will come.
            let Some(t) = self.workload.peek_time() else {
                return Ok(false);
            };
            self.now = self.now.max(t);
            self.take_arrivals(obs)?;
        }
        // A plan can come out empty when the first running request had to
        // preempt itself; its freed blocks let the next plan go ahead. Every
        // retry removes a running request, so this ends.
        loop {
            let preempted = self
                .sched
                .schedule(&mut self.reqs, &mut self.kv, obs, self.now);
            if self.sched.shape.num_seqs > 0 {
                break;
            }
            if !preempted {
                return Err(self.stalled());
            }
        }
        let kv_util = self.kv.utilization();
        let cost = self.cost.step_cost(&self.sched.shape);
        self.metrics
            .on_step(cost.secs, cost.flops, cost.bytes, kv_util);
        self.now += cost.secs;
        self.steps += 1;
        self.commit(obs);
        let shape = &self.sched.shape;
        obs.on_step(&StepSummary {
            step: self.steps,
            now_secs: self.now,
            step_secs: cost.secs,
            num_seqs: shape.num_seqs,
            new_tokens: shape.new_tokens,
            prefill_tokens: shape.prefill_tokens,
            running: self.sched.running.len(),
            waiting: self.sched.num_waiting(),
            kv_utilization: kv_util,
            completed: self.metrics.completed(),
            arrived: self.arrived,
        });
        Ok(true)
    }

    /// Summarises the finished run.
    fn finish(self) -> RunOutput {
        let s = self.sched.stats;
        let totals = RunTotals {
            arrived: self.arrived,
            rejected: self.rejected,
            preemptions: s.preemptions,
            prefix_hits: s.prefix_hits,
            prefix_misses: s.prefix_misses,
            cached_tokens: s.cached_tokens,
            lookup_tokens: s.lookup_tokens,
            steps: self.steps,
            end_secs: self.now,
        };
        let (result, requests) = self.metrics.finish(self.config, totals);
        RunOutput { result, requests }
    }

    /// Moves every request that has arrived by now into the waiting queue, or rejects it.
    fn take_arrivals(&mut self, obs: &mut dyn Observer) -> Result<(), SimError> {
        while self.workload.peek_time().is_some_and(|t| t <= self.now) {
            let spec = self.workload.next_request();
            let seq = self.arrived;
            self.arrived += 1;
            self.metrics.on_arrival(spec.arrival_secs);
            if let Some(reason) = self.rejection(&spec) {
                self.rejected += 1;
                if obs.wants_events() {
                    obs.on_event(
                        self.now,
                        &Event::Rejected {
                            request: seq,
                            reason,
                        },
                    );
                }
                self.workload.on_request_done(self.now);
                self.consecutive_rejections += 1;
                if self.workload.is_closed_loop()
                    && self.consecutive_rejections >= MAX_CONSECUTIVE_REJECTIONS
                {
                    return Err(SimError::Stalled {
                        time_secs: self.now,
                        detail: format!(
                            "{MAX_CONSECUTIVE_REJECTIONS} requests in a row were rejected ({reason}); no request of this workload can run"
                        ),
                    });
                }
                continue;
            }
            self.consecutive_rejections = 0;
            self.enqueue(seq, spec);
        }
        match self.workload.error() {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    }

    fn enqueue(&mut self, seq: u64, spec: RequestSpec) {
        self.sched.enqueue_new(seq, spec);
    }

    /// Why a request can never run, if it cannot.
    fn rejection(&self, spec: &RequestSpec) -> Option<RejectReason> {
        let prompt = u64::from(spec.input_tokens);
        let total = prompt + u64::from(spec.output_tokens);
        let max_seq_len = self.config.model.max_seq_len;
        let layout = self.kv.layout();
        let lifetime = total - 1;
        let budget = self.config.scheduler.max_num_batched_tokens;
        if total > max_seq_len {
            Some(RejectReason::LongerThanMaxSeqLen {
                tokens: total,
                max_seq_len,
            })
        } else if layout.bytes_for(lifetime) > layout.capacity_bytes
            || layout.blocks_for(lifetime) > layout.num_blocks()
        {
            Some(RejectReason::LargerThanKvCache {
                bytes: layout.bytes_for(lifetime),
                capacity: layout.capacity_bytes,
            })
        } else if !self.config.scheduler.enable_chunked_prefill && prompt > budget {
            Some(RejectReason::PromptOverBudget {
                tokens: prompt,
                budget,
            })
        } else {
            None
        }
    }

    /// Applies the step that just ended: computed tokens enter the cache (full
    /// blocks become shareable), caught-up requests emit a token, and finished
    /// requests leave.
    fn commit(&mut self, obs: &mut dyn Observer) {
        // Decode group members computed one token each; some emitted their last.
        let members_done = self.sched.group.finish_step(&mut self.reqs);
        self.finished.extend_from_slice(members_done);
        let members_done = members_done.len();
        for s in &self.sched.batch {
            let r = self.reqs.get_mut(s.slot);
            r.computed += s.tokens;
            r.register_full_blocks(&mut self.kv);
            if r.computed == r.num_tokens() {
                r.generated += 1;
                debug_assert!(r.generated <= r.output_tokens);
                if r.first_token.is_nan() {
                    r.first_token = self.now;
                }
                if r.is_finished() {
                    self.finished.push(s.slot);
                }
            }
        }
        if !self.finished.is_empty() {
            self.retire_finished(members_done, obs);
        }
        let block_size = self.kv.layout().block_size;
        self.sched.grow_group(&mut self.reqs, block_size);
    }

    /// Removes the requests that emitted their last token this step, frees
    /// their blocks and records their metrics. They are handled in arrival
    /// order, so the free list and the records do not depend on how the step
    /// was computed.
    fn retire_finished(&mut self, members_done: usize, obs: &mut dyn Observer) {
        let reqs = &self.reqs;
        self.sched
            .running
            .retain(|&slot| !reqs.get(slot).is_finished());
        self.sched.group.forget(members_done);
        let mut finished = std::mem::take(&mut self.finished);
        finished.sort_unstable_by_key(|&slot| self.reqs.get(slot).seq);
        for &slot in &finished {
            let r = self.reqs.get_mut(slot);
            debug_assert_eq!(u64::from(r.computed), r.lifetime_tokens());
            r.register_full_blocks(&mut self.kv);
            self.sched
                .release_finished(&mut self.reqs, &mut self.kv, slot);
            let r = self.reqs.get(slot);
            self.metrics.on_complete(RequestRecord {
                request_id: r.seq,
                arrival_secs: r.arrival,
                first_token_secs: r.first_token,
                finish_secs: self.now,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                preemptions: r.preemptions,
                cached_tokens: r.cached_tokens,
            });
            if obs.wants_events() {
                obs.on_event(
                    self.now,
                    &Event::Finished {
                        request: r.seq,
                        kv_tokens: r.computed,
                    },
                );
            }
            self.reqs.remove(slot);
            self.workload.on_request_done(self.now);
        }
        finished.clear();
        self.finished = finished;
    }

    fn stalled(&self) -> SimError {
        SimError::Stalled {
            time_secs: self.now,
            detail: format!(
                "no request could be scheduled with {} running and {} waiting ({} of {} KV blocks in use)",
                self.sched.running.len(),
                self.sched.num_waiting(),
                self.kv.blocks_in_use(),
                self.kv.layout().num_blocks()
            ),
        }
    }
}

#[cfg(test)]
mod tests;
