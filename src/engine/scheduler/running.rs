//! Phase 1 of a step's plan: the running requests, in admission order, each
//! take their next tokens; preemption by recompute when their blocks do not
//! fit. The decode group's members go first, all at once, when their step is
//! provably safe.

use super::{Decisions, Scheduled, Scheduler, StepBudget};
use crate::engine::cost::Work;
use crate::engine::kv_cache::KvCache;
use crate::engine::observer::Event;
use crate::engine::request::RequestTable;

/// Whether a running request's tokens found room in the KV cache.
enum Room {
    /// They fit, perhaps after preempting others.
    Fits,
    /// The request had to preempt itself: planning of the running list ends.
    SelfPreempted,
}

impl Scheduler {
    /// Plans the running requests' tokens (phase 1). Returns whether anything
    /// was preempted.
    pub(super) fn plan_running(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        decisions: &mut Decisions<'_>,
        budget: &mut StepBudget,
    ) -> bool {
        let chunk_cap = if self.chunked && self.threshold > 0 {
            self.threshold
        } else {
            u64::MAX
        };
        // Only this phase preempts: the counter tells whether it did.
        let preemptions_before = self.stats.preemptions;
        let mut i = self.plan_group(reqs, kv, budget, chunk_cap);
        while i < self.running.len() && budget.tokens > 0 {
            let slot = self.running[i];
            let r = reqs.get(slot);
            let remaining = u64::from(r.num_tokens() - r.computed);
            let n = remaining.min(budget.tokens).min(chunk_cap);
            if let Room::SelfPreempted = self.make_room(reqs, kv, decisions, &mut i, n, budget) {
                break;
            }
            let r = reqs.get(slot);
            let work = if r.generated > 0 && remaining == 1 {
                Work::Decode
            } else if n < remaining {
                budget.partial += 1;
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
            budget.tokens -= n;
            i += 1;
        }
        self.stats.preemptions > preemptions_before
    }

    /// The decode group's share of the step: every member's token at once
    /// when that is safe, else the group dissolves into plain requests.
    /// Returns how many running requests it planned.
    fn plan_group(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        budget: &mut StepBudget,
        chunk_cap: u64,
    ) -> usize {
        if self.group.len() == 0 {
            return 0;
        }
        if !self.group_step_is_safe(reqs, kv, budget.tokens, chunk_cap) {
            self.group.dissolve(reqs, kv, &self.running);
            return 0;
        }
        let bytes = self.group.allocate(reqs, kv, &self.needy);
        if self.preemption_free {
            self.outstanding_bytes = self.outstanding_bytes.saturating_sub(bytes);
        }
        let members = self.group.len() as u64;
        self.shape.add_decodes(members, self.group.context_sum());
        budget.tokens -= members;
        self.group.len()
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
        // exactly as phase 1 will.
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

    /// Allocates what `running[*index]` needs for `n` more tokens, preempting
    /// the request the policy ranks last until it fits. Keeps `*index` on the
    /// request as earlier ones leave, and refunds the budget the victims had
    /// taken.
    fn make_room(
        &mut self,
        reqs: &mut RequestTable,
        kv: &mut KvCache,
        decisions: &mut Decisions<'_>,
        index: &mut usize,
        n: u64,
        budget: &mut StepBudget,
    ) -> Room {
        let slot = self.running[*index];
        while !self.try_grow(reqs, kv, slot, n) {
            let victim_index = self.victim_index(reqs);
            let victim = self.running[victim_index];
            decisions.report(|| {
                let v = reqs.get(victim);
                Event::Preempted {
                    request_id: v.id,
                    discarded_tokens: v.computed,
                }
            });
            budget.tokens += self.preempt(reqs, kv, victim_index, &mut budget.partial);
            if victim == slot {
                return Room::SelfPreempted;
            }
            if victim_index < *index {
                *index -= 1;
            }
        }
        Room::Fits
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
        if self.policy == crate::config::Policy::Fcfs {
            return self.running.len() - 1;
        }
        let rank = |slot: u32| {
            let r = reqs.get(slot);
            (r.policy_key, r.id)
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
}
