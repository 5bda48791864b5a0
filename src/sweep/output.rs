//! The files that describe a whole sweep directory: the runs tables, the
//! per-request table and `sweep.json`, written the same way by a sweep and by
//! `sweep merge`.

use super::layout::{Layout, Shard};
use super::meta::{now_rfc3339, SweepMeta};
use super::plan::{Plan, Point};
use super::run_id::fnv1a;
use super::sink::{csv_table, parquet_table, requests};
use super::table::{metric_columns, runs_table, Column, Outcome, Table};
use crate::config::Config;
use crate::report::files::write_atomic;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One point's row: the point, what became of it, and (with per-request
/// output) the file of its requests.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// The point.
    pub point: &'a Point,
    /// Its outcome.
    pub outcome: Outcome,
    /// Its per-request Parquet file, for finished runs with `--per-request`.
    pub requests: Option<PathBuf>,
}

/// Writes `runs.parquet`, `runs.csv`, the seed-folded `summary.parquet` and
/// `summary.csv`, and, when `per_request`, `requests.parquet`
/// (each distinct run's requests once, in point order) into `layout`.
pub fn write_tables(
    plan: &Plan,
    template: &[Column],
    rows: &[Row],
    layout: &Layout,
    per_request: bool,
) -> Result<Table> {
    let table = runs_table(plan, template, rows.iter().map(|r| (r.point, &r.outcome)));
    parquet_table::write(&table, &layout.runs_parquet())?;
    csv_table::write(&table, &layout.runs_csv())?;
    super::aggregate::write_summary(layout, &table)?;
    if per_request {
        let mut seen = std::collections::HashSet::new();
        let parts: Vec<&Path> = rows
            .iter()
            .filter(|r| seen.insert(r.point.run_id))
            .filter_map(|r| r.requests.as_deref())
            .collect();
        requests::concatenate(parts, &layout.requests_parquet())?;
    }
    Ok(table)
}

/// The metric columns of `plan`'s tables, from its first valid config.
pub fn metric_template(plan: &Plan) -> Result<Vec<Column>> {
    let config = match plan.points.iter().find_map(|p| p.config.as_ref().ok()) {
        Some(c) => Config::clone(c),
        None => Config::builtin_default()?,
    };
    Ok(metric_columns(&config))
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
    }
}

/// Counts `rows` into `meta` and stamps the end time.
pub fn finish_meta(meta: &mut SweepMeta, rows: &[Row]) {
    meta.failed = rows.iter().filter(|r| r.outcome.is_failed()).count();
    meta.ok = rows.len() - meta.failed;
    meta.not_run = meta.points_here - rows.len();
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
    let json = serde_json::to_string_pretty(meta)?;
    let path = layout.sweep_json();
    write_atomic(&path, format!("{json}\n").as_bytes())
        .with_context(|| format!("cannot write '{}'", path.display()))
}

/// Reads a directory's `sweep.json`.
pub fn read_meta(layout: &Layout) -> Result<SweepMeta> {
    let path = layout.sweep_json();
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "'{}' is not a sweep output directory (no readable sweep.json)",
            layout.root().display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("'{}' is not valid", path.display()))
}
