//! `capacity.parquet` / `capacity.csv`: one row per point (one configuration
//! and seed) of a capacity search, read off its probes, and
//! `capacity_summary.*`, the same with the seed folded out.

use super::bracket::{self, Next};
use super::spec::{Load, SearchSpec};
use super::verdict::{verdict, Verdict};
use crate::config::Config;
use crate::metrics::catalog::key_metrics;
use crate::metrics::cost::usd_per_million_tokens;
use crate::sweep::plan::{Plan, Point};
use crate::sweep::runs_table::{load_type, swept_cell, swept_types, Outcome, RunRow};
use crate::table::schema::{
    BINDING_BOUND, BINDING_SLO, CAPACITY, COST_PER_HOUR, COST_PER_MILLION, FAILS_AT,
    GOODPUT_OUTPUT_TOKENS, GOODPUT_REQUESTS, GPUS, POINT, PROBES, STATUS, STATUS_FAILED, STATUS_OK,
    SWEEP,
};
use crate::table::summary::summarize_columns;
use crate::table::{Cell, Column, ColumnType, Table};

/// The metric columns whose values at the capacity are the goodput.
const REQUESTS_PER_SEC: &str = "requests_per_sec";
const OUTPUT_TOKENS_PER_SEC: &str = "output_tokens_per_sec";

/// GPUs that serve one run of `config`: tensor_parallel_size x replicas.
pub fn gpus(config: &Config) -> u64 {
    config.server.deployment.gpus()
}

/// What one point's search found.
#[derive(Debug, Clone)]
pub struct PointCapacity<'r> {
    /// The highest passing load (`None`: the lower bound failed).
    pub capacity: Option<Load>,
    /// The lowest failing load (`None`: the upper bound passed).
    pub fails_at: Option<Load>,
    /// The SLO column that failed at `fails_at`, `overload`, `failed`, or
    /// `bound` when the upper bound passed.
    pub binding: String,
    /// Probes run.
    pub probes: usize,
    /// The run at the capacity.
    pub at_capacity: Option<&'r RunRow<'r>>,
    /// Whether any probe's run failed.
    pub failed: bool,
}

/// The result of one point's search from its runs (all of them, in order);
/// `None` for a point whose config is invalid or whose search is unfinished.
pub fn point_capacity<'r>(
    spec: &SearchSpec,
    template: &[Column],
    rows: &'r [RunRow<'r>],
) -> Option<PointCapacity<'r>> {
    let verdicts: Vec<(Load, Verdict)> = rows
        .iter()
        .map(|r| Some((r.load?, verdict(spec, template, &r.outcome))))
        .collect::<Option<_>>()?;
    let probes: Vec<(Load, bool)> = verdicts.iter().map(|(l, v)| (*l, v.passed())).collect();
    let Next::Done(found) = bracket::next(spec.bounds, spec.tolerance, &probes) else {
        return None;
    };
    let binding = match found.fails_at.map(|i| verdicts[i].1) {
        Some(Verdict::Fail(b)) => b.name(spec).to_string(),
        _ => BINDING_BOUND.to_string(),
    };
    Some(PointCapacity {
        capacity: found.capacity.map(|i| probes[i].0),
        fails_at: found.fails_at.map(|i| probes[i].0),
        binding,
        probes: rows.len(),
        at_capacity: found.capacity.map(|i| &rows[i]),
        failed: rows.iter().any(|r| r.outcome.is_failed()),
    })
}

