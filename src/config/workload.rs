//! `[workload]`: how requests arrive and how long their prompts and outputs are.

use super::error::ConfigError;
use super::fields::{choice_names, Field, FieldDefault, FieldKind, Variant};
use super::rate_schedule::{RateSchedule, RATE_SCHEDULE_KIND};
use super::reader::Section;
use super::sessions::{SessionsConfig, SESSIONS_FIELDS};
use super::shared_prefix::{SharedPrefixConfig, SHARED_PREFIX_FIELDS};
use super::trace::{TraceConfig, TRACE_FIELDS};
use serde::Serialize;
use toml::Table;

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
    /// Gamma-distributed gaps with mean `1 / arrival_rate` and coefficient of
    /// variation `arrival_cv` (1 is Poisson; above 1 is bursty).
    Gamma,
    /// Weibull-distributed gaps with mean `1 / arrival_rate` and coefficient
    /// of variation `arrival_cv`.
    Weibull,
    /// The arrival times of `workload.trace`.
    Trace,
}

impl ArrivalPattern {
    /// Every pattern with its configuration name.
    pub const ALL: [(&'static str, ArrivalPattern); 9] = [
        ("poisson", ArrivalPattern::Poisson),
        ("uniform", ArrivalPattern::Uniform),
        ("burst", ArrivalPattern::Burst),
        ("fixed_rate", ArrivalPattern::FixedRate),
        ("closed_loop", ArrivalPattern::ClosedLoop),
        ("batched", ArrivalPattern::Batched),
        ("gamma", ArrivalPattern::Gamma),
        ("weibull", ArrivalPattern::Weibull),
        ("trace", ArrivalPattern::Trace),
    ];

    /// Whether the gaps' coefficient of variation is a knob (`arrival_cv`).
    pub fn has_cv(self) -> bool {
        matches!(self, ArrivalPattern::Gamma | ArrivalPattern::Weibull)
    }
}

/// Smallest `arrival_cv` accepted.
pub const MIN_ARRIVAL_CV: f64 = 0.01;
/// Largest `arrival_cv` accepted.
pub const MAX_ARRIVAL_CV: f64 = 20.0;

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

    /// Reads a distribution table (`{ type = "...", ... }`) at `path`; `floor` is
    /// the smallest value a fixed or uniform distribution may name.
    pub(crate) fn parse(
        table: &Table,
        path: String,
        source: &str,
        floor: u64,
    ) -> Result<Self, ConfigError> {
        let (s, kind) = Section::tagged(
            table,
            path,
            source,
            &DIST_TYPE,
            LENGTH_DISTS,
            "distribution",
        )?;
        Ok(match kind {
            0 => LengthDist::Fixed {
                value: s.int_at_least(DIST_VALUE.name, floor, None)?,
            },
            1 => {
                let min = s.int_at_least(DIST_MIN.name, floor, None)?;
                let max = s.int_at_least(DIST_MAX.name, floor, None)?;
                if min > max {
                    return Err(s.error("min", format!("expected min <= max ({max}), got {min}")));
                }
                LengthDist::Uniform { min, max }
            }
            2 => LengthDist::Normal {
                mean: s.number(&DIST_MEAN)?,
                std_dev: s.non_negative(&DIST_STD_DEV)?,
            },
            _ => LengthDist::Lognormal {
                mean: s.number(&DIST_MEAN)?,
                std_dev: s.non_negative(&DIST_STD_DEV)?,
            },
        })
    }
}

pub(super) const DIST_TYPE: Field = Field::new("type", FieldKind::Text, "the distribution's kind");
const DIST_VALUE: Field = Field::new(
    "value",
    FieldKind::Integer { min: 0 },
    "the value (lengths: at least 1)",
);
const DIST_MIN: Field = Field::new(
    "min",
    FieldKind::Integer { min: 0 },
    "smallest value, at most max (lengths: at least 1)",
);
const DIST_MAX: Field = Field::new(
    "max",
    FieldKind::Integer { min: 0 },
    "largest value (lengths: at least 1)",
);
pub(super) const DIST_MEAN: Field = Field::new(
    "mean",
    FieldKind::Number {
        min: f64::MIN,
        max: f64::MAX,
    },
    "mean (lognormal: of the underlying normal, in log space)",
);
pub(super) const DIST_STD_DEV: Field = Field::new(
    "std_dev",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "standard deviation (lognormal: of the underlying normal, in log space)",
);

