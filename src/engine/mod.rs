//! The deterministic core: KV cache, scheduler, cost model and the event loop
//! that ties them together. No I/O, no clocks, no threads.

pub mod cost;
mod decode_group;
pub mod kv_cache;
mod observer;
mod request;
mod scheduler;
mod simulator;

pub use observer::{Event, NoopObserver, Observer, RejectReason, StepSummary};
pub use simulator::{simulate, RunOutput, SimError, SimOptions, Simulator};
