//! The paged KV cache: fixed-size blocks, reference counts, prefix caching by
//! chained block hashes, and least-recently-used reuse of freed blocks.
//!
//! Blocks hold `block_size` tokens of the full-attention layers. A block that
//! is full gets the hash of its content chained with its parent's hash; a
//! later request whose prompt starts with the same tokens finds those blocks
//! by hash and shares them (reference counts). Freed blocks keep their content
//! and stay findable on the free list until they are reused: the free list is
//! ordered least recently freed first, and allocation takes from its head.
//!
//! Only content that other requests can share (real prompt tokens) goes into
//! the hash map. Content unique to one request (synthetic prompts, generated
//! tokens) can only be found again by that request after a preemption, so it
//! is found through the request's previous block table instead: a block still
//! holds the content if its stored hash is unchanged. Both find exactly the
//! blocks a map of every hash would find, without the map's cost.
//!
//! Sliding-window layers never hold more than the window: their K and V are
//! accounted per request as `min(tokens, window)` tokens of bytes, outside the
//! blocks (they are not shared). Both draw on the same byte capacity.

use crate::config::ServerConfig;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

/// Hash value meaning "no content hash".
const NO_HASH: u64 = 0;

/// Sizes of the cache, derived from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLayout {
    /// Tokens per block.
    pub block_size: u64,
    /// Bytes of one block (K and V of `block_size` tokens in every full-attention layer).
    pub block_bytes: u64,
    /// Sliding window in tokens (0 when the model has none).
    pub window_tokens: u64,
    /// Bytes one token occupies in all sliding-window layers.
    pub window_token_bytes: u64,
    /// Bytes available.
    pub capacity_bytes: u64,
}

impl KvLayout {
    /// The layout of `server`'s cache.
    pub fn new(config: &ServerConfig) -> Self {
        let m = &config.model;
        let per_layer = config.kv_bytes_per_token_per_layer();
        let block_size = config.scheduler.block_size;
        let sliding = m.num_sliding_layers > 0;
        Self {
            block_size,
            block_bytes: block_size * m.num_full_layers() * per_layer,
            window_tokens: if sliding {
                m.sliding_window.unwrap_or(0)
            } else {
                0
            },
            window_token_bytes: m.num_sliding_layers * per_layer,
            capacity_bytes: config.hardware.kv_cache_capacity,
        }
    }

    /// Blocks that exist: `floor(capacity / block_bytes)`.
    pub fn num_blocks(&self) -> u64 {
        self.capacity_bytes / self.block_bytes
    }

    /// Blocks needed to hold `tokens` tokens.
    #[inline]
    pub fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(self.block_size)
    }

    /// Sliding-window tokens held for a request with `tokens` tokens.
    #[inline]
    pub fn window_for(&self, tokens: u64) -> u64 {
        tokens.min(self.window_tokens)
    }

    /// All bytes a request with `tokens` tokens holds.
    pub fn bytes_for(&self, tokens: u64) -> u64 {
        self.blocks_for(tokens) * self.block_bytes
            + self.window_for(tokens) * self.window_token_bytes
    }
}

/// The hash of a block given its parent's hash and a digest of its content.
/// A fixed, portable mix (never `0`, which means "no hash").
#[inline]
pub fn chain_hash(parent: u64, content: u64) -> u64 {
    let mut h = parent ^ content.rotate_left(29) ^ 0x9E37_79B9_7F4A_7C15;
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    if h == NO_HASH {
        1
    } else {
        h
    }
}

/// Chained hashes of the full blocks of a token sequence (for real prompts):
/// equal prefixes give equal hashes, block by block.
pub fn token_block_hashes(tokens: &[u32], block_size: usize) -> Vec<u64> {
    chain_block_hashes(tokens.chunks_exact(block_size.max(1)).map(|block| {
        block.iter().fold(0xCBF2_9CE4_8422_2325_u64, |h, &t| {
            chain_hash(h, u64::from(t))
        })
    }))
}

/// Chained hashes of blocks given a digest of each block's content, in order:
/// block `i`'s hash covers the content of blocks `0..=i`, as prefix caching
/// requires. [`token_block_hashes`] is this over token digests; workloads
/// whose content is known per block (trace block ids) call it directly.
pub fn chain_block_hashes(contents: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut parent = 0;
    contents
        .map(|content| {
            parent = chain_hash(parent, content);
            parent
        })
        .collect()
}

/// Hasher for keys that are already well-mixed hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// How to find one block of a request in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKey {
    /// Content other requests may share: found by hash in the prefix map.
    Shared(u64),
    /// Content unique to the request: found in the block that held it last
    /// (`candidate`), if that block still holds the hash.
    Own {
        /// The content hash.
        hash: u64,
        /// The block the request held at this position before it was preempted.
        candidate: Option<u32>,
    },
}