/// The kinds of a length distribution, in the order of [`LengthDist`]'s
/// variants: samples are rounded and clamped to at least 1.
const LENGTH_DISTS: &[Variant] = &[
    ("fixed", &[DIST_VALUE]),
    ("uniform", &[DIST_MIN, DIST_MAX]),
    ("normal", &[DIST_MEAN, DIST_STD_DEV]),
    ("lognormal", &[DIST_MEAN, DIST_STD_DEV]),
];

/// The shape of a length distribution in a field table.
pub(super) const DISTRIBUTION: FieldKind = FieldKind::Tagged(LENGTH_DISTS);

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
    /// Coefficient of variation of the gaps (`gamma` and `weibull` patterns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_cv: Option<f64>,
    /// A rate that changes over time (open-loop patterns); `arrival_rate`
    /// multiplies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_schedule: Option<RateSchedule>,
    /// Synthetic prompts that share system prompts (instead of `input_len_dist`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_prefix: Option<SharedPrefixConfig>,
    /// A trace to replay: its arrival times, lengths and shared content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceConfig>,
    /// Multi-turn conversations (instead of `input_len_dist`): sessions
    /// start by the arrival pattern, each turn's prompt is the conversation
    /// so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionsConfig>,
}

/// Default group size of the `burst` pattern.
pub const DEFAULT_BURST_SIZE: u64 = 10;
/// Default batch size of the `batched` pattern.
pub const DEFAULT_BATCH_SIZE: u64 = 32;

const ARRIVAL_PATTERN: Field = Field::new(
    "arrival_pattern",
    FieldKind::Choice(&ARRIVAL_PATTERN_NAMES),
    "how arrivals are spaced",
)
.default(FieldDefault::Depends(
    "required, except \"trace\" when workload.trace is set",
));
const ARRIVAL_RATE: Field = Field::new(
    "arrival_rate",
    FieldKind::Positive,
    "mean requests per second (multiplies a rate_schedule; unused by closed_loop and traces)",
)
.default(FieldDefault::Depends(
    "required for open-loop patterns without a rate_schedule; 1 otherwise",
))
.unit("requests/s");
const NUM_REQUESTS: Field = Field::new(
    "num_requests",
    FieldKind::Integer { min: 1 },
    "stop after this many arrivals (dataset: this many lines)",
)
.default(FieldDefault::Depends(
    "num_requests or duration_secs is required unless the prompts end by themselves (dataset, trace, piecewise schedule, sessions.num_sessions)",
))
.unit("requests");
const DURATION_SECS: Field = Field::new(
    "duration_secs",
    FieldKind::Positive,
    "stop arrivals after this much simulated time",
)
.default(FieldDefault::Absent)
.unit("s");
const NUM_CONCURRENT_USERS: Field = Field::new(
    "num_concurrent_users",
    FieldKind::Integer { min: 1 },
    "closed loop: users, each sending its next request when its last one completes",
)
.default(FieldDefault::Depends("required by closed_loop"))
.unit("users");
const SEED: Field = Field::new(
    "seed",
    FieldKind::Integer { min: 0 },
    "seed of every random choice of the run",
)
.default(FieldDefault::Integer(42));
const INPUT_LEN_DIST: Field = Field::new(
    "input_len_dist",
    DISTRIBUTION,
    "prompt lengths of synthetic requests",
)
.default(FieldDefault::Depends(
    "required unless dataset_path, shared_prefix, trace or sessions gives the prompts",
))
.unit("tokens");
const OUTPUT_LEN_DIST: Field = Field::new("output_len_dist", DISTRIBUTION, "output lengths")
    .default(FieldDefault::Depends(
        "required for synthetic, shared_prefix and sessions prompts; refused with a trace",
    ))
    .unit("tokens");
