//! `[model]`: the transformer's shape, which prices every step and sizes the KV cache.

use super::deployment::{DeploymentConfig, MAX_TENSOR_PARALLEL_SIZE};
use super::error::ConfigError;
use super::reader::Section;
use serde::Serialize;

/// The served model's architecture, resolved (all defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelConfig {
    /// Label shown in reports.
    pub name: String,
    /// All parameters, all experts included for MoE models.
    pub num_parameters: u64,
    /// Parameters one token passes through (equals `num_parameters` for dense models).
    pub num_active_parameters: u64,
    /// Transformer layers.
    pub num_layers: u64,
    /// Model width.
    pub hidden_dim: u64,
    /// Attention (query) heads.
    pub num_heads: u64,
    /// Key/value heads (fewer than `num_heads` under GQA/MQA).
    pub num_kv_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// Longest context (prompt plus output) a request may have.
    pub max_seq_len: u64,
    /// Window of the sliding-window layers, in tokens.
    pub sliding_window: Option<u64>,
    /// How many layers attend only to the last `sliding_window` tokens.
    pub num_sliding_layers: u64,
    /// MoE: routed experts per layer.
    pub num_experts: Option<u64>,
    /// MoE: experts each token is routed to.
    pub experts_per_token: Option<u64>,
    /// Vocabulary size. When given, the embedding and the LM head are priced
    /// apart from the layers: the embedding is a lookup (no FLOPs, rows not
    /// read in bulk) and the LM head runs only for the sequences that sample a
    /// token. When absent, every parameter is priced for every token, as a
    /// layer weight.
    pub vocab_size: Option<u64>,
    /// Whether the LM head shares the embedding's weights (counted once in
    /// `num_parameters`).
    pub tie_word_embeddings: bool,
}

const FIELDS: &[&str] = &[
    "preset",
    "name",
    "num_parameters",
    "num_active_parameters",
    "num_layers",
    "hidden_dim",
    "num_heads",
    "num_kv_heads",
    "head_dim",
    "max_seq_len",
    "sliding_window",
    "num_sliding_layers",
    "num_experts",
    "experts_per_token",
    "vocab_size",
    "tie_word_embeddings",
];

