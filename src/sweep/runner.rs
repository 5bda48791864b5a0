//! Runs a plan's points on a rayon pool: reuses finished runs, records each
//! new run's result as soon as it ends, and writes the tables at the end.
//!
//! Nothing is lost: every file is written atomically, each run's JSON lands
//! the moment it finishes, and the tables are rebuilt from those files, so
//! a sweep killed at any moment resumes without redoing finished runs.

use super::layout::{Layout, Shard};
use super::meta::{now_rfc3339, SweepMeta};
use super::plan::{Plan, Point};
use super::run_id::{fnv1a, RunId};
use super::sink::{csv_table, parquet_table, requests};
use super::table::{metric_columns, runs_table, Column, Outcome, Table};
use crate::cli::dataset::{workload, DatasetInputs};
use crate::config::Config;
use crate::engine::{NoopObserver, RunOutput, SimOptions, Simulator};
use crate::report::files::{write_atomic, write_atomic_unsynced};
use crate::report::progress::stderr_bar;
use crate::report::style::Style;
use anyhow::{Context, Result};
use rayon::prelude::*;
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// How to run a sweep.
#[derive(Debug, Clone, Copy)]
pub struct RunnerOptions<'a> {
    /// Worker threads.
    pub jobs: usize,
    /// Redo runs that already finished (`--force`).
    pub force: bool,
    /// Keep per-request rows (`--per-request`).
    pub per_request: bool,
    /// Which slice of the points to run (`--shard`).
    pub shard: Option<Shard>,
    /// Show the progress bar (it hides itself when stderr is not a terminal).
    pub show_progress: bool,
    /// Colours of the bar.
    pub style: Style,
    /// Set (by Ctrl-C) to start no new run; runs in progress finish.
    pub stop: &'a AtomicBool,
}

/// What a sweep produced.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// The runs table that was written.
    pub table: Table,
    /// The `sweep.json` that was written.
    pub meta: SweepMeta,
    /// Whether Ctrl-C stopped it before every point ran.
    pub interrupted: bool,
}

/// Runs `plan` into `layout` (`manifest_path` as given, for `sweep.json`).
pub fn run(
    plan: &Plan,
    layout: &Layout,
    manifest_path: &str,
    opts: &RunnerOptions,
) -> Result<SweepOutcome> {
    let started = now_rfc3339();
    std::fs::create_dir_all(layout.runs_dir()).with_context(|| {
        format!(
            "cannot create the output directory '{}'",
            layout.root().display()
        )
    })?;
    let points: Vec<&Point> = plan
        .points
        .iter()
        .filter(|p| opts.shard.is_none_or(|s| s.contains(p.index)))
        .collect();
    let template = metric_template(plan)?;

    // Each distinct valid config runs once, even if several points share it.
    let mut outcomes: HashMap<RunId, Outcome> = HashMap::new();
    let mut pending: Vec<&Point> = Vec::new();
    let mut seen: HashSet<RunId> = HashSet::new();
    let mut reused = 0;
    for point in &points {
        let Ok(config) = &point.config else {
            continue;
        };
        if !seen.insert(point.run_id) {
            continue;
        }
        match (!opts.force)
            .then(|| load_finished(layout, point.run_id, config, opts.per_request, &template))
            .flatten()
        {
            Some(outcome) => {
                reused += 1;
                outcomes.insert(point.run_id, outcome);
            }
            None => pending.push(point),
        }
    }

    let context = RunContext {
        layout,
        base: &plan.manifest.base,
        dataset: DatasetInputs {
            tokenizer: plan.manifest.tokenizer.as_deref(),
            chat_template: plan.manifest.chat_template.as_deref(),
            show_progress: false,
        },
        per_request: opts.per_request,
        template: &template,
    };
    let executed = execute_all(&pending, &context, opts)?;
    outcomes.extend(executed);

    let mut rows: Vec<(&Point, Outcome)> = Vec::new();
    for point in &points {
        let outcome = match &point.config {
            Err(error) => Some(Outcome::Failed {
                error: error.clone(),
                wall_seconds: None,
            }),
            Ok(_) => outcomes.get(&point.run_id).cloned(),
        };
        if let Some(outcome) = outcome {
            rows.push((point, outcome));
        }
    }
    let table = runs_table(plan, &template, rows.iter().map(|(p, o)| (*p, o)));
    parquet_table::write(&table, &layout.runs_parquet())?;
    csv_table::write(&table, &layout.runs_csv())?;
    super::aggregate::write_summary(layout, &table)?;
    if opts.per_request {
        write_requests(layout, &rows)?;
    }
    let failed = rows.iter().filter(|(_, o)| o.is_failed()).count();
    let meta = SweepMeta {
        sweep: plan.manifest.name.clone(),
        manifest: manifest_path.to_string(),
        manifest_hash: format!("{:016x}", plan.manifest.text_hash),
        points_hash: points_hash(plan),
        version: env!("CARGO_PKG_VERSION").to_string(),
        points: plan.points.len(),
        shard: opts.shard,
        points_here: points.len(),
        started,
        finished: now_rfc3339(),
        ok: rows.len() - failed,
        failed,
        not_run: points.len() - rows.len(),
        reused,
    };
    write_meta(layout, &meta)?;
    Ok(SweepOutcome {
        table,
        interrupted: meta.not_run > 0,
        meta,
    })
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

/// The metric columns, from the first valid point's config.
fn metric_template(plan: &Plan) -> Result<Vec<Column>> {
    let config = match plan.points.iter().find_map(|p| p.config.as_ref().ok()) {
        Some(c) => Config::clone(c),
        None => Config::builtin_default()?,
    };
    Ok(metric_columns(&config))
}

/// The outcome of a run finished by an earlier invocation, if its result is
/// there, was made by this version from this very config, and has the
/// per-request file when one is wanted.
fn load_finished(
    layout: &Layout,
    id: RunId,
    config: &Config,
    per_request: bool,
    template: &[Column],
) -> Option<Outcome> {
    if per_request && !layout.run_requests(id).is_file() {
        return None;
    }
    let text = std::fs::read_to_string(layout.run_json(id)).ok()?;
    let result: Json = serde_json::from_str(&text).ok()?;
    let same_version = result.pointer("/simulation/version").and_then(Json::as_str)
        == Some(env!("CARGO_PKG_VERSION"));
    let same_config = result.get("config") == serde_json::to_value(config).ok().as_ref();
    (same_version && same_config).then(|| Outcome::finished(&result, template))
}

/// What every run of a sweep shares.
struct RunContext<'a> {
    layout: &'a Layout,
    base: &'a Path,
    dataset: DatasetInputs<'a>,
    per_request: bool,
    template: &'a [Column],
}

