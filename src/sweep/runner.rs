//! Runs a plan's points on a rayon pool: each point asks its strategy for
//! runs, each run reuses a finished result when one is stored, records a new
//! result as soon as it ends, and the tables are written at the end.
//!
//! Nothing is lost: every file is written atomically, each run's JSON lands
//! the moment it finishes, and the tables are rebuilt from those files, so
//! a sweep killed at any moment resumes without redoing finished runs.
//! Progress reaches the caller through a callback; the runner draws nothing
//! and leaves the process's panic hook alone.

use super::layout::{Layout, Shard};
use super::lock::lock_dir;
use super::meta::SweepMeta;
use super::output::{
    finish_meta, metric_template, new_meta, write_meta, write_tables, Counts, Tables,
};
use super::plan::{Plan, Point};
use super::run_id::RunId;
use super::runs_table::{Outcome, RunRow};
use super::store::{load_finished, record_failed, record_finished, Expected, Finished};
use super::strategy::{drive_point, RunResultRef, RunSpec};
use crate::cluster::Simulator;
use crate::engine::{NoopObserver, SimOptions};
use crate::io::files::remove_temp_files;
use crate::io::workload::{build_workload, PromptCache, WorkloadSource};
use crate::io::{Error, Result};
use crate::table::Column;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
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
    /// Set (by Ctrl-C) to start no new run; runs in progress finish.
    pub stop: &'a AtomicBool,
}

/// What the runner tells its caller as it goes (from worker threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The sweep starts: `points` points to go through in this directory.
    Started {
        /// Points in this directory (all, or the shard's).
        points: usize,
    },
    /// One run is done.
    Run {
        /// Whether it failed.
        failed: bool,
        /// Whether its result was reused from an earlier invocation.
        reused: bool,
    },
    /// Every run of one point is done.
    Point,
}

/// What a sweep produced.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// The tables that were written.
    pub tables: Tables,
    /// The `sweep.json` that was written.
    pub meta: SweepMeta,
    /// Whether Ctrl-C stopped it before every point ran.
    pub interrupted: bool,
}

/// Runs `plan` into `layout`; `manifest` is recorded in `sweep.json`;
/// `progress` hears of every run and point as it ends.
pub fn run(
    plan: &Plan,
    layout: &Layout,
    manifest: &Path,
    opts: &RunnerOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SweepOutcome> {
    std::fs::create_dir_all(layout.runs_dir()).map_err(|e| Error::create_dir(layout.root(), e))?;
    let _lock = lock_dir(layout.root())?;
    // Under the lock no other writer is alive here: temporary files are
    // what killed writers left.
    for dir in [layout.root(), &layout.runs_dir()] {
        remove_temp_files(dir).map_err(|e| Error::write(dir, e))?;
    }
    let points: Vec<&Point> = plan
        .points
        .iter()
        .filter(|p| opts.shard.is_none_or(|s| s.contains(p.index)))
        .collect();
    // sweep.json first: it marks the directory as this sweep's (or shard's)
    // even if the process dies, so `sweep merge` can name what is missing.
    let mut meta = new_meta(plan, manifest, opts.shard, points.len());
    write_meta(layout, &meta)?;
    progress(Progress::Started {
        points: points.len(),
    });
    let template = metric_template(plan)?;
    let prompt_cache = PromptCache::default();
    let context = RunContext {
        layout,
        source: WorkloadSource {
            config_path: Some(&plan.manifest.base),
            dataset: &plan.manifest.dataset,
            cache: Some(&prompt_cache),
        },
        opts,
        template: &template,
        runs: Mutex::default(),
        reused: Mutex::default(),
        progress,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| Error::invalid(format!("cannot start the worker threads: {e}")))?;
    let results: Vec<_> = pool.install(|| {
        points
            .par_iter()
            .with_max_len(1)
            .map(|point| {
                let runs =
                    drive_point(plan, &template, point, &mut |spec| context.run(point, spec));
                if runs.complete {
                    progress(Progress::Point);
                }
                runs
            })
            .collect()
    });
    let points_done = results.iter().filter(|r| r.complete).count();
    let rows: Vec<RunRow<'_>> = results
        .into_iter()
        .filter(|r| r.complete)
        .flat_map(|r| r.rows)
        .collect();
    let tables = write_tables(plan, &template, &rows, layout, opts.per_request)?;
    meta.reused = context
        .reused
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    finish_meta(&mut meta, Counts::of(&rows, points_done));
    write_meta(layout, &meta)?;
    Ok(SweepOutcome {
        tables,
        interrupted: meta.not_run > 0,
        meta,
    })
}

/// A run's outcome, computed once even when several points ask for it.
type Memo = Arc<OnceLock<Option<RunResultRef>>>;

/// What every run of a sweep shares.
struct RunContext<'a> {
    layout: &'a Layout,
    source: WorkloadSource<'a>,
    opts: &'a RunnerOptions<'a>,
    template: &'a [Column],
    /// Each distinct run once, even if several points ask for it.
    runs: Mutex<HashMap<RunId, Memo>>,
    /// The runs whose stored results were reused.
    reused: Mutex<std::collections::HashSet<RunId>>,
    progress: &'a (dyn Fn(Progress) + Sync),
}

