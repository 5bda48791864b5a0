//! `[workload.shared_prefix]`: groups of synthetic prompts that share a
//! system prompt, in the shape of the llm-d benchmark harness's
//! (inference-perf) `shared_prefix` data.

use super::error::ConfigError;
use super::fields::{choice_names, names, Field, FieldDefault, FieldKind};
use super::reader::Section;
use serde::Serialize;

/// In which order the prompts are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptOrder {
    /// The harness's order: the groups x prompts shuffled once, then sent in
    /// that order, over and over.
    Cycle,
    /// Each request picks one of the prompts uniformly at random.
    Random,
}

impl PromptOrder {
    /// Every order with its configuration name.
    pub const ALL: [(&'static str, PromptOrder); 2] = [
        ("cycle", PromptOrder::Cycle),
        ("random", PromptOrder::Random),
    ];
}

/// Most distinct prompts a shared-prefix workload may have.
pub const MAX_SHARED_PROMPTS: u64 = 1_000_000;
/// Most tokens the distinct prompts may have together (their block hashes
/// are computed once, before the run).
pub const MAX_SHARED_PROMPT_TOKENS: u64 = 100_000_000;

/// `num_groups x prompts_per_group` distinct prompts: every prompt of a group
/// starts with the group's `system_prompt_len`-token system prompt, followed
/// by its own `question_len`-token question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SharedPrefixConfig {
    /// Groups of prompts (one system prompt each).
    pub num_groups: u64,
    /// Distinct prompts per group.
    pub prompts_per_group: u64,
    /// Order in which prompts are sent.
    pub order: PromptOrder,
    /// Tokens of each group's system prompt.
    pub system_prompt_len: u64,
    /// Tokens of each prompt after its system prompt.
    pub question_len: u64,
}

const NUM_GROUPS: Field = Field::new(
    "num_groups",
    FieldKind::Integer { min: 1 },
    "groups of prompts; the prompts of a group start with the same system prompt",
);
const PROMPTS_PER_GROUP: Field = Field::new(
    "prompts_per_group",
    FieldKind::Integer { min: 1 },
    "distinct prompts per group",
);
const ORDER: Field = Field::new(
    "order",
    FieldKind::Choice(&ORDER_NAMES),
    "cycle: the groups x prompts shuffled once, then sent in turn (the llm-d harness); random: each request picks a prompt",
)
.default(FieldDefault::Name("cycle"));
const SYSTEM_PROMPT_LEN: Field = Field::new(
    "system_prompt_len",
    FieldKind::Integer { min: 0 },
    "tokens shared inside a group",
)
.unit("tokens");
const QUESTION_LEN: Field = Field::new(
    "question_len",
    FieldKind::Integer { min: 0 },
    "tokens of each prompt after its system prompt",
)
.unit("tokens");

/// The `[workload.shared_prefix]` fields.
pub const SHARED_PREFIX_FIELDS: &[Field] = &[
    NUM_GROUPS,
    PROMPTS_PER_GROUP,
    ORDER,
    SYSTEM_PROMPT_LEN,
    QUESTION_LEN,
];

const ORDER_NAMES: [&str; PromptOrder::ALL.len()] = choice_names(PromptOrder::ALL);

impl SharedPrefixConfig {
    /// Distinct prompts.
    pub fn num_prompts(&self) -> u64 {
        self.num_groups * self.prompts_per_group
    }

    /// Tokens of every prompt.
    pub fn prompt_len(&self) -> u64 {
        self.system_prompt_len + self.question_len
    }

    /// Reads and validates the table at `s`.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        s.check_fields(&names(SHARED_PREFIX_FIELDS))?;
        let config = Self {
            num_groups: s.int(&NUM_GROUPS)?,
            prompts_per_group: s.int(&PROMPTS_PER_GROUP)?,
            order: s.pick(&ORDER, &PromptOrder::ALL)?,
            system_prompt_len: s.int(&SYSTEM_PROMPT_LEN)?,
            question_len: s.int(&QUESTION_LEN)?,
        };
        if config.prompt_len() == 0 {
            return Err(s.error(
                "question_len",
                "expected system_prompt_len + question_len of at least 1 token, got 0",
            ));
        }
        let prompts = config.num_groups.saturating_mul(config.prompts_per_group);
        if prompts > MAX_SHARED_PROMPTS {
            return Err(s.error(
                "prompts_per_group",
                format!("num_groups x prompts_per_group is {prompts}, more than the {MAX_SHARED_PROMPTS} distinct prompts allowed"),
            ));
        }
        let tokens = prompts.saturating_mul(config.prompt_len());
        if tokens > MAX_SHARED_PROMPT_TOKENS || config.prompt_len() > u64::from(u32::MAX) {
            return Err(s.error(
                "question_len",
                format!("the {prompts} distinct prompts have {tokens} tokens together, more than the {MAX_SHARED_PROMPT_TOKENS} allowed"),
            ));
        }
        Ok(config)
    }
}