const PRIORITY_DIST: Field = Field::new(
    "priority_dist",
    DISTRIBUTION,
    "request priorities for the priority policy (lower runs first); all 0 when absent",
)
.default(FieldDefault::Absent);
const DATASET_PATH: Field = Field::new(
    "dataset_path",
    FieldKind::Path,
    "JSONL dataset of prompts (needs --tokenizer and --chat-template)",
)
.default(FieldDefault::Absent);
const BURST_SIZE: Field = Field::new(
    "burst_size",
    FieldKind::Integer { min: 1 },
    "requests per group of the burst pattern",
)
.default(FieldDefault::Integer(DEFAULT_BURST_SIZE))
.unit("requests");
const BATCH_SIZE: Field = Field::new(
    "batch_size",
    FieldKind::Integer { min: 1 },
    "requests per batch of the batched pattern",
)
.default(FieldDefault::Integer(DEFAULT_BATCH_SIZE))
.unit("requests");
const ARRIVAL_CV: Field = Field::new(
    "arrival_cv",
    FieldKind::Number {
        min: MIN_ARRIVAL_CV,
        max: MAX_ARRIVAL_CV,
    },
    "coefficient of variation of the gaps (1 is Poisson; above 1 is bursty)",
)
.default(FieldDefault::Depends(
    "required by gamma and weibull, refused by the others",
));
const RATE_SCHEDULE: Field = Field::new(
    "rate_schedule",
    RATE_SCHEDULE_KIND,
    "a rate that changes over time (open-loop patterns): [[workload.rate_schedule]] pieces with until_secs and rate, or { type = \"sine\", mean, amplitude, period_secs, phase_secs }; arrival_rate multiplies it",
)
.default(FieldDefault::Absent);
const SHARED_PREFIX: Field = Field::new(
    "shared_prefix",
    FieldKind::Table(SHARED_PREFIX_FIELDS),
    "synthetic prompts in groups that share a system prompt (instead of input_len_dist)",
)
.default(FieldDefault::Absent);
const TRACE: Field = Field::new(
    "trace",
    FieldKind::Table(TRACE_FIELDS),
    "a recorded trace to replay: its arrival times, lengths and shared content",
)
.default(FieldDefault::Absent);
const SESSIONS: Field = Field::new(
    "sessions",
    FieldKind::Table(SESSIONS_FIELDS),
    "multi-turn conversations (instead of input_len_dist): each turn's prompt is the conversation so far",
)
.default(FieldDefault::Absent);

/// The `[workload]` fields.
pub const FIELDS: &[Field] = &[
    ARRIVAL_PATTERN,
    ARRIVAL_RATE,
    NUM_REQUESTS,
    DURATION_SECS,
    NUM_CONCURRENT_USERS,
    SEED,
    INPUT_LEN_DIST,
    OUTPUT_LEN_DIST,
    PRIORITY_DIST,
    DATASET_PATH,
    BURST_SIZE,
    BATCH_SIZE,
    ARRIVAL_CV,
    RATE_SCHEDULE,
    SHARED_PREFIX,
    TRACE,
    SESSIONS,
];

const ARRIVAL_PATTERN_NAMES: [&str; ArrivalPattern::ALL.len()] = choice_names(ArrivalPattern::ALL);

/// Where prompts come from; a workload has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Lengths from `input_len_dist`, content unique to each request.
    Lengths,
    /// `dataset_path`.
    Dataset,
    /// `[workload.shared_prefix]`.
    SharedPrefix,
    /// `workload.trace`.
    Trace,
    /// `[workload.sessions]`.
    Sessions,
}