/// Result of looking up a request's cached prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixHit {
    /// Leading blocks found in the cache.
    pub blocks: u64,
    /// How many of those are currently free (unreferenced), so taking them
    /// uses capacity.
    pub free_blocks: u64,
}

/// One block's bookkeeping in 16 bytes, so that the pools of many engines
/// stay in cache (the block operations are the hottest loop of a run).
#[derive(Debug, Clone, Copy)]
struct Block {
    /// The content hash, or [`NO_HASH`].
    hash: u64,
    /// [`MAPPED`] and [`OWN`], then either [`FREE`] and the block's position
    /// in the free queue, or the reference count (only free blocks are
    /// queued, and they have no references).
    state: u64,
}

/// [`Block::state`] bit: the hash is (or was last) entered in the prefix map.
const MAPPED: u64 = 1 << 63;
/// [`Block::state`] bit: the content is unique to one request ([`BlockKey::Own`]).
const OWN: u64 = 1 << 62;
/// [`Block::state`] bit: the block is free; the low bits are its queue position.
const FREE: u64 = 1 << 61;
/// [`Block::state`] bits holding the queue position or the reference count.
const LOW: u64 = FREE - 1;
/// The queue position of the first entry of a new cache: blocks pushed at the
/// front count down from it, blocks pushed at the back count up, and neither
/// can run out (2^59 pushes).
const FIRST_POSITION: u64 = 1 << 59;

impl Block {
    const FRESH: Self = Self {
        hash: NO_HASH,
        state: 0,
    };

    #[inline]
    fn is_free(self) -> bool {
        self.state & FREE != 0
    }

    /// Whether the block is free and queued at `position`.
    #[inline]
    fn is_free_at(self, position: u64) -> bool {
        self.state & !(MAPPED | OWN) == FREE | position
    }

    #[inline]
    fn is_own(self) -> bool {
        self.state & OWN != 0
    }

    #[inline]
    fn in_map(self) -> bool {
        self.state & MAPPED != 0
    }

    /// Reference count (0 for a free block).
    #[inline]
    fn refs(self) -> u64 {
        if self.is_free() {
            0
        } else {
            self.state & LOW
        }
    }

    #[inline]
    fn set_refs(&mut self, refs: u64) {
        self.state = self.state & (MAPPED | OWN) | refs;
    }

    #[inline]
    fn set_free_at(&mut self, position: u64) {
        self.state = self.state & (MAPPED | OWN) | FREE | position;
    }
}

/// Stands in the free queue for the blocks never used yet, which are
/// materialised in index order as allocation reaches them: memory grows with
/// the blocks a run touches, not with the capacity a config declares.
const UNTOUCHED: u32 = u32::MAX - 1;

/// Stands in the free queue for a block whose content is dead: unique to a
/// request that has finished, so nothing can find it again. Which dead block
/// such an entry hands out makes no difference, so it hands out the most
/// recently freed one (from the dead stack), the likeliest to be in cache.
const DEAD: u32 = u32::MAX;

/// Blocks the pool makes room for when it is built (16 bytes each): what a
/// run of a few hundred requests touches. Larger runs grow the pool as they
/// use it.
const RESERVED_BLOCKS: u32 = 1 << 14;

/// The block pool.
///
/// The free blocks wait in a queue of block ids, least recently freed first
/// (blocks without content go to the front, to be reused first). A free block
/// taken by a prefix hit leaves its entry behind, stale: an entry counts only
/// if its block is free and records the entry's position, so stale entries
/// are skipped when they reach the front, and dropped all at once when they
/// outnumber the live ones. Allocation reads the queue in order rather than
/// chasing links through the pool, so the pool's cache misses overlap.
///
/// The blocks of content nothing can find again are queued as dead
/// entries: eviction follows the same order, and every piece of content
/// that can still be found lives exactly as long, but the blocks handed out
/// are the most recently freed ones, so the pool's working set stays small.
#[derive(Debug)]
pub struct KvCache {
    layout: KvLayout,
    /// The blocks used so far, by index (`blocks.len() <= num_blocks`).
    blocks: Vec<Block>,
    num_blocks: u32,
    /// The free queue (and [`UNTOUCHED`] while blocks remain untouched).
    free: VecDeque<u32>,
    /// The position of `free`'s first entry; entry `i` is at `free_front + i`.
    free_front: u64,
    /// Entries in `free` whose block was taken out of the middle.
    stale: usize,
    /// The blocks of the [`DEAD`] entries, most recently freed last.
    dead: Vec<u32>,
    in_use: u64,
    window_tokens_held: u64,
    shared: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    prefix_caching: bool,
    /// Enter every hash in the map and find every block through it (the plain
    /// reference path the optimised one is tested against).
    map_everything: bool,
}

