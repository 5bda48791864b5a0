//! What a run will cost before it starts: how many requests it simulates,
//! and roughly how much CPU time and memory that takes, from its resolved
//! config alone, so that a command can warn about absurd work
//! (`num_requests = 1e12`, `duration_secs = 1e300`) before starting it.
//! The estimate only ever feeds a warning: nothing is refused on it.
//!
//! The costs per unit were measured on this simulator (release build, one
//! core of the development machine, December 2026) with
//! `configs/quick.toml` and `-q`, CPU time (`/usr/bin/time`, user + system)
//! and peak RSS:
//!
//! | run of 10^6 requests | CPU | RSS |
//! |---|---|---|
//! | output length fixed at 1 token | 0.96 s | 25 MB |
//! | fixed at 256 tokens | 4.6 s | 32 MB |
//! | fixed at 1,024 tokens | 5.9 s | 32 MB |
//! | lognormal (mean 275 tokens, as shipped) | 5.1 s | 32 MB |
//! | shipped lengths, `arrival_rate = 50` (overloaded: the queue grows) | 2.7 s | 97 MB |
//! | shipped, `--plot` (every request's record kept) | 5.9 s | 95 MB |
//!
//! The 256- and 1,024-token runs give the cost per token and, with it, the
//! cost per request; 2 x 10^6 requests cost twice as much. Lighter loads
//! cost more per request than heavier ones (more steps of fewer sequences),
//! and the shipped load is light, so the CPU figures are on the high side.
//! Memory is the overloaded run's (less the 9 MB of an empty run): the
//! latency samples kept for the percentiles, and the requests queued behind
//! an overloaded server.

use crate::config::{ArrivalPattern, Config, RateSchedule, WorkloadConfig};

/// CPU seconds per simulated request, besides its output tokens.
pub const CPU_SECS_PER_REQUEST: f64 = 4.2e-6;

/// CPU seconds per output token (one sequence in one decode step).
pub const CPU_SECS_PER_TOKEN: f64 = 1.7e-9;

/// Bytes of memory per simulated request: its latency samples and, under
/// overload, its place in the queue.
pub const BYTES_PER_REQUEST: f64 = 90.0;

/// Bytes more per request when every request's record is kept
/// (`--per-request`, `--plot`).
pub const BYTES_PER_RECORD: f64 = 64.0;

/// Output tokens per request assumed when the config does not say (a
/// dataset's or a trace's lengths are in its file).
pub const UNKNOWN_OUTPUT_TOKENS: f64 = 256.0;

/// More CPU time than this (10 minutes) is worth a warning.
pub const WARN_CPU_SECS: f64 = 600.0;

/// More memory than this (4 GiB) is worth a warning.
pub const WARN_MEMORY_BYTES: f64 = 4.0 * 1024.0 * 1024.0 * 1024.0;

/// The estimated work of one run, or of a sweep's runs together.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Work {
    /// Requests simulated.
    pub requests: f64,
    /// Output tokens generated.
    pub output_tokens: f64,
    /// CPU seconds.
    pub cpu_secs: f64,
    /// Requests of the largest run (what its memory grows with; one run's
    /// memory is freed before the next).
    pub largest_run: f64,
}

impl Work {
    /// The work of simulating `config`, when its request count can be told:
    /// `planned` requests if the built workload knows them (a dataset's or a
    /// trace's, capped by `num_requests`), else what its limits allow (see
    /// [`expected_requests`]).
    pub fn of(config: &Config, planned: Option<u64>) -> Option<Self> {
        let w = &config.workload;
        let requests = expected_requests(w, planned)?;
        let tokens_each = w
            .output_len_dist
            .map_or(UNKNOWN_OUTPUT_TOKENS, |d| d.mean().max(1.0));
        let output_tokens = requests * tokens_each;
        Some(Self {
            requests,
            output_tokens,
            cpu_secs: requests * CPU_SECS_PER_REQUEST + output_tokens * CPU_SECS_PER_TOKEN,
            largest_run: requests,
        })
    }

