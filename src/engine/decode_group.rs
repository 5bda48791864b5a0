//! The decode group: the fast path for requests that only decode.
//!
//! In steady state most running requests just decode: each step they compute
//! one token, and nothing about them changes except that every `block_size`
//! steps one of them needs a new KV block and, now and then, one emits its last
//! token. Touching every such request in every step is most of a plain step
//! loop's work. The group instead keeps the decoding requests that form a
//! prefix of the running list implicitly: a request's computed and generated
//! counts advance with the group's step counter, the sum of their contexts is
//! kept as one number (which is all the cost model needs), and a calendar of
//! per-request events says when one needs a block and when one finishes. A
//! step then costs O(events + other requests) instead of O(running requests).
//!
//! Why this is exact: the plain loop gives each of these requests exactly one
//! token per step (they come first in the running list and their count fits
//! the budget), allocates the same blocks in the same steps (only their order
//! within a step differs, which no metric can see: blocks are interchangeable
//! and no allocation in such a step can fail — the group steps aside when one
//! might), registers the same blocks before anyone can look them up, and the
//! batch shape sums exact integers. When a step cannot be proven to go this way
//! (the KV cache might run out, more decoders than the budget, a sliding-window
//! model), the group is dissolved into plain requests for that step. A property
//! test runs random configs both ways and requires identical results.

use super::kv_cache::KvCache;
use super::request::RequestTable;
use crate::workload::RequestId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A member named by slot and request id. The id tells a live entry from one
/// left behind by a request that has since left the group (its slot may hold
/// another request by then).
type Member = (u32, RequestId);

/// The decoding prefix of the running list, advanced implicitly.
#[derive(Debug, Default)]
pub(crate) struct DecodeGroup {
    /// Members are `running[..len]`.
    len: usize,
    /// Group steps taken so far.
    step: u64,
    /// Sum of the members' contexts (computed tokens) at the start of `step`.
    context_sum: u64,
    /// Members that need a new block before computing the token of step `s`,
    /// at `block_wheel[s % block_size]`: a member needs one every
    /// `block_size` steps, so no entry is ever more than one turn ahead.
    block_wheel: Vec<Vec<Member>>,
    /// Members by the step at whose end they emit their last token.
    finishes: BinaryHeap<Reverse<(u64, Member)>>,
    /// Members that finish in the current step (filled by `finish_due`).
    due: Vec<u32>,
}

impl DecodeGroup {
    /// Number of members (the first `len` running requests).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Sum of the members' contexts at the start of the current step.
    pub fn context_sum(&self) -> u64 {
        self.context_sum
    }

    /// Brings a member's counters up to date (idempotent).
    fn materialize(&self, reqs: &mut RequestTable, slot: u32) {
        let r = reqs.get_mut(slot);
        let d = (self.step - r.group_step) as u32;
        r.computed += d;
        r.generated += d;
        r.group_step = self.step;
    }

    /// Adds `running[len]`, a request that has just become a plain decoder.
    pub fn join(&mut self, reqs: &mut RequestTable, slot: u32, block_size: u64) {
        if self.block_wheel.len() != block_size as usize {
            self.block_wheel = vec![Vec::new(); block_size as usize];
        }
        let step = self.step;
        let r = reqs.get_mut(slot);
        r.in_group = true;
        r.group_step = step;
        self.context_sum += u64::from(r.computed);
        let member = (slot, r.id);
        let room = r.blocks.len() as u64 * block_size - u64::from(r.computed);
        self.block_wheel[((step + room) % block_size) as usize].push(member);
        let left = u64::from(r.output_tokens - r.generated);
        self.finishes.push(Reverse((step + left - 1, member)));
        self.len += 1;
    }

    /// Turns every member back into a plain request (registering the blocks
    /// that filled while it was a member).
    pub fn dissolve(&mut self, reqs: &mut RequestTable, kv: &mut KvCache, running: &[u32]) {
        for &slot in &running[..self.len] {
            self.materialize(reqs, slot);
            let r = reqs.get_mut(slot);
            r.in_group = false;
            r.register_full_blocks(kv);
        }
        self.len = 0;
        self.context_sum = 0;
        self.block_wheel.iter_mut().for_each(Vec::clear);
        self.finishes.clear();
    }

    /// Takes the members that need a new block before this step's token into
    /// `out` (the caller decides whether the step can go ahead).
    pub fn due_blocks(&mut self, reqs: &RequestTable, out: &mut Vec<u32>) {
        out.clear();
        if self.block_wheel.is_empty() {
            return;
        }
        let bucket = (self.step % self.block_wheel.len() as u64) as usize;
        let due = &mut self.block_wheel[bucket];
        out.extend(
            due.iter()
                .filter(|&&(slot, id)| is_member(reqs, slot, id))
                .map(|&(slot, _)| slot),
        );
        due.clear();
    }

    /// Gives each member in `needy` its new block (registering its full ones)
    /// and books its next block event. Returns the bytes allocated.
    pub fn allocate(&mut self, reqs: &mut RequestTable, kv: &mut KvCache, needy: &[u32]) -> u64 {
        let block_size = kv.layout().block_size;
        for &slot in needy {
            self.materialize(reqs, slot);
            let r = reqs.get_mut(slot);
            r.register_full_blocks(kv);
            kv.allocate(1, &mut r.blocks);
            // A whole block later is the same bucket, one turn on.
            let bucket = (self.step % block_size) as usize;
            self.block_wheel[bucket].push((slot, r.id));
        }
        needy.len() as u64 * kv.layout().block_bytes
    }

    /// Ends the group's step: every member computed one token. Returns the
    /// members that emitted their last token, brought up to date (computed
    /// and generated final), and removes their contexts from the sum. The
    /// caller removes them from the running list (and from the group with
    /// [`forget`](Self::forget)).
    pub fn finish_step(&mut self, reqs: &mut RequestTable) -> &[u32] {
        self.due.clear();
        while let Some(&Reverse((step, (slot, id)))) = self.finishes.peek() {
            if step != self.step {
                break;
            }
            self.finishes.pop();
            if is_member(reqs, slot, id) {
                self.due.push(slot);
            }
        }
        self.context_sum += self.len as u64;
        self.step += 1;
        for &slot in &self.due {
            self.materialize(reqs, slot);
            let r = reqs.get_mut(slot);
            r.in_group = false;
            self.context_sum -= u64::from(r.computed);
        }
        &self.due
    }

    /// Shrinks the group after finished members left the running list.
    pub fn forget(&mut self, count: usize) {
        self.len -= count;
    }

    /// A request's computed and generated tokens as of now (members lag).
    #[cfg(test)]
    pub fn progress(&self, reqs: &RequestTable, slot: u32) -> (u32, u32) {
        let r = reqs.get(slot);
        let d = if r.in_group {
            (self.step - r.group_step) as u32
        } else {
            0
        };
        (r.computed + d, r.generated + d)
    }
}

/// Whether calendar entry (slot, id) still belongs to a group member.
fn is_member(reqs: &RequestTable, slot: u32, id: RequestId) -> bool {
    let r = reqs.get(slot);
    r.in_group && r.id == id
}
