//! One server's engine, open to its driver: requests are submitted to it, and
//! it advances one event at a time. The engine owns a scheduler, a KV cache
//! and a cost model; it knows nothing of where requests come from (the
//! workload belongs to the driver, and so does closed-loop feedback).
//!
//! # Events
//!
//! An engine has at most one next event ([`Engine::next_event`]):
//!
//! - **StepEnd** at `t`: the step in flight ends at `t`. Advancing commits it
//!   (computed tokens, first tokens, completions) and returns the requests
//!   that finished, so the driver can release the closed-loop requests they
//!   were holding back.
//! - **StepStart** at the engine's clock: no step is in flight and work is
//!   waiting. Advancing plans the step (running requests, then admission),
//!   prices it with the cost model, and puts it in flight until `now +
//!   step time`.
//! - none: the engine is idle and has nothing to do until a request is
//!   submitted. A request submitted to an idle engine moves its clock to the
//!   request's arrival.
//!
//! # The ordering rule
//!
//! A driver merges its engines' events with the arrivals of its traffic in
//! time order. **At equal times, a StepEnd comes first, then the arrivals at
//! that time (including closed-loop requests that the StepEnd released), then
//! a StepStart.** So a request that arrives exactly when a step ends is
//! considered for the next step, which starts at that same time; this is the
//! order the single-server loop has always had (commit, take the arrivals up
//! to now, plan).
//!
//! A request that arrives while a step is in flight can be submitted at its
//! arrival or at any later point before the engine's next StepStart: the
//! waiting queue is read only when a step is planned, so the engine's results
//! are the same either way (a property test checks it). Only the counts of
//! [`StepSummary`] tell the difference, since they count what has been
//! submitted. The single-run driver ([`Simulator`](crate::cluster::Simulator)),
//! whose router must see each request when it arrives, submits them at their
//! arrival.

use super::cost::CostModel;
use super::error::SimError;
use super::kv_cache::{BlockKey, KvCache, KvLayout};
use super::observer::{Event, Observer, RejectReason, StepSummary};
use super::output::EngineOutput;
use super::request::RequestTable;
use super::scheduler::Scheduler;
use crate::config::ServerConfig;
use crate::metrics::{ClientDelay, MetricsCollector, Rejections, RequestRecord, RunTotals};
use crate::workload::{RequestId, RequestSpec};

/// Options of a run that do not change its results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// Keep one [`RequestRecord`] per completed request (for per-request tables).
    pub record_requests: bool,
    /// Take the plain path everywhere the engine has a faster equivalent, so
    /// tests can check that both give identical results.
    pub(crate) reference: bool,
}

impl SimOptions {
    /// Default options, keeping per-request records when `record_requests`.
    pub fn recording(record_requests: bool) -> Self {
        Self {
            record_requests,
            ..Self::default()
        }
    }
}

/// What an engine's next event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineEventKind {
    /// The step in flight ends.
    StepEnd,
    /// The next step starts.
    StepStart,
}

/// An engine's next event: what happens and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineEvent {
    /// Simulated time of the event, seconds.
    pub time_secs: f64,
    /// What happens then.
    pub kind: EngineEventKind,
}

/// A request that emitted its last token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Completion {
    /// The request's global id.
    pub request_id: RequestId,
    /// When it finished, seconds.
    pub finish_secs: f64,
}

/// What [`Engine::advance`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Advance<'a> {
    /// Nothing: the engine had no event.
    Idle,
    /// A step was planned and is in flight until `end_secs`.
    StepStarted {
        /// When the step ends, seconds.
        end_secs: f64,
    },
    /// The step in flight ended and was committed.
    StepEnded {
        /// The requests that finished in it, in id order.
        finished: &'a [Completion],
    },
}

/// What one event did, before it is handed out as an [`Advance`].
#[derive(Debug, Clone, Copy)]
enum Performed {
    Idle,
    Started(f64),
    Ended,
}