impl Source {
    /// Every source with the field that selects it.
    const ALL: [(&'static str, Source); 5] = [
        ("input_len_dist", Source::Lengths),
        ("dataset_path", Source::Dataset),
        ("shared_prefix", Source::SharedPrefix),
        ("trace", Source::Trace),
        ("sessions", Source::Sessions),
    ];

    /// The source `s` names; an error when it names more than one.
    fn of(s: &Section<'_>) -> Result<Option<Self>, ConfigError> {
        let given: Vec<(&str, Source)> = Self::ALL
            .into_iter()
            .filter(|(key, _)| s.raw(key).is_some())
            .collect();
        match given[..] {
            [] => Ok(None),
            [(_, source)] => Ok(Some(source)),
            [(first, _), (second, _), ..] => Err(s.error(
                second,
                format!(
                    "cannot be combined with workload.{first}: a workload takes its prompts from one of {}",
                    Self::ALL.map(|(k, _)| k).join(", ")
                ),
            )),
        }
    }
}

impl WorkloadConfig {
    /// Reads and validates a `[workload]` table.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        let source = Source::of(s)?;
        let trace = s
            .sub_section("trace")?
            .map(|t| TraceConfig::parse(&t))
            .transpose()?;
        let sessions = s
            .sub_section("sessions")?
            .map(|t| SessionsConfig::parse(&t))
            .transpose()?;
        let default_pattern = trace.as_ref().map(|_| ArrivalPattern::Trace);
        let arrival_pattern =
            s.choice(ARRIVAL_PATTERN.name, &ArrivalPattern::ALL, default_pattern)?;
        check_trace_pattern(s, arrival_pattern, trace.is_some())?;
        let closed_loop = arrival_pattern == ArrivalPattern::ClosedLoop;
        let rate_schedule = s
            .raw("rate_schedule")
            .map(|v| RateSchedule::parse(s, "rate_schedule", v))
            .transpose()?;
        if rate_schedule.is_some()
            && matches!(
                arrival_pattern,
                ArrivalPattern::ClosedLoop | ArrivalPattern::Trace
            )
        {
            return Err(s.error(
                "rate_schedule",
                "a rate schedule shapes open-loop arrivals: it cannot be used with closed_loop or a trace (scale a trace with workload.trace.time_scale)",
            ));
        }
        let arrival_rate = if arrival_pattern == ArrivalPattern::Trace {
            if s.raw("arrival_rate").is_some() {
                return Err(s.error(
                    "arrival_rate",
                    "a trace gives the arrival times: leave arrival_rate out and scale the trace with workload.trace.time_scale",
                ));
            }
            1.0
        } else if closed_loop || rate_schedule.is_some() {
            s.opt_positive_float("arrival_rate")?.unwrap_or(1.0)
        } else {
            s.positive_float("arrival_rate")?
        };
        let arrival_cv = parse_cv(s, arrival_pattern)?;
        let num_requests = s.opt_int(&NUM_REQUESTS)?;
        let duration_secs = s.opt_positive(&DURATION_SECS)?;
        let num_concurrent_users = if closed_loop {
            Some(s.int(&NUM_CONCURRENT_USERS)?)
        } else {
            s.opt_int(&NUM_CONCURRENT_USERS)?
        };
        let dataset_path: Option<String> = s.opt("dataset_path")?;
        // Datasets and traces end when their requests run out, and a
        // piecewise schedule with its last piece; anything else needs a limit.
        let ends_by_itself = matches!(source, Some(Source::Dataset | Source::Trace))
            || sessions.is_some_and(|c| c.num_sessions.is_some())
            || rate_schedule
                .as_ref()
                .is_some_and(|r| r.end_secs().is_some());
        if !ends_by_itself && num_requests.is_none() && duration_secs.is_none() {
            return Err(s.error(
                "num_requests",
                "missing: set num_requests or duration_secs (or both) so the run ends",
            ));
        }
        let dist = |key: &str, floor: u64| -> Result<Option<LengthDist>, ConfigError> {
            s.table(key)?
                .map(|t| LengthDist::parse(t, s.field_path(key), s.source(), floor))
                .transpose()
        };
        let input_len_dist = dist("input_len_dist", 1)?;
        let output_len_dist = dist("output_len_dist", 1)?;
        match source {
            None | Some(Source::Lengths) => {
                for (key, d) in [
                    ("input_len_dist", &input_len_dist),
                    ("output_len_dist", &output_len_dist),
                ] {
                    if d.is_none() {
                        return Err(s.error(
                            key,
                            "missing: synthetic workloads (no dataset_path, shared_prefix, trace or sessions) need both length distributions",
                        ));
                    }
                }
            }
            Some(source @ (Source::SharedPrefix | Source::Sessions))
                if output_len_dist.is_none() =>
            {
                let name = Source::ALL
                    .iter()
                    .find(|(_, s)| *s == source)
                    .map_or("", |(n, _)| n);
                return Err(s.error(
                    "output_len_dist",
                    format!("missing: a {name} workload samples its output lengths from output_len_dist"),
                ));
            }
            Some(Source::Trace) if output_len_dist.is_some() => {
                return Err(s.error(
                    "output_len_dist",
                    "a trace gives every request's output length: leave output_len_dist out",
                ));
            }
            Some(_) => {}
        }
        let shared_prefix = s
            .sub_section("shared_prefix")?
            .map(|t| SharedPrefixConfig::parse(&t))
            .transpose()?;
        Ok(Self {
            arrival_pattern,
            arrival_rate,
            num_requests,
            duration_secs,
            num_concurrent_users,
            seed: s.int(&SEED)?,
            input_len_dist,
            output_len_dist,
            priority_dist: dist("priority_dist", 0)?,
            dataset_path,
            burst_size: s.int(&BURST_SIZE)?,
            batch_size: s.int(&BATCH_SIZE)?,
            arrival_cv,
            rate_schedule,
            shared_prefix,
            trace,
            sessions,
        })
    }

