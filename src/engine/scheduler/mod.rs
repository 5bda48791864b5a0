//! vLLM-style step planning: which requests run in the next step and how many
//! tokens each computes, under the token budget, the sequence limit and the KV
//! cache; preemption when the cache runs out; admission in policy order.
//!
//! The order of one step (vLLM v1):
//! 1. Running requests, in admission order, each take their remaining prompt
//!    tokens (capped by `long_prefill_token_threshold` and the budget) or one
//!    decode token. When a request's new blocks do not fit, the running request
//!    the policy ranks last (the last admitted under fcfs) is preempted: its
//!    blocks are freed, its progress discarded (recompute), and it goes to the
//!    front of the waiting queue. This repeats until the blocks fit or the
//!    request preempted itself, which ends the step's planning
//!    ([`running`](self::running)).
//! 2. Only if nothing was preempted: waiting requests are admitted in policy
//!    order while the sequence limit, the budget, the partial-prefill limit and
//!    the free blocks allow; the first that does not fit stops admission
//!    ([`admission`](self::admission)).
//!
//! When the step has run, [`Scheduler::commit`] applies it. The scheduler
//! owns its queues and its plan: the engine reads them, never edits them.

mod admission;
mod running;

use super::cost::{BatchShape, Work};
use super::decode_group::DecodeGroup;
use super::kv_cache::KvCache;
use super::observer::{Event, Observer};
use super::request::RequestTable;
use crate::config::{Policy, SchedulerConfig};
use crate::workload::{RequestId, RequestSpec};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One request's share of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scheduled {
    pub slot: u32,
    /// Tokens computed in the step.
    pub tokens: u32,
    /// Tokens already in the cache before the step.
    pub context: u32,
    /// Prompt (prefill or recompute) tokens, to the end or not, or a decode token.
    pub work: Work,
}

/// A waiting request: a preempted one keeps its engine state in a slot; a new
/// one waits as its compact spec and gets a slot only when it reaches the head
/// of the queue, so a long queue under overload costs little memory.
#[derive(Debug)]
enum Waiter {
    /// A request with engine state.
    Slot(u32),
    /// A request that has not run yet.
    New(Box<RequestSpec>),
}

/// Which part of the waiting queue a request is in: preempted requests go
/// before new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lane {
    Preempted,
    New,
}

/// An entry of the waiting queue, ordered preempted requests first, then by
/// policy key, then by id (arrival).
#[derive(Debug)]
struct Waiting {
    lane: Lane,
    key: i64,
    id: RequestId,
    who: Waiter,
}

impl Waiting {
    fn order(&self) -> (Lane, i64, RequestId) {
        (self.lane, self.key, self.id)
    }
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

/// Counters the scheduler keeps for the run's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SchedulerStats {
    pub preemptions: u64,
    /// Admissions that found at least one cached block.
    pub prefix_hits: u64,
    /// Admissions that looked up the cache and found nothing.
    pub prefix_misses: u64,
    /// Prompt tokens taken from the cache instead of computed.
    pub cached_tokens: u64,
    /// Tokens looked up (prompt tokens eligible for a hit).
    pub lookup_tokens: u64,
}

/// What is left of a step's limits while it is planned.
#[derive(Debug, Clone, Copy)]
struct StepBudget {
    /// Tokens the step may still compute.
    tokens: u64,
    /// Requests in the step computing a prompt chunk short of its end.
    partial: u64,
}

/// Where the scheduler's decisions in one step are reported.
struct Decisions<'a> {
    obs: &'a mut dyn Observer,
    now_secs: f64,
}

impl Decisions<'_> {
    /// Reports the event `event` makes, if the observer wants events.
    fn report(&mut self, event: impl FnOnce() -> Event) {
        if self.obs.wants_events() {
            self.obs.on_event(self.now_secs, &event());
        }
    }
}

