//! Writers of the sweep's tables: one module per format, all fed by the same
//! [`Table`](super::table::Table), all writing atomically.

pub mod csv_table;
pub mod parquet_table;
pub mod requests;
