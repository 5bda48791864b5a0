//! `[model]`: the transformer's shape, which prices every step and sizes the KV cache.

use super::error::ConfigError;
use super::fields::{Field, FieldDefault, FieldKind};
use super::presets::{preset_names, MODEL_PRESETS};
use super::reader::Section;
use super::resolve;
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

const PRESET: Field = Field::new(
    "preset",
    FieldKind::Choice(&MODEL_PRESET_NAMES),
    "a shipped model whose fields this table starts from (fields given here override it)",
)
.default(FieldDefault::Absent);
const NAME: Field = Field::new("name", FieldKind::Text, "label shown in reports");
const NUM_PARAMETERS: Field = Field::new(
    "num_parameters",
    FieldKind::Integer { min: 1 },
    "all parameters, every expert included for MoE models",
)
.unit("parameters");
const NUM_ACTIVE_PARAMETERS: Field = Field::new(
    "num_active_parameters",
    FieldKind::Integer { min: 1 },
    "parameters one token passes through (MoE: the routed experts only)",
)
.default(FieldDefault::Derived("num_parameters"))
.unit("parameters");
const NUM_LAYERS: Field = Field::new(
    "num_layers",
    FieldKind::Integer { min: 1 },
    "transformer layers",
);
const HIDDEN_DIM: Field = Field::new("hidden_dim", FieldKind::Integer { min: 1 }, "model width");
const NUM_HEADS: Field = Field::new(
    "num_heads",
    FieldKind::Integer { min: 1 },
    "attention (query) heads",
);
const NUM_KV_HEADS: Field = Field::new(
    "num_kv_heads",
    FieldKind::Integer { min: 1 },
    "key/value heads, a divisor of num_heads (fewer under GQA/MQA)",
)
.default(FieldDefault::Derived("num_heads"));
const HEAD_DIM: Field = Field::new(
    "head_dim",
    FieldKind::Integer { min: 1 },
    "width of one head",
)
.default(FieldDefault::Derived("hidden_dim / num_heads"));
const MAX_SEQ_LEN: Field = Field::new(
    "max_seq_len",
    FieldKind::Integer { min: 2 },
    "longest context (prompt plus output) a request may have",
)
.unit("tokens");
const SLIDING_WINDOW: Field = Field::new(
    "sliding_window",
    FieldKind::Integer { min: 1 },
    "window of the sliding-window layers",
)
.default(FieldDefault::Depends(
    "required when num_sliding_layers > 0",
))
.unit("tokens");
const NUM_SLIDING_LAYERS: Field = Field::new(
    "num_sliding_layers",
    FieldKind::Integer { min: 0 },
    "layers that attend only to the last sliding_window tokens (fewer than num_layers)",
)
.default(FieldDefault::Integer(0));
const NUM_EXPERTS: Field = Field::new(
    "num_experts",
    FieldKind::Integer { min: 1 },
    "MoE: routed experts per layer (with experts_per_token)",
)
.default(FieldDefault::Absent);
const EXPERTS_PER_TOKEN: Field = Field::new(
    "experts_per_token",
    FieldKind::Integer { min: 1 },
    "MoE: experts each token is routed to (with num_experts)",
)
.default(FieldDefault::Absent);
const VOCAB_SIZE: Field = Field::new(
    "vocab_size",
    FieldKind::Integer { min: 1 },
    "vocabulary size: prices the embedding (a lookup) and the LM head (sampling sequences only) apart from the layers",
)
.default(FieldDefault::Absent)
.unit("tokens");
const TIE_WORD_EMBEDDINGS: Field = Field::new(
    "tie_word_embeddings",
    FieldKind::Bool,
    "whether the LM head shares the embedding's weights (counted once in num_parameters)",
)
.default(FieldDefault::Bool(false));

/// The `[model]` fields.
pub const FIELDS: &[Field] = &[
    PRESET,
    NAME,
    NUM_PARAMETERS,
    NUM_ACTIVE_PARAMETERS,
    NUM_LAYERS,
    HIDDEN_DIM,
    NUM_HEADS,
    NUM_KV_HEADS,
    HEAD_DIM,
    MAX_SEQ_LEN,
    SLIDING_WINDOW,
    NUM_SLIDING_LAYERS,
    NUM_EXPERTS,
    EXPERTS_PER_TOKEN,
    VOCAB_SIZE,
    TIE_WORD_EMBEDDINGS,
];

const MODEL_PRESET_NAMES: [&str; MODEL_PRESETS.len()] = preset_names(MODEL_PRESETS);

impl ModelConfig {
    /// Reads and validates a `[model]` table.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        let num_parameters = s.int(&NUM_PARAMETERS)?;
        let num_active_parameters = s.int_or(&NUM_ACTIVE_PARAMETERS, num_parameters)?;
        if num_active_parameters > num_parameters {
            return Err(s.error(
                "num_active_parameters",
                format!(
                    "expected at most num_parameters ({num_parameters}), got {num_active_parameters}"
                ),
            ));
        }
        let num_layers = s.int(&NUM_LAYERS)?;
        let hidden_dim = s.int(&HIDDEN_DIM)?;
        let num_heads = s.int(&NUM_HEADS)?;
        let num_kv_heads = s.int_or(&NUM_KV_HEADS, num_heads)?;
        if num_heads % num_kv_heads != 0 {
            return Err(s.error(
                "num_kv_heads",
                format!("expected a divisor of num_heads ({num_heads}), got {num_kv_heads}"),
            ));
        }
        let head_dim = s.int_or(&HEAD_DIM, resolve::head_dim(hidden_dim, num_heads))?;
        let max_seq_len = s.int(&MAX_SEQ_LEN)?;
        let sliding_window = s.opt_int(&SLIDING_WINDOW)?;
        let num_sliding_layers = s.int(&NUM_SLIDING_LAYERS)?;
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
        let num_experts = s.opt_int(&NUM_EXPERTS)?;
        let experts_per_token = s.opt_int(&EXPERTS_PER_TOKEN)?;
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
        let vocab_size = s.opt_int(&VOCAB_SIZE)?;
        let tie_word_embeddings = s.flag(&TIE_WORD_EMBEDDINGS)?;
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
            name: s.text(&NAME)?,
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

    /// Layers that attend to the whole context.
    pub fn num_full_layers(&self) -> u64 {
        self.num_layers - self.num_sliding_layers
    }

    /// Bytes of K and V for one token in one layer.
    pub fn kv_bytes_per_token_per_layer(&self, bytes_per_param: u64) -> u64 {
        2 * self.num_kv_heads * self.head_dim * bytes_per_param
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

    /// Bytes of all weights at `bytes_per_param`.
    pub fn weight_bytes(&self, bytes_per_param: u64) -> u64 {
        self.num_parameters.saturating_mul(bytes_per_param)
    }
}
