//! Runs a plan's points on a rayon pool, a window of points at a time: each
//! point asks its strategy for runs, each run reuses a finished result when
//! one is stored, records a new result in the run store as soon as it ends,
//! and each window's rows stream into the tables.
//!
//! Nothing is lost: each run's record lands in the store the moment it
//! finishes, and every table appears atomically when the sweep ends, so a
//! sweep killed at any moment resumes without redoing finished runs.
//! Progress reaches the caller through a callback; the runner draws nothing
//! and leaves the process's panic hook alone.

use super::layout::{Layout, Shard};
use super::lock::lock_dir;
use super::meta::{now_rfc3339, SweepMeta};
use super::output::{
    finish_meta, metric_template, new_meta, read_meta, read_tables, write_meta, Tables,
    TablesWriter, WindowRows,
};
use super::plan::{Plan, Point};
use super::run_id::RunId;
use super::runs_table::Outcome;
use super::stamp;
use super::store::{Finished, Store};
use super::strategy::{drive_point, PointRuns, RunResultRef, RunSpec};
use crate::cluster::Simulator;
use crate::config::Config;
use crate::engine::{NoopObserver, SimOptions};
use crate::io::files::remove_temp_files;
use crate::io::workload::{build_workload, PromptCache, WorkloadSource};
use crate::io::{Error, ErrorKind, Result};
use crate::table::Column;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Also write each finished run's full result JSON (`--run-files`).
    pub run_files: bool,
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
    /// Whether the directory already held the finished sweep, unchanged
    /// since its tables were written (see [`super::stamp`]): nothing was
    /// read or written but `sweep.json`.
    pub up_to_date: bool,
}

/// Points resolved and driven together: the tables grow by a window at a
/// time, so memory holds two windows' points and rows (one running, one
/// being written), whatever the size of the sweep.
pub const WINDOW_POINTS: usize = 4096;

/// Where the runs of a window's points come from: simulated or stored
/// (the runner), or looked up in shard directories (`sweep merge`).
pub(super) trait RunSource: Sync {
    /// The result of `spec` for `point`, or `None` when it cannot be had
    /// (a stop was asked for, a shard is missing).
    fn run(&self, point: &Point, spec: &RunSpec) -> Option<RunResultRef>;

    /// Every run of one point is done.
    fn point_done(&self) {}

    /// A window ended: anything kept for its points can go.
    fn window_done(&self) {}
}

/// Drives the points `indices` (increasing) of `plan` window by window on
/// `pool`, getting runs from `source` and adding each complete point to
/// `tables`; stops after the window in which `stop` was set. Returns the
/// points that are not complete.
///
/// The tables are written on a thread of their own, a window behind: while
/// one window's rows are encoded (their CSV formatting shares the pool),
/// the next window's points run, so no core waits for the writer.
pub(super) fn drive_windows(
    plan: &Plan,
    template: &[Column],
    indices: impl Iterator<Item = usize>,
    pool: &rayon::ThreadPool,
    source: &dyn RunSource,
    tables: &mut TablesWriter,
    stop: Option<&AtomicBool>,
) -> Result<Vec<usize>> {
    std::thread::scope(|scope| {
        // One window waits while the writer writes another: two at most.
        let (sender, windows) = std::sync::mpsc::sync_channel::<WindowRows>(1);
        let writer = scope.spawn(move || -> Result<()> {
            for rows in windows {
                pool.install(|| tables.add(rows))?;
            }
            Ok(())
        });
        let mut indices = indices.peekable();
        let mut incomplete = Vec::new();
        while indices.peek().is_some() {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                incomplete.extend(indices);
                break;
            }
            let window: Vec<usize> = indices.by_ref().take(WINDOW_POINTS).collect();
            let (rows, partial) = drive_window(plan, template, &window, pool, source);
            incomplete.extend(partial);
            if sender.send(rows).is_err() {
                break; // the writer failed: its error is the sweep's
            }
        }
        drop(sender);
        let written = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        written.map(|()| incomplete)
    })
}