impl KvCache {
    /// An empty cache of `layout`; `prefix_caching` enables content sharing.
    pub fn new(layout: KvLayout, prefix_caching: bool) -> Self {
        let num_blocks = layout.num_blocks().min(u64::from(UNTOUCHED)) as u32;
        // Room for the blocks a typical run touches, taken at once instead
        // of doubling its way there (copying the pool each time); the
        // pages are touched only as blocks are used.
        let reserve = num_blocks.min(RESERVED_BLOCKS) as usize;
        let mut free = VecDeque::with_capacity(reserve);
        if num_blocks > 0 {
            free.push_back(UNTOUCHED);
        }
        Self {
            layout,
            blocks: Vec::with_capacity(reserve),
            num_blocks,
            free,
            free_front: FIRST_POSITION,
            stale: 0,
            dead: Vec::with_capacity(reserve),
            in_use: 0,
            window_tokens_held: 0,
            shared: HashMap::default(),
            prefix_caching,
            map_everything: false,
        }
    }

    /// The cache's sizes.
    pub fn layout(&self) -> &KvLayout {
        &self.layout
    }

    /// Whether full blocks are shared by content.
    pub fn prefix_caching(&self) -> bool {
        self.prefix_caching
    }

    /// Blocks the cache has (`layout().num_blocks()`, at most `u32::MAX - 1`).
    pub fn num_blocks(&self) -> u64 {
        u64::from(self.num_blocks)
    }

    /// Blocks referenced by at least one request.
    pub fn blocks_in_use(&self) -> u64 {
        self.in_use
    }

    /// Bytes held by requests (blocks in use and sliding-window tokens).
    pub fn bytes_in_use(&self) -> u64 {
        self.in_use * self.layout.block_bytes
            + self.window_tokens_held * self.layout.window_token_bytes
    }

    /// Fraction of the capacity held by requests.
    pub fn utilization(&self) -> f64 {
        self.bytes_in_use() as f64 / self.layout.capacity_bytes as f64
    }

    /// Bytes not held by any request (cached free blocks count as free: they can be evicted).
    pub fn free_bytes(&self) -> u64 {
        self.layout.capacity_bytes - self.bytes_in_use()
    }

    /// Whether `blocks` more blocks and `window_tokens` more window tokens fit.
    #[inline]
    pub fn fits(&self, blocks: u64, window_tokens: u64) -> bool {
        let l = &self.layout;
        (self.in_use + blocks) * l.block_bytes
            + (self.window_tokens_held + window_tokens) * l.window_token_bytes
            <= l.capacity_bytes
            && self.in_use + blocks <= u64::from(self.num_blocks)
    }

    /// The block holding the content `key` names, if the cache still has it.
    #[inline]
    pub fn find(&self, key: BlockKey) -> Option<u32> {
        match key {
            BlockKey::Own { hash, .. } if self.map_everything => self.shared.get(&hash).copied(),
            BlockKey::Shared(hash) => self.shared.get(&hash).copied(),
            BlockKey::Own { hash, candidate } => {
                candidate.filter(|&b| self.blocks.get(b as usize).is_some_and(|k| k.hash == hash))
            }
        }
    }

    /// Counts the leading blocks of `keys` found in the cache, at most `max_blocks`.
    pub fn lookup(&self, keys: impl Iterator<Item = BlockKey>, max_blocks: u64) -> PrefixHit {
        let mut hit = PrefixHit::default();
        if !self.prefix_caching {
            return hit;
        }
        for key in keys.take(max_blocks as usize) {
            let Some(b) = self.find(key) else { break };
            hit.blocks += 1;
            if self.blocks[b as usize].is_free() {
                hit.free_blocks += 1;
            }
        }
        hit
    }

    /// Takes the first `count` blocks of `keys` (found by [`lookup`](Self::lookup))
    /// for a request, appending them to `out`.
    pub fn take_cached(
        &mut self,
        keys: impl Iterator<Item = BlockKey>,
        count: u64,
        out: &mut Vec<u32>,
    ) {
        for key in keys.take(count as usize) {
            let Some(b) = self.find(key) else { break };
            let block = &mut self.blocks[b as usize];
            if block.is_free() {
                // Its queue entry goes stale.
                self.stale += 1;
                self.in_use += 1;
            }
            block.set_refs(block.refs() + 1);
            out.push(b);
        }
        if 2 * self.stale > self.free.len() + 64 {
            self.drop_stale_entries();
        }
    }

    /// Allocates `count` fresh blocks (the caller checked [`fits`](Self::fits)),
    /// evicting the least recently freed cached blocks.
    pub fn allocate(&mut self, count: u64, out: &mut Vec<u32>) {
        let mut count = count;
        // (The reference path takes untouched blocks one by one, below, so
        // that tests compare the two.)
        while count > 0 && self.free.front() == Some(&UNTOUCHED) && !self.map_everything {
            match self.allocate_untouched(count, out) {
                0 => break,
                n => count -= n,
            }
        }
        for _ in 0..count {
            let (b, dead) = self.take_free_head();
            let block = &mut self.blocks[b as usize];
            if dead && !self.map_everything {
                // Own content is never in the map: nothing to read.
                *block = Block {
                    hash: NO_HASH,
                    state: 1,
                };
                self.in_use += 1;
                out.push(b);
                continue;
            }
            let h = std::mem::replace(&mut block.hash, NO_HASH);
            let was_mapped = block.in_map();
            block.state = 1;
            if was_mapped && self.shared.get(&h) == Some(&b) {
                self.shared.remove(&h);
            }
            self.in_use += 1;
            out.push(b);
        }
    }

