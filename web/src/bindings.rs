//! The JavaScript API, exported with wasm-bindgen. Strings cross the
//! boundary (TOML in, JSON out); the npm package's `index.js` parses the
//! JSON and gives it types (`index.d.ts`). Failures are thrown as `Error`s
//! whose message is the command line's error line.

use crate::{bundled, overrides, Failure};
use inference_lab::config::{DEFAULT_CONFIG_SOURCE, DEFAULT_CONFIG_TOML};
use wasm_bindgen::prelude::*;

fn thrown(e: Failure) -> JsError {
    JsError::new(&e.to_string())
}

/// The `-o` JSON of a run of `config_toml`; `source` names it in errors.
#[wasm_bindgen]
pub fn simulate(config_toml: &str, source: &str) -> Result<String, JsError> {
    crate::simulate(config_toml, source).map_err(thrown)
}

/// A run's `-o` JSON and its trace (time series, latency CDFs) as JSON.
#[wasm_bindgen]
pub struct TracedRun {
    json: String,
    trace: String,
}

#[wasm_bindgen]
impl TracedRun {
    /// The result, byte for byte what `-o` writes.
    #[wasm_bindgen(getter)]
    pub fn json(&self) -> String {
        self.json.clone()
    }

    /// The trace as JSON.
    #[wasm_bindgen(getter)]
    pub fn trace(&self) -> String {
        self.trace.clone()
    }
}

/// Runs `config_toml`, keeping what the page draws.
#[wasm_bindgen(js_name = simulateTraced)]
pub fn simulate_traced(config_toml: &str, source: &str) -> Result<TracedRun, JsError> {
    let (json, trace) = crate::simulate_traced(config_toml, source).map_err(thrown)?;
    Ok(TracedRun { json, trace })
}

/// The problems of `config_toml` as a JSON array of `{field, message, text}`; `[]` when it runs.
#[wasm_bindgen]
pub fn validate(config_toml: &str, source: &str) -> String {
    crate::to_json(&crate::validate(config_toml, source))
}

/// The resolved config as JSON.
#[wasm_bindgen(js_name = resolvedConfig)]
pub fn resolved_config(config_toml: &str, source: &str) -> Result<String, JsError> {
    crate::resolved_config(config_toml, source).map_err(thrown)
}

/// `config_toml` with the keys of the JSON object `overrides_json`
/// (`{"scheduler.policy": "sof"}`) set, as TOML.
#[wasm_bindgen(js_name = withOverrides)]
pub fn with_overrides(
    config_toml: &str,
    source: &str,
    overrides_json: &str,
) -> Result<String, JsError> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(overrides_json)
            .map_err(|e| JsError::new(&format!("overrides: expected a JSON object: {e}")))?;
    let pairs = object
        .iter()
        .map(|(k, v)| overrides::toml_value(v).map(|v| (k.clone(), v)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| JsError::new(&format!("overrides: {e}")))?;
    crate::with_overrides(config_toml, source, &pairs).map_err(thrown)
}

/// The hardware and model presets as JSON (`{hardware: [{name, toml}], model: [...]}`).
#[wasm_bindgen]
pub fn presets() -> String {
    crate::to_json(&crate::presets())
}

/// The shipped configs as JSON (`[{name, toml, runs_here}]`).
#[wasm_bindgen]
pub fn examples() -> String {
    crate::to_json(&bundled::examples())
}

/// The scheduling policies' names.
#[wasm_bindgen]
pub fn policies() -> Vec<String> {
    crate::policies().into_iter().map(String::from).collect()
}

/// The built-in default config (`configs/config.toml`), the one the command line runs without `-c`.
#[wasm_bindgen(js_name = defaultConfig)]
pub fn default_config() -> String {
    DEFAULT_CONFIG_TOML.to_string()
}

/// The name of the built-in default in error messages.
#[wasm_bindgen(js_name = defaultConfigSource)]
pub fn default_config_source() -> String {
    DEFAULT_CONFIG_SOURCE.to_string()
}
