//! Dataset prompts as the core sees them: how many tokens each prompt has, the
//! chained hashes of its full KV blocks, and the line's `max_tokens`.
//!
//! Reading the file, rendering chat templates and tokenizing happen outside the
//! core (the `dataset` module of the command line); the core only needs these
//! numbers, so it stays free of I/O and builds for wasm.

use std::sync::Arc;

/// One prompt of a dataset, already tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetPrompt {
    /// Where the prompt came from (the 1-based line of the dataset file), so
    /// that errors about it can point there.
    pub line: u64,
    /// Prompt length in tokens (at least 1).
    pub input_tokens: u32,
    /// The line's `max_tokens`: caps the sampled output length, or is the
    /// output length when `workload.output_len_dist` is not set.
    pub max_tokens: Option<u32>,
    /// Chained hashes of the prompt's full KV blocks
    /// ([`token_block_hashes`](crate::engine::kv_cache::token_block_hashes)):
    /// equal token prefixes give equal hashes, which is what prefix caching matches.
    pub block_hashes: Arc<[u64]>,
}

/// The prompts of a dataset in file order, hashed for one KV block size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptSet {
    block_size: u64,
    prompts: Vec<DatasetPrompt>,
}

impl PromptSet {
    /// Prompts whose block hashes were computed for blocks of `block_size` tokens.
    pub fn new(block_size: u64, prompts: Vec<DatasetPrompt>) -> Self {
        Self {
            block_size,
            prompts,
        }
    }

    /// Tokens per KV block the hashes were computed for.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// The prompts, in file order.
    pub fn prompts(&self) -> &[DatasetPrompt] {
        &self.prompts
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// Whether there are no prompts.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Prompt tokens of all prompts together.
    pub fn total_input_tokens(&self) -> u64 {
        self.prompts.iter().map(|p| u64::from(p.input_tokens)).sum()
    }
}

/// Why a dataset workload cannot be built for a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// A prompt that would be sent has no `max_tokens`, and there is no
    /// `output_len_dist` to sample its output length from.
    #[error("line {line}: no max_tokens, and workload.output_len_dist is not set: give every line a max_tokens, or set workload.output_len_dist")]
    NoOutputLength {
        /// The prompt's line in the dataset file.
        line: u64,
    },
    /// The prompts were hashed for another block size than the config's.
    #[error("the prompts were hashed for {hashed}-token KV blocks, but scheduler.block_size is {configured}")]
    BlockSizeMismatch {
        /// Block size of the hashes.
        hashed: u64,
        /// `scheduler.block_size` of the config.
        configured: u64,
    },
}