    /// The work of this and then `other`: requests, tokens and CPU add up.
    pub fn then(self, other: Self) -> Self {
        Self {
            requests: self.requests + other.requests,
            output_tokens: self.output_tokens + other.output_tokens,
            cpu_secs: self.cpu_secs + other.cpu_secs,
            largest_run: self.largest_run.max(other.largest_run),
        }
    }

    /// Peak memory in bytes (of the largest run); `records`: every
    /// request's record is kept.
    pub fn memory_bytes(&self, records: bool) -> f64 {
        let each = BYTES_PER_REQUEST + if records { BYTES_PER_RECORD } else { 0.0 };
        self.largest_run * each
    }

    /// Whether it is more than a warning's thresholds
    /// ([`WARN_CPU_SECS`], [`WARN_MEMORY_BYTES`]).
    pub fn is_large(&self, records: bool) -> bool {
        self.cpu_secs > WARN_CPU_SECS || self.memory_bytes(records) > WARN_MEMORY_BYTES
    }
}

/// The requests a workload is expected to send: the fewest that one of its
/// limits allows. `planned` (the built workload's count: a dataset's or a
/// trace's requests, capped by `num_requests`) or else `num_requests`;
/// open-loop arrivals during `duration_secs` or the pieces of a rate
/// schedule at their mean rate; `num_sessions` sessions. Sessions send
/// their mean number of turns each. `None` when no limit tells (a closed
/// loop that only has a duration: its pace is the server's).
pub fn expected_requests(w: &WorkloadConfig, planned: Option<u64>) -> Option<f64> {
    let turns = w.sessions.map_or(1.0, |s| s.turns_dist.mean().max(1.0));
    let sessions = w.sessions.and_then(|s| s.num_sessions).map(|n| n as f64);
    let open_loop = !matches!(
        w.arrival_pattern,
        ArrivalPattern::ClosedLoop | ArrivalPattern::Trace
    );
    let timed = open_loop.then(|| timed_arrivals(w)).flatten();
    let arrivals = [sessions, timed]
        .into_iter()
        .flatten()
        .reduce(f64::min)
        .map(|a| a * turns);
    [planned.or(w.num_requests).map(|n| n as f64), arrivals]
        .into_iter()
        .flatten()
        .reduce(f64::min)
}

