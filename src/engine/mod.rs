//! The deterministic core of one server (one replica): KV cache, scheduler,
//! cost model, and the [`Engine`] that ties them together and advances event
//! by event (see [`server`] for its events and their ordering rule). The
//! [`cluster`](crate::cluster) drives engines with a workload. No I/O, no
//! clocks, no threads.

pub mod cost;
mod decode_group;
mod error;
pub mod kv_cache;
mod observer;
mod output;
mod request;
mod scheduler;
pub mod server;
mod traffic;
pub mod work;

pub use error::SimError;
pub use observer::{Event, NoopObserver, Observer, RejectReason, StepSummary};
pub use output::{EngineOutput, RunOutput};
pub use server::{
    Advance, Completion, Engine, EngineEvent, EngineEventKind, LoadSnapshot, SimOptions,
};
pub use traffic::Traffic;
