//! Runs a plan's points on a rayon pool: reuses finished runs, records each
//! new run's result as soon as it ends, and writes the tables at the end.
//!
//! Nothing is lost: every file is written atomically, each run's JSON lands
//! the moment it finishes, and the tables are rebuilt from those files, so
//! a sweep killed at any moment resumes without redoing finished runs.

use super::layout::{Layout, Shard};
use super::meta::SweepMeta;
use super::output::{finish_meta, metric_template, new_meta, write_meta, write_tables, Row};
use super::plan::{Plan, Point};
use super::run_id::RunId;
use super::store::{load_finished, record_failed, record_finished};
use super::table::{Column, Outcome, Table};
use crate::cli::dataset::{workload, DatasetInputs, PromptCache};
use crate::config::Config;
use crate::engine::{NoopObserver, RunOutput, SimOptions, Simulator};
use crate::report::progress::stderr_bar;
use crate::report::style::Style;
use anyhow::{Context, Result};
use rayon::prelude::*;
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

/// Runs `plan` into `layout`; `manifest` is recorded in `sweep.json`.
pub fn run(
    plan: &Plan,
    layout: &Layout,
    manifest: &Path,
    opts: &RunnerOptions,
) -> Result<SweepOutcome> {
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
    // sweep.json first: it marks the directory as this sweep's (or shard's)
    // even if the process dies, so `sweep merge` can name what is missing.
    let mut meta = new_meta(plan, manifest, opts.shard, points.len());
    write_meta(layout, &meta)?;
    let template = metric_template(plan)?;

    // Each distinct valid config runs once, even if several points share it.
    let mut outcomes: HashMap<RunId, Outcome> = HashMap::new();
    let mut pending: Vec<(&Point, &Config)> = Vec::new();
    let mut seen: HashSet<RunId> = HashSet::new();
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
                meta.reused += 1;
                outcomes.insert(point.run_id, outcome);
            }
            None => pending.push((point, config)),
        }
    }

    let prompt_cache = PromptCache::default();
    let context = RunContext {
        layout,
        base: &plan.manifest.base,
        dataset: DatasetInputs {
            tokenizer: plan.manifest.tokenizer.as_deref(),
            chat_template: plan.manifest.chat_template.as_deref(),
            show_progress: false,
            cache: Some(&prompt_cache),
        },
        per_request: opts.per_request,
        template: &template,
    };
    outcomes.extend(execute_all(&pending, &context, opts)?);

    let rows: Vec<Row> = points
        .iter()
        .filter_map(|point| {
            let outcome = match &point.config {
                Err(error) => Outcome::Failed {
                    error: error.clone(),
                    wall_seconds: None,
                },
                Ok(_) => outcomes.get(&point.run_id)?.clone(),
            };
            let requests = (opts.per_request && !outcome.is_failed())
                .then(|| layout.run_requests(point.run_id));
            Some(Row {
                point,
                outcome,
                requests,
            })
        })
        .collect();
    let table = write_tables(plan, &template, &rows, layout, opts.per_request)?;
    finish_meta(&mut meta, &rows);
    write_meta(layout, &meta)?;
    Ok(SweepOutcome {
        table,
        interrupted: meta.not_run > 0,
        meta,
    })
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
    pending: &[(&Point, &Config)],
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
                .filter_map(|&(point, config)| {
                    if opts.stop.load(Ordering::Relaxed) {
                        return None;
                    }
                    let outcome = execute(point, config, context);
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
fn execute(point: &Point, config: &Config, context: &RunContext) -> Outcome {
    let started = Instant::now();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| simulate(config, context)));
    let wall_seconds = started.elapsed().as_secs_f64();
    let recorded = match run {
        Ok(Ok(output)) => record_finished(
            context.layout,
            point.run_id,
            output,
            wall_seconds,
            context.template,
        ),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(anyhow::anyhow!(
            "{}",
            LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "the run panicked".into())
        )),
    };
    recorded.unwrap_or_else(|err| {
        let error = crate::cli::render_error(&err);
        record_failed(context.layout, point.run_id, &error, Some(wall_seconds));
        Outcome::Failed {
            error,
            wall_seconds: Some(wall_seconds),
        }
    })
}

fn simulate(config: &Config, context: &RunContext) -> Result<RunOutput> {
    let workload = workload(config, Some(context.base), &context.dataset, Style::plain())?;
    let options = SimOptions::recording(context.per_request);
    Ok(Simulator::new(config, workload, options).run(&mut NoopObserver)?)
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
