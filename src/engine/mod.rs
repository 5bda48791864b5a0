//! The deterministic core of one server: KV cache, scheduler, cost model, and
//! the [`Engine`] that ties them together and advances event by event (see
//! [`server`] for its events and their ordering rule). A [`Simulator`] drives
//! one engine with one workload. No I/O, no clocks, no threads.

pub mod cost;
mod decode_group;
mod error;
pub mod kv_cache;
mod observer;
mod output;
mod request;
mod scheduler;
pub mod server;
mod simulator;
mod traffic;

pub use error::SimError;
pub use observer::{Event, NoopObserver, Observer, RejectReason, StepSummary};
pub use output::{EngineOutput, RunOutput};
pub use server::{
    Advance, Completion, Engine, EngineEvent, EngineEventKind, LoadSnapshot, SimOptions,
};
pub use simulator::{simulate, Simulator};
pub use traffic::Traffic;
