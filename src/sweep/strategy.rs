//! How a point chooses its runs. A point is not a run: a grid point runs its
//! config once, while a search point (a capacity search) probes several
//! loads, each chosen from the outcomes before it. The runner and `sweep
//! merge` both drive points through [`drive_point`], so neither needs to know
//! a point's run ids before its earlier runs have finished.

use super::plan::{Plan, Point};
use super::run_id::RunId;
use super::runs_table::{Outcome, RunRow};
use super::search::bracket::{self, Next};
use super::search::overload::OverloadRule;
use super::search::spec::{Load, SearchSpec};
use super::search::verdict::verdict;
use crate::config::Config;
use crate::table::Column;
use std::path::PathBuf;
use std::sync::Arc;

/// How the points of a sweep choose their runs.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Every point runs its resolved config once.
    #[default]
    Grid,
    /// Every point (one configuration and seed) is bisected for the
    /// highest load of `search.over` that meets every SLO.
    Search(Arc<SearchSpec>),
}

impl Strategy {
    /// The capacity search, if this is one.
    pub fn search(&self) -> Option<&SearchSpec> {
        match self {
            Strategy::Grid => None,
            Strategy::Search(spec) => Some(spec),
        }
    }
}

/// One run a point asks for.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The probe's index within the point's runs (`None` for a grid point's one run).
    pub probe: Option<u32>,
    /// The searched key's value of a probe.
    pub load: Option<Load>,
    /// The run's id (from its config and the point's input digests, and a
    /// probe's early-stop rule).
    pub run_id: RunId,
    /// The config to simulate: a probe's; `None` for a grid point's run,
    /// which simulates the point's own config, resolved only if the run
    /// must be simulated ([`config`](Self::config)).
    pub config: Option<Arc<Config>>,
    /// The overload detector's rule, for a probe that may stop early.
    pub overload: Option<OverloadRule>,
}

impl RunSpec {
    /// The config to simulate for `point`: the probe's, or the point's own.
    pub fn config<'a>(
        &'a self,
        plan: &Plan,
        point: &'a Point,
    ) -> std::result::Result<&'a Config, &'a str> {
        match &self.config {
            Some(config) => Ok(config),
            None => plan.resolved(point).map(|r| &*r.config),
        }
    }
}

/// What one run gave: its outcome and, with per-request output, its file.
#[derive(Debug, Clone)]
pub struct RunResultRef {
    /// What became of the run.
    pub outcome: Outcome,
    /// Its per-request Parquet file.
    pub requests: Option<PathBuf>,
}

/// The next run of a point, or why its next probe cannot run.
enum NextRun {
    Run(RunSpec),
    /// The probe's config does not resolve (its row is a failed run).
    Invalid {
        probe: u32,
        load: Load,
        error: String,
    },
}

/// The next run of `point` (a valid one), given the runs it already did
/// (in order), or `None` when the point is done.
fn next_run(
    plan: &Plan,
    template: &[Column],
    point: &Point,
    done: &[RunRow<'_>],
) -> Option<NextRun> {
    let spec = match &plan.strategy {
        Strategy::Grid => {
            return done.is_empty().then_some(NextRun::Run(RunSpec {
                probe: None,
                load: None,
                run_id: point.run_id,
                config: None,
                overload: None,
            }))
        }
        Strategy::Search(spec) => spec,
    };
    let probes: Vec<(Load, bool)> = done
        .iter()
        .filter_map(|r| Some((r.load?, verdict(spec, template, &r.outcome).passed())))
        .collect();
    let Next::Probe(load) = bracket::next(spec.bounds, spec.tolerance, &probes) else {
        return None;
    };
    let probe = done.len() as u32;
    let resolved = plan.resolved(point).map_err(str::to_string);
    Some(
        match resolved.and_then(|r| Ok((plan.probe_config(point, load)?, r))) {
            Ok((config, resolved)) => {
                let overload = spec
                    .early_stop
                    .then(|| OverloadRule::new(&spec.slos))
                    .flatten();
                let mut run_id = RunId::of(&config, &resolved.inputs);
                if overload.is_some() {
                    run_id = run_id.salted(&format!("early_stop: {}", spec.describe_slos()));
                }
                NextRun::Run(RunSpec {
                    probe: Some(probe),
                    load: Some(load),
                    run_id,
                    config: Some(Arc::new(config)),
                    overload,
                })
            }
            Err(error) => NextRun::Invalid { probe, load, error },
        },
    )
}

/// The runs of one point, and whether it is complete.
#[derive(Debug, Clone)]
pub struct PointRuns<'a> {
    /// The point's index.
    pub index: usize,
    /// Its runs so far, in order.
    pub rows: Vec<RunRow<'a>>,
    /// Whether the strategy finished (false when a run was not available).
    pub complete: bool,
}

/// Drives `point` through the plan's strategy: asks for each run in turn and
/// gets it from `run` (which simulates it, reuses a stored result, or, when
/// it returns `None`, cannot provide it: an interrupted sweep, a shard that
/// is missing in a merge). A point whose config is invalid has one failed
/// row. `template` is the metric columns of the outcomes (a search reads its
/// SLO columns there).
pub fn drive_point<'a>(
    plan: &Plan,
    template: &[Column],
    point: &'a Point,
    run: &mut dyn FnMut(&RunSpec) -> Option<RunResultRef>,
) -> PointRuns<'a> {
    let failed = |probe, load, run_id, error: &str| RunRow {
        point,
        probe,
        load,
        run_id,
        outcome: Outcome::Failed {
            error: error.to_string(),
            wall_seconds: None,
        },
        requests: None,
    };
    // A grid point's config is resolved only if its run must be simulated;
    // a search resolves it for its probes.
    let invalid = match &plan.strategy {
        Strategy::Grid => point.error(),
        Strategy::Search(_) => plan.resolved(point).err(),
    };
    if let Some(error) = invalid {
        return PointRuns {
            index: point.index,
            rows: vec![failed(None, None, point.run_id, error)],
            complete: true,
        };
    }
    let mut rows: Vec<RunRow<'a>> = Vec::new();
    while let Some(next) = next_run(plan, template, point, &rows) {
        let spec = match next {
            NextRun::Run(spec) => spec,
            NextRun::Invalid { probe, load, error } => {
                let id = point.run_id.salted(&format!("invalid probe {probe}"));
                rows.push(failed(Some(probe), Some(load), id, &error));
                continue;
            }
        };
        let Some(result) = run(&spec) else {
            return PointRuns {
                index: point.index,
                rows,
                complete: false,
            };
        };
        rows.push(RunRow {
            point,
            probe: spec.probe,
            load: spec.load,
            run_id: spec.run_id,
            outcome: result.outcome,
            requests: result.requests,
        });
    }
    PointRuns {
        index: point.index,
        rows,
        complete: true,
    }
}
