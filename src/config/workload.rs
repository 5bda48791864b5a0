//! `[workload]`: how requests arrive and how long their prompts and outputs are.

use super::error::{with_hint, ConfigError};
use super::reader::Section;
use serde::Serialize;

/// How request arrival times are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalPattern {
    /// Exponential gaps with mean `1 / arrival_rate`.
    Poisson,
    /// Gaps uniform on `[0, 2 / arrival_rate]`.
    Uniform,
    /// Groups of `burst_size` requests at one instant; exponential gaps between
    /// groups with mean `burst_size / arrival_rate`.
    Burst,
    /// A gap of exactly `1 / arrival_rate`.
    FixedRate,
    /// `num_concurrent_users` users, each sending its next request when the last completes.
    ClosedLoop,
    /// `batch_size` requests at one instant, batches exactly `batch_size / arrival_rate` apart.
    Batched,
}

impl ArrivalPattern {
    /// Every pattern with its configuration name.
    pub const ALL: [(&'static str, ArrivalPattern); 6] = [
        ("poisson", ArrivalPattern::Poisson),
        ("uniform", ArrivalPattern::Uniform),
        ("burst", ArrivalPattern::Burst),
        ("fixed_rate", ArrivalPattern::FixedRate),
        ("closed_loop", ArrivalPattern::ClosedLoop),
        ("batched", ArrivalPattern::Batched),
    ];
}

/// A distribution of token counts. Samples are rounded and clamped to at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LengthDist {
    /// Always `value`.
    Fixed {
        /// The length.
        value: u64,
    },
    /// Integers uniform on `[min, max]`.
    Uniform {
        /// Smallest length.
        min: u64,
        /// Largest length.
        max: u64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean length.
        mean: f64,
        /// Standard deviation.
        std_dev: f64,
    },
    /// `exp(N(mean, std_dev))`: `mean` and `std_dev` belong to the underlying normal.
    Lognormal {
        /// Mean of the underlying normal (log space).
        mean: f64,
        /// Standard deviation of the underlying normal (log space).
        std_dev: f64,
    },
}

impl LengthDist {
    /// The distribution's mean before rounding and clamping.
    pub fn mean(&self) -> f64 {
        match *self {
            LengthDist::Fixed { value } => value as f64,
            LengthDist::Uniform { min, max } => (min + max) as f64 / 2.0,
            LengthDist::Normal { mean, .. } => mean,
            LengthDist::Lognormal { mean, std_dev } => libm::exp(mean + std_dev * std_dev / 2.0),
        }
    }

    /// The largest value the distribution can produce, if bounded.
    pub fn max(&self) -> Option<u64> {
        match *self {
            LengthDist::Fixed { value } => Some(value),
            LengthDist::Uniform { max, .. } => Some(max),
            _ => None,
        }
    }

    /// Reads a distribution table (`{ type = "...", ... }`) at `s`; `floor` is
    /// the smallest value a fixed or uniform distribution may name.
    pub(crate) fn parse(s: &Section<'_>, floor: u64) -> Result<Self, ConfigError> {
        let kind = s.choice(
            "type",
            &[
                ("fixed", 0),
                ("uniform", 1),
                ("normal", 2),
                ("lognormal", 3),
            ],
            None,
        )?;
        let fields: &[&str] = match kind {
            0 => &["type", "value"],
            1 => &["type", "min", "max"],
            _ => &["type", "mean", "std_dev"],
        };
        if let Some(key) = s.unknown_key(fields) {
            let message = format!(
                "unknown field '{key}' for this distribution (expected {})",
                fields[1..].join(", ")
            );
            return Err(s.error(key, with_hint(message, key, fields)));
        }
        let std_dev = || -> Result<f64, ConfigError> {
            let v: f64 = s.req("std_dev")?;
            if v < 0.0 {
                return Err(s.error(
                    "std_dev",
                    format!("expected a number of at least 0, got {v}"),
                ));
            }
            Ok(v)
        };
        Ok(match kind {
            0 => LengthDist::Fixed {
                value: s.int_at_least("value", floor, None)?,
            },
            1 => {
                let min = s.int_at_least("min", floor, None)?;
                let max = s.int_at_least("max", floor, None)?;
                if min > max {
                    return Err(s.error("min", format!("expected min <= max ({max}), got {min}")));
                }
                LengthDist::Uniform { min, max }
            }
            2 => LengthDist::Normal {
                mean: s.req("mean")?,
                std_dev: std_dev()?,
            },
            _ => LengthDist::Lognormal {
                mean: s.req("mean")?,
                std_dev: std_dev()?,
            },
        })
    }
}

/// What stops new arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArrivalLimit {
    /// Stop after this many arrivals.
    pub num_requests: Option<u64>,
    /// Stop arrivals after this simulated time (seconds).
    pub duration_secs: Option<f64>,
}

