//! Phase 2 of a step's plan: admission of waiting requests in policy order
//! (preempted ones first) while the sequence limit, the budget, the
//! partial-prefill limit and the KV cache allow; the first request that does
//! not fit stops admission.

use super::{Decisions, Scheduled, Scheduler, StepBudget, Waiter};
use crate::engine::cost::Work;
use crate::engine::kv_cache::{KvCache, KvLayout, PrefixHit};
use crate::engine::observer::Event;
use crate::engine::request::{Request, RequestTable};

/// How the request at the head of the queue would enter this step.
#[derive(Debug, Clone, Copy)]
struct Admission {
    /// The cached prefix it reuses.
    hit: PrefixHit,
    /// The longest prefix that could have been reused, in blocks.
    max_hit: u64,
    /// Tokens of the cached prefix.
    cached: u64,
    /// Tokens it computes in this step.
    tokens: u64,
    /// Whether those stop short of its end (a partial prefill).
    partial: bool,
    /// Fresh blocks it takes.
    new_blocks: u64,
    /// Sliding-window tokens it holds.
    window: u64,
}

impl Scheduler {
    /// Admits waiting requests into the step (phase 2).
    pub(super) fn admit(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        decisions: &mut Decisions<'_>,
        mut budget: StepBudget,
    ) {
        let layout = *kv.layout();
        while self.running.len() < self.max_seqs && budget.tokens > 0 {
            let Some(slot) = self.head_slot(reqs) else {
                break;
            };
            let Some(admission) = self.admission(reqs.get(slot), kv, &layout, budget) else {
                break;
            };
            self.waiting.pop();
            self.take(reqs, kv, &layout, slot, admission);
            decisions.report(|| Event::Admitted {
                request_id: reqs.get(slot).id,
                tokens: admission.tokens as u32,
                cached_tokens: admission.cached as u32,
            });
            budget.tokens -= admission.tokens;
            if admission.partial {
                budget.partial += 1;
            }
        }
    }

    /// The slot of the request at the head of the waiting queue, giving it one
    /// first if it is new.
    fn head_slot(&mut self, reqs: &mut RequestTable) -> Option<u32> {
        let mut head = self.waiting.peek_mut()?;
        let std::cmp::Reverse(w) = &mut *head;
        let slot = match std::mem::replace(&mut w.who, Waiter::Slot(u32::MAX)) {
            Waiter::Slot(slot) => slot,
            Waiter::New(spec) => {
                let (id, key) = (w.id, w.key);
                reqs.insert(|blocks| Request::new(id, *spec, key, blocks))
            }
        };
        w.who = Waiter::Slot(slot);
        Some(slot)
    }

    /// How `r` would enter this step, or `None` if it does not fit (which
    /// stops admission).
    fn admission(
        &self,
        r: &Request,
        kv: &KvCache,
        layout: &KvLayout,
        budget: StepBudget,
    ) -> Option<Admission> {
        let num_tokens = u64::from(r.num_tokens());
        // The longest cached prefix of whole blocks, never the last token.
        let max_hit = (num_tokens - 1) / layout.block_size;
        let hit = kv.lookup((0..).map(|b| r.block_key(b)), max_hit);
        let cached = hit.blocks * layout.block_size;
        let remaining = num_tokens - cached;
        let tokens = self.admission_size(remaining, budget.tokens)?;
        let partial = tokens < remaining;
        if partial && budget.partial >= self.max_partial {
            return None;
        }
        let total = cached + tokens;
        let admission = Admission {
            hit,
            max_hit,
            cached,
            tokens,
            partial,
            new_blocks: layout.blocks_for(total) - hit.blocks,
            window: layout.window_for(total),
        };
        self.fits_reservation(r, kv, layout, &admission)
            .then_some(admission)
    }

    /// Tokens a request with `remaining` tokens to compute takes in this step
    /// with `budget` tokens left, or `None` if it must wait.
    fn admission_size(&self, remaining: u64, budget: u64) -> Option<u64> {
        if !self.chunked && remaining <= self.max_batched {
            // Without chunked prefill a prompt runs whole or waits. (A
            // recompute longer than the whole budget is chunked, or it could
            // never run.)
            (remaining <= budget).then_some(remaining)
        } else if self.chunked && self.threshold > 0 {
            Some(remaining.min(self.threshold).min(budget))
        } else {
            Some(remaining.min(budget))
        }
    }

    /// Whether the admission's blocks fit in the cache, and, in
    /// preemption-free mode, whether the request's whole lifetime fits beside
    /// what the running requests have reserved but not yet allocated.
    fn fits_reservation(
        &self,
        r: &Request,
        kv: &KvCache,
        layout: &KvLayout,
        a: &Admission,
    ) -> bool {
        kv.fits(a.new_blocks + a.hit.free_blocks, a.window)
            && (!self.preemption_free || {
                let needed =
                    layout.bytes_for(r.lifetime_tokens()) - a.hit.blocks * layout.block_bytes;
                kv.free_bytes()
                    .checked_sub(a.hit.free_blocks * layout.block_bytes + self.outstanding_bytes)
                    .is_some_and(|free| free >= needed)
            })
    }

    /// Gives the admitted request in `slot` its cached prefix and fresh
    /// blocks, counts its prefix-cache lookup and adds it to the plan.
    fn take(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        layout: &KvLayout,
        slot: u32,
        a: Admission,
    ) {
        let r = reqs.get_mut(slot);
        let mut blocks = std::mem::take(&mut r.blocks);
        // Room for the whole lifetime at once, so that decoding never grows
        // the table block by block.
        blocks.reserve(layout.blocks_for(r.lifetime_tokens()) as usize);
        kv.take_cached((0..).map(|b| r.block_key(b)), a.hit.blocks, &mut blocks);
        r.ghost_blocks.clear();
        kv.allocate(a.new_blocks, &mut blocks);
        kv.hold_window(a.window);
        r.blocks = blocks;
        r.window_tokens = a.window;
        r.computed = a.cached as u32;
        r.registered_blocks = a.hit.blocks as u32;
        r.cached_tokens = a.cached as u32;
        if self.preemption_free {
            r.reserved_bytes = layout.bytes_for(r.lifetime_tokens());
            self.outstanding_bytes += r.reserved_bytes - r.held_bytes(layout);
        }
        if kv.prefix_caching() {
            self.stats.lookup_tokens += a.max_hit * layout.block_size;
            if a.hit.blocks > 0 {
                self.stats.prefix_hits += 1;
            } else {
                self.stats.prefix_misses += 1;
            }
        }
        self.stats.cached_tokens += a.cached;
        self.running.push(slot);
        let work = if a.partial {
            Work::PrefillChunk
        } else {
            Work::PrefillLast
        };
        self.shape.add(a.cached, a.tokens, self.window, work);
        self.batch.push(Scheduled {
            slot,
            tokens: a.tokens as u32,
            context: a.cached as u32,
            work,
        });
    }
}
