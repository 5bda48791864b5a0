//! Capacity search: for every point of a sweep (one configuration and seed),
//! the highest value of a load knob (`workload.arrival_rate`,
//! `workload.num_concurrent_users`) at which every SLO holds, found by
//! bisection over runs that share their random numbers (the same seed gives
//! the same requests at every load; only their arrival times scale).
//!
//! [`spec`] reads the manifest's `[search]` section, [`bracket`] chooses
//! each probe from the verdicts before it, [`verdict`] judges a probe,
//! [`overload`] ends hopeless probes early, and [`capacity`] turns a point's
//! probes into its row of `capacity.parquet`.

pub mod bracket;
pub mod capacity;
pub mod overload;
pub mod spec;
pub mod verdict;
