//! Metrics: per-request records gathered during a run and the exact summaries
//! computed from them at the end.

pub mod catalog;
pub(crate) mod collector;
mod result;
mod stats;

pub(crate) use collector::MetricsCollector;
pub use result::{
    LatencyMetrics, Preemptions, PrefixCacheMetrics, RequestCounts, RequestRecord, RunResult,
    SimulationInfo, ThroughputMetrics, Utilization,
};
pub use stats::{nearest_rank, Stats};
