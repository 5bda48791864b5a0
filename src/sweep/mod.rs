//! Parameter sweeps (SPEC section 8): a manifest of keys and values expands
//! into points, each point asks its strategy for runs (one for a grid point),
//! the runs go through a thread pool, and the results land in typed tables
//! (Parquet, CSV) and one JSON file per run.
//!
//! Data flows one way: [`manifest::Manifest`] -> [`plan::Plan`] (points,
//! resolved configs, input digests, ids; its planning pass kept by
//! [`plan_cache`] for a resumed sweep) -> [`runner`] (parallel runs,
//! resume, progress callback) -> [`runs_table`] -> [`output`] (tables and
//! `sweep.json` through [`crate::io`]); [`lock`] keeps one sweep per output
//! directory, and [`stamp`] lets a finished sweep that nothing changed
//! resume without rewriting its tables. [`merge`] rebuilds the tables of
//! sharded sweeps from their run files. Errors are [`crate::io::Error`].

pub mod layout;
pub mod lock;
pub mod manifest;
pub mod merge;
pub mod meta;
pub mod output;
pub mod plan;
pub mod plan_cache;
pub mod run_id;
pub mod runner;
pub mod runs_table;
pub mod schema;
pub mod search;
pub mod stamp;
pub mod store;
pub mod strategy;
mod survey;