/// How loaded an engine is now: what a router looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadSnapshot {
    /// Requests waiting to be admitted.
    pub waiting: usize,
    /// Requests admitted and not finished.
    pub running: usize,
    /// KV blocks held by requests.
    pub kv_blocks_used: u64,
    /// KV blocks the cache has.
    pub kv_blocks_total: u64,
    /// Fraction of the KV capacity held by requests (blocks and sliding-window tokens).
    pub kv_utilization: f64,
}

/// The limits a request is checked against when it arrives.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_seq_len: u64,
    max_batched_tokens: u64,
    chunked_prefill: bool,
}

/// The step in flight.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    end_secs: f64,
    step_secs: f64,
    /// KV utilisation during the step.
    kv_utilization: f64,
}

/// One server's engine.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    reqs: RequestTable,
    sched: Scheduler,
    kv: KvCache,
    cost: CostModel,
    metrics: MetricsCollector,
    now_secs: f64,
    in_flight: Option<InFlight>,
    steps: u64,
    arrived: u64,
    rejected: Rejections,
    /// The requests that finished in the last step (reused, not reallocated).
    completions: Vec<Completion>,
    /// The engine's replica index in its deployment (for per-request records).
    replica: u32,
}

impl Engine {
    /// An idle engine of `server` at time 0 (replica 0 of its deployment).
    pub fn new(server: &ServerConfig, options: SimOptions) -> Self {
        Self::for_replica(server, options, 0)
    }

    /// An idle engine of `server` at time 0, replica `replica` of its
    /// deployment (what its per-request records name).
    pub fn for_replica(server: &ServerConfig, options: SimOptions, replica: u32) -> Self {
        let cost = CostModel::new(server);
        let mut kv = KvCache::new(
            KvLayout::new(server),
            server.scheduler.enable_prefix_caching,
        );
        kv.set_map_everything(options.reference);
        let sched = Scheduler::new(&server.scheduler, cost.window(), !options.reference);
        let metrics = MetricsCollector::new(
            options.record_requests,
            cost.peaks(),
            ClientDelay {
                request_overhead: server.hardware.calibration.request_overhead,
                stream_lag_steps: server.hardware.calibration.stream_lag_steps,
            },
        );
        Self {
            limits: Limits {
                max_seq_len: server.model.max_seq_len,
                max_batched_tokens: server.scheduler.max_num_batched_tokens,
                chunked_prefill: server.scheduler.enable_chunked_prefill,
            },
            reqs: RequestTable::default(),
            sched,
            kv,
            cost,
            metrics,
            now_secs: 0.0,
            in_flight: None,
            steps: 0,
            arrived: 0,
            rejected: Rejections::default(),
            completions: Vec::new(),
            replica,
        }
    }

    /// The engine's clock: the start of the step in flight, or the time of
    /// the last event.
    pub fn now_secs(&self) -> f64 {
        self.now_secs
    }

    /// Submits request `id` (a global id the driver chooses), which arrives
    /// at `spec.arrival_secs`. An idle engine's clock moves to the arrival.
    /// A request that can never run is refused (and counted).
    pub fn submit(
        &mut self,
        id: RequestId,
        spec: RequestSpec,
        obs: &mut dyn Observer,
    ) -> Result<(), RejectReason> {
        let time_secs = self.now_secs.max(spec.arrival_secs);
        if self.in_flight.is_none() {
            debug_assert!(
                !self.has_work() || spec.arrival_secs <= self.now_secs,
                "request {id} submitted after the engine's next step start"
            );
            self.now_secs = time_secs;
        }
        self.arrived += 1;
        self.metrics.on_arrival(spec.arrival_secs);
        if let Some(reason) = self.rejection(&spec) {
            reason.count(&mut self.rejected);
            if obs.wants_events() {
                obs.on_event(
                    time_secs,
                    &Event::Rejected {
                        request_id: id,
                        reason,
                    },
                );
            }
            return Err(reason);
        }
        self.sched.enqueue_new(id, spec);
        Ok(())
    }

    /// The engine's next event, if it has one.
    pub fn next_event(&self) -> Option<EngineEvent> {
        if let Some(step) = &self.in_flight {
            return Some(EngineEvent {
                time_secs: step.end_secs,
                kind: EngineEventKind::StepEnd,
            });
        }
        self.has_work().then_some(EngineEvent {
            time_secs: self.now_secs,
            kind: EngineEventKind::StepStart,
        })
    }