/// Drives the points `window` of `plan` on `pool`: the rows of the complete
/// points, in order, and the indices of those that are not.
fn drive_window(
    plan: &Plan,
    template: &[Column],
    window: &[usize],
    pool: &rayon::ThreadPool,
    source: &dyn RunSource,
) -> (WindowRows, Vec<usize>) {
    pool.install(|| {
        let points: Vec<Point> = window.par_iter().map(|&i| plan.point(i)).collect();
        let driven: Vec<PointRuns<'_>> = points
            .par_iter()
            .with_max_len(1)
            .map(|point| {
                let runs = drive_point(plan, template, point, &mut |spec| source.run(point, spec));
                if runs.complete {
                    source.point_done();
                }
                runs
            })
            .collect();
        source.window_done();
        let (complete, partial): (Vec<_>, Vec<_>) = driven.into_iter().partition(|r| r.complete);
        (
            WindowRows::of(plan, template, &complete),
            partial.iter().map(|r| r.index).collect(),
        )
    })
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
    let here = |i: &usize| opts.shard.is_none_or(|s| s.contains(*i));
    let points_here = opts.shard.map_or(plan.len(), |s| s.points_of(plan.len()));
    let mut meta = new_meta(plan, manifest, opts.shard, points_here);
    if !opts.force {
        check_same_sweep(layout, &meta)?;
    }
    plan.save_cache(&layout.plan_cache())?;
    let stamp_path = layout.tables_stamp();
    if !opts.force {
        if let Some(outcome) = unchanged(plan, layout, opts, &meta)? {
            progress(Progress::Started {
                points: points_here,
            });
            return Ok(outcome);
        }
    }
    stamp::remove(&stamp_path)?;
    // sweep.json first: it marks the directory as this sweep's (or shard's)
    // even if the process dies, so `sweep merge` can name what is missing.
    write_meta(layout, &meta)?;
    progress(Progress::Started {
        points: points_here,
    });
    let template = metric_template(plan)?;
    let store = Store::open(layout, &template, opts.force, opts.run_files)?;
    let prompt_cache = PromptCache::default();
    let context = RunContext {
        plan,
        store: &store,
        source: WorkloadSource {
            config_path: Some(&plan.manifest.base),
            dataset: &plan.manifest.dataset,
            cache: Some(&prompt_cache),
        },
        layout,
        opts,
        runs: Mutex::default(),
        reused: AtomicUsize::new(0),
        progress,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| Error::invalid(format!("cannot start the worker threads: {e}")))?;
    let mut tables = TablesWriter::create(plan, &template, layout, opts.per_request)?;
    drive_windows(
        plan,
        &template,
        (0..plan.len()).filter(here),
        &pool,
        &context,
        &mut tables,
        Some(opts.stop),
    )?;
    let counts = tables.counts();
    let tables = tables.finish()?;
    meta.reused = context.reused.load(Ordering::Relaxed);
    finish_meta(&mut meta, counts);
    write_meta(layout, &meta)?;
    if meta.not_run == 0 && meta.failed == 0 {
        if let Some(fingerprint) = stamp::fingerprint(plan, layout, opts.per_request) {
            stamp::save(&stamp_path, fingerprint)?;
        }
    }
    Ok(SweepOutcome {
        tables,
        interrupted: meta.not_run > 0,
        meta,
        up_to_date: false,
    })
}

/// The outcome of resuming a sweep that would change nothing: the
/// directory holds this very plan finished (every point done, no run
/// failed) and nothing there changed since its tables were written (the
/// stamp says so; the plan came from its cache, so no input changed
/// either). Only `sweep.json` is written again, as the record of this
/// invocation; the tables the caller reports are read back.
fn unchanged(
    plan: &Plan,
    layout: &Layout,
    opts: &RunnerOptions,
    new: &SweepMeta,
) -> Result<Option<SweepOutcome>> {
    let stamped = stamp::is_current(plan, layout, opts.per_request);
    let Some(mut meta) = stamped.then(|| read_meta(layout).ok()).flatten() else {
        return Ok(None);
    };
    let same = meta.points_hash == new.points_hash
        && meta.shard == new.shard
        && meta.points_here == new.points_here
        && meta.version == new.version;
    if !same || meta.not_run != 0 || meta.failed != 0 {
        return Ok(None);
    }
    let Ok(tables) = read_tables(plan, layout) else {
        return Ok(None);
    };
    meta.reused = meta.ok;
    meta.started.clone_from(&new.started);
    meta.finished = Some(now_rfc3339());
    write_meta(layout, &meta)?;
    Ok(Some(SweepOutcome {
        tables,
        meta,
        interrupted: false,
        up_to_date: true,
    }))
}

