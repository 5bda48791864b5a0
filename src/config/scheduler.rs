//! `[scheduler]`: the engine's batching budget, queue policy and KV cache layout.

use super::error::ConfigError;
use super::fields::{choice_names, Field, FieldDefault, FieldKind};
use super::reader::Section;
use super::resolve::Unresolved;
use serde::Serialize;

/// Order in which waiting requests are admitted (and whom to preempt first).
///
/// Length-based policies use the request's true lengths: in synthetic mode the
/// simulator knows each request's output length in advance (an oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// First come, first served.
    Fcfs,
    /// Shortest output first.
    Sof,
    /// Shortest input (prompt) first.
    Sif,
    /// Shortest total (prompt + output) first.
    Stf,
    /// Longest input first.
    Lif,
    /// Longest output first.
    Lof,
    /// Longest total first.
    Ltf,
    /// Lowest `priority` value first (then arrival order).
    Priority,
}

impl Policy {
    /// Every policy with its configuration name.
    pub const ALL: [(&'static str, Policy); 8] = [
        ("fcfs", Policy::Fcfs),
        ("sof", Policy::Sof),
        ("sif", Policy::Sif),
        ("stf", Policy::Stf),
        ("lif", Policy::Lif),
        ("lof", Policy::Lof),
        ("ltf", Policy::Ltf),
        ("priority", Policy::Priority),
    ];

    /// The name used in configs and reports.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("fcfs", |(n, _)| n)
    }

    /// The sort key of a request under this policy: lower runs first; ties
    /// break by arrival order.
    pub fn key(self, input_tokens: u32, output_tokens: u32, priority: i64) -> i64 {
        let (input, output) = (i64::from(input_tokens), i64::from(output_tokens));
        match self {
            Policy::Fcfs => 0,
            Policy::Sof => output,
            Policy::Sif => input,
            Policy::Stf => input + output,
            Policy::Lif => -input,
            Policy::Lof => -output,
            Policy::Ltf => -(input + output),
            Policy::Priority => priority,
        }
    }
}

/// The vLLM-style scheduler's settings, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchedulerConfig {
    /// Token budget of one engine step.
    pub max_num_batched_tokens: u64,
    /// Most requests running at once.
    pub max_num_seqs: u64,
    /// Admission (and preemption) order.
    pub policy: Policy,
    /// Whether long prompts may be split across steps.
    pub enable_chunked_prefill: bool,
    /// Tokens per KV cache block.
    pub block_size: u64,
    /// Most prompt tokens one request may take in one step (0 = no cap).
    pub long_prefill_token_threshold: u64,
    /// Most requests in a partial (unfinished) prefill at once.
    pub max_num_partial_prefills: u64,
    /// Admit only requests whose whole future KV fits, so nothing is ever preempted.
    pub enable_preemption_free: bool,
    /// Reuse cached full blocks with equal content.
    pub enable_prefix_caching: bool,
}

