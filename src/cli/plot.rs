//! `--plot FILE.html`: collects a single run's time series and writes its page.

use crate::engine::{Event, Observer, StepSummary};
use crate::io::files::write_atomic;
use crate::io::{Error, Result};
use crate::metrics::{RequestRecord, RunResult};
use crate::report::html::run_page::run_page;
use crate::report::html::timeline::Timeline;
use std::path::Path;

/// Passes every step and event to two observers (the progress display and
/// the timeline).
pub struct Tee<'a> {
    /// The first observer; its `wants_events` decides for both.
    pub first: &'a mut dyn Observer,
    /// The second observer (step summaries only).
    pub second: &'a mut Timeline,
}

impl Observer for Tee<'_> {
    fn on_step(&mut self, summary: &StepSummary) {
        self.first.on_step(summary);
        self.second.on_step(summary);
    }
    fn wants_events(&self) -> bool {
        self.first.wants_events()
    }
    fn on_event(&mut self, now_secs: f64, event: &Event) {
        self.first.on_event(now_secs, event);
    }
}

/// Writes the run's page to `path`.
pub fn write_plot(
    path: &Path,
    config_name: &str,
    result: &RunResult,
    timeline: &Timeline,
    records: &[RequestRecord],
) -> Result<()> {
    let json = serde_json::to_value(result).map_err(|e| Error::write_with(path, e))?;
    let title = format!("inference-lab run: {config_name}");
    let page = run_page(&title, &json, &timeline.samples(), records);
    write_atomic(path, page.as_bytes()).map_err(|e| Error::write_as("the plot", path, e))
}
