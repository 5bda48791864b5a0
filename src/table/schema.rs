//! Names shared by everything that writes or reads a sweep's tables: the
//! bookkeeping columns, the status values, the summary's columns and
//! suffixes, and the output file names. One place, so a writer and a reader
//! can never disagree about a name.

/// Column: the run's id (16 hex digits of the hash of everything it reads).
pub const RUN_ID: &str = "run_id";
/// Column: the sweep's name (`sweep.name`).
pub const SWEEP: &str = "sweep";
/// Column: the point's index in the stable point order.
pub const POINT: &str = "point";
/// Column: the probe's index within its point's search (null for grid points).
pub const PROBE: &str = "probe";
/// Column: `ok` or `failed`.
pub const STATUS: &str = "status";
/// Column: why a run failed (null when it finished).
pub const ERROR: &str = "error";
/// Column: wall-clock seconds the run took.
pub const WALL_SECONDS: &str = "wall_seconds";
/// Column of a search's runs table: why the overload detector stopped the
/// probe early (null when it ran to the end).
pub const OVERLOAD: &str = "overload";

/// Capacity column: the highest passing value of the searched key.
pub const CAPACITY: &str = "capacity";
/// Capacity column: the lowest failing value above it.
pub const FAILS_AT: &str = "fails_at";
/// Capacity column: why the probe at `fails_at` failed.
pub const BINDING_SLO: &str = "binding_slo";
/// Capacity column: how many probes the search ran.
pub const PROBES: &str = "probes";
/// Capacity column: GPUs serving the configuration.
pub const GPUS: &str = "gpus";
/// Capacity column: `hardware.cost_per_hour` (USD per GPU-hour).
pub const COST_PER_HOUR: &str = "cost_per_hour";
/// Capacity column: completed requests/s at the capacity.
pub const GOODPUT_REQUESTS: &str = "goodput_requests_per_sec";
/// Capacity column: output tokens/s at the capacity.
pub const GOODPUT_OUTPUT_TOKENS: &str = "goodput_output_tokens_per_sec";
/// Capacity column: USD per million output tokens at the capacity.
pub const COST_PER_MILLION: &str = "cost_per_million_output_tokens";
/// `binding_slo` of a search that still passed at the upper bound.
pub const BINDING_BOUND: &str = "bound";
/// `binding_slo` of a probe stopped by the overload detector.
pub const BINDING_OVERLOAD: &str = "overload";
/// `binding_slo` of a probe whose run failed.
pub const BINDING_FAILED: &str = "failed";

/// Status of a run that finished.
pub const STATUS_OK: &str = "ok";
/// Status of a run that failed; its `error` column says why.
pub const STATUS_FAILED: &str = "failed";

/// Summary column: the number of runs of a configuration.
pub const RUNS: &str = "runs";
/// Summary column: how many of those runs failed.
pub const FAILED_RUNS: &str = "failed_runs";
/// Summary column: how many runs (seeds) finished.
pub const SEEDS: &str = "seeds";
/// Suffix of the mean column of a metric in the summary (`ttft_ms_p50_mean`).
pub const MEAN_SUFFIX: &str = "_mean";
/// Suffix of the sample standard deviation column of a metric.
pub const STD_SUFFIX: &str = "_std";
/// Suffix of the 95% confidence half-width column of a metric.
pub const CI_SUFFIX: &str = "_ci95";

/// File: the runs table as Parquet.
pub const RUNS_PARQUET: &str = "runs.parquet";
/// File: the runs table as CSV.
pub const RUNS_CSV: &str = "runs.csv";
/// File: the seed-folded summary as Parquet.
pub const SUMMARY_PARQUET: &str = "summary.parquet";
/// File: the seed-folded summary as CSV.
pub const SUMMARY_CSV: &str = "summary.csv";
/// File: a capacity search's results, one row per point, as Parquet.
pub const CAPACITY_PARQUET: &str = "capacity.parquet";
/// File: the same as CSV.
pub const CAPACITY_CSV: &str = "capacity.csv";
/// File: the capacities with the seed folded out, as Parquet.
pub const CAPACITY_SUMMARY_PARQUET: &str = "capacity_summary.parquet";
/// File: the same as CSV.
pub const CAPACITY_SUMMARY_CSV: &str = "capacity_summary.csv";
/// File: one row per request of every run (`--per-request`).
pub const REQUESTS_PARQUET: &str = "requests.parquet";
/// File: what produced the directory (`sweep.json`).
pub const SWEEP_JSON: &str = "sweep.json";
/// Directory: one result file per run.
pub const RUNS_DIR: &str = "runs";
/// File: the HTML report a sweep directory gets by default.
pub const REPORT_HTML: &str = "report.html";

/// Whether a swept key is a seed (`workload.seed`, or any `*.seed`): the
/// key whose values are repetitions of one configuration.
pub fn is_seed_key(name: &str) -> bool {
    name == "seed" || name.ends_with(".seed")
}

/// The swept-key columns of a runs table: those after the bookkeeping
/// columns that open it (`run_id`, `sweep`, `point`, `probe`) and before
/// `status`.
pub fn swept_columns(runs: &super::Table) -> Vec<usize> {
    let start = [POINT, PROBE]
        .iter()
        .filter_map(|c| runs.column(c))
        .max()
        .map(|c| c + 1);
    match (start, runs.column(STATUS)) {
        (Some(first), Some(end)) if first <= end => (first..end).collect(),
        _ => Vec::new(),
    }
}

/// The configuration columns of a summary table: those between `sweep`
/// and `runs`.
pub fn summary_key_columns(summary: &super::Table) -> Vec<usize> {
    let start = summary.column(SWEEP).map_or(0, |c| c + 1);
    let end = summary.column(RUNS).unwrap_or(start);
    (start..end).collect()
}