const MAX_NUM_BATCHED_TOKENS: Field = Field::new(
    "max_num_batched_tokens",
    FieldKind::Integer { min: 1 },
    "token budget of one engine step (vLLM's --max-num-batched-tokens)",
)
.unit("tokens");
const MAX_NUM_SEQS: Field = Field::new(
    "max_num_seqs",
    FieldKind::Integer { min: 1 },
    "most requests running at once (vLLM's --max-num-seqs)",
);
const POLICY: Field = Field::new(
    "policy",
    FieldKind::Choice(&POLICY_NAMES),
    "admission (and preemption) order",
)
.default(FieldDefault::Name("fcfs"));
const ENABLE_CHUNKED_PREFILL: Field = Field::new(
    "enable_chunked_prefill",
    FieldKind::Bool,
    "whether long prompts may be split across steps",
)
.default(FieldDefault::Bool(true));
const BLOCK_SIZE: Field = Field::new(
    "block_size",
    FieldKind::Integer { min: 1 },
    "tokens per KV cache block",
)
.default(FieldDefault::Integer(16))
.unit("tokens");
const LONG_PREFILL_TOKEN_THRESHOLD: Field = Field::new(
    "long_prefill_token_threshold",
    FieldKind::Integer { min: 0 },
    "most prompt tokens one request may take in one step (0: no cap)",
)
.default(FieldDefault::Derived(
    "4% of model.max_seq_len when max_num_partial_prefills > 1, else 0",
))
.unit("tokens");
const MAX_NUM_PARTIAL_PREFILLS: Field = Field::new(
    "max_num_partial_prefills",
    FieldKind::Integer { min: 1 },
    "most requests in an unfinished (partial) prefill at once",
)
.default(FieldDefault::Integer(1));
const ENABLE_PREEMPTION_FREE: Field = Field::new(
    "enable_preemption_free",
    FieldKind::Bool,
    "admit only requests whose whole future KV fits, so nothing is ever preempted",
)
.default(FieldDefault::Bool(false));
const ENABLE_PREFIX_CACHING: Field = Field::new(
    "enable_prefix_caching",
    FieldKind::Bool,
    "reuse cached full blocks with equal content",
)
.default(FieldDefault::Bool(true));

/// The `[scheduler]` fields.
pub const FIELDS: &[Field] = &[
    MAX_NUM_BATCHED_TOKENS,
    MAX_NUM_SEQS,
    POLICY,
    ENABLE_CHUNKED_PREFILL,
    BLOCK_SIZE,
    LONG_PREFILL_TOKEN_THRESHOLD,
    MAX_NUM_PARTIAL_PREFILLS,
    ENABLE_PREEMPTION_FREE,
    ENABLE_PREFIX_CACHING,
];

const POLICY_NAMES: [&str; 8] = choice_names(Policy::ALL);

impl SchedulerConfig {
    /// Reads and validates a `[scheduler]` table. The long-prefill threshold,
    /// when not given, depends on the model: [`super::resolve`] derives it.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Unresolved<Self>, ConfigError> {
        let threshold = s.opt_int(&LONG_PREFILL_TOKEN_THRESHOLD)?;
        Ok(Unresolved {
            section: Self {
                max_num_batched_tokens: s.int(&MAX_NUM_BATCHED_TOKENS)?,
                max_num_seqs: s.int(&MAX_NUM_SEQS)?,
                policy: s.pick(&POLICY, &Policy::ALL)?,
                enable_chunked_prefill: s.flag(&ENABLE_CHUNKED_PREFILL)?,
                block_size: s.int(&BLOCK_SIZE)?,
                long_prefill_token_threshold: threshold.unwrap_or(0),
                max_num_partial_prefills: s.int(&MAX_NUM_PARTIAL_PREFILLS)?,
                enable_preemption_free: s.flag(&ENABLE_PREEMPTION_FREE)?,
                enable_prefix_caching: s.flag(&ENABLE_PREFIX_CACHING)?,
            },
            given: threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_keys_order_as_named() {
        // (input, output) of three requests.
        let reqs = [(100, 50), (10, 500), (300, 5)];
        let order = |p: Policy| {
            let mut idx: Vec<usize> = (0..reqs.len()).collect();
            idx.sort_by_key(|&i| (p.key(reqs[i].0, reqs[i].1, 0), i));
            idx
        };
        assert_eq!(order(Policy::Fcfs), [0, 1, 2]);
        assert_eq!(order(Policy::Sof), [2, 0, 1]);
        assert_eq!(order(Policy::Sif), [1, 0, 2]);
        assert_eq!(order(Policy::Stf), [0, 2, 1]);
        assert_eq!(order(Policy::Lif), [2, 0, 1]);
        assert_eq!(order(Policy::Lof), [1, 0, 2]);
        assert_eq!(order(Policy::Ltf), [1, 2, 0]);
        assert_eq!(Policy::Priority.key(1, 1, -3), -3);
        for (name, p) in Policy::ALL {
            assert_eq!(p.name(), name);
        }
    }
}