/// Refuses a directory that holds the results of another sweep (another
/// manifest file or sweep name, per its `sweep.json`): resuming there would
/// mix two sweeps' tables. The same manifest, even edited, resumes.
fn check_same_sweep(layout: &Layout, new: &SweepMeta) -> Result<()> {
    if !layout.sweep_json().is_file() {
        return Ok(());
    }
    let old = read_meta(layout)?;
    if old.manifest == new.manifest && old.sweep == new.sweep {
        return Ok(());
    }
    Err(Error::new(ErrorKind::Usage(format!(
        "'{}' holds the results of sweep '{}' (manifest {}), not of '{}' ({}): write to another directory, or pass --force to redo every run there",
        layout.root().display(),
        old.sweep,
        old.manifest,
        new.sweep,
        new.manifest
    ))))
}

/// A run's outcome, computed once even when several points ask for it.
type Memo = Arc<OnceLock<Option<RunResultRef>>>;

/// What every run of a sweep shares.
struct RunContext<'a> {
    plan: &'a Plan,
    store: &'a Store,
    source: WorkloadSource<'a>,
    layout: &'a Layout,
    opts: &'a RunnerOptions<'a>,
    /// Each distinct run of the window once, even if several points ask for it.
    runs: Mutex<HashMap<RunId, Memo>>,
    /// How many runs' stored results were reused.
    reused: AtomicUsize,
    progress: &'a (dyn Fn(Progress) + Sync),
}

impl RunSource for RunContext<'_> {
    /// The result of `spec` for `point`: stored, or simulated now; `None`
    /// once a stop was asked for and the run had not started.
    fn run(&self, point: &Point, spec: &RunSpec) -> Option<RunResultRef> {
        let memo = {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(runs.entry(spec.run_id).or_default())
        };
        memo.get_or_init(|| {
            let stored = self.store.finished(spec.run_id, self.opts.per_request);
            let reused = stored.is_some();
            let outcome = match stored {
                Some(outcome) => {
                    self.reused.fetch_add(1, Ordering::Relaxed);
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

    fn point_done(&self) {
        (self.progress)(Progress::Point);
    }

    fn window_done(&self) {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl RunContext<'_> {
    /// Runs one simulation and records its result; never panics, never
    /// fails the sweep.
    fn execute(&self, point: &Point, spec: &RunSpec) -> Outcome {
        let started = Instant::now();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let config = spec.config(self.plan, point).map_err(Error::invalid)?;
            simulate(config, spec, &self.source, self.opts.per_request)
        }));
        let wall_seconds = started.elapsed().as_secs_f64();
        let recorded = match run {
            Ok(Ok(finished)) => {
                let inputs = self.plan.resolved(point).map_or(&[][..], |r| &r.inputs);
                self.store
                    .record_finished(spec.run_id, finished, inputs, wall_seconds)
            }
            Ok(Err(err)) => Err(err),
            Err(payload) => Err(Error::invalid(panic_message(payload.as_ref()))),
        };
        recorded.unwrap_or_else(|err| {
            let error = err.to_string();
            self.store
                .record_failed(spec.run_id, &error, Some(wall_seconds));
            Outcome::Failed {
                error,
                wall_seconds: Some(wall_seconds),
            }
        })
    }
}

/// Simulates `config`, the config of `spec` (its workload read through
/// `source`), under the overload detector for a probe that may stop early;
/// `per_request` keeps every request's record. The sweep runner and the
/// one-config `capacity` command both run probes through here.
pub fn simulate(
    config: &Config,
    spec: &RunSpec,
    source: &WorkloadSource<'_>,
    per_request: bool,
) -> Result<Finished> {
    let workload = build_workload(config, source, &mut |_| {})?;
    let mut detector = spec
        .overload
        .as_ref()
        .and_then(|rule| rule.detector(workload.planned_requests()));
    let options = SimOptions::recording(per_request);
    let sim = Simulator::new(config, workload, options);
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