    /// Hands out up to `count` untouched blocks at once (the free queue's
    /// head is [`UNTOUCHED`]), in the order one by one would take them;
    /// returns how many.
    fn allocate_untouched(&mut self, count: u64, out: &mut Vec<u32>) -> u64 {
        let fresh = self.blocks.len() as u32;
        let n = count.min(u64::from(self.num_blocks - fresh)) as u32;
        let taken = Block {
            hash: NO_HASH,
            state: 1,
        };
        self.blocks.extend(std::iter::repeat_n(taken, n as usize));
        out.extend(fresh..fresh + n);
        self.in_use += u64::from(n);
        if fresh + n == self.num_blocks {
            self.pop_front();
        }
        u64::from(n)
    }

    /// Takes or returns sliding-window tokens.
    pub fn hold_window(&mut self, tokens: u64) {
        self.window_tokens_held += tokens;
    }

    /// Returns sliding-window tokens.
    pub fn release_window(&mut self, tokens: u64) {
        self.window_tokens_held -= tokens;
    }

    /// Drops one reference to each block of a request, last block first, so
    /// that a request's tail is evicted before its (more shareable) prefix.
    pub fn release(&mut self, blocks: &[u32]) {
        for &b in blocks.iter().rev() {
            let block = &mut self.blocks[b as usize];
            let refs = block.refs() - 1;
            if refs > 0 {
                block.set_refs(refs);
                continue;
            }
            self.in_use -= 1;
            let position = if block.hash == NO_HASH {
                // Nothing worth keeping: reuse it first.
                self.free.push_front(b);
                self.free_front -= 1;
                self.free_front
            } else {
                self.free.push_back(b);
                self.free_front + self.free.len() as u64 - 1
            };
            block.set_free_at(position);
        }
    }

    /// [`release`](Self::release) for a request that has finished: the
    /// blocks at `own` (indices into `blocks`) hold its registered own
    /// content ([`BlockKey::Own`], one reference each), which nothing can
    /// find again, so they become dead without their records being read.
    pub fn release_finished(&mut self, blocks: &[u32], own: Range<usize>) {
        let (shared, rest) = blocks.split_at(own.start);
        let (own, tail) = rest.split_at(own.len());
        self.release(tail);
        debug_assert!(own.iter().all(|&b| {
            let block = self.blocks[b as usize];
            block.is_own() && block.refs() == 1
        }));
        self.free.extend(std::iter::repeat_n(DEAD, own.len()));
        self.dead.extend(own.iter().rev());
        self.in_use -= own.len() as u64;
        self.release(shared);
    }

    /// Records that `block` is full and holds the content `key` names.
    #[inline]
    pub fn register(&mut self, block: u32, key: BlockKey) {
        if !self.prefix_caching {
            return;
        }
        let (hash, shared) = match key {
            BlockKey::Shared(h) => (h, true),
            BlockKey::Own { hash, .. } => (hash, false),
        };
        let shared = shared || self.map_everything;
        let b = &mut self.blocks[block as usize];
        b.hash = hash;
        if let BlockKey::Own { .. } = key {
            // Only its request holds its own content. Writing the state
            // whole spares reading a record that may have left the cache.
            debug_assert_eq!(b.refs(), 1);
            b.state = OWN | 1;
        }
        if shared {
            b.state |= MAPPED;
            self.shared.entry(hash).or_insert(block);
        }
    }

    /// [`register`](Self::register) for full blocks holding content unique
    /// to one request: `blocks[k]` holds the content hashed `hash(k)`, as a
    /// [`BlockKey::Own`] key, in order, without looking at the keys one by one.
    #[inline]
    pub fn register_own(&mut self, blocks: &[u32], hash: impl Fn(usize) -> u64) {
        if !self.prefix_caching {
            return;
        }
        if self.map_everything {
            for (k, &block) in blocks.iter().enumerate() {
                let key = BlockKey::Own {
                    hash: hash(k),
                    candidate: None,
                };
                self.register(block, key);
            }
            return;
        }
        for (k, &block) in blocks.iter().enumerate() {
            let hash = hash(k);
            let b = &mut self.blocks[block as usize];
            debug_assert_eq!(b.refs(), 1);
            // As in `register`: only its request holds its own content.
            *b = Block {
                hash,
                state: OWN | 1,
            };
        }
    }

    /// Finds every block through the hash map (the reference path that tests
    /// check the optimised one against).
    pub(crate) fn set_map_everything(&mut self, on: bool) {
        self.map_everything = on;
    }