/// Open-loop arrivals until `duration_secs` or the end of a piecewise rate
/// schedule, at the mean rate (`arrival_rate` times the schedule's).
fn timed_arrivals(w: &WorkloadConfig) -> Option<f64> {
    let rate = w.arrival_rate;
    match &w.rate_schedule {
        None => w.duration_secs.map(|d| rate * d),
        Some(RateSchedule::Sine { mean, .. }) => w.duration_secs.map(|d| rate * mean * d),
        Some(RateSchedule::Piecewise { pieces }) => {
            let end = w.duration_secs.unwrap_or(f64::INFINITY);
            let mut start = 0.0;
            let mut arrivals = 0.0;
            for piece in pieces {
                let until = piece.until_secs.min(end);
                if until > start {
                    arrivals += piece.rate * (until - start);
                }
                start = piece.until_secs;
            }
            Some(rate * arrivals)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: &str = include_str!("../../configs/quick.toml");

    fn quick(extra: &str) -> Config {
        let text = QUICK
            .replace("num_requests = 100\n", "")
            .replace("[workload]\n", &format!("[workload]\n{extra}\n"));
        Config::from_toml_str(&text, "quick.toml").unwrap()
    }

    #[test]
    fn the_shipped_quick_config_is_small_and_costs_what_was_measured() {
        let work = Work::of(&quick("num_requests = 100"), None).unwrap();
        assert_eq!(work.requests, 100.0);
        // Mean output of exp(N(5.3, 0.8)): about 275 tokens.
        assert!((work.output_tokens / 100.0 - 275.0).abs() < 5.0, "{work:?}");
        assert!(!work.is_large(true));
        // A million of its requests: about 5 CPU seconds, as measured.
        let million = Work::of(&quick("num_requests = 1000000"), None).unwrap();
        assert!((4.0..6.0).contains(&million.cpu_secs), "{million:?}");
        assert_eq!(million.memory_bytes(false), 90e6);
        assert_eq!(million.memory_bytes(true), 154e6);
    }

    #[test]
    fn absurd_counts_and_durations_are_large() {
        let trillion = Work::of(&quick("num_requests = 1000000000000"), None).unwrap();
        assert_eq!(trillion.requests, 1e12);
        assert!(trillion.is_large(false));
        assert!(trillion.cpu_secs > 30.0 * 86_400.0, "{trillion:?}");
        // arrival_rate = 2: two requests per simulated second.
        let forever = Work::of(&quick("duration_secs = 1e300"), None).unwrap();
        assert_eq!(forever.requests, 2e300);
        assert!(forever.cpu_secs.is_finite() && forever.is_large(false));
        // Large but legitimate work is not: ten minutes of CPU and 4 GiB
        // are the bar.
        let ten_million = Work::of(&quick("num_requests = 10000000"), None).unwrap();
        assert!(!ten_million.is_large(true), "{ten_million:?}");
        let forty_million = Work::of(&quick("num_requests = 40000000"), None).unwrap();
        assert!(!forty_million.is_large(false) && forty_million.is_large(true));
    }

    #[test]
    fn the_tightest_limit_counts() {
        let both = quick("num_requests = 1000\nduration_secs = 10.0");
        assert_eq!(expected_requests(&both.workload, None), Some(20.0));
        let both = quick("num_requests = 10\nduration_secs = 1000.0");
        assert_eq!(expected_requests(&both.workload, None), Some(10.0));
        // A dataset or trace shorter than num_requests: the built workload knows.
        assert_eq!(expected_requests(&both.workload, Some(3)), Some(3.0));
    }

    #[test]
    fn schedules_sessions_and_closed_loops() {
        let pieces = quick(
            "rate_schedule = [{ until_secs = 10.0, rate = 1.0 }, { until_secs = 30.0, rate = 0.5 }]",
        );
        // arrival_rate 2 x (10 s at 1 + 20 s at 0.5).
        assert_eq!(expected_requests(&pieces.workload, None), Some(40.0));
        let cut = quick("duration_secs = 20.0\nrate_schedule = [{ until_secs = 10.0, rate = 1.0 }, { until_secs = 30.0, rate = 0.5 }]");
        assert_eq!(expected_requests(&cut.workload, None), Some(30.0));
        let sine = quick(
            "duration_secs = 100.0\nrate_schedule = { type = \"sine\", mean = 3.0, amplitude = 1.0, period_secs = 10.0 }",
        );
        assert_eq!(expected_requests(&sine.workload, None), Some(600.0));
        let mut sessions = quick("duration_secs = 10.0");
        sessions.workload.sessions = Some(crate::config::SessionsConfig {
            turns_dist: crate::config::LengthDist::Fixed { value: 4 },
            think_time_dist: crate::config::DurationDist::Fixed { value: 1.0 },
            user_len_dist: crate::config::LengthDist::Fixed { value: 10 },
            system_prompt_len: 0,
            num_sessions: Some(3),
        });
        // 3 sessions (fewer than the 20 that 10 s would start) of 4 turns.
        assert_eq!(expected_requests(&sessions.workload, None), Some(12.0));
        let mut closed = quick("duration_secs = 10.0");
        closed.workload.arrival_pattern = ArrivalPattern::ClosedLoop;
        assert_eq!(expected_requests(&closed.workload, None), None);
        assert_eq!(Work::of(&closed, None), None);
    }

    #[test]
    fn runs_one_after_another_add_up_but_keep_the_largest_memory() {
        let a = Work::of(&quick("num_requests = 300"), None).unwrap();
        let b = Work::of(&quick("num_requests = 100"), None).unwrap();
        let both = a.then(b);
        assert_eq!(both.requests, 400.0);
        assert_eq!(both.cpu_secs, a.cpu_secs + b.cpu_secs);
        assert_eq!(both.memory_bytes(true), a.memory_bytes(true));
        assert_eq!(Work::default().then(a), a);
    }
}
