//! `[workload.sessions]`: multi-turn conversations. Sessions start by the
//! arrival pattern; each then runs closed-loop, its next turn sent a think
//! time after the response to the last one, with the whole conversation so
//! far as its prompt.

use super::error::ConfigError;
use super::reader::Section;
use super::workload::LengthDist;
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

impl DurationDist {
    /// Every distribution's `type` name with its fields.
    const VARIANTS: &'static [(&'static str, &'static [&'static str])] = &[
        ("fixed", &["value"]),
        ("uniform", &["min", "max"]),
        ("exponential", &["mean"]),
        ("normal", &["mean", "std_dev"]),
        ("lognormal", &["mean", "std_dev"]),
    ];

    /// Reads a distribution table (`{ type = "...", ... }`) at `s`.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        let secs = |key: &str| s.non_negative_float(key, None);
        let std_dev = || s.non_negative_float("std_dev", None);
        Ok(match s.variant(Self::VARIANTS)? {
            "fixed" => DurationDist::Fixed {
                value: secs("value")?,
            },
            "uniform" => {
                let (min, max) = (secs("min")?, secs("max")?);
                if min > max {
                    return Err(s.error("min", format!("expected min <= max ({max}), got {min}")));
                }
                DurationDist::Uniform { min, max }
            }
            "exponential" => DurationDist::Exponential {
                mean: secs("mean")?,
            },
            "normal" => DurationDist::Normal {
                mean: s.req("mean")?,
                std_dev: std_dev()?,
            },
            _ => DurationDist::Lognormal {
                mean: s.req("mean")?,
                std_dev: std_dev()?,
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

impl SessionsConfig {
    /// Field names the table may hold.
    const FIELDS: &'static [&'static str] = &[
        "turns_dist",
        "think_time_dist",
        "user_len_dist",
        "system_prompt_len",
        "num_sessions",
    ];

    /// Reads and validates the table at `s`.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        s.check_fields(Self::FIELDS)?;
        let table = |key: &str| {
            s.sub_section(key)?.ok_or_else(|| {
                s.error(
                    key,
                    "missing required field (expected a distribution table such as { type = \"fixed\", value = 4 })",
                )
            })
        };
        let system_prompt_len = s.int_at_least("system_prompt_len", 0, Some(0))?;
        if system_prompt_len > MAX_SYSTEM_PROMPT_LEN {
            return Err(s.error(
                "system_prompt_len",
                format!("expected at most {MAX_SYSTEM_PROMPT_LEN} tokens, got {system_prompt_len}"),
            ));
        }
        Ok(Self {
            turns_dist: LengthDist::parse(&table("turns_dist")?, 1)?,
            think_time_dist: DurationDist::parse(&table("think_time_dist")?)?,
            user_len_dist: LengthDist::parse(&table("user_len_dist")?, 1)?,
            system_prompt_len,
            num_sessions: s.opt_int_at_least("num_sessions", 1)?,
        })
    }
}
