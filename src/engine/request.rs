//! Per-request state of the engine, kept in a slab indexed by slot so queues
//! hold plain integers and finished requests' slots are reused.

use super::kv_cache::{chain_hash, BlockKey, KvCache, KvLayout};
use crate::workload::{RequestId, RequestSpec};
use std::sync::Arc;

/// Salt that separates synthetic content hashes from real token hashes.
const SYNTHETIC_SALT: u64 = 0x005E_ED0F_5A17_u64;

/// A request inside the engine.
#[derive(Debug, Default)]
pub(crate) struct Request {
    /// The global id (arrival order): the tie-breaker of every policy.
    pub id: RequestId,
    pub arrival_secs: f64,
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// The admission key under the configured policy (lower first).
    pub policy_key: i64,
    /// Tokens whose K and V are in the cache (`num_computed_tokens` in vLLM).
    pub computed: u32,
    /// Output tokens emitted so far.
    pub generated: u32,
    /// Block table: block ids holding tokens `[i * block_size, (i + 1) * block_size)`.
    pub blocks: Vec<u32>,
    /// The block table before the last preemption: where its content may still be.
    pub ghost_blocks: Vec<u32>,
    /// Leading blocks of `blocks` registered as full in the prefix cache.
    pub registered_blocks: u32,
    /// Whether the request is in the decode group (its `computed` and
    /// `generated` then lag by the group steps since `group_step`).
    pub in_group: bool,
    /// The group step at which `computed` and `generated` were last brought up to date.
    pub group_step: u64,
    /// Sliding-window tokens held.
    pub window_tokens: u64,
    /// Time of the first output token (NaN until then).
    pub first_token_secs: f64,
    pub preemptions: u32,
    /// Prompt tokens found in the prefix cache instead of computed (last admission).
    pub cached_tokens: u32,
    pub prompt_hashes: Option<Arc<[u64]>>,
    /// Preemption-free mode: bytes reserved for the request's whole lifetime.
    pub reserved_bytes: u64,
}

impl Request {
    /// A new request from its spec.
    pub fn new(id: RequestId, spec: RequestSpec, policy_key: i64, blocks: Vec<u32>) -> Self {
        Self {
            id,
            arrival_secs: spec.arrival_secs,
            input_tokens: spec.input_tokens,
            output_tokens: spec.output_tokens,
            policy_key,
            blocks,
            first_token_secs: f64::NAN,
            prompt_hashes: spec.prompt_block_hashes,
            ..Self::default()
        }
    }

    /// Prompt plus output tokens emitted so far: what the cache must hold to
    /// sample the next token.
    #[inline]
    pub fn num_tokens(&self) -> u32 {
        self.input_tokens + self.generated
    }

    /// Tokens whose K and V the request needs over its whole life (the last
    /// output token is never fed back).
    #[inline]
    pub fn lifetime_tokens(&self) -> u64 {
        u64::from(self.input_tokens) + u64::from(self.output_tokens) - 1
    }

    #[inline]
    pub fn is_finished(&self) -> bool {
        self.generated == self.output_tokens
    }

    /// How to find block `i` of this request in the cache.
    #[inline]
    pub fn block_key(&self, i: usize) -> BlockKey {
        match self.prompt_hashes.as_deref().and_then(|h| h.get(i)) {
            Some(&h) => BlockKey::Shared(h),
            // Synthetic prompts and anything past the prompt's full blocks
            // (generated tokens) are unique to the request.
            None => BlockKey::Own {
                hash: self.own_hash(i),
                candidate: self.ghost_blocks.get(i).copied(),
            },
        }
    }

    /// The content hash of block `i` when its content is unique to the
    /// request ([`BlockKey::Own`]).
    #[inline]
    fn own_hash(&self, i: usize) -> u64 {
        chain_hash(SYNTHETIC_SALT ^ self.id.0.rotate_left(17), i as u64)
    }

    /// Registers the blocks that have become full since the last call, so other
    /// requests (or this one, after a preemption) can reuse them: the prompt's
    /// shared blocks one by one, then the request's own blocks in one pass.
    pub fn register_full_blocks(&mut self, kv: &mut KvCache) {
        if !kv.prefix_caching() {
            return;
        }
        let full = (self.computed / kv.layout().block_size as u32) as usize;
        let first = self.registered_blocks as usize;
        if first >= full {
            return;
        }
        let mut own = first;
        if let Some(shared) = self.prompt_hashes.as_deref().filter(|h| h.len() > first) {
            own = shared.len().min(full);
            let blocks = self.blocks[first..own].iter();
            for (&block, &h) in blocks.zip(&shared[first..own]) {
                kv.register(block, BlockKey::Shared(h));
            }
        }
        kv.register_own(&self.blocks[own..full], |k| self.own_hash(own + k));
        self.registered_blocks = full as u32;
    }

    /// The blocks (indices into `blocks`) holding the request's registered
    /// own content ([`BlockKey::Own`]): past the prompt's shared blocks, up to
    /// the registered ones.
    pub fn registered_own_blocks(&self) -> std::ops::Range<usize> {
        let registered = self.registered_blocks as usize;
        let shared = self.prompt_hashes.as_deref().map_or(0, <[u64]>::len);
        shared.min(registered)..registered
    }

    /// Whether the request only decodes: its prompt (and any recompute) is done
    /// and it computes one token per step.
    pub fn is_decoding(&self) -> bool {
        self.generated > 0 && self.computed + 1 == self.num_tokens()
    }

    /// Bytes of KV the request holds now.
    pub fn held_bytes(&self, layout: &KvLayout) -> u64 {
        self.blocks.len() as u64 * layout.block_bytes
            + self.window_tokens * layout.window_token_bytes
    }
}

/// Slab of live requests.
#[derive(Debug, Default)]
pub(crate) struct RequestTable {
    slots: Vec<Request>,
    free: Vec<u32>,
    /// Emptied block tables kept for reuse, so admission does not allocate.
    spare_block_tables: Vec<Vec<u32>>,
}

impl RequestTable {
    /// Stores a request built by `make` (given a reusable empty block table); returns its slot.
    pub fn insert(&mut self, make: impl FnOnce(Vec<u32>) -> Request) -> u32 {
        let table = self.spare_block_tables.pop().unwrap_or_default();
        let request = make(table);
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = request;
                slot
            }
            None => {
                self.slots.push(request);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Frees a slot (its block table must already be released to the cache).
    pub fn remove(&mut self, slot: u32) {
        let r = &mut self.slots[slot as usize];
        let mut table = std::mem::take(&mut r.blocks);
        table.clear();
        self.spare_block_tables.push(table);
        r.ghost_blocks = Vec::new();
        r.prompt_hashes = None;
        self.free.push(slot);
    }

    #[inline]
    pub fn get(&self, slot: u32) -> &Request {
        &self.slots[slot as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Request {
        &mut self.slots[slot as usize]
    }
}