impl RunContext<'_> {
    /// The result of `spec` for `point`: stored, or simulated now; `None`
    /// once a stop was asked for and the run had not started.
    fn run(&self, point: &Point, spec: &RunSpec) -> Option<RunResultRef> {
        let memo = {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(runs.entry(spec.run_id).or_default())
        };
        memo.get_or_init(|| {
            let expected = Expected {
                config: &spec.config,
                inputs: &point.inputs,
                per_request: self.opts.per_request,
            };
            let stored = (!self.opts.force)
                .then(|| load_finished(self.layout, spec.run_id, expected, self.template))
                .flatten();
            let reused = stored.is_some();
            let outcome = match stored {
                Some(outcome) => {
                    self.reused
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(spec.run_id);
                    outcome
                }
                None if self.opts.stop.load(Ordering::Relaxed) => return None,
                None => self.execute(point, spec),
            };
            (self.progress)(Progress::Run {
                failed: outcome.is_failed(),
                reused,
            });
            let requests = (self.opts.per_request && !outcome.is_failed())
                .then(|| self.layout.run_requests(spec.run_id));
            Some(RunResultRef { outcome, requests })
        })
        .clone()
    }

    /// Runs one simulation and records its result; never panics, never
    /// fails the sweep.
    fn execute(&self, point: &Point, spec: &RunSpec) -> Outcome {
        let started = Instant::now();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.simulate(spec)));
        let wall_seconds = started.elapsed().as_secs_f64();
        let recorded = match run {
            Ok(Ok(finished)) => record_finished(
                self.layout,
                spec.run_id,
                finished,
                &point.inputs,
                wall_seconds,
                self.template,
            ),
            Ok(Err(err)) => Err(err),
            Err(payload) => Err(Error::invalid(panic_message(payload.as_ref()))),
        };
        recorded.unwrap_or_else(|err| {
            let error = err.to_string();
            record_failed(self.layout, spec.run_id, &error, Some(wall_seconds));
            Outcome::Failed {
                error,
                wall_seconds: Some(wall_seconds),
            }
        })
    }

    /// Simulates `spec`'s config.
    fn simulate(&self, spec: &RunSpec) -> Result<Finished> {
        simulate(spec, &self.source, self.opts.per_request)
    }
}

/// Simulates `spec`'s config (its workload read through `source`), under
/// the overload detector for a probe that may stop early; `per_request`
/// keeps every request's record. The sweep runner and the one-config
/// `capacity` command both run probes through here.
pub fn simulate(
    spec: &RunSpec,
    source: &WorkloadSource<'_>,
    per_request: bool,
) -> Result<Finished> {
    let workload = build_workload(&spec.config, source, &mut |_| {})?;
    let mut detector = spec
        .overload
        .as_ref()
        .and_then(|rule| rule.detector(workload.planned_requests()));
    let options = SimOptions::recording(per_request);
    let sim = Simulator::new(&spec.config, workload, options);
    let output = match &mut detector {
        Some(d) => sim.run(d)?,
        None => sim.run(&mut NoopObserver)?,
    };
    Ok(Finished {
        output,
        overload: detector.and_then(|d| d.fired().map(str::to_string)),
    })
}

/// The message of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into());
    format!("the run panicked: {}", text.replace('\n', " "))
}
