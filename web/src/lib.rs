//! inference-lab in the browser: the deterministic core compiled to
//! WebAssembly. This crate is glue only — it reads configs with the
//! library's parser, runs them with [`inference_lab::cluster::simulate`] and
//! writes results as the command line's `-o` does — so the browser and the
//! native binary give byte-identical JSON for the same config.
//!
//! The functions here are plain Rust (and tested natively); [`bindings`]
//! exports them to JavaScript with wasm-bindgen. The npm package
//! (`web/package/`) wraps those exports with types and a grid runner.

pub mod bindings;
pub mod bundled;
pub mod overrides;
pub mod trace;

use inference_lab::cluster::simulate as run;
use inference_lab::config::{parse_toml, Config, ConfigError, Policy};
use inference_lab::engine::{NoopObserver, SimError, SimOptions};
use inference_lab::metrics::RunResult;
use serde::Serialize;
use toml::{Table, Value};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The config is invalid (the message names the source and the dotted field).
    #[error("{0}")]
    Config(ConfigError),
    /// The run could not finish.
    #[error("{0}")]
    Run(SimError),
    /// An override could not be applied to the config.
    #[error("{0}")]
    Override(String),
}

/// One problem of a config, as `validate` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Dotted path of the field (`scheduler.block_size`); empty for the whole document.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// The whole line as the command line prints it after `error: `.
    pub text: String,
}

impl From<&ConfigError> for Problem {
    fn from(e: &ConfigError) -> Self {
        Self {
            field: e.field.clone(),
            message: e.message.clone(),
            text: e.to_string(),
        }
    }
}

/// Parses and validates a config. A `hardware.calibration` naming a shipped
/// calibration file (`calibration/h200-llama-3.1-8b.toml`, relative to
/// `configs/` as in the shipped configs) is inlined first, as the command
/// line inlines the file it names.
pub fn load(text: &str, source: &str) -> Result<Config, ConfigError> {
    let mut doc = parse_toml(text, source)?;
    bundled::inline_calibration(&mut doc, source)?;
    Config::from_table(&doc, source)
}

/// Everything wrong with a config that would stop it from running here:
/// empty when it runs. Configs whose requests come from a file (a dataset's
/// prompts and tokenizer, a trace) are reported too, since a browser cannot
/// read them.
pub fn validate(text: &str, source: &str) -> Vec<Problem> {
    match load(text, source) {
        Err(e) => vec![Problem::from(&e)],
        Ok(_) => file_workload_problem(text, source).into_iter().collect(),
    }
}

/// The workload settings that read files, with what to do instead.
const FILE_WORKLOADS: &[(&str, &str)] = &[
    (
        "dataset_path",
        "dataset mode reads a JSONL file and a tokenizer, which the browser cannot; run this config with the command line, or use sampled lengths (input_len_dist, output_len_dist)",
    ),
    (
        "trace",
        "trace replay reads a trace file, which the browser cannot; run this config with the command line, or use sampled arrivals and lengths (arrival_pattern, input_len_dist, output_len_dist)",
    ),
];

/// The problem of a config whose workload reads a file
/// (`workload.dataset_path` or `workload.trace`), if it is one.
fn file_workload_problem(text: &str, source: &str) -> Option<Problem> {
    let doc = parse_toml(text, source).ok()?;
    let workload = doc.get("workload").and_then(Value::as_table)?;
    FILE_WORKLOADS
        .iter()
        .find(|(key, _)| workload.contains_key(*key))
        .map(|(key, message)| {
            Problem::from(&ConfigError::new(
                source,
                format!("workload.{key}"),
                *message,
            ))
        })
}

/// Runs a config and returns its result as the command line's
/// `-o FILE.json` writes it (pretty JSON and a newline). The core reads no
/// clock, so `simulation.wall_seconds` is 0.
pub fn simulate(text: &str, source: &str) -> Result<String, Failure> {
    let config = load(text, source).map_err(Failure::Config)?;
    let output = run(&config, SimOptions::default(), &mut NoopObserver).map_err(Failure::Run)?;
    Ok(result_json(&output.result))
}

/// Runs a config and returns its `-o` JSON and the trace the page draws
/// (time series and latency distributions, see [`trace`]).
pub fn simulate_traced(text: &str, source: &str) -> Result<(String, String), Failure> {
    let config = load(text, source).map_err(Failure::Config)?;
    let mut series = trace::TimeSeries::new();
    let output = run(&config, SimOptions::recording(true), &mut series).map_err(Failure::Run)?;
    let records = output.requests.as_deref().unwrap_or_default();
    let traced = trace::Trace::new(&series, records);
    Ok((result_json(&output.result), to_json(&traced)))
}

/// The resolved config (every default filled in, presets expanded) as JSON:
/// the `config` object of a result.
pub fn resolved_config(text: &str, source: &str) -> Result<String, Failure> {
    load(text, source)
        .map(|c| to_json(&c))
        .map_err(Failure::Config)
}

