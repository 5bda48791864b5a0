//! `hardware.calibration`: how far a real engine on the device falls short of
//! the datasheet roofline, as a few physical parameters fitted to measured
//! step times (`inference-lab calibrate`, docs/calibration.md).
//!
//! The efficiencies are fractions of the datasheet figures, so a calibration
//! fitted on one GPU carries over to a sibling whose datasheet differs; the
//! overheads are per layer, so it carries over to a model with more or fewer
//! layers. Three serving parameters (host work per running sequence, the API
//! server's time per request, and how far streamed output trails the engine)
//! are fitted to whole measured serving runs (docs/calibration.md,
//! "Serving fidelity"). The core reads only tables: a calibration file named
//! by path is read and inlined by the command line before the config is validated.

use super::error::ConfigError;
use super::fields::{Field, FieldDefault, FieldKind};
use super::reader::{describe, Section};
use serde::Serialize;
use toml::{Table, Value};

/// The largest efficiency a calibration may claim: a real engine can beat a
/// conservative datasheet figure a little. The config and the fit share it.
pub const MAX_EFFICIENCY: f64 = 1.5;

/// The fitted parameters of the step-time model; [`Calibration::DATASHEET`]
/// (the default) is the bare datasheet roofline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    /// Fraction of `compute_flops` that matrix multiplications and attention achieve.
    pub compute_efficiency: f64,
    /// Fraction of `memory_bandwidth` that weight and KV-cache reads achieve.
    pub bandwidth_efficiency: f64,
    /// Seconds added to every step per layer: launches, synchronisation and the
    /// small kernels (norms, rotary embeddings, activations) the roofline does not price.
    pub step_overhead_per_layer: f64,
    /// Seconds per layer that a step with prompt tokens takes at least: such
    /// steps run eagerly (not captured in a CUDA graph), so the host's kernel
    /// launches bound small ones. 0 for an engine that captures every step.
    pub eager_floor_per_layer: f64,
    /// Seconds added to every step per sequence in it: the engine's host work
    /// per running request (scheduling, input preparation, sampling and
    /// output processing), which grows with the batch, not with the model.
    pub step_overhead_per_seq: f64,
    /// Seconds the API server adds to every request as its client sees it
    /// (HTTP, tokenization, hand-off to the engine, the first streamed
    /// chunk): added to each request's TTFT and E2E, not to the engine's time.
    pub request_overhead: f64,
    /// Inter-token intervals (the request's own decode cadence) by which the
    /// client sees every streamed token late: the engine schedules a step
    /// ahead and hands its outputs to the API server a step behind, so a new
    /// request's first token, and every later one, trails the engine's step
    /// by about two steps. Added to each request's TTFT and E2E.
    pub stream_lag_steps: f64,
}

const COMPUTE_EFFICIENCY: Field = Field::new(
    "compute_efficiency",
    FieldKind::Number {
        min: 0.0,
        max: MAX_EFFICIENCY,
    },
    "fraction of compute_flops that matrix multiplications and attention achieve (above 0)",
)
.default(FieldDefault::Number(1.0));
const BANDWIDTH_EFFICIENCY: Field = Field::new(
    "bandwidth_efficiency",
    FieldKind::Number {
        min: 0.0,
        max: MAX_EFFICIENCY,
    },
    "fraction of memory_bandwidth that weight and KV-cache reads achieve (above 0)",
)
.default(FieldDefault::Number(1.0));
const STEP_OVERHEAD_PER_LAYER: Field = Field::new(
    "step_overhead_per_layer",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "time added to every step per layer: launches, synchronisation, the small kernels the roofline does not price",
)
.default(FieldDefault::Number(0.0))
.unit("s");
const EAGER_FLOOR_PER_LAYER: Field = Field::new(
    "eager_floor_per_layer",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "least time per layer of a step with prompt tokens (run eagerly, outside CUDA graphs)",
)
.default(FieldDefault::Number(0.0))
.unit("s");

const STEP_OVERHEAD_PER_SEQ: Field = Field::new(
    "step_overhead_per_seq",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "time added to every step per sequence in it: the engine's host work per running request",
)
.default(FieldDefault::Number(0.0))
.unit("s");
const REQUEST_OVERHEAD: Field = Field::new(
    "request_overhead",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "time the API server adds to each request as the client sees it: added to its TTFT and E2E",
)
.default(FieldDefault::Number(0.0))
.unit("s");

const STREAM_LAG_STEPS: Field = Field::new(
    "stream_lag_steps",
    FieldKind::Number {
        min: 0.0,
        max: f64::MAX,
    },
    "inter-token intervals of a request by which its client sees each streamed token late: added to its TTFT and E2E",
)
.default(FieldDefault::Number(0.0));

/// The fields of a calibration table (and file).
pub const CALIBRATION_FIELDS: &[Field] = &[
    COMPUTE_EFFICIENCY,
    BANDWIDTH_EFFICIENCY,
    STEP_OVERHEAD_PER_LAYER,
    EAGER_FLOOR_PER_LAYER,
    STEP_OVERHEAD_PER_SEQ,
    REQUEST_OVERHEAD,
    STREAM_LAG_STEPS,
];

impl Default for Calibration {
    fn default() -> Self {
        Self::DATASHEET
    }
}

impl Calibration {
    /// No calibration: the datasheet's peaks are reached and nothing else costs time.
    pub const DATASHEET: Self = Self {
        compute_efficiency: 1.0,
        bandwidth_efficiency: 1.0,
        step_overhead_per_layer: 0.0,
        eager_floor_per_layer: 0.0,
        step_overhead_per_seq: 0.0,
        request_overhead: 0.0,
        stream_lag_steps: 0.0,
    };

