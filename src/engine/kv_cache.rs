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
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NIL: u32 = u32::MAX;
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
        let per_layer = m.kv_bytes_per_token_per_layer(config.hardware.bytes_per_param);
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

/// The block pool.
#[derive(Debug)]
pub struct KvCache {
    layout: KvLayout,
    ref_count: Vec<u32>,
    hash: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    free_head: u32,
    free_tail: u32,
    in_use: u64,
    window_tokens_held: u64,
    /// Whether a block's hash is (or was last) entered in `shared`.
    in_map: Vec<bool>,
    shared: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    prefix_caching: bool,
    /// Enter every hash in the map and find every block through it (the plain
    /// reference path the optimised one is tested against).
    map_everything: bool,
}

impl KvCache {
    /// An empty cache of `layout`; `prefix_caching` enables content sharing.
    pub fn new(layout: KvLayout, prefix_caching: bool) -> Self {
        let n = layout.num_blocks().min(u64::from(NIL - 1)) as u32;
        let mut cache = Self {
            layout,
            ref_count: vec![0; n as usize],
            hash: vec![NO_HASH; n as usize],
            prev: vec![NIL; n as usize],
            next: vec![NIL; n as usize],
            free_head: NIL,
            free_tail: NIL,
            in_use: 0,
            window_tokens_held: 0,
            in_map: vec![false; n as usize],
            shared: HashMap::default(),
            prefix_caching,
            map_everything: false,
        };
        for b in 0..n {
            cache.push_back(b);
        }
        cache
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
        self.ref_count.len() as u64
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
            && self.in_use + blocks <= self.ref_count.len() as u64
    }

    /// The block holding the content `key` names, if the cache still has it.
    #[inline]
    pub fn find(&self, key: BlockKey) -> Option<u32> {
        match key {
            BlockKey::Own { hash, .. } if self.map_everything => self.shared.get(&hash).copied(),
            BlockKey::Shared(hash) => self.shared.get(&hash).copied(),
            BlockKey::Own { hash, candidate } => {
                candidate.filter(|&b| self.hash.get(b as usize) == Some(&hash))
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
            if self.ref_count[b as usize] == 0 {
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
            if self.ref_count[b as usize] == 0 {
                self.unlink(b);
                self.in_use += 1;
            }
            self.ref_count[b as usize] += 1;
            out.push(b);
        }
    }

    /// Allocates `count` fresh blocks (the caller checked [`fits`](Self::fits)),
    /// evicting the least recently freed cached blocks.
    pub fn allocate(&mut self, count: u64, out: &mut Vec<u32>) {
        for _ in 0..count {
            let b = self.free_head;
            debug_assert_ne!(b, NIL, "allocate without fits");
            self.unlink(b);
            let h = std::mem::replace(&mut self.hash[b as usize], NO_HASH);
            if std::mem::take(&mut self.in_map[b as usize]) && self.shared.get(&h) == Some(&b) {
                self.shared.remove(&h);
            }
            self.ref_count[b as usize] = 1;
            self.in_use += 1;
            out.push(b);
        }
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
            let rc = &mut self.ref_count[b as usize];
            *rc -= 1;
            if *rc == 0 {
                self.in_use -= 1;
                if self.hash[b as usize] == NO_HASH {
                    // Nothing worth keeping: reuse it first.
                    self.push_front(b);
                } else {
                    self.push_back(b);
                }
            }
        }
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
        self.hash[block as usize] = hash;
        if shared {
            self.shared.entry(hash).or_insert(block);
            self.in_map[block as usize] = true;
        }
    }

    /// Finds every block through the hash map (the reference path that tests
    /// check the optimised one against).
    pub(crate) fn set_map_everything(&mut self, on: bool) {
        self.map_everything = on;
    }

    #[inline]
    fn unlink(&mut self, b: u32) {
        let (p, n) = (self.prev[b as usize], self.next[b as usize]);
        if p == NIL {
            self.free_head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.free_tail = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.prev[b as usize] = NIL;
        self.next[b as usize] = NIL;
    }

    fn push_back(&mut self, b: u32) {
        self.prev[b as usize] = self.free_tail;
        self.next[b as usize] = NIL;
        if self.free_tail == NIL {
            self.free_head = b;
        } else {
            self.next[self.free_tail as usize] = b;
        }
        self.free_tail = b;
    }

    fn push_front(&mut self, b: u32) {
        self.next[b as usize] = self.free_head;
        self.prev[b as usize] = NIL;
        if self.free_head == NIL {
            self.free_tail = b;
        } else {
            self.prev[self.free_head as usize] = b;
        }
        self.free_head = b;
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
    fn capacity_in_blocks_is_floor_of_bytes_over_block_bytes() {
        let config = crate::config::Config::builtin_default().unwrap();
        let l = KvLayout::new(&config.server);
        // Llama-3-70B: 2 * 80 layers * 8 kv heads * 128 * 2 bytes = 327,680 B/token;
        // a 16-token block is 5,242,880 B; 64 GiB / that = 13,107 blocks.
        assert_eq!(l.block_bytes, 5_242_880);
        assert_eq!(l.num_blocks(), 13_107);
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