    /// What stops new arrivals.
    pub fn limit(&self) -> ArrivalLimit {
        ArrivalLimit {
            num_requests: self.num_requests,
            duration_secs: self.duration_secs,
        }
    }
}

/// A trace brings its own arrival times; the `trace` pattern needs a trace.
fn check_trace_pattern(
    s: &Section<'_>,
    pattern: ArrivalPattern,
    has_trace: bool,
) -> Result<(), ConfigError> {
    match (pattern == ArrivalPattern::Trace, has_trace) {
        (true, false) => Err(s.error(
            "arrival_pattern",
            "\"trace\" replays workload.trace, which is not set",
        )),
        (false, true) => Err(s.error(
            "arrival_pattern",
            "a trace gives the arrival times: leave arrival_pattern out (or set it to \"trace\")",
        )),
        _ => Ok(()),
    }
}

/// `arrival_cv`: required by the patterns that have one, refused by the others.
fn parse_cv(s: &Section<'_>, pattern: ArrivalPattern) -> Result<Option<f64>, ConfigError> {
    if !pattern.has_cv() {
        if s.raw("arrival_cv").is_some() {
            return Err(s.error(
                "arrival_cv",
                "only the gamma and weibull arrival patterns have a coefficient of variation",
            ));
        }
        return Ok(None);
    }
    let cv = s.positive_float("arrival_cv")?;
    if !(MIN_ARRIVAL_CV..=MAX_ARRIVAL_CV).contains(&cv) {
        return Err(s.error(
            "arrival_cv",
            format!("expected a number from {MIN_ARRIVAL_CV} to {MAX_ARRIVAL_CV} (1 is Poisson), got {cv}"),
        ));
    }
    Ok(Some(cv))
}

/// `[simulation]`: settings of the run itself that do not change its results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationConfig {
    /// Steps between verbose (`-v`) log lines.
    pub log_interval: u64,
}

const LOG_INTERVAL: Field = Field::new(
    "log_interval",
    FieldKind::Integer { min: 1 },
    "steps between verbose (-v) log lines",
)
.default(FieldDefault::Integer(100))
.unit("steps");

/// The `[simulation]` fields.
pub const SIMULATION_FIELDS: &[Field] = &[LOG_INTERVAL];

impl SimulationConfig {
    /// Reads and validates a `[simulation]` table.
    pub(crate) fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            log_interval: s.int(&LOG_INTERVAL)?,
        })
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            log_interval: LOG_INTERVAL.default_integer().unwrap_or(1),
        }
    }
}
