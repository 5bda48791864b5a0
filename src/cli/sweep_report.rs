//! `inference-lab sweep report OUT`: the HTML report of a sweep directory.

use super::args::ReportArgs;
use super::EXIT_OK;
use crate::report::files::write_atomic;
use crate::report::html::page::sweep_page;
use crate::sweep::aggregate::{summarize, SUMMARY_PARQUET};
use crate::sweep::sink::parquet_table;
use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

/// Reads `OUT/summary.parquet` (or summarizes `OUT/runs.parquet` when a
/// sweep predates summaries) and `OUT/sweep.json`, and writes the page.
pub fn report(args: &ReportArgs) -> Result<u8> {
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!(
            "'{}' is not a directory: expected a sweep's output directory (with summary.parquet or runs.parquet)",
            dir.display()
        );
    }
    let summary_path = dir.join(SUMMARY_PARQUET);
    let runs_path = dir.join("runs.parquet");
    let summary = if summary_path.is_file() {
        parquet_table::read(&summary_path)?
    } else if runs_path.is_file() {
        summarize(&parquet_table::read(&runs_path)?)
    } else {
        bail!(
            "'{}' holds neither {SUMMARY_PARQUET} nor runs.parquet: is it a sweep's output directory?",
            dir.display()
        );
    };
    let meta_path = dir.join("sweep.json");
    let meta: Option<Json> = if meta_path.is_file() {
        let text = std::fs::read_to_string(&meta_path)
            .with_context(|| format!("cannot read '{}'", meta_path.display()))?;
        Some(
            serde_json::from_str(&text)
                .with_context(|| format!("'{}' is not valid JSON", meta_path.display()))?,
        )
    } else {
        None
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| dir.join("report.html"));
    write_atomic(&output, sweep_page(&summary, meta.as_ref()).as_bytes())
        .with_context(|| format!("cannot write '{}'", output.display()))?;
    println!("Report written to {}", output.display());
    Ok(EXIT_OK)
}