impl ModelConfig {
    /// Reads and validates a `[model]` table.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        let num_parameters = s.int_at_least("num_parameters", 1, None)?;
        let num_active_parameters =
            s.int_at_least("num_active_parameters", 1, Some(num_parameters))?;
        if num_active_parameters > num_parameters {
            return Err(s.error(
                "num_active_parameters",
                format!(
                    "expected at most num_parameters ({num_parameters}), got {num_active_parameters}"
                ),
            ));
        }
        let num_layers = s.int_at_least("num_layers", 1, None)?;
        let hidden_dim = s.int_at_least("hidden_dim", 1, None)?;
        let num_heads = s.int_at_least("num_heads", 1, None)?;
        let num_kv_heads = s.int_at_least("num_kv_heads", 1, Some(num_heads))?;
        if num_heads % num_kv_heads != 0 {
            return Err(s.error(
                "num_kv_heads",
                format!("expected a divisor of num_heads ({num_heads}), got {num_kv_heads}"),
            ));
        }
        let default_head_dim = hidden_dim / num_heads;
        let head_dim = s.int_at_least("head_dim", 1, Some(default_head_dim.max(1)))?;
        let max_seq_len = s.int_at_least("max_seq_len", 2, None)?;
        let sliding_window = s.opt_int_at_least("sliding_window", 1)?;
        let num_sliding_layers = s.int_at_least("num_sliding_layers", 0, Some(0))?;
        if num_sliding_layers > 0 && sliding_window.is_none() {
            return Err(s.error(
                "sliding_window",
                "missing: num_sliding_layers is set, so the window size is required",
            ));
        }
        if num_sliding_layers >= num_layers {
            return Err(s.error(
                "num_sliding_layers",
                format!(
                    "expected fewer than num_layers ({num_layers}): at least one layer must attend to the full context, got {num_sliding_layers}"
                ),
            ));
        }
        let num_experts = s.opt_int_at_least("num_experts", 1)?;
        let experts_per_token = s.opt_int_at_least("experts_per_token", 1)?;
        match (num_experts, experts_per_token) {
            (Some(e), Some(k)) if k > e => {
                return Err(s.error(
                    "experts_per_token",
                    format!("expected at most num_experts ({e}), got {k}"),
                ))
            }
            (Some(_), None) => {
                return Err(s.error(
                    "experts_per_token",
                    "missing: required when num_experts is set",
                ))
            }
            (None, Some(_)) => {
                return Err(s.error(
                    "num_experts",
                    "missing: required when experts_per_token is set",
                ))
            }
            _ => {}
        }
        let vocab_size = s.opt_int_at_least("vocab_size", 1)?;
        let tie_word_embeddings = s.opt("tie_word_embeddings")?.unwrap_or(false);
        if let Some(vocab) = vocab_size {
            let copies = if tie_word_embeddings { 1 } else { 2 };
            let embedding = vocab.saturating_mul(hidden_dim).saturating_mul(copies);
            if embedding >= num_active_parameters {
                return Err(s.error(
                    "vocab_size",
                    format!(
                        "the embedding and LM head ({copies} x vocab_size x hidden_dim = {embedding} parameters) must be fewer than num_active_parameters ({num_active_parameters})"
                    ),
                ));
            }
        }
        Ok(Self {
            name: s.req("name")?,
            num_parameters,
            num_active_parameters,
            num_layers,
            hidden_dim,
            num_heads,
            num_kv_heads,
            head_dim,
            max_seq_len,
            sliding_window,
            num_sliding_layers,
            num_experts,
            experts_per_token,
            vocab_size,
            tie_word_embeddings,
        })
    }

    /// Field names a `[model]` table may hold.
    pub(crate) fn fields() -> &'static [&'static str] {
        FIELDS
    }

    /// Layers that attend to the whole context.
    pub fn num_full_layers(&self) -> u64 {
        self.num_layers - self.num_sliding_layers
    }

    /// Parameters of the LM head (0 when `vocab_size` is not given).
    pub fn lm_head_params(&self) -> u64 {
        self.vocab_size.map_or(0, |v| v * self.hidden_dim)
    }

    /// Parameters outside the layers: the embedding, and the LM head unless
    /// it is tied to the embedding (0 when `vocab_size` is not given).
    pub fn vocabulary_params(&self) -> u64 {
        let copies = if self.tie_word_embeddings { 1 } else { 2 };
        self.lm_head_params() * copies
    }

    /// The tensor parallel sizes this model can be split into, smallest
    /// first: the divisors of `num_heads` (every GPU gets whole attention
    /// heads, as vLLM requires), up to the largest replica supported.
    pub fn tensor_parallel_sizes(&self) -> impl Iterator<Item = u64> + '_ {
        (1..=MAX_TENSOR_PARALLEL_SIZE.min(self.num_heads)).filter(|t| self.num_heads % t == 0)
    }

    /// Parameters of the K and V projections, over all layers.
    fn kv_projection_params(&self) -> u64 {
        self.num_layers
            .saturating_mul(2 * self.hidden_dim)
            .saturating_mul(self.num_kv_heads * self.head_dim)
            .min(self.num_parameters)
    }

    /// Parameters one GPU of a replica holds: `1/t` of every weight (rounded
    /// up), except the K and V projections of the KV heads it holds, which
    /// are replicated with those heads when `t` exceeds `num_kv_heads`. With
    /// expert parallelism each GPU holds `num_experts / t` whole experts,
    /// which is the same share.
    pub fn params_per_gpu(&self, deployment: &DeploymentConfig) -> u64 {
        let t = deployment.tensor_parallel_size;
        let kv = self.kv_projection_params();
        let kv_per_gpu = self
            .num_layers
            .saturating_mul(2 * self.hidden_dim)
            .saturating_mul(deployment.kv_heads_per_gpu(self.num_kv_heads) * self.head_dim);
        (self.num_parameters - kv).div_ceil(t) + kv_per_gpu.min(kv)
    }

    /// Bytes of all weights at `bytes_per_param`.
    pub fn weight_bytes(&self, bytes_per_param: u64) -> u64 {
        self.num_parameters.saturating_mul(bytes_per_param)
    }
}
