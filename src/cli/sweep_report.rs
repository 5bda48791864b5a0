//! `inference-lab sweep report OUT`: the HTML report of a sweep directory.

use super::args::ReportArgs;
use super::{Outcome, EXIT_OK};
use crate::io::files::write_atomic;
use crate::io::{parquet, Error};
use crate::report::html::sweep_page::sweep_page;
use crate::sweep::layout::Layout;
use crate::table::schema::{RUNS_PARQUET, SUMMARY_PARQUET};
use crate::table::summary::summarize;
use serde_json::Value as Json;

/// Reads `OUT/summary.parquet` (or summarizes `OUT/runs.parquet` when a
/// sweep predates summaries) and `OUT/sweep.json`, and writes the page.
pub fn report(args: &ReportArgs) -> Outcome {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(Error::invalid(format!(
            "'{}' is not a directory: expected a sweep's output directory (with {SUMMARY_PARQUET} or {RUNS_PARQUET})",
            dir.display()
        ))
        .into());
    }
    let layout = Layout::new(dir, None);
    let summary = if layout.summary_parquet().is_file() {
        parquet::read(&layout.summary_parquet())?
    } else if layout.runs_parquet().is_file() {
        summarize(&parquet::read(&layout.runs_parquet())?)
    } else {
        return Err(Error::invalid(format!(
            "'{}' holds neither {SUMMARY_PARQUET} nor {RUNS_PARQUET}: is it a sweep's output directory?",
            dir.display()
        ))
        .into());
    };
    let meta_path = layout.sweep_json();
    let meta: Option<Json> = if meta_path.is_file() {
        let text =
            std::fs::read_to_string(&meta_path).map_err(|e| Error::read("", &meta_path, e))?;
        Some(serde_json::from_str(&text).map_err(|e| {
            Error::invalid(format!("'{}' is not valid JSON: {e}", meta_path.display()))
        })?)
    } else {
        None
    };
    let output = args.output.clone().unwrap_or_else(|| layout.report_html());
    write_atomic(&output, sweep_page(&summary, meta.as_ref()).as_bytes())
        .map_err(|e| Error::write(&output, e))?;
    super::print_stdout(&format!("Report written to {}\n", output.display()))?;
    Ok(EXIT_OK)
}