    /// Takes the block at the head of the free queue (the caller checked
    /// [`fits`](Self::fits)), skipping stale entries, materialising the next
    /// untouched block when [`UNTOUCHED`] is at the head, and taking the most
    /// recently freed dead block for a [`DEAD`] entry; says whether it was dead.
    #[inline]
    fn take_free_head(&mut self) -> (u32, bool) {
        loop {
            let Some(&b) = self.free.front() else {
                unreachable!("allocate without fits")
            };
            if b == UNTOUCHED {
                let fresh = self.blocks.len() as u32;
                self.blocks.push(Block::FRESH);
                if fresh + 1 == self.num_blocks {
                    self.pop_front();
                }
                return (fresh, false);
            }
            let position = self.pop_front();
            if b == DEAD {
                let Some(dead) = self.dead.pop() else {
                    unreachable!("a dead entry without a dead block")
                };
                return (dead, true);
            }
            if self.blocks[b as usize].is_free_at(position) {
                return (b, false);
            }
            self.stale -= 1;
        }
    }

    /// Removes the free queue's first entry; returns its position.
    #[inline]
    fn pop_front(&mut self) -> u64 {
        self.free.pop_front();
        self.free_front += 1;
        self.free_front - 1
    }

    /// Rebuilds the free queue without its stale entries, in the same order.
    fn drop_stale_entries(&mut self) {
        let blocks = &mut self.blocks;
        let front = self.free_front;
        let (mut seen, mut kept) = (0, 0);
        // Positions only decrease, and every entry after the one being
        // renumbered had a larger position: no stale entry can match one.
        self.free.retain(|&b| {
            let position = front + seen;
            seen += 1;
            let marker = b == UNTOUCHED || b == DEAD;
            let keep = marker || blocks[b as usize].is_free_at(position);
            if keep {
                if !marker {
                    blocks[b as usize].set_free_at(front + kept);
                }
                kept += 1;
            }
            keep
        });
        self.stale = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(hashes: &[u64]) -> impl Iterator<Item = BlockKey> + '_ {
        hashes.iter().map(|&h| BlockKey::Shared(h))
    }

    fn layout(blocks: u64) -> KvLayout {
        KvLayout {
            block_size: 4,
            block_bytes: 100,
            window_tokens: 0,
            window_token_bytes: 0,
            capacity_bytes: blocks * 100 + 50,
        }
    }

    #[test]
    fn memory_grows_with_the_blocks_used_not_the_capacity() {
        let mut cache = KvCache::new(
            KvLayout {
                capacity_bytes: u64::MAX,
                ..layout(0)
            },
            true,
        );
        assert_eq!(cache.num_blocks(), u64::from(UNTOUCHED));
        assert!(cache.blocks.is_empty());
        let mut out = Vec::new();
        cache.allocate(3, &mut out);
        assert_eq!(out, [0, 1, 2]);
        assert_eq!(cache.blocks.len(), 3);
        cache.release(&out);
        // Unhashed blocks come back first, before the untouched ones.
        let mut again = Vec::new();
        cache.allocate(4, &mut again);
        assert_eq!(again, [0, 1, 2, 3]);
        assert_eq!(cache.blocks.len(), 4);
    }

    #[test]
    fn the_last_untouched_block_leaves_the_free_list() {
        let mut cache = KvCache::new(layout(2), true);
        let mut out = Vec::new();
        cache.allocate(2, &mut out);
        assert!(cache.free.is_empty());
        cache.register(out[0], BlockKey::Shared(7));
        cache.release(&out);
        // The hashed block goes to the back, the other to the front.
        let mut again = Vec::new();
        cache.allocate(2, &mut again);
        assert_eq!(again, [out[1], out[0]]);
        assert_eq!(cache.find(BlockKey::Shared(7)), None);
    }

