//! The live views of the command line, all on stderr and only on a
//! terminal: a run's progress bar (plus the `-v` step log and `--debug`
//! scheduler decisions), the dataset loading bar, and a sweep's bar. The
//! library reports progress through callbacks; this is where they are drawn.

use crate::config::Config;
use crate::engine::{Event, Observer, StepSummary};
use crate::io::workload::LoadEvent;
use crate::report::style::Style;
use crate::sweep::runner::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A progress bar of `len` steps on stderr, drawn ten times a second, with
/// the coloured or the plain template as `style` says; hidden when `show` is
/// false or stderr is not a terminal, so callers never branch on it.
pub fn stderr_bar(
    len: u64,
    show: bool,
    style: Style,
    color_template: &str,
    plain_template: &str,
) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10));
    let template = if style.is_color() {
        color_template
    } else {
        plain_template
    };
    if let Ok(s) = ProgressStyle::with_template(template) {
        bar.set_style(s.progress_chars("=> "));
    }
    bar
}

/// What the user asked to see while a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressOptions {
    /// Show the progress bar (off with `-q` or when stderr is not a terminal).
    pub bar: bool,
    /// Log a summary line every `log_interval` steps (`-v`).
    pub verbose: bool,
    /// Log every scheduler decision (`--debug`).
    pub debug: bool,
    /// Colour the bar.
    pub style: Style,
}

/// An [`Observer`] that drives a progress bar and the optional logs.
pub struct ConsoleProgress {
    bar: ProgressBar,
    by_requests: bool,
    verbose: bool,
    debug: bool,
    log_interval: u64,
    last_draw: Instant,
}

const REDRAW: Duration = Duration::from_millis(100);

impl ConsoleProgress {
    /// A progress display for a run of `config`.
    pub fn new(config: &Config, options: ProgressOptions) -> Self {
        let by_requests = config.workload.num_requests.is_some();
        let (len, unit) = match (config.workload.num_requests, config.workload.duration_secs) {
            (Some(n), _) => (n, "requests"),
            (None, Some(d)) => ((d * 1000.0).ceil() as u64, "ms simulated"),
            (None, None) => (0, ""),
        };
        let bar = stderr_bar(
            len,
            options.bar,
            options.style,
            "{spinner:.cyan} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} {prefix} {wide_msg}",
            "[{elapsed_precise}] [{bar:30}] {pos}/{len} {prefix} {wide_msg}",
        );
        bar.set_prefix(unit);
        Self {
            bar,
            by_requests,
            verbose: options.verbose,
            debug: options.debug,
            log_interval: config.simulation.log_interval.max(1),
            last_draw: Instant::now() - REDRAW,
        }
    }

    /// Counts completed requests out of `total` (a dataset run, whose size is
    /// known only once the dataset is loaded).
    pub fn count_requests(&mut self, total: u64) {
        self.by_requests = true;
        self.bar.set_length(total);
        self.bar.set_prefix("requests");
    }