/// The scheduler: queues and the plan of the current step.
#[derive(Debug)]
pub(crate) struct Scheduler {
    policy: Policy,
    max_batched: u64,
    max_seqs: usize,
    chunked: bool,
    threshold: u64,
    max_partial: u64,
    preemption_free: bool,
    window: u64,
    /// Running requests in admission order.
    running: Vec<u32>,
    waiting: BinaryHeap<Reverse<Waiting>>,
    /// The current step's plan.
    batch: Vec<Scheduled>,
    /// The current step's shape, for the cost model.
    shape: BatchShape,
    /// Preemption-free mode: bytes running requests have reserved but not yet allocated.
    outstanding_bytes: u64,
    stats: SchedulerStats,
    /// The decoding prefix of `running`, advanced implicitly (see `decode_group`).
    group: DecodeGroup,
    /// Whether the decode group may form (not for sliding-window models, nor
    /// on the reference path).
    use_group: bool,
    /// Scratch: members that need a block this step.
    needy: Vec<u32>,
    /// Scratch: the requests that finished in the step being committed.
    finished: Vec<u32>,
}

impl Scheduler {
    /// An idle scheduler; `window` is the model's sliding window (0 if none);
    /// `use_group` enables the decode group fast path.
    pub fn new(cfg: &SchedulerConfig, window: u64, use_group: bool) -> Self {
        Self {
            policy: cfg.policy,
            max_batched: cfg.max_num_batched_tokens,
            max_seqs: cfg.max_num_seqs as usize,
            chunked: cfg.enable_chunked_prefill,
            threshold: cfg.long_prefill_token_threshold,
            max_partial: cfg.max_num_partial_prefills,
            preemption_free: cfg.enable_preemption_free,
            window,
            running: Vec::with_capacity(cfg.max_num_seqs.min(1 << 16) as usize),
            waiting: BinaryHeap::new(),
            batch: Vec::with_capacity(cfg.max_num_seqs.min(1 << 16) as usize),
            shape: BatchShape::default(),
            outstanding_bytes: 0,
            stats: SchedulerStats::default(),
            group: DecodeGroup::default(),
            use_group: use_group && window == 0,
            needy: Vec::new(),
            finished: Vec::new(),
        }
    }

    /// Requests waiting to be admitted.
    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Requests running (admitted and not finished).
    pub fn num_running(&self) -> usize {
        self.running.len()
    }

    /// The slots of the running requests, in admission order.
    #[cfg(test)]
    pub fn running(&self) -> &[u32] {
        &self.running
    }

    /// The explicit part of the current step's plan (decode group members aside).
    #[cfg(test)]
    pub fn batch(&self) -> &[Scheduled] {
        &self.batch
    }

    /// The decode group.
    #[cfg(test)]
    pub fn group(&self) -> &DecodeGroup {
        &self.group
    }

    /// The current step's shape, for the cost model.
    pub fn shape(&self) -> &BatchShape {
        &self.shape
    }

    /// The counters so far.
    pub fn stats(&self) -> SchedulerStats {
        self.stats
    }

    /// Puts a newly arrived request into the waiting queue.
    pub fn enqueue_new(&mut self, id: RequestId, spec: RequestSpec) {
        let key = self
            .policy
            .key(spec.input_tokens, spec.output_tokens, spec.priority);
        self.waiting.push(Reverse(Waiting {
            lane: Lane::New,
            key,
            id,
            who: Waiter::New(Box::new(spec)),
        }));
    }

    /// Puts a preempted request back at the front of the waiting queue.
    fn enqueue_preempted(&mut self, reqs: &RequestTable, slot: u32) {
        let r = reqs.get(slot);
        self.waiting.push(Reverse(Waiting {
            lane: Lane::Preempted,
            key: r.policy_key,
            id: r.id,
            who: Waiter::Slot(slot),
        }));
    }