    /// Performs the [next event](Self::next_event).
    pub fn advance(&mut self, obs: &mut dyn Observer) -> Result<Advance<'_>, SimError> {
        let done = self.perform(obs)?;
        Ok(self.advanced(done))
    }

    /// Performs the [next event](Self::next_event), then each next one that
    /// comes strictly before `horizon_secs`, as long as no request finishes
    /// and the observer does not ask to stop. Returns what the last event
    /// did.
    ///
    /// A driver passes the time of the next thing outside the engine (an
    /// arrival, another replica's event): until then nothing can reach the
    /// engine, so its events back to back are exactly what the driver's own
    /// loop would perform one by one (and the observer sees them in the same
    /// order), at a fraction of the cost. A step in which requests finish
    /// ends the run of events, since their completions may send new requests.
    pub fn advance_until(
        &mut self,
        horizon_secs: f64,
        obs: &mut dyn Observer,
    ) -> Result<Advance<'_>, SimError> {
        loop {
            let done = self.perform(obs)?;
            let quiet = match done {
                Performed::Idle => false,
                Performed::Started(_) => true,
                Performed::Ended => self.completions.is_empty(),
            };
            let next_is_before = self
                .next_event()
                .is_some_and(|e| e.time_secs < horizon_secs);
            if !(quiet && next_is_before) || obs.should_stop() {
                return Ok(self.advanced(done));
            }
        }
    }

    /// Performs the next event; says what it was without borrowing the engine.
    /// (It and the two halves of a step are always inlined into the event
    /// loops: they run once or twice a step, and calls returning their
    /// results through memory cost a good part of a step.)
    #[inline(always)]
    fn perform(&mut self, obs: &mut dyn Observer) -> Result<Performed, SimError> {
        if let Some(step) = self.in_flight.take() {
            self.end_step(step, obs);
            return Ok(Performed::Ended);
        }
        if !self.has_work() {
            return Ok(Performed::Idle);
        }
        Ok(Performed::Started(self.start_step(obs)?))
    }

    /// What [`perform`](Self::perform) did, as an [`Advance`].
    fn advanced(&self, done: Performed) -> Advance<'_> {
        match done {
            Performed::Idle => Advance::Idle,
            Performed::Started(end_secs) => Advance::StepStarted { end_secs },
            Performed::Ended => Advance::StepEnded {
                finished: &self.completions,
            },
        }
    }

    /// Requests waiting or running: the part of [`load`](Self::load) a
    /// least-outstanding router reads, without touching the KV cache.
    #[inline]
    pub fn outstanding(&self) -> u64 {
        (self.sched.num_waiting() + self.sched.num_running()) as u64
    }

    /// How loaded the engine is now.
    pub fn load(&self) -> LoadSnapshot {
        LoadSnapshot {
            waiting: self.sched.num_waiting(),
            running: self.sched.num_running(),
            kv_blocks_used: self.kv.blocks_in_use(),
            kv_blocks_total: self.kv.num_blocks(),
            kv_utilization: self.kv.utilization(),
        }
    }

    /// How many leading blocks of a prompt with these chained block hashes
    /// ([`RequestSpec::prompt_block_hashes`]) the engine holds in its prefix
    /// cache, in use or free. A read-only lookup: it changes nothing, not
    /// even which blocks count as recently used. (Admission never reuses a
    /// block holding a prompt's last token; this count does not cap that.)
    pub fn cached_prefix_blocks(&self, prompt_block_hashes: &[u64]) -> u64 {
        let keys = prompt_block_hashes.iter().map(|&h| BlockKey::Shared(h));
        self.kv
            .lookup(keys, prompt_block_hashes.len() as u64)
            .blocks
    }

    /// Hands over the engine's metrics and totals. Call it when the engine
    /// has no event left.
    pub fn finish(self) -> EngineOutput {
        let s = self.sched.stats();
        EngineOutput {
            metrics: self.metrics,
            totals: RunTotals {
                arrived: self.arrived,
                rejected: self.rejected,
                preemptions: s.preemptions,
                prefix_hits: s.prefix_hits,
                prefix_misses: s.prefix_misses,
                cached_tokens: s.cached_tokens,
                lookup_tokens: s.lookup_tokens,
                steps: self.steps,
                end_secs: self.now_secs,
            },
        }
    }

    /// Whether requests are running or waiting.
    fn has_work(&self) -> bool {
        self.sched.num_running() > 0 || self.sched.num_waiting() > 0
    }

    /// Why a request can never run, if it cannot.
    fn rejection(&self, spec: &RequestSpec) -> Option<RejectReason> {
        let prompt = u64::from(spec.input_tokens);
        let total = prompt + u64::from(spec.output_tokens);
        let Limits {
            max_seq_len,
            max_batched_tokens: budget,
            chunked_prefill,
        } = self.limits;
        let layout = self.kv.layout();
        let lifetime = total - 1;
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
        } else if !chunked_prefill && prompt > budget {
            Some(RejectReason::PromptOverBudget {
                tokens: prompt,
                budget,
            })
        } else {
            None
        }
    }

    /// Plans, prices and starts the next step; returns when it ends.
    #[inline(always)]
    fn start_step(&mut self, obs: &mut dyn Observer) -> Result<f64, SimError> {
        // A plan can come out empty when the first running request had to
        // preempt itself; its freed blocks let the next plan go ahead. Every
        // retry removes a running request, so this ends.
        loop {
            let preempted = self
                .sched
                .plan(&mut self.reqs, &mut self.kv, obs, self.now_secs);
            if self.sched.shape().num_seqs > 0 {
                break;
            }
            if !preempted {
                return Err(self.stalled());
            }
        }
        let kv_utilization = self.kv.utilization();
        let cost = self.cost.step_cost(self.sched.shape());
        self.metrics
            .on_step(cost.secs, cost.flops, cost.bytes, kv_utilization);
        self.steps += 1;
        let end_secs = self.now_secs + cost.secs;
        self.in_flight = Some(InFlight {
            end_secs,
            step_secs: cost.secs,
            kv_utilization,
        });
        Ok(end_secs)
    }

    /// Commits the step that ends now, records the requests that finished in
    /// it (into `completions`) and reports the step to an observer that
    /// wants steps.
    #[inline(always)]
    fn end_step(&mut self, step: InFlight, obs: &mut dyn Observer) {
        let now = step.end_secs;
        self.now_secs = now;
        self.completions.clear();
        let finished = self.sched.commit(&mut self.reqs, &mut self.kv, now);
        for &slot in finished {
            let r = self.reqs.get(slot);
            self.metrics.on_complete(RequestRecord {
                request_id: r.id,
                arrival_secs: r.arrival_secs,
                first_token_secs: r.first_token_secs,
                finish_secs: now,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                preemptions: r.preemptions,
                cached_tokens: r.cached_tokens,
                replica: self.replica,
            });
            if obs.wants_events() {
                obs.on_event(
                    now,
                    &Event::Finished {
                        request_id: r.id,
                        kv_tokens: r.computed,
                    },
                );
            }
            self.completions.push(Completion {
                request_id: r.id,
                finish_secs: now,
            });
            self.reqs.remove(slot);
        }
        if !obs.wants_steps() {
            return;
        }
        let shape = self.sched.shape();
        obs.on_step(&StepSummary {
            step: self.steps,
            now_secs: now,
            step_secs: step.step_secs,
            num_seqs: shape.num_seqs,
            new_tokens: shape.new_tokens,
            prefill_tokens: shape.prefill_tokens,
            running: self.sched.num_running(),
            waiting: self.sched.num_waiting(),
            kv_utilization: step.kv_utilization,
            completed: self.metrics.completed(),
            arrived: self.arrived,
        });
    }

    fn stalled(&self) -> SimError {
        SimError::Stalled {
            time_secs: self.now_secs,
            detail: format!(
                "no request could be scheduled with {} running and {} waiting ({} of {} KV blocks in use)",
                self.sched.num_running(),
                self.sched.num_waiting(),
                self.kv.blocks_in_use(),
                self.kv.layout().num_blocks()
            ),
        }
    }
}

#[cfg(test)]
mod tests;
