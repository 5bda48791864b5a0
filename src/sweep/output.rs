//! The files that describe a whole sweep directory: the runs tables, the
//! per-request table and `sweep.json`, written the same way by a sweep and by
//! `sweep merge`.

use super::layout::{Layout, Shard};
use super::meta::{now_rfc3339, SearchMeta, SweepMeta};
use super::plan::Plan;
use super::runs_table::{runs_table, RunRow};
use super::search::capacity::{capacity_summary, capacity_table};
use crate::config::Config;
use crate::io::digest::fnv1a;
use crate::io::files::write_atomic;
use crate::io::{csv, parquet, requests, Error, Result};
use crate::metrics::catalog::metric_columns;
use crate::metrics::RunResult;
use crate::table::summary::summarize;
use crate::table::{Column, Table};
use std::path::Path;

/// What a sweep (or a merge) counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Points whose every run is in the tables.
    pub points_done: usize,
    /// Runs that finished.
    pub ok: usize,
    /// Runs that failed.
    pub failed: usize,
}

impl Counts {
    /// The counts of `rows`, of which `points_done` points are complete.
    pub fn of(rows: &[RunRow<'_>], points_done: usize) -> Self {
        let failed = rows.iter().filter(|r| r.outcome.is_failed()).count();
        Self {
            points_done,
            ok: rows.len() - failed,
            failed,
        }
    }
}

/// The tables a sweep directory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Tables {
    /// The runs table.
    pub runs: Table,
    /// A capacity search's capacity table (one row per point).
    pub capacity: Option<Table>,
}

/// Writes `runs.parquet`, `runs.csv`, the seed-folded `summary.parquet` and
/// `summary.csv`, for a capacity search `capacity.*` and
/// `capacity_summary.*`, and, when `per_request`, `requests.parquet` (each distinct
/// run's requests once, in row order) into `layout`.
pub fn write_tables(
    plan: &Plan,
    template: &[Column],
    rows: &[RunRow<'_>],
    layout: &Layout,
    per_request: bool,
) -> Result<Tables> {
    let table = runs_table(plan, template, rows);
    parquet::write(&table, &layout.runs_parquet())?;
    csv::write(&table, &layout.runs_csv())?;
    let summary = summarize(&table);
    parquet::write(&summary, &layout.summary_parquet())?;
    csv::write(&summary, &layout.summary_csv())?;
    let capacity = match plan.strategy.search() {
        Some(spec) => {
            let capacity = capacity_table(plan, spec, template, rows);
            parquet::write(&capacity, &layout.capacity_parquet())?;
            csv::write(&capacity, &layout.capacity_csv())?;
            let summary = capacity_summary(&capacity);
            parquet::write(&summary, &layout.capacity_summary_parquet())?;
            csv::write(&summary, &layout.capacity_summary_csv())?;
            Some(capacity)
        }
        None => None,
    };
    if per_request {
        let mut seen = std::collections::HashSet::new();
        let parts: Vec<&Path> = rows
            .iter()
            .filter(|r| seen.insert(r.run_id))
            .filter_map(|r| r.requests.as_deref())
            .collect();
        requests::concatenate(parts, &layout.requests_parquet())?;
    }
    Ok(Tables {
        runs: table,
        capacity,
    })
}

/// The metric columns of `plan`'s tables, from its first valid config.
pub fn metric_template(plan: &Plan) -> Result<Vec<Column>> {
    let config = match plan.points.iter().find_map(|p| p.config.as_ref().ok()) {
        Some(c) => Config::clone(c),
        None => Config::builtin_default()?,
    };
    Ok(metric_columns(&RunResult::zeroed(config)))
}

/// A `sweep.json` for `plan` as it starts: no run counted yet.
pub fn new_meta(
    plan: &Plan,
    manifest: &Path,
    shard: Option<Shard>,
    points_here: usize,
) -> SweepMeta {
    SweepMeta {
        sweep: plan.manifest.name.clone(),
        manifest: std::fs::canonicalize(manifest)
            .unwrap_or_else(|_| manifest.to_path_buf())
            .display()
            .to_string(),
        manifest_hash: format!("{:016x}", plan.manifest.text_hash),
        points_hash: points_hash(plan),
        version: env!("CARGO_PKG_VERSION").to_string(),
        points: plan.points.len(),
        shard,
        points_here,
        started: now_rfc3339(),
        finished: None,
        ok: 0,
        failed: 0,
        not_run: points_here,
        reused: 0,
        search: plan.manifest.search.as_ref().map(SearchMeta::from),
    }
}

/// Records `counts` in `meta` and stamps the end time.
pub fn finish_meta(meta: &mut SweepMeta, counts: Counts) {
    meta.ok = counts.ok;
    meta.failed = counts.failed;
    meta.not_run = meta.points_here - counts.points_done;
    meta.finished = Some(now_rfc3339());
}

/// Hash of every point's run id, in order: two directories with equal
/// hashes hold slices of the same point list.
pub fn points_hash(plan: &Plan) -> String {
    let ids: Vec<u8> = plan
        .points
        .iter()
        .flat_map(|p| p.run_id.0.to_le_bytes())
        .collect();
    format!("{:016x}", fnv1a(&ids))
}

/// Writes `sweep.json`.
pub fn write_meta(layout: &Layout, meta: &SweepMeta) -> Result<()> {
    let path = layout.sweep_json();
    let json = serde_json::to_string_pretty(meta).map_err(|e| Error::write_with(&path, e))?;
    write_atomic(&path, format!("{json}\n").as_bytes()).map_err(|e| Error::write(&path, e))
}

/// Reads a directory's `sweep.json`.
pub fn read_meta(layout: &Layout) -> Result<SweepMeta> {
    let path = layout.sweep_json();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::invalid(format!(
            "'{}' is not a sweep output directory (no readable sweep.json): {e}",
            layout.root().display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(format!("'{}' is not valid: {e}", path.display())))
}
