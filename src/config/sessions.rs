//! `[workload.sessions]`: multi-turn conversations. Sessions start by the
//! arrival pattern; each then runs closed-loop, its next turn sent a think
//! time after the response to the last one, with the whole conversation so
//! far as its prompt.

use super::error::ConfigError;
use super::fields::{names, Field, FieldDefault, FieldKind, Variant};
use super::reader::Section;
use super::workload::{LengthDist, DISTRIBUTION, DIST_MEAN, DIST_STD_DEV, DIST_TYPE};
use serde::Serialize;

/// A distribution of durations in seconds. Samples are clamped to at least 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DurationDist {
    /// Always `value` seconds.
    Fixed {
        /// The duration.
        value: f64,
    },
    /// Uniform on `[min, max]` seconds.
    Uniform {
        /// Shortest duration.
        min: f64,
        /// Longest duration.
        max: f64,
    },
    /// Exponential with mean `mean` seconds (memoryless think times).
    Exponential {
        /// Mean duration.
        mean: f64,
    },
    /// Normal with the given mean and standard deviation (seconds).
    Normal {
        /// Mean duration.
        mean: f64,
        /// Standard deviation.
        std_dev: f64,
    },
    /// `exp(N(mean, std_dev))` seconds: `mean` and `std_dev` belong to the
    /// underlying normal, as for [`LengthDist::Lognormal`].
    Lognormal {
        /// Mean of the underlying normal (log space).
        mean: f64,
        /// Standard deviation of the underlying normal (log space).
        std_dev: f64,
    },
}

/// A duration in seconds, at least 0.
const fn secs(name: &'static str, doc: &'static str) -> Field {
    Field::new(
        name,
        FieldKind::Number {
            min: 0.0,
            max: f64::MAX,
        },
        doc,
    )
    .unit("s")
}
const SECS_VALUE: Field = secs("value", "the duration");
const SECS_MIN: Field = secs("min", "shortest duration, at most max");
const SECS_MAX: Field = secs("max", "longest duration");
const SECS_MEAN: Field = secs("mean", "mean duration");

/// Every duration distribution with its fields.
const DURATION_DISTS: &[Variant] = &[
    ("fixed", &[SECS_VALUE]),
    ("uniform", &[SECS_MIN, SECS_MAX]),
    ("exponential", &[SECS_MEAN]),
    ("normal", &[DIST_MEAN, DIST_STD_DEV]),
    ("lognormal", &[DIST_MEAN, DIST_STD_DEV]),
];

impl DurationDist {
    /// Reads a distribution table (`{ type = "...", ... }`) at `key` of `s`.
    fn parse(s: &Section<'_>, key: &str) -> Result<Self, ConfigError> {
        let table = s.table(key)?.ok_or_else(|| {
            s.error(
                key,
                "missing required field (expected a distribution table such as { type = \"fixed\", value = 4 })",
            )
        })?;
        let (s, kind) = Section::tagged(
            table,
            s.field_path(key),
            s.source(),
            &DIST_TYPE,
            DURATION_DISTS,
            "distribution",
        )?;
        Ok(match kind {
            0 => DurationDist::Fixed {
                value: s.non_negative(&SECS_VALUE)?,
            },
            1 => {
                let (min, max) = (s.non_negative(&SECS_MIN)?, s.non_negative(&SECS_MAX)?);
                if min > max {
                    return Err(s.error("min", format!("expected min <= max ({max}), got {min}")));
                }
                DurationDist::Uniform { min, max }
            }
            2 => DurationDist::Exponential {
                mean: s.non_negative(&SECS_MEAN)?,
            },
            3 => DurationDist::Normal {
                mean: s.number(&DIST_MEAN)?,
                std_dev: s.non_negative(&DIST_STD_DEV)?,
            },
            _ => DurationDist::Lognormal {
                mean: s.number(&DIST_MEAN)?,
                std_dev: s.non_negative(&DIST_STD_DEV)?,
            },
        })
    }
}

/// Most tokens of the system prompt every conversation starts with.
pub const MAX_SYSTEM_PROMPT_LEN: u64 = u32::MAX as u64;

/// Conversations: how many turns a session has, how long its user thinks
/// between a response and the next turn, and how many new tokens each turn
/// adds. Output lengths come from `workload.output_len_dist`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SessionsConfig {
    /// Turns (requests) per session, at least 1.
    pub turns_dist: LengthDist,
    /// Seconds from a turn's response to the session's next turn.
    pub think_time_dist: DurationDist,
    /// New user tokens of each turn's message.
    pub user_len_dist: LengthDist,
    /// Tokens every conversation starts with, the same in every session (a
    /// shared system prompt); 0 for none.
    pub system_prompt_len: u64,
    /// Start at most this many sessions (unbounded when absent: the run then
    /// needs `num_requests` or `duration_secs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_sessions: Option<u64>,
}

const TURNS_DIST: Field =
    Field::new("turns_dist", DISTRIBUTION, "turns (requests) per session").unit("turns");
const THINK_TIME_DIST: Field = Field::new(
    "think_time_dist",
    FieldKind::Tagged(DURATION_DISTS),
    "time from a turn's response to the session's next turn",
)
.unit("s");
const USER_LEN_DIST: Field = Field::new(
    "user_len_dist",
    DISTRIBUTION,
    "tokens of each turn's new user message",
)
.unit("tokens");
const SYSTEM_PROMPT_LEN: Field = Field::new(
    "system_prompt_len",
    FieldKind::Integer { min: 0 },
    "tokens every conversation starts with, shared by all sessions",
)
.default(FieldDefault::Integer(0))
.unit("tokens");
const NUM_SESSIONS: Field = Field::new(
    "num_sessions",
    FieldKind::Integer { min: 1 },
    "start at most this many sessions (without it the run needs num_requests or duration_secs)",
)
.default(FieldDefault::Absent)
.unit("sessions");

/// The `[workload.sessions]` fields.
pub const SESSIONS_FIELDS: &[Field] = &[
    TURNS_DIST,
    THINK_TIME_DIST,
    USER_LEN_DIST,
    SYSTEM_PROMPT_LEN,
    NUM_SESSIONS,
];

impl SessionsConfig {
    /// Reads and validates the table at `s`.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        s.check_fields(&names(SESSIONS_FIELDS))?;
        let length = |f: &Field| {
            let table = s.table(f.name)?.ok_or_else(|| {
                s.error(
                    f.name,
                    "missing required field (expected a distribution table such as { type = \"fixed\", value = 4 })",
                )
            })?;
            LengthDist::parse(table, s.field_path(f.name), s.source(), 1)
        };
        let system_prompt_len = s.int(&SYSTEM_PROMPT_LEN)?;
        if system_prompt_len > MAX_SYSTEM_PROMPT_LEN {
            return Err(s.error(
                SYSTEM_PROMPT_LEN.name,
                format!("expected at most {MAX_SYSTEM_PROMPT_LEN} tokens, got {system_prompt_len}"),
            ));
        }
        Ok(Self {
            turns_dist: length(&TURNS_DIST)?,
            think_time_dist: DurationDist::parse(s, THINK_TIME_DIST.name)?,
            user_len_dist: length(&USER_LEN_DIST)?,
            system_prompt_len,
            num_sessions: s.opt_int(&NUM_SESSIONS)?,
        })
    }
}
