//! The files that describe a whole sweep directory: the runs tables, the
//! per-request table and `sweep.json`, written the same way by a sweep and by
//! `sweep merge`.

use super::layout::{Layout, Shard};
use super::meta::{now_rfc3339, SearchMeta, SweepMeta};
use super::plan::Plan;
use super::run_id::RunId;
use super::runs_table::runs_table;
use super::search::capacity::{capacity_summary_metrics, capacity_table};
use super::strategy::{PointRuns, Strategy};
use crate::config::Config;
use crate::io::csv::CsvSink;
use crate::io::files::write_atomic;
use crate::io::parquet::{self, ParquetSink};
use crate::io::requests::RequestsSink;
use crate::io::{Error, Result};
use crate::metrics::catalog::metric_columns;
use crate::metrics::RunResult;
use crate::table::summary::{summary_metrics, Fold, Summarizer};
use crate::table::{Cell, Column, Table};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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

/// The tables a sweep keeps in memory for its caller once written: the
/// summaries (one row per configuration, not per run) and a search's
/// capacity table (one row per point).
#[derive(Debug, Clone, PartialEq)]
pub struct Tables {
    /// The seed-folded summary of the runs table.
    pub summary: Table,
    /// A capacity search's capacity table (one row per point).
    pub capacity: Option<Table>,
    /// Its seed-folded summary.
    pub capacity_summary: Option<Table>,
}

/// A table written as Parquet and CSV side by side, batch by batch.
struct Sinks {
    parquet: ParquetSink,
    csv: CsvSink,
}

impl Sinks {
    fn create(columns: &[Column], parquet: &Path, csv: &Path) -> Result<Self> {
        Ok(Self {
            parquet: ParquetSink::create(columns, parquet)?,
            csv: CsvSink::create(columns, csv)?,
        })
    }

    fn write(&mut self, rows: &[Vec<Cell>]) -> Result<()> {
        self.parquet.write(rows)?;
        self.csv.write(rows)
    }

    fn finish(self) -> Result<()> {
        self.parquet.finish()?;
        self.csv.finish()
    }
}

/// A summary written as its folds close, and kept for the caller.
struct SummarySink {
    summarizer: Summarizer,
    sinks: Sinks,
    rows: Vec<Vec<Cell>>,
}

impl SummarySink {
    fn create(summarizer: Summarizer, parquet: &Path, csv: &Path) -> Result<Self> {
        Ok(Self {
            sinks: Sinks::create(summarizer.columns(), parquet, csv)?,
            summarizer,
            rows: Vec::new(),
        })
    }

    /// Writes the summary rows of the folds closed before point `next`.
    fn close_before(&mut self, next: u64) -> Result<()> {
        let rows = self.summarizer.closed_before(next);
        self.keep(rows)
    }

    fn keep(&mut self, rows: Vec<Vec<Cell>>) -> Result<()> {
        self.sinks.write(&rows)?;
        self.rows.extend(rows);
        Ok(())
    }

    /// Adds the rows of the point `index` (of `fold`), after writing the
    /// summary rows its index closes.
    fn add_point(&mut self, index: usize, fold: Fold, rows: &[Vec<Cell>]) -> Result<()> {
        self.close_before(index as u64)?;
        for row in rows {
            self.summarizer.add(fold, row);
        }
        Ok(())
    }

    fn finish(self) -> Result<Table> {
        let Self {
            summarizer,
            mut sinks,
            mut rows,
        } = self;
        let columns = summarizer.columns().to_vec();
        let rest = summarizer.finish();
        sinks.write(&rest)?;
        rows.extend(rest);
        sinks.finish()?;
        Ok(Table { columns, rows })
    }
}

/// A search's capacity table and its summary, as they grow.
struct CapacitySinks {
    sinks: Sinks,
    table: Table,
    summary: SummarySink,
}

/// The rows a window of complete points adds to the tables, owned (no
/// longer borrowing the points), so they can be written on another thread
/// while the next window runs.
#[derive(Debug)]
pub struct WindowRows {
    /// The runs table's rows of every point, in order.
    runs: Vec<Vec<Cell>>,
    /// What each point adds besides.
    points: Vec<PointRows>,
}

/// What one complete point adds to the tables.
#[derive(Debug)]
struct PointRows {
    index: usize,
    /// The summary fold it belongs to.
    fold: Fold,
    /// How many runs table rows it has.
    runs: usize,
    /// How many of them failed.
    failed: usize,
    /// Its capacity table rows, for a capacity search.
    capacity: Option<Vec<Vec<Cell>>>,
    /// Its runs' per-request files, when kept.
    requests: Vec<(RunId, PathBuf)>,
}

