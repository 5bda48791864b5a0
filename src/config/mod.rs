//! Configuration: the TOML file format, presets, validation, and the resolved
//! [`Config`] the simulator trusts.
//!
//! Validation happens once, here. Every error is a [`ConfigError`] naming the
//! document, the dotted field path and what was expected.

mod calibration;
mod deployment;
mod error;
pub mod fields;
mod hardware;
mod memory_profile;
mod model;
mod overrides;
pub mod presets;
mod rate_schedule;
mod reader;
mod resolve;
mod scheduler;
pub mod schema;
mod server;
mod sessions;
mod shared_prefix;
mod trace;
mod workload;

pub use calibration::{Calibration, CALIBRATION_FIELDS, MAX_EFFICIENCY};
pub use deployment::{DeploymentConfig, RouterPolicy, MAX_REPLICAS, MAX_TENSOR_PARALLEL_SIZE};
pub use error::{excerpt, ConfigError, EXCERPT_CHARS};
pub use hardware::{format_bytes, HardwareConfig};
pub use memory_profile::{MemoryProfile, ReserveInputs};
pub use model::ModelConfig;
pub use rate_schedule::{RatePiece, RateSchedule};
pub use scheduler::{Policy, SchedulerConfig};
pub use server::ServerConfig;
pub use sessions::{DurationDist, SessionsConfig, MAX_SYSTEM_PROMPT_LEN};
pub use shared_prefix::{
    PromptOrder, SharedPrefixConfig, MAX_SHARED_PROMPTS, MAX_SHARED_PROMPT_TOKENS,
};
pub use trace::{TraceConfig, TraceFormat};
pub use workload::{
    ArrivalLimit, ArrivalPattern, LengthDist, SimulationConfig, WorkloadConfig, DEFAULT_BATCH_SIZE,
    DEFAULT_BURST_SIZE, MAX_ARRIVAL_CV, MIN_ARRIVAL_CV, SIMULATION_FIELDS,
};

pub use overrides::{apply_overrides, parse_assignment};

pub(crate) use error::with_hint;
use fields::{Field, FieldDefault, FieldKind};
use presets::PresetKind;
pub use reader::describe;
pub(crate) use reader::Section;
use serde::Serialize;
use toml::Table;

/// The default configuration (`configs/config.toml`), compiled in.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../configs/config.toml");

/// Name used as the source of the built-in default in messages.
pub const DEFAULT_CONFIG_SOURCE: &str = "<built-in default config>";

/// The sections of a config file: the top of its field tables.
pub const SECTIONS: &[Field] = &[
    Field::new(
        "deployment",
        FieldKind::Table(deployment::FIELDS),
        "how many GPUs serve: tensor parallelism per replica, replicas behind a router",
    )
    .default(FieldDefault::Derived("one replica of one GPU")),
    Field::new(
        "hardware",
        FieldKind::PresetOrTable(hardware::FIELDS),
        "the GPU: a preset name or its datasheet figures",
    ),
    Field::new(
        "model",
        FieldKind::PresetOrTable(model::FIELDS),
        "the served model's shape: a preset name or its fields",
    ),
    Field::new(
        "scheduler",
        FieldKind::Table(scheduler::FIELDS),
        "the engine's batching budget, queue policy and KV cache layout",
    ),
    Field::new(
        "workload",
        FieldKind::Table(workload::FIELDS),
        "the offered traffic: arrivals, lengths, prompts",
    ),
    Field::new(
        "simulation",
        FieldKind::Table(SIMULATION_FIELDS),
        "settings of the run that do not change its results",
    )
    .default(FieldDefault::Derived("every field at its default")),
];

/// A fully resolved, validated configuration: every default filled in, every
/// preset expanded. Immutable input to a simulation.
///
/// The server side (what serves requests) is kept apart from the traffic
/// side (what requests arrive), so that one traffic stream can feed several
/// servers. In files and JSON the server's sections stay at the top level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The server: hardware, model and scheduler.
    #[serde(flatten)]
    pub server: ServerConfig,
    /// The offered traffic.
    pub workload: WorkloadConfig,
    /// Settings of the run itself.
    pub simulation: SimulationConfig,
}

