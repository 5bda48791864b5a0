//! `sweep.json`: what produced a sweep directory, so a later resume or merge
//! can tell whether directories belong together.

use super::layout::Shard;
use super::search::spec::{SearchSpec, Slo};
use serde::{Deserialize, Serialize};

/// The contents of `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    /// `sweep.name` of the manifest.
    pub sweep: String,
    /// The manifest's absolute path (`sweep merge` reads it again).
    pub manifest: String,
    /// Hash of the manifest's text (16 hex digits).
    pub manifest_hash: String,
    /// Hash of every point's run id in order: equal for equal point lists.
    pub points_hash: String,
    /// Version of inference-lab that wrote the directory.
    pub version: String,
    /// Points in the whole sweep.
    pub points: usize,
    /// The shard this directory holds (`null` for a whole sweep).
    pub shard: Option<Shard>,
    /// Points in this directory (all of them, or the shard's).
    pub points_here: usize,
    /// When the sweep started (RFC 3339, UTC).
    pub started: String,
    /// When it ended (RFC 3339, UTC); `null` while it runs (or if it died).
    pub finished: Option<String>,
    /// Points whose run finished.
    pub ok: usize,
    /// Points whose run failed.
    pub failed: usize,
    /// Points not run because the sweep was interrupted.
    pub not_run: usize,
    /// Of the finished points, those reused from an earlier invocation.
    pub reused: usize,
    /// What a capacity search searched (`null` for a plain sweep), so a
    /// report can draw the SLOs without the manifest.
    #[serde(default)]
    pub search: Option<SearchMeta>,
}

/// The part of a `[search]` section a report needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchMeta {
    /// `search.over`: the load key searched.
    pub over: String,
    /// `search.slo`, in manifest order.
    pub slo: Vec<Slo>,
}

impl From<&SearchSpec> for SearchMeta {
    fn from(spec: &SearchSpec) -> Self {
        SearchMeta {
            over: spec.over.clone(),
            slo: spec.slos.clone(),
        }
    }
}

/// The current time in RFC 3339 (UTC, whole seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