/// Runs `pending` on a pool of `opts.jobs` threads with a progress bar.
fn execute_all(
    pending: &[&Point],
    context: &RunContext,
    opts: &RunnerOptions,
) -> Result<Vec<(RunId, Outcome)>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .context("cannot start the worker threads")?;
    let bar = stderr_bar(
        pending.len() as u64,
        opts.show_progress,
        opts.style,
        "{spinner:.cyan} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} runs, {msg}, ETA {eta}",
        "[{elapsed_precise}] [{bar:30}] {pos}/{len} runs, {msg}, ETA {eta}",
    );
    let failures = AtomicUsize::new(0);
    bar.set_message("0 failed");
    let results = quiet_panics(|| {
        pool.install(|| {
            pending
                .par_iter()
                .with_max_len(1)
                .filter_map(|point| {
                    if opts.stop.load(Ordering::Relaxed) {
                        return None;
                    }
                    let outcome = execute(point, context);
                    if outcome.is_failed() {
                        let failed = failures.fetch_add(1, Ordering::Relaxed) + 1;
                        bar.set_message(format!("{failed} failed"));
                    }
                    bar.inc(1);
                    Some((point.run_id, outcome))
                })
                .collect()
        })
    });
    bar.finish_and_clear();
    Ok(results)
}

/// Runs one point and records its result; never panics, never fails the sweep.
fn execute(point: &Point, context: &RunContext) -> Outcome {
    let started = Instant::now();
    let Ok(config) = &point.config else {
        return Outcome::Failed {
            error: "invalid config".into(),
            wall_seconds: None,
        };
    };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| simulate(config, context)));
    let wall_seconds = started.elapsed().as_secs_f64();
    let recorded = match run {
        Ok(Ok(output)) => record(point.run_id, output, wall_seconds, context),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(anyhow::anyhow!(
            "{}",
            LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "the run panicked".into())
        )),
    };
    recorded.unwrap_or_else(|err| Outcome::Failed {
        error: crate::cli::render_error(&err),
        wall_seconds: Some(wall_seconds),
    })
}

fn simulate(config: &Config, context: &RunContext) -> Result<RunOutput> {
    let workload = workload(config, Some(context.base), &context.dataset, Style::plain())?;
    let options = SimOptions::recording(context.per_request);
    Ok(Simulator::new(config, workload, options).run(&mut NoopObserver)?)
}

/// Writes a finished run's files and returns its row's outcome.
fn record(
    id: RunId,
    output: RunOutput,
    wall_seconds: f64,
    context: &RunContext,
) -> Result<Outcome> {
    let mut result = output.result;
    result.simulation.wall_seconds = wall_seconds;
    let json = serde_json::to_value(&result)?;
    if let Some(records) = &output.requests {
        requests::write_run(&context.layout.run_requests(id), &id.to_string(), records)?;
    }
    let path = context.layout.run_json(id);
    let text = serde_json::to_string_pretty(&json)?;
    // Resume validates this file (JSON, config, version) before trusting it.
    write_atomic_unsynced(&path, format!("{text}\n").as_bytes())
        .with_context(|| format!("cannot write '{}'", path.display()))?;
    Ok(Outcome::finished(&json, context.template))
}

/// `requests.parquet`: each finished run's requests once, in point order.
fn write_requests(layout: &Layout, rows: &[(&Point, Outcome)]) -> Result<()> {
    let mut seen: HashSet<RunId> = HashSet::new();
    let ids: Vec<RunId> = rows
        .iter()
        .filter(|(point, outcome)| !outcome.is_failed() && seen.insert(point.run_id))
        .map(|(point, _)| point.run_id)
        .collect();
    let parts: Vec<_> = ids.iter().map(|id| layout.run_requests(*id)).collect();
    requests::concatenate(
        parts.iter().map(|p| p.as_path()),
        &layout.requests_parquet(),
    )?;
    Ok(())
}

thread_local! {
    /// The message of the last panic on this thread, caught by [`quiet_panics`].
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with panics recorded for the run's error message instead of
/// printed over the progress bar.
fn quiet_panics<R>(f: impl FnOnce() -> R) -> R {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string().replace('\n', " ");
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
    }));
    let result = f();
    drop(std::panic::take_hook());
    std::panic::set_hook(previous);
    result
}