/// The result as `-o` writes it.
fn result_json(result: &RunResult) -> String {
    let mut json = serde_json::to_string_pretty(result).unwrap_or_default();
    json.push('\n');
    json
}

/// Compact JSON of plain data (which always serialises).
fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The names of the scheduling policies, in the order of the docs.
pub fn policies() -> Vec<&'static str> {
    Policy::ALL.iter().map(|(name, _)| *name).collect()
}

/// A shipped text file: its name and content.
#[derive(Debug, Clone, Serialize)]
pub struct File {
    /// File name (`h100`, or `quick.toml`).
    pub name: &'static str,
    /// TOML text.
    pub toml: &'static str,
}

/// The hardware and model presets that `hardware = "NAME"` and `model = "NAME"` name.
#[derive(Debug, Clone, Serialize)]
pub struct Presets {
    /// `configs/hardware/*.toml`.
    pub hardware: Vec<File>,
    /// `configs/models/*.toml`.
    pub model: Vec<File>,
}

/// The presets compiled into the library.
pub fn presets() -> Presets {
    let files = |table: &'static [(&'static str, &'static str)]| {
        table
            .iter()
            .map(|&(name, toml)| File { name, toml })
            .collect()
    };
    Presets {
        hardware: files(inference_lab::config::presets::HARDWARE_PRESETS),
        model: files(inference_lab::config::presets::MODEL_PRESETS),
    }
}

/// An edited copy of a config: each `(dotted key, value)` of `overrides`
/// set in the document, as a sweep sets its grid's keys. Comments are not kept.
pub fn with_overrides(
    text: &str,
    source: &str,
    overrides: &[(String, Value)],
) -> Result<String, Failure> {
    let mut doc: Table = parse_toml(text, source).map_err(Failure::Config)?;
    for (key, value) in overrides {
        overrides::set(&mut doc, key, value.clone()).map_err(Failure::Override)?;
    }
    toml::to_string(&doc).map_err(|e| Failure::Override(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use inference_lab::config::{DEFAULT_CONFIG_SOURCE, DEFAULT_CONFIG_TOML};

    #[test]
    fn the_result_is_the_command_lines_json() {
        let json = simulate(bundled::example("quick.toml").unwrap(), "quick.toml").unwrap();
        assert!(json.starts_with("{\n  \"config\": {") && json.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["requests"]["completed"], 100);
        assert_eq!(value["simulation"]["wall_seconds"], 0.0);
        // The traced run gives the same result.
        let (traced, _) = simulate_traced(bundled::example("quick.toml").unwrap(), "q").unwrap();
        assert_eq!(traced, json);
    }

    #[test]
    fn validation_names_the_dotted_field() {
        assert!(validate(DEFAULT_CONFIG_TOML, DEFAULT_CONFIG_SOURCE).is_empty());
        let bad = DEFAULT_CONFIG_TOML.replace("block_size = 16", "block_size = 0");
        let problems = validate(&bad, "editor");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "scheduler.block_size");
        assert!(problems[0]
            .text
            .starts_with("editor: scheduler.block_size: expected"));
        let syntax = validate("[model\n", "editor");
        assert_eq!(syntax[0].field, "");
        assert!(
            syntax[0].text.contains("invalid TOML: line 1"),
            "{:?}",
            syntax[0]
        );
        let dataset = validate(bundled::example("dataset.toml").unwrap(), "dataset.toml");
        assert_eq!(dataset[0].field, "workload.dataset_path");
        let trace = validate(bundled::example("trace.toml").unwrap(), "trace.toml");
        assert_eq!(trace[0].field, "workload.trace");
    }

    #[test]
    fn a_run_failure_is_an_error_not_a_panic() {
        let dataset = bundled::example("dataset.toml").unwrap();
        let e = simulate(dataset, "dataset.toml").unwrap_err();
        assert!(matches!(e, Failure::Run(SimError::DatasetNotLoaded)), "{e}");
        let e = simulate("hardware = 'h100'", "editor").unwrap_err();
        assert_eq!(
            e.to_string(),
            "editor: model: missing required section [model]"
        );
    }

    #[test]
    fn overrides_make_a_valid_point_of_a_grid() {
        let base = bundled::example("quick.toml").unwrap();
        let edited = with_overrides(
            base,
            "quick.toml",
            &[
                ("scheduler.policy".into(), Value::from("sof")),
                ("workload.arrival_rate".into(), Value::from(4)),
            ],
        )
        .unwrap();
        let config: serde_json::Value =
            serde_json::from_str(&resolved_config(&edited, "grid").unwrap()).unwrap();
        assert_eq!(config["scheduler"]["policy"], "sof");
        assert_eq!(config["workload"]["arrival_rate"], 4.0);
        assert_eq!(config["workload"]["num_requests"], 100);
    }

    #[test]
    fn lists_come_from_the_library() {
        assert_eq!(policies().len(), Policy::ALL.len());
        assert_eq!(policies()[0], "fcfs");
        let p = presets();
        assert!(p.hardware.iter().any(|f| f.name == "h100"));
        assert!(p.model.iter().any(|f| f.name == "llama-3-70b"));
    }
}
