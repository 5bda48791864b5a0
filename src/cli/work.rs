//! The warning before absurd work: a run's or a sweep's estimated
//! [`Work`] in words, when it is large. Only a warning: the work goes on,
//! and Ctrl-C stops it.

use crate::config::format_bytes;
use crate::engine::work::Work;
use crate::report::style::Style;

/// What the work is.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// One simulation.
    Run,
    /// A sweep of this many points (memory: its largest run's).
    Sweep {
        /// Points estimated.
        points: usize,
    },
}

/// The warning line for `work` (with its newline), or `None` when the work
/// is not large; `records`: every request's record is kept.
pub fn warning(work: &Work, records: bool, scope: Scope, style: Style) -> Option<String> {
    if !work.is_large(records) {
        return None;
    }
    let requests = approx(work.requests);
    let cpu = duration(work.cpu_secs);
    let memory = bytes(work.memory_bytes(records));
    let text = match scope {
        Scope::Run => format!(
            "this run simulates about {requests} requests: about {cpu} of CPU and {memory} of memory; Ctrl-C stops it"
        ),
        Scope::Sweep { points } => format!(
            "this sweep simulates about {requests} requests in {points} points: about {cpu} of CPU, and its largest run about {memory} of memory; Ctrl-C stops it once the runs in progress end, a second Ctrl-C at once; finished runs are kept"
        ),
    };
    Some(format!("{} {text}\n", style.warn("warning:")))
}

/// A figure rounded for reading: `8.3`, `250`, `2.5e8`, `1e12`.
fn approx(x: f64) -> String {
    if !x.is_finite() {
        return "more than 1e308".into();
    }
    let text = match x {
        x if x < 10.0 => format!("{x:.1}"),
        x if x < 1e5 => format!("{x:.0}"),
        x => format!("{x:.1e}"),
    };
    text.replacen(".0", "", 1)
}

/// Seconds in the largest unit that keeps the figure readable.
fn duration(secs: f64) -> String {
    const MINUTE: f64 = 60.0;
    const HOUR: f64 = 60.0 * MINUTE;
    const DAY: f64 = 24.0 * HOUR;
    const YEAR: f64 = 365.25 * DAY;
    let (value, unit) = match secs {
        s if s < 2.0 * MINUTE => (s, "seconds"),
        s if s < 2.0 * HOUR => (s / MINUTE, "minutes"),
        s if s < 2.0 * DAY => (s / HOUR, "hours"),
        s if s < 2.0 * YEAR => (s / DAY, "days"),
        s => (s / YEAR, "years"),
    };
    format!("{} {unit}", approx(value))
}

/// Bytes in binary units, past a PiB in TiB with an exponent.
fn bytes(b: f64) -> String {
    const TIB: f64 = 1024.0 * 1024.0 * 1024.0 * 1024.0;
    if b < 1024.0 * TIB {
        format_bytes(b as u64)
    } else {
        format!("{} TiB", approx(b / TIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `requests` in one run (90 bytes each) that take `cpu_secs`.
    fn work(requests: f64, cpu_secs: f64) -> Work {
        Work {
            requests,
            output_tokens: requests,
            cpu_secs,
            largest_run: requests,
        }
    }

    #[test]
    fn small_work_says_nothing() {
        let small = work(1e5, 1.0);
        assert_eq!(warning(&small, true, Scope::Run, Style::plain()), None);
    }

    #[test]
    fn large_work_says_how_large_and_how_to_stop_it() {
        let run = warning(&work(1e12, 4.6e6), false, Scope::Run, Style::plain()).unwrap();
        assert_eq!(
            run,
            "warning: this run simulates about 1e12 requests: about 53 days of CPU and 81.9 TiB of memory; Ctrl-C stops it\n"
        );
        let sweep = Work {
            largest_run: 2e300,
            ..work(4e300, 1e295)
        };
        let sweep = warning(&sweep, false, Scope::Sweep { points: 400 }, Style::plain()).unwrap();
        assert!(
            sweep.starts_with("warning: this sweep simulates about 4e300 requests in 400 points: about 3.2e287 years of CPU, and its largest run about 1.6e290 TiB of memory;"),
            "{sweep}"
        );
        // 4e7 requests: 3.4 GiB, 5.7 GiB with their records.
        let memory_only = work(4e7, 500.0);
        assert_eq!(
            warning(&memory_only, false, Scope::Run, Style::plain()),
            None
        );
        let text = warning(&memory_only, true, Scope::Run, Style::plain()).unwrap();
        assert!(
            text.contains("about 8.3 minutes of CPU and 5.7 GiB"),
            "{text}"
        );
    }

    #[test]
    fn figures_read_well() {
        assert_eq!(approx(250.4), "250");
        assert_eq!(approx(2.5e8), "2.5e8");
        assert_eq!(approx(f64::INFINITY), "more than 1e308");
        assert_eq!(duration(90.0), "90 seconds");
        assert_eq!(duration(3.0 * 3600.0), "3 hours");
        assert_eq!(duration(3.0 * 365.25 * 86400.0), "3 years");
        assert_eq!(bytes(5e9), "4.7 GiB");
    }
}
