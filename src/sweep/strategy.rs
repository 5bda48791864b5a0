//! How a point chooses its runs. A point is not a run: a grid point runs its
//! config once, while a search point (a capacity search) probes several
//! loads, each chosen from the outcomes before it. The runner and `sweep
//! merge` both drive points through [`drive_point`], so neither needs to know
//! a point's run ids before its earlier runs have finished.

use super::plan::{Plan, Point};
use super::run_id::RunId;
use super::runs_table::{Outcome, RunRow};
use crate::config::Config;
use std::path::PathBuf;
use std::sync::Arc;

/// How the points of a sweep choose their runs.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Every point runs its resolved config once.
    #[default]
    Grid,
}

/// One run a point asks for.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The probe's index within the point's runs (`None` for a grid point's one run).
    pub probe: Option<u32>,
    /// The run's id (from its config and the point's input digests).
    pub run_id: RunId,
    /// The config to simulate.
    pub config: Arc<Config>,
}

/// What one run gave: its outcome and, with per-request output, its file.
#[derive(Debug, Clone)]
pub struct RunResultRef {
    /// What became of the run.
    pub outcome: Outcome,
    /// Its per-request Parquet file.
    pub requests: Option<PathBuf>,
}

impl Strategy {
    /// The next run of `point`, given the runs it already did (in order), or
    /// `None` when the point is done.
    fn next_run(
        &self,
        point: &Point,
        config: &Arc<Config>,
        done: &[RunRow<'_>],
    ) -> Option<RunSpec> {
        match self {
            Strategy::Grid => done.is_empty().then(|| RunSpec {
                probe: None,
                run_id: point.run_id,
                config: Arc::clone(config),
            }),
        }
    }
}

/// The runs of one point, and whether it is complete.
#[derive(Debug, Clone)]
pub struct PointRuns<'a> {
    /// Its runs so far, in order.
    pub rows: Vec<RunRow<'a>>,
    /// Whether the strategy finished (false when a run was not available).
    pub complete: bool,
}

/// Drives `point` through the plan's strategy: asks for each run in turn and
/// gets it from `run` (which simulates it, reuses a stored result, or, when
/// it returns `None`, cannot provide it: an interrupted sweep, a shard that
/// is missing in a merge). A point whose config is invalid has one failed row.
pub fn drive_point<'a>(
    plan: &Plan,
    point: &'a Point,
    run: &mut dyn FnMut(&RunSpec) -> Option<RunResultRef>,
) -> PointRuns<'a> {
    let config = match &point.config {
        Ok(config) => config,
        Err(error) => {
            return PointRuns {
                rows: vec![RunRow {
                    point,
                    probe: None,
                    run_id: point.run_id,
                    outcome: Outcome::Failed {
                        error: error.clone(),
                        wall_seconds: None,
                    },
                    requests: None,
                }],
                complete: true,
            }
        }
    };
    let mut rows: Vec<RunRow<'a>> = Vec::new();
    while let Some(spec) = plan.strategy.next_run(point, config, &rows) {
        let Some(result) = run(&spec) else {
            return PointRuns {
                rows,
                complete: false,
            };
        };
        rows.push(RunRow {
            point,
            probe: spec.probe,
            run_id: spec.run_id,
            outcome: result.outcome,
            requests: result.requests,
        });
    }
    PointRuns {
        rows,
        complete: true,
    }
}