    /// Reads and validates a calibration table; `path` is its dotted path
    /// (`hardware.calibration` in a config, empty for a calibration file) and
    /// `source` names the document in errors. Absent keys keep the datasheet values.
    pub fn from_table(table: &Table, path: &str, source: &str) -> Result<Self, ConfigError> {
        Self::parse(&Section::checked(table, path, source, CALIBRATION_FIELDS)?)
    }

    /// Reads the `calibration` value of a `[hardware]` section, if present.
    pub(crate) fn from_hardware(s: &Section<'_>) -> Result<Self, ConfigError> {
        match s.raw("calibration") {
            None => Ok(Self::DATASHEET),
            Some(Value::Table(t)) => Self::from_table(t, &s.field_path("calibration"), s.source()),
            Some(Value::String(path)) => Err(s.error(
                "calibration",
                format!("the calibration file '{path}' was not read: only the inference-lab command line reads files; pass its content as a table"),
            )),
            Some(other) => Err(s.error(
                "calibration",
                format!(
                    "expected a table or the path of a calibration file, got {}",
                    describe(other)
                ),
            )),
        }
    }

    fn parse(s: &Section<'_>) -> Result<Self, ConfigError> {
        let efficiency = |f: &Field| -> Result<f64, ConfigError> {
            let value = s.positive(f)?;
            if value > MAX_EFFICIENCY {
                return Err(s.error(
                    f.name,
                    format!(
                        "expected a fraction of the datasheet figure, in (0, {MAX_EFFICIENCY}], got {value}"
                    ),
                ));
            }
            Ok(value)
        };
        let seconds = |f: &Field| -> Result<f64, ConfigError> {
            let value = s.number(f)?;
            if value < 0.0 {
                return Err(s.error(f.name, format!("expected seconds, at least 0, got {value}")));
            }
            Ok(value)
        };
        Ok(Self {
            compute_efficiency: efficiency(&COMPUTE_EFFICIENCY)?,
            bandwidth_efficiency: efficiency(&BANDWIDTH_EFFICIENCY)?,
            step_overhead_per_layer: seconds(&STEP_OVERHEAD_PER_LAYER)?,
            eager_floor_per_layer: seconds(&EAGER_FLOOR_PER_LAYER)?,
            step_overhead_per_seq: seconds(&STEP_OVERHEAD_PER_SEQ)?,
            request_overhead: seconds(&REQUEST_OVERHEAD)?,
            stream_lag_steps: {
                let value = s.number(&STREAM_LAG_STEPS)?;
                if value < 0.0 {
                    return Err(s.error(
                        STREAM_LAG_STEPS.name,
                        format!("expected inter-token intervals, at least 0, got {value}"),
                    ));
                }
                value
            },
        })
    }

    /// The calibration as TOML lines (`key = value`), as a calibration file
    /// holds them. The serving overheads, which step times do not determine,
    /// are written only when set.
    pub fn to_toml(&self) -> String {
        let mut text = format!(
            "compute_efficiency = {:.4}\nbandwidth_efficiency = {:.4}\nstep_overhead_per_layer = {:.4e}\neager_floor_per_layer = {:.4e}\n",
            self.compute_efficiency,
            self.bandwidth_efficiency,
            self.step_overhead_per_layer,
            self.eager_floor_per_layer
        );
        for (field, value) in [
            (&STEP_OVERHEAD_PER_SEQ, self.step_overhead_per_seq),
            (&REQUEST_OVERHEAD, self.request_overhead),
            (&STREAM_LAG_STEPS, self.stream_lag_steps),
        ] {
            if value > 0.0 {
                text.push_str(&format!("{} = {value:.4e}\n", field.name));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn absent_keys_keep_the_datasheet() {
        let c = Calibration::from_table(&table("compute_efficiency = 0.5"), "", "f.toml").unwrap();
        assert_eq!(
            c,
            Calibration {
                compute_efficiency: 0.5,
                ..Calibration::DATASHEET
            }
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let e =
            Calibration::from_table(&table("bandwidth_efficiency = 0"), "", "f.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.toml: bandwidth_efficiency: expected a number above 0, got 0"
        );
        let e = Calibration::from_table(
            &table("step_overhead_per_layer = -1e-5"),
            "hardware.calibration",
            "c.toml",
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("c.toml: hardware.calibration.step_overhead_per_layer: expected seconds"));
        let e =
            Calibration::from_table(&table("compute_eficiency = 0.5"), "", "f.toml").unwrap_err();
        assert!(e.to_string().contains("did you mean 'compute_efficiency'?"));
    }

    #[test]
    fn to_toml_reads_back() {
        let c = Calibration {
            compute_efficiency: 0.5897,
            bandwidth_efficiency: 0.9125,
            step_overhead_per_layer: 5.412e-5,
            eager_floor_per_layer: 2.525e-4,
            ..Calibration::DATASHEET
        };
        let back = Calibration::from_table(&table(&c.to_toml()), "", "f").unwrap();
        assert_eq!(back, c);
        assert!(!c.to_toml().contains("request_overhead"));
        let serving = Calibration {
            step_overhead_per_seq: 1.5e-5,
            request_overhead: 8.25e-3,
            stream_lag_steps: 1.75,
            ..c
        };
        let back = Calibration::from_table(&table(&serving.to_toml()), "", "f").unwrap();
        assert_eq!(back, serving);
    }
}