/// The capacity table of a search's `rows` (the runs table's rows, in point
/// order). Columns: `sweep`, `point`, the swept keys, `status` (`failed`
/// when a probe's run failed or the point is invalid), `capacity`,
/// `fails_at`, `binding_slo`, `probes`, `gpus`, `cost_per_hour`, the goodput
/// and `cost_per_million_output_tokens`, then every metric of the run at the
/// capacity.
pub fn capacity_table(
    plan: &Plan,
    spec: &SearchSpec,
    template: &[Column],
    rows: &[RunRow<'_>],
) -> Table {
    let swept = swept_types(plan);
    let load = load_type(spec.bounds);
    let mut columns = vec![
        Column::new(SWEEP, ColumnType::Text),
        Column::new(POINT, ColumnType::Int),
    ];
    columns.extend(
        plan.keys()
            .iter()
            .zip(&swept)
            .map(|(k, t)| Column::new(k, *t)),
    );
    columns.extend([
        Column::new(STATUS, ColumnType::Text),
        Column::new(CAPACITY, load),
        Column::new(FAILS_AT, load),
        Column::new(BINDING_SLO, ColumnType::Text),
        Column::new(PROBES, ColumnType::Int),
        Column::new(GPUS, ColumnType::Int),
        Column::new(COST_PER_HOUR, ColumnType::Float),
        Column::new(GOODPUT_REQUESTS, ColumnType::Float),
        Column::new(GOODPUT_OUTPUT_TOKENS, ColumnType::Float),
        Column::new(COST_PER_MILLION, ColumnType::Float),
    ]);
    columns.extend(template.iter().cloned());
    let metric = |cells: &[Cell], name: &str| {
        template
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| cells.get(i))
            .and_then(Cell::as_number)
    };
    let opt = |v: Option<f64>| v.map_or(Cell::Null, Cell::Float);
    let table_rows = point_groups(rows)
        .map(|group| {
            let point: &Point = group[0].point;
            let mut row = vec![
                Cell::Text(plan.manifest.name.clone()),
                Cell::Int(point.index as i64),
            ];
            row.extend(
                point
                    .values
                    .iter()
                    .zip(&swept)
                    .map(|(v, t)| swept_cell(v, *t)),
            );
            let found = point_capacity(spec, template, group);
            let config = plan.resolved(point).ok().map(|r| &r.config);
            let metrics: Option<&[Cell]> = match found
                .as_ref()
                .and_then(|f| f.at_capacity)
                .map(|r| &r.outcome)
            {
                Some(Outcome::Finished { metrics, .. }) => Some(metrics),
                _ => None,
            };
            let failed = found.as_ref().is_none_or(|f| f.failed);
            row.push(Cell::Text(
                if failed { STATUS_FAILED } else { STATUS_OK }.into(),
            ));
            row.extend([
                found
                    .as_ref()
                    .and_then(|f| f.capacity)
                    .map_or(Cell::Null, Load::to_cell),
                found
                    .as_ref()
                    .and_then(|f| f.fails_at)
                    .map_or(Cell::Null, Load::to_cell),
                found
                    .as_ref()
                    .map_or(Cell::Null, |f| Cell::Text(f.binding.clone())),
                found
                    .as_ref()
                    .map_or(Cell::Null, |f| Cell::Int(f.probes as i64)),
            ]);
            let gpus = config.map(|c| gpus(c));
            let price = config.and_then(|c| c.server.hardware.cost_per_hour);
            let requests = metrics.and_then(|m| metric(m, REQUESTS_PER_SEC));
            let tokens = metrics.and_then(|m| metric(m, OUTPUT_TOKENS_PER_SEC));
            let cost = match (gpus, price, tokens) {
                (Some(g), Some(p), Some(t)) => usd_per_million_tokens(g, p, t),
                _ => None,
            };
            row.extend([
                gpus.map_or(Cell::Null, |g| Cell::Int(g as i64)),
                opt(price),
                opt(requests),
                opt(tokens),
                opt(cost),
            ]);
            match metrics {
                Some(m) => row.extend(m.iter().cloned()),
                None => row.extend(template.iter().map(|_| Cell::Null)),
            }
            row
        })
        .collect();
    Table {
        columns,
        rows: table_rows,
    }
}

/// The rows of each point, in order (rows come sorted by point).
fn point_groups<'s, 'r>(rows: &'s [RunRow<'r>]) -> impl Iterator<Item = &'s [RunRow<'r>]> {
    rows.chunk_by(|a, b| a.point.index == b.point.index)
}

/// The capacity summary: `capacity_table` with the seed folded out, with
/// mean, std and 95% half-width of the capacity, the goodput, the cost and
/// the key metrics at the capacity (points without a capacity, which failed
/// at the lower bound, are left out of the capacity's statistics).
pub fn capacity_summary(capacity: &Table) -> Table {
    summarize_columns(capacity, &capacity_summary_metrics())
}

/// The columns a capacity summary folds: the capacity, the goodput, the
/// cost and the key metrics at the capacity.
pub fn capacity_summary_metrics() -> Vec<&'static str> {
    let mut columns = vec![
        CAPACITY,
        GOODPUT_REQUESTS,
        GOODPUT_OUTPUT_TOKENS,
        COST_PER_MILLION,
    ];
    columns.extend(key_metrics().map(|m| m.column.as_str()));
    columns
}
