//! Shared-prefix prompts without a dataset: `num_groups x prompts_per_group`
//! synthetic prompts whose token content is made up but fixed, so that equal
//! content gives equal KV block hashes exactly as real tokens would.
//!
//! Group `g`'s system prompt is the same `system_prompt_len` tokens in every
//! prompt of the group; each prompt then has its own `question_len` tokens.
//! The prompts' block hashes are computed once, when the workload is built
//! ([`token_block_hashes`] over the made-up tokens), and every request of a
//! prompt shares them.

use super::dataset::{DatasetPrompt, PromptSet};
use crate::config::{PromptOrder, SharedPrefixConfig};
use crate::engine::kv_cache::{chain_hash, token_block_hashes};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Salts of the made-up token content: system prompts and questions.
const SYSTEM_SALT: u64 = 0x5157_E380_0000_0001;
const QUESTION_SALT: u64 = 0x0015_E500_0000_0002;

/// The distinct prompts, in group-major order (group 0's prompts first),
/// hashed for KV blocks of `block_size` tokens. Prompt `i` belongs to group
/// `i / prompts_per_group`; its `line` is `i + 1`.
pub(crate) fn prompts(cfg: &SharedPrefixConfig, block_size: u64) -> PromptSet {
    let (sys, question) = (cfg.system_prompt_len as usize, cfg.question_len as usize);
    let mut tokens: Vec<u32> = Vec::with_capacity(sys + question);
    let mut prompts = Vec::with_capacity(cfg.num_prompts() as usize);
    for g in 0..cfg.num_groups {
        let system = chain_hash(SYSTEM_SALT, g);
        for p in 0..cfg.prompts_per_group {
            let own = chain_hash(chain_hash(QUESTION_SALT, g), p);
            tokens.clear();
            tokens.extend((0..sys as u64).map(|i| chain_hash(system, i) as u32));
            tokens.extend((0..question as u64).map(|i| chain_hash(own, i) as u32));
            prompts.push(DatasetPrompt {
                line: g * cfg.prompts_per_group + p + 1,
                input_tokens: tokens.len() as u32,
                max_tokens: None,
                block_hashes: Arc::from(token_block_hashes(&tokens, block_size as usize)),
            });
        }
    }
    PromptSet::new(block_size, prompts)
}

/// Which prompt each request sends.
// One per run, drawn from on every arrival: keep the generator inline, unboxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum PromptChoice {
    /// A permutation of the prompts, sent over and over; `next` is the
    /// position of the next request in it.
    Cycle { order: Vec<u32>, next: usize },
    /// A uniform choice per request.
    Random { rng: ChaCha8Rng },
}

impl PromptChoice {
    /// The choice of `order` over `count` prompts, drawing from `rng` (a
    /// stream of its own, so the choices do not depend on anything else).
    pub fn new(order: PromptOrder, count: u32, mut rng: ChaCha8Rng) -> Self {
        match order {
            PromptOrder::Cycle => {
                // Fisher-Yates with u64 draws: the same permutation on every target.
                let mut order: Vec<u32> = (0..count).collect();
                for i in (1..order.len()).rev() {
                    let j = rng.random_range(0..=i as u64) as usize;
                    order.swap(i, j);
                }
                PromptChoice::Cycle { order, next: 0 }
            }
            PromptOrder::Random => PromptChoice::Random { rng },
        }
    }

    /// The index of the next request's prompt among `count` prompts.
    pub fn next(&mut self, count: u32) -> usize {
        match self {
            PromptChoice::Cycle { order, next } => {
                let i = order[*next];
                *next = (*next + 1) % order.len();
                i as usize
            }
            PromptChoice::Random { rng } => rng.random_range(0..u64::from(count)) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn config(groups: u64, per_group: u64, sys: u64, question: u64) -> SharedPrefixConfig {
        SharedPrefixConfig {
            num_groups: groups,
            prompts_per_group: per_group,
            order: PromptOrder::Cycle,
            system_prompt_len: sys,
            question_len: question,
        }
    }

    #[test]
    fn prompts_of_a_group_share_the_system_prompts_full_blocks() {
        // 40 system tokens: blocks 0 and 1 (tokens 0-31) are the system
        // prompt's; block 2 (32-47) mixes it with the question.
        let set = prompts(&config(2, 3, 40, 30), 16);
        assert_eq!(set.len(), 6);
        let h = |i: usize| &set.prompts()[i].block_hashes;
        assert!(set
            .prompts()
            .iter()
            .all(|p| p.input_tokens == 70 && p.block_hashes.len() == 4));
        for i in 1..3 {
            assert_eq!(h(i)[..2], h(0)[..2], "same group");
            assert_ne!(h(i)[2], h(0)[2], "own question");
        }
        assert_ne!(h(3)[0], h(0)[0], "another group");
        assert_eq!(h(4)[..2], h(3)[..2]);
    }

    #[test]
    fn the_cycle_is_a_permutation_sent_over_and_over() {
        let mut c = PromptChoice::new(PromptOrder::Cycle, 10, ChaCha8Rng::seed_from_u64(1));
        let first: Vec<usize> = (0..10).map(|_| c.next(10)).collect();
        let second: Vec<usize> = (0..10).map(|_| c.next(10)).collect();
        assert_eq!(first, second);
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_ne!(first, sorted, "shuffled");
    }

    #[test]
    fn random_choices_cover_every_prompt() {
        let mut c = PromptChoice::new(PromptOrder::Random, 7, ChaCha8Rng::seed_from_u64(1));
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[c.next(7)] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }
}
