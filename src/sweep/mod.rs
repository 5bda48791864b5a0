//! Parameter sweeps (SPEC section 8): a manifest of keys and values expands
//! into points, each point runs as one simulation on a thread pool, and the
//! results land in typed tables (Parquet, CSV) and one JSON file per run.
//!
//! Data flows one way: [`manifest::Manifest`] -> [`plan::Plan`] (points,
//! resolved configs, run ids) -> [`runner`] (parallel runs, resume) ->
//! [`table::Table`] -> [`sink`] writers.

pub mod aggregate;
pub mod layout;
pub mod manifest;
pub mod merge;
pub mod meta;
pub mod output;
pub mod plan;
pub mod run_id;
pub mod runner;
pub mod sink;
pub mod store;
pub mod summary;
pub mod table;