    /// Prints a line above the bar (or to stderr when there is none).
    fn log(&self, line: String) {
        if self.bar.is_hidden() {
            super::print_stderr(&format!("{line}\n"));
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar once the run is over.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for ConsoleProgress {
    fn on_step(&mut self, s: &StepSummary) {
        if self.verbose && s.step % self.log_interval == 0 {
            self.log(format!(
                "step {:>8}  t={:>10.3}s  dt={:>8.3}ms  batch={:>4} seqs {:>6} tok ({} prefill)  running={} waiting={}  kv={:.1}%  done={}",
                s.step,
                s.now_secs,
                s.step_secs * 1e3,
                s.num_seqs,
                s.new_tokens,
                s.prefill_tokens,
                s.running,
                s.waiting,
                s.kv_utilization * 100.0,
                s.completed
            ));
        }
        // Formatting costs more than a step: redraw at most ten times a second.
        if self.bar.is_hidden() || s.step % 64 != 0 || self.last_draw.elapsed() < REDRAW {
            return;
        }
        self.last_draw = Instant::now();
        let pos = if self.by_requests {
            // Requests that are done: completed or rejected.
            s.arrived.saturating_sub((s.running + s.waiting) as u64)
        } else {
            (s.now_secs * 1000.0) as u64
        };
        self.bar.set_position(pos);
        self.bar.set_message(format!(
            "t={:.1}s running={} waiting={} kv={:.1}%",
            s.now_secs,
            s.running,
            s.waiting,
            s.kv_utilization * 100.0
        ));
    }

    fn wants_events(&self) -> bool {
        self.debug
    }

    fn on_event(&mut self, now: f64, event: &Event) {
        let line = match event {
            Event::Rejected { request_id, reason } => format!("rejected request {request_id}: {reason}"),
            Event::Admitted {
                request_id,
                tokens,
                cached_tokens,
            } => format!(
                "admitted request {request_id}: {tokens} tokens this step, {cached_tokens} from the prefix cache"
            ),
            Event::Preempted {
                request_id,
                discarded_tokens,
            } => format!("preempted request {request_id}: {discarded_tokens} computed tokens discarded"),
            Event::Finished {
                request_id,
                kv_tokens,
            } => {
                format!("finished request {request_id} ({kv_tokens} tokens in the KV cache)")
            }
        };
        self.log(format!("[t={now:.4}s] {line}"));
    }
}

/// A callback for [`build_workload`](crate::io::workload::build_workload)
/// that draws a bar over the dataset's bytes while it loads and prints one
/// line about what was loaded (when `show`).
pub fn dataset_progress(show: bool, style: Style) -> impl FnMut(LoadEvent<'_>) {
    let mut bar = ProgressBar::hidden();
    let mut started = Instant::now();
    move |event| match event {
        LoadEvent::Started { total_bytes, .. } => {
            started = Instant::now();
            bar = stderr_bar(
                total_bytes,
                show,
                style,
                "{spinner:.cyan} Loading dataset [{bar:30.cyan/blue}] {bytes}/{total_bytes} {msg}",
                "Loading dataset [{bar:30}] {bytes}/{total_bytes} {msg}",
            );
        }
        LoadEvent::Progress(p) => {
            bar.set_position(p.bytes);
            bar.set_message(format!("{} prompts", p.prompts));
        }
        LoadEvent::Finished {
            path,
            prompts,
            input_tokens,
        } => {
            bar.finish_and_clear();
            if show {
                super::print_stderr(&format!(
                    "{}\n",
                    style.dim(&format!(
                        "dataset: {prompts} prompts, {input_tokens} prompt tokens, from {} ({:.2} s to load)",
                        path.display(),
                        started.elapsed().as_secs_f64()
                    ))
                ));
            }
        }
    }
}

/// A sweep's bar: points done out of the points of this directory, with the
/// runs done and failed (a search point runs several probes).
pub struct SweepBar {
    bar: ProgressBar,
    runs: AtomicUsize,
    failed: AtomicUsize,
}

impl SweepBar {
    /// A bar shown when `show` (and stderr is a terminal).
    pub fn new(show: bool, style: Style) -> Self {
        let bar = stderr_bar(
            0,
            show,
            style,
            "{spinner:.cyan} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} points, {msg}, ETA {eta}",
            "[{elapsed_precise}] [{bar:30}] {pos}/{len} points, {msg}, ETA {eta}",
        );
        bar.set_message("0 runs, 0 failed");
        Self {
            bar,
            runs: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        }
    }

    /// Draws one event of the runner.
    pub fn on(&self, event: Progress) {
        match event {
            Progress::Started { points } => self.bar.set_length(points as u64),
            Progress::Run { failed, .. } => {
                let runs = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
                let failures = self
                    .failed
                    .fetch_add(usize::from(failed), Ordering::Relaxed)
                    + usize::from(failed);
                self.bar
                    .set_message(format!("{runs} runs, {failures} failed"));
            }
            Progress::Point => self.bar.inc(1),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
