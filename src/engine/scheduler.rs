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
//!    request preempted itself, which ends the step's planning.
//! 2. Only if nothing was preempted: waiting requests are admitted in policy
//!    order while the sequence limit, the budget, the partial-prefill limit and
//!    the free blocks allow; the first that does not fit stops admission.

use super::cost::{BatchShape, Work};
use super::decode_group::DecodeGroup;
use super::kv_cache::KvCache;
use super::observer::{Event, Observer};
use super::request::{Request, RequestTable};
use crate::config::{Policy, SchedulerConfig};
use crate::workload::RequestSpec;
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

/// An entry of the waiting queue, ordered preempted requests first, then by
/// policy key, then by arrival.
#[derive(Debug)]
struct Waiting {
    /// 0 for preempted requests (they go to the front), 1 for new ones.
    class: u8,
    key: i64,
    seq: u64,
    who: Waiter,
}

impl Waiting {
    fn order(&self) -> (u8, i64, u64) {
        (self.class, self.key, self.seq)
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
    pub running: Vec<u32>,
    waiting: BinaryHeap<Reverse<Waiting>>,
    /// The current step's plan.
    pub batch: Vec<Scheduled>,
    /// The current step's shape, for the cost model.
    pub shape: BatchShape,
    /// Preemption-free mode: bytes running requests have reserved but not yet allocated.
    outstanding_bytes: u64,
    pub stats: SchedulerStats,
    /// The decoding prefix of `running`, advanced implicitly (see `decode_group`).
    pub group: DecodeGroup,
    /// Whether the decode group may form (not for sliding-window models, nor
    /// on the reference path).
    use_group: bool,
    /// Scratch: members that need a block this step.
    needy: Vec<u32>,
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
        }
    }

    /// Requests waiting to be admitted.
    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Puts a newly arrived request (arrival index `seq`) into the waiting queue.
    pub fn enqueue_new(&mut self, seq: u64, spec: RequestSpec) {
        let key = self
            .policy
            .key(spec.input_tokens, spec.output_tokens, spec.priority);
        self.waiting.push(Reverse(Waiting {
            class: 1,
            key,
            seq,
            who: Waiter::New(Box::new(spec)),
        }));
    }

    /// Puts a preempted request back at the front of the waiting queue.
    fn enqueue_preempted(&mut self, reqs: &RequestTable, slot: u32) {
        let r = reqs.get(slot);
        self.waiting.push(Reverse(Waiting {
            class: 0,
            key: r.policy_key,
            seq: r.seq,
            who: Waiter::Slot(slot),
        }));
    }

    /// The slot of the request at the head of the waiting queue, giving it one
    /// first if it is new.
    fn head_slot(&mut self, reqs: &mut RequestTable) -> Option<u32> {
        let mut head = self.waiting.peek_mut()?;
        let Reverse(w) = &mut *head;
        let slot = match std::mem::replace(&mut w.who, Waiter::Slot(u32::MAX)) {
            Waiter::Slot(slot) => slot,
            Waiter::New(spec) => {
                let (seq, key) = (w.seq, w.key);
                reqs.insert(|blocks| Request::new(seq, *spec, key, blocks))
            }
        };
        w.who = Waiter::Slot(slot);
        Some(slot)
    }

    /// Plans the next step into `batch` and `shape`, allocating KV blocks.
    /// Returns whether anything was preempted (which can leave the plan empty
    /// when the first running request had to preempt itself).
    pub fn schedule(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        obs: &mut dyn Observer,
        now: f64,
    ) -> bool {
        self.batch.clear();
        self.shape = BatchShape::default();
        let events = obs.wants_events();
        let mut budget = self.max_batched;
        let mut partial = 0u64;
        let mut preempted = false;

        // (1) Running requests first.
        let chunk_cap = if self.chunked && self.threshold > 0 {
            self.threshold
        } else {
            u64::MAX
        };
        let mut i = 0;
        if self.group.len() > 0 {
            if self.group_step_is_safe(reqs, kv, budget, chunk_cap) {
                let bytes = self.group.allocate(reqs, kv, &self.needy);
                if self.preemption_free {
                    self.outstanding_bytes = self.outstanding_bytes.saturating_sub(bytes);
                }
                let members = self.group.len() as u64;
                self.shape.add_decodes(members, self.group.context_sum());
                budget -= members;
                i = self.group.len();
            } else {
                self.group.dissolve(reqs, kv, &self.running);
            }
        }
        'running: while i < self.running.len() && budget > 0 {
            let slot = self.running[i];
            let r = reqs.get(slot);
            let remaining = u64::from(r.num_tokens() - r.computed);
            let n = remaining.min(budget).min(chunk_cap);
            while !self.try_grow(reqs, kv, slot, n) {
                let victim_index = self.victim_index(reqs);
                let victim = self.running[victim_index];
                if events {
                    let v = reqs.get(victim);
                    obs.on_event(
                        now,
                        &Event::Preempted {
                            request: v.seq,
                            discarded_tokens: v.computed,
                        },
                    );
                }
                budget += self.preempt(reqs, kv, victim_index, &mut partial);
                preempted = true;
                if victim == slot {
                    break 'running;
                }
                if victim_index < i {
                    i -= 1;
                }
            }
            let r = reqs.get(slot);
            let work = if r.generated > 0 && remaining == 1 {
                Work::Decode
            } else if n < remaining {
                partial += 1;
                Work::PrefillChunk
            } else {
                Work::PrefillLast
            };
            self.shape.add(u64::from(r.computed), n, self.window, work);
            self.batch.push(Scheduled {
                slot,
                tokens: n as u32,
                context: r.computed,
                work,
            });
            budget -= n;
            i += 1;
        }

        // (2) Admission, only when nothing was preempted this step.
        if preempted {
            return true;
        }
        let layout = *kv.layout();
        while self.running.len() < self.max_seqs && budget > 0 {
            let Some(slot) = self.head_slot(reqs) else {
                break;
            };
            let r = reqs.get(slot);
            let num_tokens = u64::from(r.num_tokens());
            // The longest cached prefix of whole blocks, never the last token.
            let max_hit = (num_tokens - 1) / layout.block_size;
            let hit = kv.lookup((0..).map(|b| r.block_key(b)), max_hit);
            let cached = hit.blocks * layout.block_size;
            let remaining = num_tokens - cached;
            let n = if !self.chunked && remaining <= self.max_batched {
                // Without chunked prefill a prompt runs whole or waits. (A
                // recompute longer than the whole budget is chunked, or it
                // could never run.)
                if remaining > budget {
                    break;
                }
                remaining
            } else if self.chunked && self.threshold > 0 {
                remaining.min(self.threshold).min(budget)
            } else {
                remaining.min(budget)
            };
            let is_partial = n < remaining;
            if is_partial && partial >= self.max_partial {
                break;
            }
            let total = cached + n;
            let new_blocks = layout.blocks_for(total) - hit.blocks;
            let window = layout.window_for(total);
            // In preemption-free mode the whole lifetime must fit beside what the
            // running requests have reserved but not yet allocated.
            let fits = kv.fits(new_blocks + hit.free_blocks, window)
                && (!self.preemption_free || {
                    let needed =
                        layout.bytes_for(r.lifetime_tokens()) - hit.blocks * layout.block_bytes;
                    kv.free_bytes()
                        .checked_sub(hit.free_blocks * layout.block_bytes + self.outstanding_bytes)
                        .is_some_and(|free| free >= needed)
                });
            if !fits {
                break;
            }
            self.waiting.pop();
            let r = reqs.get_mut(slot);
            let mut blocks = std::mem::take(&mut r.blocks);
            kv.take_cached((0..).map(|b| r.block_key(b)), hit.blocks, &mut blocks);
            r.ghost_blocks.clear();
            kv.allocate(new_blocks, &mut blocks);
            kv.hold_window(window);
            r.blocks = blocks;
            r.window_tokens = window;
            r.computed = cached as u32;
            r.registered_blocks = hit.blocks as u32;
            r.cached_tokens = cached as u32;
            if self.preemption_free {
                r.reserved_bytes = layout.bytes_for(r.lifetime_tokens());
                self.outstanding_bytes += r.reserved_bytes - r.held_bytes(&layout);
            }
            if kv.prefix_caching() {
                self.stats.lookup_tokens += max_hit * layout.block_size;
                if hit.blocks > 0 {
                    self.stats.prefix_hits += 1;
                } else {
                    self.stats.prefix_misses += 1;
                }
            }
            self.stats.cached_tokens += cached;
            if events {
                obs.on_event(
                    now,
                    &Event::Admitted {
                        request: r.seq,
                        tokens: n as u32,
                        cached_tokens: cached as u32,
                    },
                );
            }
            self.running.push(slot);
            let work = if is_partial {
                Work::PrefillChunk
            } else {
                Work::PrefillLast
            };
            self.shape.add(cached, n, self.window, work);
            self.batch.push(Scheduled {
                slot,
                tokens: n as u32,
                context: cached as u32,
                work,
            });
            budget -= n;
            if is_partial {
                partial += 1;
            }
        }
        false
    }

    /// Whether the decode group can take this step on its fast path: every
    /// member gets its token within the budget, and the blocks the members and
    /// every other running request could need all fit, so no preemption can
    /// happen. Pops the members' due block events into `needy`.
    fn group_step_is_safe(
        &mut self,
        reqs: &RequestTable,
        kv: &KvCache,
        budget: u64,
        chunk_cap: u64,
    ) -> bool {
        let members = self.group.len() as u64;
        if members > budget {
            return false;
        }
        self.group.due_blocks(reqs, &mut self.needy);
        // The other running requests take the rest of the budget in order,
        // exactly as step (1) will.
        let layout = kv.layout();
        let mut rest = budget - members;
        let mut blocks = self.needy.len() as u64;
        for &slot in &self.running[self.group.len()..] {
            let r = reqs.get(slot);
            let n = u64::from(r.num_tokens() - r.computed)
                .min(rest)
                .min(chunk_cap);
            rest -= n;
            blocks += layout
                .blocks_for(u64::from(r.computed) + n)
                .saturating_sub(r.blocks.len() as u64);
        }
        kv.fits(blocks, 0)
    }

    /// After a step: running requests that have become plain decoders at the
    /// front of the explicit part of the running list join the decode group.
    pub fn grow_group(&mut self, reqs: &mut RequestTable, block_size: u64) {
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

    /// Allocates what `slot` needs to compute `n` more tokens; false if it does not fit.
    fn try_grow(&mut self, reqs: &mut RequestTable, kv: &mut KvCache, slot: u32, n: u64) -> bool {
        let r = reqs.get_mut(slot);
        let total = u64::from(r.computed) + n;
        let layout = kv.layout();
        // The common case, a decode token inside the last block: nothing to
        // allocate (checked with a multiplication, not a division).
        if total <= r.blocks.len() as u64 * layout.block_size
            && (layout.window_tokens == 0 || r.window_tokens >= layout.window_for(total))
        {
            return true;
        }
        let layout = *layout;
        let new_blocks = layout
            .blocks_for(total)
            .saturating_sub(r.blocks.len() as u64);
        let window = layout.window_for(total).saturating_sub(r.window_tokens);
        if new_blocks == 0 && window == 0 {
            return true;
        }
        if !kv.fits(new_blocks, window) {
            return false;
        }
        kv.allocate(new_blocks, &mut r.blocks);
        kv.hold_window(window);
        r.window_tokens += window;
        if self.preemption_free {
            let bytes = new_blocks * layout.block_bytes + window * layout.window_token_bytes;
            self.outstanding_bytes = self.outstanding_bytes.saturating_sub(bytes);
        }
        true
    }

    /// Index in `running` of the request to preempt: the one the policy ranks last.
    fn victim_index(&self, reqs: &RequestTable) -> usize {
        if self.policy == Policy::Fcfs {
            return self.running.len() - 1;
        }
        let rank = |slot: u32| {
            let r = reqs.get(slot);
            (r.policy_key, r.seq)
        };
        let mut worst = 0;
        for (i, &slot) in self.running.iter().enumerate().skip(1) {
            if rank(slot) > rank(self.running[worst]) {
                worst = i;
            }
        }
        worst
    }

    /// Preempts `running[index]`: frees its KV, discards its progress, and puts it
    /// at the front of the waiting queue. Returns the budget it had taken this step.
    fn preempt(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        index: usize,
        partial: &mut u64,
    ) -> u64 {
        let slot = self.running.remove(index);
        let mut refund = 0;
        if let Some(pos) = self.batch.iter().position(|s| s.slot == slot) {
            let s = self.batch.remove(pos);
            refund = u64::from(s.tokens);
            self.shape
                .remove(u64::from(s.context), refund, self.window, s.work);
            if s.work == Work::PrefillChunk {
                *partial -= 1;
            }
        }
        // Keep the table: its blocks may still hold the content when the
        // request is admitted again.
        self.release_kv(reqs, kv, slot, true);
        let r = reqs.get_mut(slot);
        r.computed = 0;
        r.registered_blocks = 0;
        r.preemptions += 1;
        self.stats.preemptions += 1;
        self.enqueue_preempted(reqs, slot);
        refund
    }

    /// Releases a finished request's KV and reservation.
    pub fn release_finished(&mut self, reqs: &mut RequestTable, kv: &mut KvCache, slot: u32) {
        self.release_kv(reqs, kv, slot, false);
    }

    /// Drops a request's blocks, window tokens and (preemption-free mode) the
    /// rest of its reservation; `keep_as_ghost` keeps the block table as the
    /// place to look for the request's content later.
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
        kv.release(&r.blocks);
        if keep_as_ghost {
            std::mem::swap(&mut r.blocks, &mut r.ghost_blocks);
        }
        r.blocks.clear();
        kv.release_window(r.window_tokens);
        r.window_tokens = 0;
    }
}
