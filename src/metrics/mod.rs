//! Metrics: per-request records gathered during a run and the exact summaries
//! computed from them at the end. Collectors of several engines merge, so a
//! run of many engines summarises all their samples at once.

pub mod catalog;
mod collector;
pub mod comparison;
pub mod cost;
mod result;
mod stats;

pub use collector::{ClientDelay, MetricsCollector, Peaks, RunTotals};
pub use result::{
    ClusterMetrics, LatencyMetrics, Preemptions, PrefixCacheMetrics, Rejections, ReplicaMetrics,
    RequestCounts, RequestRecord, RunMetrics, RunResult, SimulationInfo, ThroughputMetrics,
    Utilization,
};
pub use stats::{nearest_rank, Stats};
