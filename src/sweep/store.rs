//! The run files of one output directory (`runs/`): each finished run's
//! result JSON and per-request Parquet, and each failed run's error, written
//! the moment the run ends and read back by resume and merge.

use super::layout::Layout;
use super::run_id::{InputDigest, RunId};
use super::runs_table::{Outcome, OVERLOAD_KEY};
use crate::config::Config;
use crate::engine::RunOutput;
use crate::io::files::write_atomic_unsynced;
use crate::io::requests;
use crate::io::{Error, Result};
use crate::table::Column;
use serde_json::{json, Value as Json};
use std::path::Path;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Key of the run JSON that lists the files the run read, with their digests.
const INPUTS_KEY: &str = "inputs";

/// What a stored result must match to be reused.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The run's config.
    pub config: &'a Config,
    /// The files it reads, with their digests.
    pub inputs: &'a [InputDigest],
    /// Whether its per-request file is wanted too.
    pub per_request: bool,
}

/// The outcome of a run finished earlier, if its result is there, was made by
/// this version from this very config and these very input files, holds
/// every metric, and has a complete per-request file when one is wanted. Anything else (missing, torn,
/// stale) means: run it again.
pub fn load_finished(
    layout: &Layout,
    id: RunId,
    expected: Expected<'_>,
    template: &[Column],
) -> Option<Outcome> {
    if expected.per_request && !requests::is_complete(&layout.run_requests(id)) {
        return None;
    }
    let result = read_json(&layout.run_json(id))?;
    let same_version =
        result.pointer("/simulation/version").and_then(Json::as_str) == Some(VERSION);
    let same_config = result.get("config") == serde_json::to_value(expected.config).ok().as_ref();
    let stored_inputs = result.get(INPUTS_KEY).cloned().unwrap_or(json!([]));
    let same_inputs = serde_json::to_value(expected.inputs)
        .is_ok_and(|inputs| identities(&inputs) == identities(&stored_inputs));
    if !(same_version && same_config && same_inputs) {
        return None;
    }
    Outcome::finished_complete(&result, template)
}

/// The role and digest of each input of a run file's list: what identifies
/// the files. Their paths are for people: one sweep's shards may name the
/// same file relative to different directories (a shard runs the manifest
/// as given, a merge the absolute path its `sweep.json` records).
fn identities(inputs: &Json) -> Vec<(Option<&Json>, Option<&Json>)> {
    inputs
        .as_array()
        .map(|list| {
            list.iter()
                .map(|i| (i.get("role"), i.get("digest")))
                .collect()
        })
        .unwrap_or_default()
}

/// The outcome of a run that failed earlier (same version), if recorded.
pub fn load_failed(layout: &Layout, id: RunId) -> Option<Outcome> {
    let record = read_json(&layout.run_failed(id))?;
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

/// What a finished run left: its output, and why the overload detector
/// stopped it early, if it did.
#[derive(Debug)]
pub struct Finished {
    /// The simulation's output.
    pub output: RunOutput,
    /// The detector's reason for stopping the run.
    pub overload: Option<String>,
}

/// Writes a finished run's files and returns its row's outcome.
pub fn record_finished(
    layout: &Layout,
    id: RunId,
    finished: Finished,
    inputs: &[InputDigest],
    wall_seconds: f64,
    template: &[Column],
) -> Result<Outcome> {
    let Finished { output, overload } = finished;
    let path = layout.run_json(id);
    let json = result_json(output.result, inputs, overload, wall_seconds)
        .map_err(|e| Error::write_with(&path, e))?;
    if let Some(records) = &output.requests {
        requests::write_run(&layout.run_requests(id), &id.to_string(), records)?;
    }
    // Resume validates this file (JSON, config, inputs, version) before
    // trusting it, so it skips the flush to disk.
    write_json(&path, &json)?;
    let _ = std::fs::remove_file(layout.run_failed(id));
    Ok(Outcome::finished(&json, template))
}

/// A finished run's result JSON as its run file holds it: the result with
/// its wall time, the files it read and the overload detector's reason.
pub fn result_json(
    mut result: crate::metrics::RunResult,
    inputs: &[InputDigest],
    overload: Option<String>,
    wall_seconds: f64,
) -> serde_json::Result<Json> {
    result.simulation.wall_seconds = wall_seconds;
    let mut json = serde_json::to_value(&result)?;
    if let Json::Object(map) = &mut json {
        if let (false, Ok(list)) = (inputs.is_empty(), serde_json::to_value(inputs)) {
            map.insert(INPUTS_KEY.into(), list);
        }
        if let Some(reason) = overload {
            map.insert(OVERLOAD_KEY.into(), Json::String(reason));
        }
    }
    Ok(json)
}

/// Records why a run failed (best effort: the row records it anyway).
pub fn record_failed(layout: &Layout, id: RunId, error: &str, wall_seconds: Option<f64>) {
    let record = json!({ "version": VERSION, "error": error, "wall_seconds": wall_seconds });
    let _ = write_json(&layout.run_failed(id), &record);
}

fn write_json(path: &Path, json: &Json) -> Result<()> {
    let text = serde_json::to_string_pretty(json).map_err(|e| Error::write_with(path, e))?;
    write_atomic_unsynced(path, format!("{text}\n").as_bytes()).map_err(|e| Error::write(path, e))
}
