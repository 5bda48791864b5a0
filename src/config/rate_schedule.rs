//! `workload.rate_schedule`: an arrival rate that changes over time, as
//! piecewise-constant levels or a sine (a daily cycle).
//!
//! The schedule gives the shape of the rate; `workload.arrival_rate`
//! multiplies it (and defaults to 1 when a schedule is given, so the
//! schedule's rates are requests/s as written). A capacity search over
//! `workload.arrival_rate` therefore scales the whole schedule.

use super::error::ConfigError;
use super::fields::{Field, FieldDefault, FieldKind, Variant};
use super::reader::{describe, Section};
use serde::Serialize;
use toml::Value;

const UNTIL_SECS: Field = Field::new(
    "until_secs",
    FieldKind::Positive,
    "end of the piece; it starts where the previous one ends (or at 0)",
)
.unit("s");
const RATE: Field = Field::new(
    "rate",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "requests/s during the piece, times workload.arrival_rate; 0 is a pause",
)
.unit("requests/s");
const TYPE: Field = Field::new("type", FieldKind::Text, "the schedule's kind");
const MEAN: Field = Field::new(
    "mean",
    FieldKind::Positive,
    "mean rate, times workload.arrival_rate",
)
.unit("requests/s");
const AMPLITUDE: Field = Field::new(
    "amplitude",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "swing around the mean, at most the mean",
)
.unit("requests/s");
const PERIOD_SECS: Field = Field::new(
    "period_secs",
    FieldKind::Positive,
    "length of one cycle (86400 for a day)",
)
.unit("s");
const PHASE_SECS: Field = Field::new(
    "phase_secs",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "shift of the cycle: the rate at t = 0 is the rate at phase_secs of the cycle",
)
.default(FieldDefault::Number(0.0))
.unit("s");

/// The fields of one piece of a piecewise schedule.
const PIECE_FIELDS: &[Field] = &[UNTIL_SECS, RATE];
/// The fields of a sine schedule (its `type` is `"sine"`).
const SINE_FIELDS: &[Field] = &[MEAN, AMPLITUDE, PERIOD_SECS, PHASE_SECS];
/// The single-table schedules.
const VARIANTS: &[Variant] = &[("sine", SINE_FIELDS)];

/// The shape of `workload.rate_schedule` in a field table.
pub(crate) const RATE_SCHEDULE_KIND: FieldKind = FieldKind::ListOrTagged {
    items: PIECE_FIELDS,
    tagged: VARIANTS,
};

/// One level of a piecewise schedule: `rate` until `until_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatePiece {
    /// End of the piece (simulated seconds); it starts where the previous ends (or at 0).
    pub until_secs: f64,
    /// Requests/s during the piece (times `workload.arrival_rate`); 0 is a pause.
    pub rate: f64,
}

/// How the arrival rate changes over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RateSchedule {
    /// Constant levels one after another; arrivals end with the last piece.
    Piecewise {
        /// The levels, in time order.
        pieces: Vec<RatePiece>,
    },
    /// `mean + amplitude * sin(2 pi (t + phase_secs) / period_secs)`, forever.
    Sine {
        /// Mean rate (requests/s, times `workload.arrival_rate`).
        mean: f64,
        /// Swing around the mean; at most `mean`, so the rate never goes below 0.
        amplitude: f64,
        /// Length of one cycle (86400 for a day).
        period_secs: f64,
        /// Shift of the cycle: the rate at t = 0 is the rate at `phase_secs` of the cycle.
        phase_secs: f64,
    },
}

impl RateSchedule {
    /// The time at which arrivals end (the last piece's `until_secs`), if any.
    pub fn end_secs(&self) -> Option<f64> {
        match self {
            RateSchedule::Piecewise { pieces } => pieces.last().map(|p| p.until_secs),
            RateSchedule::Sine { .. } => None,
        }
    }

    /// Reads `workload.rate_schedule` (`value`), at `s.field_path(key)`: an
    /// array of `{ until_secs, rate }` tables or a `{ type = "sine", ... }` table.
    pub(crate) fn parse(s: &Section<'_>, key: &str, value: &Value) -> Result<Self, ConfigError> {
        let path = s.field_path(key);
        match value {
            Value::Array(items) => Self::parse_pieces(s, &path, items),
            Value::Table(t) => {
                let (t, _) = Section::tagged(t, path, s.source(), &TYPE, VARIANTS, "schedule")?;
                let mean = t.positive(&MEAN)?;
                let amplitude = t.non_negative(&AMPLITUDE)?;
                if amplitude > mean {
                    return Err(t.error(
                        "amplitude",
                        format!("expected at most mean ({mean}), so the rate never goes below 0, got {amplitude}"),
                    ));
                }
                Ok(RateSchedule::Sine {
                    mean,
                    amplitude,
                    period_secs: t.positive(&PERIOD_SECS)?,
                    phase_secs: t.non_negative(&PHASE_SECS)?,
                })
            }
            other => Err(s.error(
                key,
                format!(
                    "expected an array of {{ until_secs, rate }} tables or a {{ type = \"sine\", mean, amplitude, period_secs }} table, got {}",
                    describe(other)
                ),
            )),
        }
    }

    fn parse_pieces(s: &Section<'_>, path: &str, items: &[Value]) -> Result<Self, ConfigError> {
        if items.is_empty() {
            return Err(ConfigError::new(
                s.source(),
                path,
                "expected at least one { until_secs, rate } piece",
            ));
        }
        let mut pieces: Vec<RatePiece> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Value::Table(t) = item else {
                return Err(ConfigError::new(
                    s.source(),
                    item_path,
                    format!(
                        "expected a {{ until_secs, rate }} table, got {}",
                        describe(item)
                    ),
                ));
            };
            let t = Section::checked(t, item_path, s.source(), PIECE_FIELDS)?;
            let until_secs = t.positive(&UNTIL_SECS)?;
            if let Some(prev) = pieces.last() {
                if until_secs <= prev.until_secs {
                    return Err(t.error(
                        "until_secs",
                        format!(
                            "expected a time after the previous piece's until_secs ({}), got {until_secs}",
                            prev.until_secs
                        ),
                    ));
                }
            }
            pieces.push(RatePiece {
                until_secs,
                rate: t.non_negative(&RATE)?,
            });
        }
        if pieces.iter().all(|p| p.rate == 0.0) {
            return Err(ConfigError::new(
                s.source(),
                path,
                "every rate is 0: no request would arrive",
            ));
        }
        Ok(RateSchedule::Piecewise { pieces })
    }
}
