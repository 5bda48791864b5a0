//! The run files of one output directory (`runs/`): each finished run's
//! result JSON and per-request Parquet, and each failed run's error, written
//! the moment the run ends and read back by resume and merge.

use super::layout::Layout;
use super::run_id::RunId;
use super::sink::requests;
use super::table::{Column, Outcome};
use crate::config::Config;
use crate::engine::RunOutput;
use crate::report::files::write_atomic_unsynced;
use anyhow::{Context, Result};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `runs/<run_id>.failed.json`: why a run failed (kept for `sweep merge`;
/// resume retries failed runs).
fn failed_path(layout: &Layout, id: RunId) -> PathBuf {
    layout.runs_dir().join(format!("{id}.failed.json"))
}

/// The outcome of a run finished earlier, if its result is there, was made by
/// this version from this very config, and has the per-request file when one
/// is wanted. Anything else (missing, torn, stale) means: run it again.
pub fn load_finished(
    layout: &Layout,
    id: RunId,
    config: &Config,
    per_request: bool,
    template: &[Column],
) -> Option<Outcome> {
    if per_request && !layout.run_requests(id).is_file() {
        return None;
    }
    let result = read_json(&layout.run_json(id))?;
    let same_version =
        result.pointer("/simulation/version").and_then(Json::as_str) == Some(VERSION);
    let same_config = result.get("config") == serde_json::to_value(config).ok().as_ref();
    (same_version && same_config).then(|| Outcome::finished(&result, template))
}

/// The outcome of a run that failed earlier (same version), if recorded.
pub fn load_failed(layout: &Layout, id: RunId) -> Option<Outcome> {
    let record = read_json(&failed_path(layout, id))?;
    if record.get("version").and_then(Json::as_str) != Some(VERSION) {
        return None;
    }
    Some(Outcome::Failed {
        error: record.get("error")?.as_str()?.to_string(),
        wall_seconds: record.get("wall_seconds").and_then(Json::as_f64),
    })
}

fn read_json(path: &Path) -> Option<Json> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Writes a finished run's files and returns its row's outcome.
pub fn record_finished(
    layout: &Layout,
    id: RunId,
    output: RunOutput,
    wall_seconds: f64,
    template: &[Column],
) -> Result<Outcome> {
    let mut result = output.result;
    result.simulation.wall_seconds = wall_seconds;
    let json = serde_json::to_value(&result)?;
    if let Some(records) = &output.requests {
        requests::write_run(&layout.run_requests(id), &id.to_string(), records)?;
    }
    // Resume validates this file (JSON, config, version) before trusting it,
    // so it skips the flush to disk.
    write_json(&layout.run_json(id), &json)?;
    let _ = std::fs::remove_file(failed_path(layout, id));
    Ok(Outcome::finished(&json, template))
}

/// Records why a run failed (best effort: the row records it anyway).
pub fn record_failed(layout: &Layout, id: RunId, error: &str, wall_seconds: Option<f64>) {
    let record = json!({ "version": VERSION, "error": error, "wall_seconds": wall_seconds });
    let _ = write_json(&failed_path(layout, id), &record);
}

fn write_json(path: &Path, json: &Json) -> Result<()> {
    let text = serde_json::to_string_pretty(json)?;
    write_atomic_unsynced(path, format!("{text}\n").as_bytes())
        .with_context(|| format!("cannot write '{}'", path.display()))
}