impl WindowRows {
    /// The rows of the complete `points` of `plan` (metric columns
    /// `template`).
    pub fn of(plan: &Plan, template: &[Column], points: &[PointRuns<'_>]) -> Self {
        let runs = runs_table(plan, template, points.iter().flat_map(|p| &p.rows)).rows;
        let points = points
            .iter()
            .map(|point| PointRows {
                index: point.index,
                fold: plan.fold(point.index),
                runs: point.rows.len(),
                failed: point.rows.iter().filter(|r| r.outcome.is_failed()).count(),
                capacity: plan
                    .strategy
                    .search()
                    .map(|spec| capacity_table(plan, spec, template, &point.rows).rows),
                requests: point
                    .rows
                    .iter()
                    .filter_map(|r| Some((r.run_id, r.requests.clone()?)))
                    .collect(),
            })
            .collect();
        Self { runs, points }
    }
}

/// The tables of one sweep directory, written as the points finish (in
/// point order), so a sweep of any size holds only its open summary rows:
/// `runs.parquet`, `runs.csv`, the seed-folded `summary.parquet` and
/// `summary.csv`, for a capacity search `capacity.*` and
/// `capacity_summary.*`, and, with per-request rows, `requests.parquet`
/// (each distinct run's requests once, in row order). Nothing is in place
/// until [`finish`](Self::finish): each file appears whole, atomically.
pub struct TablesWriter {
    runs: Sinks,
    summary: SummarySink,
    capacity: Option<CapacitySinks>,
    requests: Option<(RequestsSink, HashSet<RunId>)>,
    counts: Counts,
}

impl TablesWriter {
    /// Starts the tables of `plan` (metric columns `template`) in `layout`.
    pub fn create(
        plan: &Plan,
        template: &[Column],
        layout: &Layout,
        per_request: bool,
    ) -> Result<Self> {
        let runs = runs_table(plan, template, &[]);
        let summary = SummarySink::create(
            Summarizer::new(&runs.columns, &summary_metrics().collect::<Vec<_>>()),
            &layout.summary_parquet(),
            &layout.summary_csv(),
        )?;
        let capacity = match &plan.strategy {
            Strategy::Search(spec) => {
                let table = capacity_table(plan, spec, template, &[]);
                Some(CapacitySinks {
                    sinks: Sinks::create(
                        &table.columns,
                        &layout.capacity_parquet(),
                        &layout.capacity_csv(),
                    )?,
                    summary: SummarySink::create(
                        Summarizer::new(&table.columns, &capacity_summary_metrics()),
                        &layout.capacity_summary_parquet(),
                        &layout.capacity_summary_csv(),
                    )?,
                    table,
                })
            }
            Strategy::Grid => None,
        };
        let requests = match per_request {
            true => Some((
                RequestsSink::create(&layout.requests_parquet())?,
                HashSet::new(),
            )),
            false => None,
        };
        Ok(Self {
            runs: Sinks::create(&runs.columns, &layout.runs_parquet(), &layout.runs_csv())?,
            summary,
            capacity,
            requests,
            counts: Counts::default(),
        })
    }

    /// Adds the rows of complete points (in point order, after every point
    /// added before), made by [`WindowRows::of`].
    pub fn add(&mut self, window: WindowRows) -> Result<()> {
        let WindowRows { runs, points } = window;
        let mut at = 0;
        for point in points {
            let rows = &runs[at..at + point.runs];
            at += point.runs;
            self.summary.add_point(point.index, point.fold, rows)?;
            self.counts.points_done += 1;
            self.counts.failed += point.failed;
            self.counts.ok += point.runs - point.failed;
            if let (Some(capacity), Some(part)) = (&mut self.capacity, point.capacity) {
                capacity.summary.add_point(point.index, point.fold, &part)?;
                capacity.sinks.write(&part)?;
                capacity.table.rows.extend(part);
            }
            if let Some((sink, seen)) = &mut self.requests {
                for (id, path) in point.requests {
                    if seen.insert(id) {
                        sink.append(&path)?;
                    }
                }
            }
        }
        self.runs.write(&runs)
    }

    /// What the tables hold so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Writes the last summary rows and puts every file in place.
    pub fn finish(self) -> Result<Tables> {
        self.runs.finish()?;
        let summary = self.summary.finish()?;
        let (capacity, capacity_summary) = match self.capacity {
            Some(c) => {
                c.sinks.finish()?;
                (Some(c.table), Some(c.summary.finish()?))
            }
            None => (None, None),
        };
        if let Some((sink, _)) = self.requests {
            sink.finish()?;
        }
        Ok(Tables {
            summary,
            capacity,
            capacity_summary,
        })
    }
}

/// The tables a finished sweep of `plan` wrote in `layout`, read back (what
/// [`TablesWriter::finish`] returned when it wrote them).
pub fn read_tables(plan: &Plan, layout: &Layout) -> Result<Tables> {
    let search = plan.strategy.search().is_some();
    Ok(Tables {
        summary: parquet::read(&layout.summary_parquet())?,
        capacity: search
            .then(|| parquet::read(&layout.capacity_parquet()))
            .transpose()?,
        capacity_summary: search
            .then(|| parquet::read(&layout.capacity_summary_parquet()))
            .transpose()?,
    })
}

/// The metric columns of `plan`'s tables, from its first valid config.
pub fn metric_template(plan: &Plan) -> Result<Vec<Column>> {
    let first = plan.first_valid();
    let config = match first.as_ref().map(|p| plan.resolved(p)) {
        Some(Ok(r)) => Config::clone(&r.config),
        _ => Config::builtin_default()?,
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
        points_hash: plan.points_hash(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        points: plan.len(),
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
