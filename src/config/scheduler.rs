//! `[scheduler]`: the engine's batching budget, queue policy and KV cache layout.

use super::error::ConfigError;
use super::reader::Section;
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

const FIELDS: &[&str] = &[
    "max_num_batched_tokens",
    "max_num_seqs",
    "policy",
    "enable_chunked_prefill",
    "block_size",
    "long_prefill_token_threshold",
    "max_num_partial_prefills",
    "enable_preemption_free",
    "enable_prefix_caching",
];

impl SchedulerConfig {
    /// Reads and validates a `[scheduler]` table; `max_seq_len` sets the default
    /// long-prefill threshold.
    pub(crate) fn parse(s: &Section<'_>, max_seq_len: u64) -> Result<Self, ConfigError> {
        let max_num_partial_prefills = s.int_at_least("max_num_partial_prefills", 1, Some(1))?;
        let default_threshold = if max_num_partial_prefills > 1 {
            (max_seq_len * 4 / 100).max(1)
        } else {
            0
        };
        Ok(Self {
            max_num_batched_tokens: s.int_at_least("max_num_batched_tokens", 1, None)?,
            max_num_seqs: s.int_at_least("max_num_seqs", 1, None)?,
            policy: s.choice("policy", &Policy::ALL, Some(Policy::Fcfs))?,
            enable_chunked_prefill: s.opt("enable_chunked_prefill")?.unwrap_or(true),
            block_size: s.int_at_least("block_size", 1, Some(16))?,
            long_prefill_token_threshold: s.int_at_least(
                "long_prefill_token_threshold",
                0,
                Some(default_threshold),
            )?,
            max_num_partial_prefills,
            enable_preemption_free: s.opt("enable_preemption_free")?.unwrap_or(false),
            enable_prefix_caching: s.opt("enable_prefix_caching")?.unwrap_or(true),
        })
    }

    /// Field names a `[scheduler]` table may hold.
    pub(crate) fn fields() -> &'static [&'static str] {
        FIELDS
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