/// The traffic offered to the server, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadConfig {
    /// How arrivals are spaced.
    pub arrival_pattern: ArrivalPattern,
    /// Mean requests per second (unused by closed loop).
    pub arrival_rate: f64,
    /// Stop after this many arrivals (in dataset mode: after this many lines).
    pub num_requests: Option<u64>,
    /// Stop arrivals after this many simulated seconds.
    pub duration_secs: Option<f64>,
    /// Closed loop: the number of users.
    pub num_concurrent_users: Option<u64>,
    /// Seed of every random choice of the run.
    pub seed: u64,
    /// Prompt lengths (synthetic mode).
    pub input_len_dist: Option<LengthDist>,
    /// Output lengths.
    pub output_len_dist: Option<LengthDist>,
    /// Request priorities for the `priority` policy (lower runs first); all 0 when absent.
    pub priority_dist: Option<LengthDist>,
    /// JSONL dataset of prompts (dataset mode), as written in the config; the
    /// command line resolves a relative path against the config file's directory.
    pub dataset_path: Option<String>,
    /// Requests per group of the `burst` pattern.
    pub burst_size: u64,
    /// Requests per batch of the `batched` pattern.
    pub batch_size: u64,
}

/// Default group size of the `burst` pattern.
pub const DEFAULT_BURST_SIZE: u64 = 10;
/// Default batch size of the `batched` pattern.
pub const DEFAULT_BATCH_SIZE: u64 = 32;

const FIELDS: &[&str] = &[
    "arrival_pattern",
    "arrival_rate",
    "num_requests",
    "duration_secs",
    "num_concurrent_users",
    "seed",
    "input_len_dist",
    "output_len_dist",
    "priority_dist",
    "dataset_path",
    "burst_size",
    "batch_size",
];

impl WorkloadConfig {
    /// Reads and validates a `[workload]` table.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        let arrival_pattern = s.choice("arrival_pattern", &ArrivalPattern::ALL, None)?;
        let closed_loop = arrival_pattern == ArrivalPattern::ClosedLoop;
        let arrival_rate = if closed_loop {
            s.opt_positive_float("arrival_rate")?.unwrap_or(1.0)
        } else {
            s.positive_float("arrival_rate")?
        };
        let num_requests = s.opt_int_at_least("num_requests", 1)?;
        let duration_secs = s.opt_positive_float("duration_secs")?;
        let num_concurrent_users = if closed_loop {
            Some(s.int_at_least("num_concurrent_users", 1, None)?)
        } else {
            s.opt_int_at_least("num_concurrent_users", 1)?
        };
        let dataset_path: Option<String> = s.opt("dataset_path")?;
        // A dataset ends when its prompts run out; synthetic traffic needs a limit.
        if dataset_path.is_none() && num_requests.is_none() && duration_secs.is_none() {
            return Err(s.error(
                "num_requests",
                "missing: set num_requests or duration_secs (or both) so the run ends",
            ));
        }
        let dist = |key: &str, floor: u64| -> Result<Option<LengthDist>, ConfigError> {
            s.table(key)?
                .map(|t| LengthDist::parse(&Section::open(t, s.field_path(key), s.source()), floor))
                .transpose()
        };
        let input_len_dist = dist("input_len_dist", 1)?;
        let output_len_dist = dist("output_len_dist", 1)?;
        if dataset_path.is_none() {
            for (key, d) in [
                ("input_len_dist", &input_len_dist),
                ("output_len_dist", &output_len_dist),
            ] {
                if d.is_none() {
                    return Err(s.error(
                        key,
                        "missing: synthetic workloads (no dataset_path) need both length distributions",
                    ));
                }
            }
        }
        Ok(Self {
            arrival_pattern,
            arrival_rate,
            num_requests,
            duration_secs,
            num_concurrent_users,
            seed: s.opt("seed")?.unwrap_or(42),
            input_len_dist,
            output_len_dist,
            priority_dist: dist("priority_dist", 0)?,
            dataset_path,
            burst_size: s.int_at_least("burst_size", 1, Some(DEFAULT_BURST_SIZE))?,
            batch_size: s.int_at_least("batch_size", 1, Some(DEFAULT_BATCH_SIZE))?,
        })
    }

    /// Field names a `[workload]` table may hold.
    pub(crate) fn fields() -> &'static [&'static str] {
        FIELDS
    }

    /// What stops new arrivals.
    pub fn limit(&self) -> ArrivalLimit {
        ArrivalLimit {
            num_requests: self.num_requests,
            duration_secs: self.duration_secs,
        }
    }
}

/// `[simulation]`: settings of the run itself that do not change its results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationConfig {
    /// Steps between verbose (`-v`) log lines.
    pub log_interval: u64,
}

impl SimulationConfig {
    /// Field names a `[simulation]` table may hold.
    pub(crate) fn fields() -> &'static [&'static str] {
        &["log_interval"]
    }

    /// Reads and validates a `[simulation]` table.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            log_interval: s.int_at_least("log_interval", 1, Some(100))?,
        })
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self { log_interval: 100 }
    }
}