impl Config {
    /// Parses and validates TOML text; `source` names it in errors (usually the file path).
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self, ConfigError> {
        Self::from_table(&parse_toml(text, source)?, source)
    }

    /// Validates an already parsed TOML document.
    pub fn from_table(doc: &Table, source: &str) -> Result<Self, ConfigError> {
        let sections = fields::names(SECTIONS);
        if doc.contains_key("sweep") {
            return Err(ConfigError::new(
                source,
                "",
                "this is a sweep manifest (it has a [sweep] section), not a config file: run it with `inference-lab sweep FILE`, or give the config it sweeps (its sweep.base)",
            ));
        }
        if let Some(key) = doc.keys().find(|k| !sections.contains(&k.as_str())) {
            let message = with_hint(format!("unknown section '{key}'"), key, &sections);
            return Err(ConfigError::new(source, key.as_str(), message));
        }
        let required = |name: &str| {
            doc.get(name).ok_or_else(|| {
                ConfigError::new(source, name, format!("missing required section [{name}]"))
            })
        };
        let model_table = presets::resolve(PresetKind::Model, required("model")?, source)?;
        let model = ModelConfig::parse(&Section::checked(
            &model_table,
            "model",
            source,
            model::FIELDS,
        )?)?;
        let deployment = match section(doc, "deployment", source, deployment::FIELDS)? {
            Some(s) => {
                let d = DeploymentConfig::parse(&s)?;
                d.check_model(&model, &s)?;
                d
            }
            None => DeploymentConfig::default(),
        };
        let hardware_table = presets::resolve(PresetKind::Hardware, required("hardware")?, source)?;
        let hardware = HardwareConfig::parse(&Section::checked(
            &hardware_table,
            "hardware",
            source,
            hardware::FIELDS,
        )?)?;
        let scheduler = SchedulerConfig::parse(
            &section(doc, "scheduler", source, scheduler::FIELDS)?
                .ok_or_else(|| missing_section(source, "scheduler"))?,
        )?;
        let workload = WorkloadConfig::parse(
            &section(doc, "workload", source, workload::FIELDS)?
                .ok_or_else(|| missing_section(source, "workload"))?,
        )?;
        let simulation = match section(doc, "simulation", source, SIMULATION_FIELDS)? {
            Some(s) => SimulationConfig::parse(&s)?,
            None => SimulationConfig::default(),
        };
        let server = resolve::server(deployment, model, hardware, scheduler, source)?;
        Ok(Self {
            server,
            workload,
            simulation,
        })
    }

    /// The built-in default configuration (the content of `configs/config.toml`).
    pub fn builtin_default() -> Result<Self, ConfigError> {
        Self::from_toml_str(DEFAULT_CONFIG_TOML, DEFAULT_CONFIG_SOURCE)
    }
}

/// Parses TOML text, turning syntax errors into a one-line [`ConfigError`]
/// with the line and column.
pub fn parse_toml(text: &str, source: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| {
        let location = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: ")
            })
            .unwrap_or_default();
        let message = e.message().trim().replace('\n', " ");
        ConfigError::new(source, "", format!("invalid TOML: {location}{message}"))
    })
}

fn missing_section(source: &str, name: &str) -> ConfigError {
    ConfigError::new(source, name, format!("missing required section [{name}]"))
}

fn section<'a>(
    doc: &'a Table,
    name: &str,
    source: &'a str,
    fields: &[Field],
) -> Result<Option<Section<'a>>, ConfigError> {
    match doc.get(name) {
        None => Ok(None),
        Some(toml::Value::Table(t)) => Section::checked(t, name, source, fields).map(Some),
        Some(other) => Err(ConfigError::new(
            source,
            name,
            format!("expected a table, got {}", reader::describe(other)),
        )),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod traffic_tests;