    /// Plans the next step into the batch and the shape, allocating KV blocks:
    /// running requests first, then admission. Returns whether anything was
    /// preempted (which can leave the plan empty when the first running
    /// request had to preempt itself).
    pub fn plan(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        obs: &mut dyn Observer,
        now_secs: f64,
    ) -> bool {
        self.batch.clear();
        self.shape = BatchShape::default();
        let mut budget = StepBudget {
            tokens: self.max_batched,
            partial: 0,
        };
        let mut decisions = Decisions { obs, now_secs };
        let preempted = self.plan_running(reqs, kv, &mut decisions, &mut budget);
        // Admission only when nothing was preempted this step.
        if !preempted {
            self.admit(reqs, kv, &mut decisions, budget);
        }
        preempted
    }

    /// Applies the planned step, which ended at `now_secs`: computed tokens
    /// enter the cache (full blocks become shareable), caught-up requests emit
    /// a token, and finished requests leave the running list and free their
    /// KV. Returns the finished requests' slots in id order; their records are
    /// still in `reqs` for the caller to read and remove.
    pub fn commit(&mut self, reqs: &mut RequestTable, kv: &mut KvCache, now_secs: f64) -> &[u32] {
        // Decode group members computed one token each; some emitted their last.
        self.finished.clear();
        let members_done = self.group.finish_step(reqs);
        self.finished.extend_from_slice(members_done);
        let members_done = members_done.len();
        for s in &self.batch {
            let r = reqs.get_mut(s.slot);
            r.computed += s.tokens;
            r.register_full_blocks(kv);
            if r.computed == r.num_tokens() {
                r.generated += 1;
                debug_assert!(r.generated <= r.output_tokens);
                if r.first_token_secs.is_nan() {
                    r.first_token_secs = now_secs;
                }
                if r.is_finished() {
                    self.finished.push(s.slot);
                }
            }
        }
        if !self.finished.is_empty() {
            self.retire_finished(reqs, kv, members_done);
        }
        self.grow_group(reqs, kv.layout().block_size);
        &self.finished
    }

    /// Takes the requests that emitted their last token out of the running
    /// list and frees their KV. They are handled in id order, so the free
    /// list does not depend on how the step was computed.
    fn retire_finished(&mut self, reqs: &mut RequestTable, kv: &mut KvCache, members_done: usize) {
        self.running.retain(|&slot| !reqs.get(slot).is_finished());
        self.group.forget(members_done);
        let mut finished = std::mem::take(&mut self.finished);
        finished.sort_unstable_by_key(|&slot| reqs.get(slot).id);
        for &slot in &finished {
            let r = reqs.get_mut(slot);
            debug_assert_eq!(u64::from(r.computed), r.lifetime_tokens());
            r.register_full_blocks(kv);
            self.release_kv(reqs, kv, slot, false);
        }
        self.finished = finished;
    }

    /// After a step: running requests that have become plain decoders at the
    /// front of the explicit part of the running list join the decode group.
    fn grow_group(&mut self, reqs: &mut RequestTable, block_size: u64) {
        if !self.use_group {
            return;
        }
        while let Some(&slot) = self.running.get(self.group.len()) {
            if !reqs.get(slot).is_decoding() {
                break;
            }
            self.group.join(reqs, slot, block_size);
        }
    }

    /// Drops a request's blocks, window tokens and (preemption-free mode) the
    /// rest of its reservation; `keep_as_ghost` keeps the block table as the
    /// place to look for the request's content later (a preemption; without
    /// it the request has finished, and its own content is dead).
    fn release_kv(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        slot: u32,
        keep_as_ghost: bool,
    ) {
        let layout = *kv.layout();
        let r = reqs.get_mut(slot);
        if self.preemption_free {
            self.outstanding_bytes = self
                .outstanding_bytes
                .saturating_sub(r.reserved_bytes.saturating_sub(r.held_bytes(&layout)));
        }
        if keep_as_ghost {
            kv.release(&r.blocks);
        } else {
            kv.release_finished(&r.blocks, r.registered_own_blocks());
        }
        if keep_as_ghost {
            std::mem::swap(&mut r.blocks, &mut r.ghost_blocks);
        }
        r.blocks.clear();
        kv.release_window(r.window_tokens);
        r.window_tokens = 0;
    }
}
