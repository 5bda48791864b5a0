//! `inference-lab sweep report OUT`: the HTML report of a sweep directory.

use super::args::ReportArgs;
use super::{Outcome, EXIT_OK};
use crate::io::files::write_atomic;
use crate::io::{parquet, Error};
use crate::report::html::search_page::{search_page, Search};
use crate::report::html::sweep_page::sweep_page;
use crate::sweep::layout::Layout;
use crate::sweep::meta::SearchMeta;
use crate::table::schema::{RUNS_PARQUET, SUMMARY_PARQUET};
use crate::table::summary::summarize;
use serde_json::Value as Json;

/// Reads `OUT/summary.parquet` (or summarizes `OUT/runs.parquet` when a
/// sweep predates summaries) and `OUT/sweep.json`, and writes the page; a
/// capacity search (its `sweep.json` names the search and
/// `capacity_summary.parquet` exists) gets the search page instead.
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
    let meta = read_meta(&layout.sweep_json())?;
    let search = meta
        .as_ref()
        .and_then(|m| m.get("search"))
        .filter(|s| !s.is_null())
        .map(|s| serde_json::from_value::<SearchMeta>(s.clone()))
        .transpose()
        .map_err(|e| {
            Error::invalid(format!(
                "'{}': field `search`: {e}",
                layout.sweep_json().display()
            ))
        })?;
    let page = match search {
        Some(search) if layout.capacity_summary_parquet().is_file() => {
            let capacity = parquet::read(&layout.capacity_summary_parquet())?;
            let runs = parquet::read(&layout.runs_parquet())?;
            let slos: Vec<(String, f64)> = search
                .slo
                .iter()
                .map(|s| (s.column.clone(), s.max))
                .collect();
            let spec = Search {
                over: &search.over,
                slos: &slos,
            };
            search_page(&capacity, &runs, &spec, meta.as_ref())
        }
        _ => {
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
            sweep_page(&summary, meta.as_ref())
        }
    };
    let output = args.output.clone().unwrap_or_else(|| layout.report_html());
    write_atomic(&output, page.as_bytes()).map_err(|e| Error::write(&output, e))?;
    super::print_stdout(&format!("Report written to {}\n", output.display()))?;
    Ok(EXIT_OK)
}

/// `sweep.json`, when the directory has one.
fn read_meta(path: &std::path::Path) -> Result<Option<Json>, Error> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::read("", path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::invalid(format!("'{}' is not valid JSON: {e}", path.display())))
}