    #[test]
    fn a_block_record_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Block>(), 16);
    }

    #[test]
    fn a_block_taken_while_free_rejoins_the_queue_at_the_back() {
        let mut kv = KvCache::new(layout(3), true);
        let mut a = Vec::new();
        kv.allocate(3, &mut a);
        for (i, &b) in a.iter().enumerate() {
            kv.register(b, BlockKey::Shared(i as u64 + 1));
        }
        kv.release(&a); // queued last block first: a[2], a[1], a[0]
        let mut hit = Vec::new();
        kv.take_cached(keys(&[1, 2]), 2, &mut hit);
        assert_eq!(hit, [a[0], a[1]]);
        assert_eq!(kv.stale, 2);
        kv.release(&hit); // queued: a[2], then a[1], a[0] again
        let mut again = Vec::new();
        kv.allocate(3, &mut again);
        assert_eq!(again, [a[2], a[1], a[0]]);
        assert_eq!(kv.stale, 0, "stale entries skipped on the way");
        assert!(kv.free.is_empty());
    }

    #[test]
    fn stale_entries_are_dropped_when_they_outnumber_the_live_ones() {
        let mut kv = KvCache::new(layout(4), true);
        let mut a = Vec::new();
        kv.allocate(4, &mut a);
        for (i, &b) in a.iter().enumerate() {
            kv.register(b, BlockKey::Shared(i as u64 + 1));
        }
        kv.release(&a);
        for _ in 0..1000 {
            let mut hit = Vec::new();
            kv.take_cached(keys(&[3]), 1, &mut hit);
            kv.release(&hit);
            assert!(kv.free.len() <= 2 * 4 + 64 + 1, "{}", kv.free.len());
        }
        let mut again = Vec::new();
        kv.allocate(4, &mut again);
        assert_eq!(again, [a[3], a[1], a[0], a[2]]);
    }

    /// The free queue as a plain list: `None` stands for the untouched blocks.
    struct Model {
        queue: std::collections::VecDeque<Option<u32>>,
        refs: Vec<u64>,
        hash: Vec<u64>,
    }

    impl Model {
        fn new() -> Self {
            Self {
                queue: [None].into(),
                refs: Vec::new(),
                hash: Vec::new(),
            }
        }

        fn allocate(&mut self, num_blocks: u32) -> u32 {
            let b = match self.queue.front().copied() {
                Some(Some(b)) => {
                    self.queue.pop_front();
                    b
                }
                _ => {
                    let fresh = self.refs.len() as u32;
                    self.refs.push(0);
                    self.hash.push(NO_HASH);
                    if fresh + 1 == num_blocks {
                        self.queue.pop_front();
                    }
                    fresh
                }
            };
            self.refs[b as usize] = 1;
            self.hash[b as usize] = NO_HASH;
            b
        }

        fn take(&mut self, b: u32) {
            if self.refs[b as usize] == 0 {
                self.queue.retain(|&e| e != Some(b));
            }
            self.refs[b as usize] += 1;
        }

        fn release(&mut self, blocks: &[u32]) {
            for &b in blocks.iter().rev() {
                self.refs[b as usize] -= 1;
                if self.refs[b as usize] == 0 {
                    if self.hash[b as usize] == NO_HASH {
                        self.queue.push_front(Some(b));
                    } else {
                        self.queue.push_back(Some(b));
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// Allocation, release and prefix hits reuse blocks in the order of a
        /// plain least-recently-freed list, stale entries and all.
        #[test]
        fn the_free_queue_keeps_least_recently_freed_order(
            ops in proptest::collection::vec((0u8..4, 0usize..64, 1u64..5), 1..300)
        ) {
            const BLOCKS: u32 = 12;
            let mut kv = KvCache::new(layout(u64::from(BLOCKS)), true);
            let mut model = Model::new();
            let mut tables: Vec<Vec<u32>> = Vec::new();
            let mut hashes: Vec<(u64, u32)> = Vec::new();
            for (step, (op, pick, count)) in ops.into_iter().enumerate() {
                match op {
                    0 if kv.fits(count, 0) => {
                        let mut table = Vec::new();
                        kv.allocate(count, &mut table);
                        let expected: Vec<u32> =
                            (0..count).map(|_| model.allocate(BLOCKS)).collect();
                        proptest::prop_assert_eq!(&table, &expected);
                        tables.push(table);
                    }
                    1 if !tables.is_empty() => {
                        let table = tables.swap_remove(pick % tables.len());
                        kv.release(&table);
                        model.release(&table);
                    }
                    2 if !tables.is_empty() => {
                        let table = &tables[pick % tables.len()];
                        let b = table[pick % table.len()];
                        if model.hash[b as usize] == NO_HASH {
                            let hash = step as u64 + 1;
                            kv.register(b, BlockKey::Shared(hash));
                            model.hash[b as usize] = hash;
                            hashes.push((hash, b));
                        }
                    }
                    3 if !hashes.is_empty() => {
                        let (hash, b) = hashes[pick % hashes.len()];
                        let mut table = Vec::new();
                        let found = model.hash[b as usize] == hash;
                        proptest::prop_assert_eq!(
                            kv.find(BlockKey::Shared(hash)),
                            found.then_some(b)
                        );
                        if found && kv.fits(u64::from(model.refs[b as usize] == 0), 0) {
                            kv.take_cached(keys(&[hash]), 1, &mut table);
                            proptest::prop_assert_eq!(&table, &vec![b]);
                            model.take(b);
                            tables.push(table);
                        }
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(
                    kv.blocks_in_use(),
                    model.refs.iter().filter(|&&r| r > 0).count() as u64
                );
            }
            for table in &tables {
                kv.release(table);
                model.release(table);
            }
            let mut rest = Vec::new();
            kv.allocate(u64::from(BLOCKS), &mut rest);
            let expected: Vec<u32> = (0..BLOCKS).map(|_| model.allocate(BLOCKS)).collect();
            proptest::prop_assert_eq!(rest, expected);
        }
    }

    /// A piece of content registered in both caches of the test below.
    struct Content {
        hash: u64,
        own: bool,
        /// Its block in each cache.
        blocks: [u32; 2],
        /// An own content whose request has finished: nothing looks for it.
        dead: bool,
    }

    impl Content {
        fn found(&self, kv: &KvCache, i: usize) -> bool {
            let key = if self.own {
                BlockKey::Own {
                    hash: self.hash,
                    candidate: Some(self.blocks[i]),
                }
            } else {
                BlockKey::Shared(self.hash)
            };
            kv.find(key).is_some()
        }
    }

    /// A request of the test below: its tables in both caches, its own
    /// contents, its registered blocks and where its own content starts.
    #[derive(Default)]
    struct Holder {
        tables: [Vec<u32>; 2],
        owned: Vec<usize>,
        registered: usize,
        own_from: Option<usize>,
    }

    proptest::proptest! {
        /// Handing out dead blocks first changes which blocks a request gets,
        /// never which content can still be found.
        #[test]
        fn dead_content_reuse_keeps_everything_findable(
            ops in proptest::collection::vec(
                (0u8..4, 0usize..64, 1u64..5, proptest::bool::ANY),
                1..300
            )
        ) {
            // caches[0] is never told that a request finished; caches[1] is.
            let mut caches = [KvCache::new(layout(12), true), KvCache::new(layout(12), true)];
            let mut requests: Vec<Holder> = Vec::new();
            let mut contents: Vec<Content> = Vec::new();
            for (step, (op, pick, count, flag)) in ops.into_iter().enumerate() {
                match op {
                    0 if caches[0].fits(count, 0) => {
                        let mut tables = [Vec::new(), Vec::new()];
                        for (kv, table) in caches.iter_mut().zip(&mut tables) {
                            kv.allocate(count, table);
                        }
                        requests.push(Holder { tables, ..Holder::default() });
                    }
                    1 if !requests.is_empty() => {
                        let Holder { tables, owned, registered, own_from } =
                            requests.swap_remove(pick % requests.len());
                        caches[0].release(&tables[0]);
                        if flag {
                            let own = own_from.unwrap_or(registered)..registered;
                            caches[1].release_finished(&tables[1], own);
                        } else {
                            caches[1].release(&tables[1]);
                        }
                        for c in owned {
                            contents[c].dead |= flag;
                        }
                    }
                    2 if !requests.is_empty() => {
                        // A request registers its blocks in order, own content after shared.
                        let n = requests.len();
                        let r = &mut requests[pick % n];
                        let j = r.registered;
                        if j < r.tables[0].len() {
                            let blocks = [r.tables[0][j], r.tables[1][j]];
                            let hash = step as u64 + 1;
                            let own = flag || r.own_from.is_some();
                            let key = if own {
                                BlockKey::Own { hash, candidate: None }
                            } else {
                                BlockKey::Shared(hash)
                            };
                            for (kv, &b) in caches.iter_mut().zip(&blocks) {
                                kv.register(b, key);
                            }
                            if own {
                                r.owned.push(contents.len());
                                r.own_from.get_or_insert(j);
                            }
                            r.registered += 1;
                            contents.push(Content { hash, own, blocks, dead: false });
                        }
                    }
                    3 if !contents.is_empty() => {
                        let c = &contents[pick % contents.len()];
                        let hit = caches[0].lookup(keys(&[c.hash]), 1);
                        if !c.own && hit.blocks == 1 && caches[0].fits(hit.free_blocks, 0) {
                            let mut tables = [Vec::new(), Vec::new()];
                            for (kv, table) in caches.iter_mut().zip(&mut tables) {
                                kv.take_cached(keys(&[c.hash]), 1, table);
                            }
                            requests.push(Holder { tables, registered: 1, ..Holder::default() });
                        }
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(caches[0].blocks_in_use(), caches[1].blocks_in_use());
                for c in contents.iter().filter(|c| !c.dead) {
                    proptest::prop_assert_eq!(c.found(&caches[0], 0), c.found(&caches[1], 1));
                }
            }
        }
    }

    #[test]
    fn capacity_in_blocks_is_floor_of_bytes_over_block_bytes() {
        let config = crate::config::Config::builtin_default().unwrap();
        let l = KvLayout::new(&config.server);
        // Llama-3-70B at TP=4: each GPU holds 2 of the 8 KV heads, so
        // 2 * 80 layers * 2 heads * 128 * 2 bytes = 81,920 B/token; a 16-token
        // block is 1,310,720 B. Each GPU's KV cache: 90% of 80 GiB
        // (77,309,411,328 B) less its weights: a quarter of all but the K and V
        // projections (69,211,529,216 / 4) plus its heads' share of those
        // (80 * 2 * 8192 * 2 * 128 = 335,544,320), 2 bytes each, so
        // 77,309,411,328 - 35,276,853,248 = 42,032,558,080 B: 32,068 blocks.
        assert_eq!(config.server.hardware.kv_cache_capacity, 42_032_558_080);
        assert_eq!(l.block_bytes, 1_310_720);
        assert_eq!(l.num_blocks(), 32_068);
        assert_eq!(layout(3).num_blocks(), 3);
    }

    #[test]
    fn allocate_release_and_reuse_cached_prefix() {
        let mut kv = KvCache::new(layout(4), true);
        let mut a = Vec::new();
        assert!(kv.fits(3, 0));
        kv.allocate(3, &mut a);
        assert_eq!(kv.blocks_in_use(), 3);
        kv.register(a[0], BlockKey::Shared(11));
        kv.register(a[1], BlockKey::Shared(22));
        assert!(!kv.fits(2, 0));
        kv.release(&a);
        assert_eq!(kv.blocks_in_use(), 0);
        // Both hashed blocks are still findable; the lookup stops at the first miss.
        let hit = kv.lookup(keys(&[11, 22, 33]), 10);
        assert_eq!(
            hit,
            PrefixHit {
                blocks: 2,
                free_blocks: 2
            }
        );
        assert_eq!(kv.lookup(keys(&[22]), 10).blocks, 1);
        assert_eq!(kv.lookup(keys(&[11, 22]), 1).blocks, 1);
        let mut b = Vec::new();
        kv.take_cached(keys(&[11, 22]), 2, &mut b);
        assert_eq!(b, [a[0], a[1]]);
        assert_eq!(kv.blocks_in_use(), 2);
        // A second sharer does not use more capacity.
        let mut c = Vec::new();
        assert_eq!(
            kv.lookup(keys(&[11]), 1),
            PrefixHit {
                blocks: 1,
                free_blocks: 0
            }
        );
        kv.take_cached(keys(&[11]), 1, &mut c);
        assert_eq!(kv.blocks_in_use(), 2);
        kv.release(&c);
        kv.release(&b);
        assert_eq!(kv.blocks_in_use(), 0);
    }

    #[test]
    fn eviction_is_least_recently_freed_first_and_unhashed_blocks_go_first() {
        let mut kv = KvCache::new(layout(3), true);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        kv.allocate(1, &mut a);
        kv.allocate(2, &mut b);
        kv.register(a[0], BlockKey::Shared(1));
        kv.register(b[0], BlockKey::Shared(2));
        kv.release(&a); // freed first: evicted first among hashed blocks
        kv.release(&b); // b[1] has no hash: reused before any hashed block
        let mut c = Vec::new();
        kv.allocate(2, &mut c);
        assert_eq!(c, [b[1], a[0]]);
        assert_eq!(kv.lookup(keys(&[1]), 1).blocks, 0, "evicted");
        assert_eq!(kv.lookup(keys(&[2]), 1).blocks, 1, "kept");
    }

    #[test]
    fn own_blocks_are_found_through_their_last_block_until_reused() {
        let mut kv = KvCache::new(layout(2), true);
        let mut a = Vec::new();
        kv.allocate(2, &mut a);
        kv.register(
            a[0],
            BlockKey::Own {
                hash: 7,
                candidate: None,
            },
        );
        let key = |c| BlockKey::Own {
            hash: 7,
            candidate: Some(c),
        };
        kv.release(&a);
        assert_eq!(kv.find(key(a[0])), Some(a[0]));
        assert_eq!(kv.find(key(a[1])), None, "another block");
        assert_eq!(
            kv.find(BlockKey::Shared(7)),
            None,
            "own content is not shared"
        );
        let mut b = Vec::new();
        kv.allocate(2, &mut b); // reuses both blocks: the content is gone
        assert_eq!(kv.find(key(a[0])), None);
    }

    #[test]
    fn disabled_prefix_caching_never_hits() {
        let mut kv = KvCache::new(layout(2), false);
        let mut a = Vec::new();
        kv.allocate(1, &mut a);
        kv.register(a[0], BlockKey::Shared(5));
        kv.release(&a);
        assert_eq!(kv.lookup(keys(&[5]), 1).blocks, 0);
    }

    #[test]
    fn window_tokens_share_the_byte_capacity() {
        let l = KvLayout {
            window_tokens: 8,
            window_token_bytes: 10,
            ..layout(2)
        };
        assert_eq!(l.bytes_for(100), 25 * 100 + 8 * 10);
        let mut kv = KvCache::new(l, true);
        kv.hold_window(8);
        assert!(kv.fits(1, 0));
        assert!(!kv.fits(2, 0)); // 200 + 80 > 250
        kv.release_window(8);
        assert!(kv.fits(2, 0));
    }

    #[test]
    fn token_hashes_chain_over_prefixes() {
        let a = token_block_hashes(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 4);
        let b = token_block_hashes(&[1, 2, 3, 4, 5, 6, 7, 0], 4);
        let c = token_block_hashes(&[9, 2, 3, 4, 5, 6, 7, 8], 4);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        assert_ne!(a[1], c[1], "same block content, different parent");
    }
}
