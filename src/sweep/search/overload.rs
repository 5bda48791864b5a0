//! The overload detector: ends a probe as soon as one of its SLOs is
//! certain to fail, whatever happens to the requests still in flight, so an
//! overloaded probe costs a fraction of a full run.
//!
//! It watches latency SLOs on TTFT and end-to-end latency (`ttft_ms_*`,
//! `e2e_ms_*`: `min`, `mean`, `p50` ... `p99`, `max`) of a run whose request
//! count `N` is known in advance, with lower bounds that only grow:
//!
//! - a request's TTFT is at least `t - arrival` at any time `t` before it is
//!   first admitted (its first token comes at the end of a later step), and
//!   at least `admission - arrival` once admitted;
//! - its end-to-end latency is at least `t - arrival` until it finishes,
//!   exactly `finish - arrival` then.
//!
//! A percentile SLO `p <= T` (nearest rank over the `n <= N` completed
//! requests) fails exactly when more than `n - ceil(p n / 100)` of them
//! exceed `T`; that allowance grows with `n`, so once more than
//! `N - ceil(p N / 100)` requests are certain to exceed `T` (`N - 1` for
//! `min`, 0 for `max`), the SLO fails whatever comes. A mean SLO fails once
//! the lower bounds add up to more than `T N`. Rejected requests drop out.
//! Every bound is a true lower bound, so the detector never stops a probe
//! that would have passed.

use super::spec::Slo;
use crate::engine::{Event, Observer, StepSummary};
use crate::workload::RequestId;

/// A relative margin on every comparison, far above floating-point noise, so
/// rounding can never turn a pass into a stop.
const MARGIN: f64 = 1e-9;

/// The SLOs a detector can bound, from a search's SLO list.
#[derive(Debug, Clone, PartialEq)]
pub struct OverloadRule {
    bounds: Vec<Bound>,
}

#[derive(Debug, Clone, PartialEq)]
struct Bound {
    column: String,
    latency: Latency,
    stat: Stat,
    max_secs: f64,
    max_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Latency {
    Ttft,
    E2e,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stat {
    Mean,
    /// Nearest-rank percentile (0 for `min`, 100 for `max`).
    Rank(f64),
}

impl OverloadRule {
    /// The rule for `slos`, or `None` when none of them can be bounded
    /// early (the probes then run to completion).
    pub fn new(slos: &[Slo]) -> Option<Self> {
        let bounds: Vec<Bound> = slos
            .iter()
            .filter_map(|slo| {
                let (latency, stat) = slo.column.split_once("_ms_")?;
                let latency = match latency {
                    "ttft" => Latency::Ttft,
                    "e2e" => Latency::E2e,
                    _ => return None,
                };
                let stat = match stat {
                    "mean" => Stat::Mean,
                    "min" => Stat::Rank(0.0),
                    "max" => Stat::Rank(100.0),
                    p => Stat::Rank(p.strip_prefix('p')?.parse().ok()?),
                };
                Some(Bound {
                    column: slo.column.clone(),
                    latency,
                    stat,
                    max_secs: slo.max / 1000.0 * (1.0 + MARGIN),
                    max_ms: slo.max,
                })
            })
            .collect();
        (!bounds.is_empty()).then_some(Self { bounds })
    }

    /// A detector for a run of `planned` requests; `None` when the count is
    /// not known in advance (a run bounded only by time), which it needs.
    pub fn detector(&self, planned: Option<u64>) -> Option<OverloadDetector> {
        let n = planned.filter(|&n| n > 0)?;
        let trackers = self
            .bounds
            .iter()
            .map(|b| Tracker {
                allowance: match b.stat {
                    Stat::Mean => 0,
                    Stat::Rank(p) if p <= 0.0 => n - 1,
                    Stat::Rank(p) => n - ((p / 100.0) * n as f64).ceil().min(n as f64) as u64,
                },
                ..Tracker::default()
            })
            .collect();
        Some(OverloadDetector {
            rule: self.clone(),
            planned: n,
            requests: Vec::new(),
            trackers,
            fired: None,
        })
    }
}

/// What the detector knows of one request.
#[derive(Debug, Clone, Copy, Default)]
struct Request {
    arrival_secs: f64,
    admitted: bool,
    finished: bool,
    rejected: bool,
}

impl Request {
    /// Whether its latency of kind `l` is still unknown (and growing).
    fn open(&self, l: Latency) -> bool {
        !self.rejected
            && match l {
                Latency::Ttft => !self.admitted,
                Latency::E2e => !self.finished,
            }
    }
}

/// One SLO's running bound.
#[derive(Debug, Clone, Default)]
struct Tracker {
    /// Requests before this index (in arrival order) that were still open
    /// when they became older than the bound were counted.
    cursor: usize,
    /// Requests certain to exceed the bound.
    certain: u64,
    /// How many may exceed it (percentile SLOs).
    allowance: u64,
    /// Sum of the settled lower bounds (mean SLOs), seconds.
    settled_secs: f64,
    /// Open requests and the sum of their arrival times (mean SLOs).
    open: u64,
    open_arrivals: f64,
}

/// Watches a run and asks it to stop once an SLO is certain to fail.
#[derive(Debug, Clone)]
pub struct OverloadDetector {
    rule: OverloadRule,
    planned: u64,
    requests: Vec<Request>,
    trackers: Vec<Tracker>,
    fired: Option<String>,
}

impl OverloadDetector {
    /// Why the detector stopped the run, if it did.
    pub fn fired(&self) -> Option<&str> {
        self.fired.as_deref()
    }

    /// A request's latency of kind `l` became known to be at least `secs`.
    fn settle(&mut self, id: usize, l: Latency, secs: f64) {
        let arrival = self.requests[id].arrival_secs;
        for (b, t) in self.rule.bounds.iter().zip(&mut self.trackers) {
            if b.latency != l {
                continue;
            }
            t.open -= 1;
            t.open_arrivals -= arrival;
            t.settled_secs += secs;
            // A request behind the cursor was counted when it aged past the bound.
            if id >= t.cursor && secs > b.max_secs {
                t.certain += 1;
            }
        }
    }

    fn check(&mut self, now: f64) {
        for (b, t) in self.rule.bounds.iter().zip(&mut self.trackers) {
            while let Some(r) = self.requests.get(t.cursor) {
                if now - r.arrival_secs <= b.max_secs {
                    break;
                }
                if r.open(b.latency) {
                    t.certain += 1;
                }
                t.cursor += 1;
            }
            let fired = match b.stat {
                Stat::Rank(_) => (t.certain > t.allowance).then(|| {
                    format!(
                        "{} cannot stay <= {}: {} of {} requests already exceed it at {now:.3} s",
                        b.column, b.max_ms, t.certain, self.planned
                    )
                }),
                Stat::Mean => {
                    let lower = t.settled_secs + t.open as f64 * now - t.open_arrivals;
                    (lower > b.max_secs * self.planned as f64).then(|| {
                        format!(
                            "{} cannot stay <= {}: the latencies so far already add up to {:.0} ms over {} requests at {now:.3} s",
                            b.column,
                            b.max_ms,
                            lower * 1000.0,
                            self.planned
                        )
                    })
                }
            };
            if let Some(reason) = fired {
                self.fired = Some(reason);
                return;
            }
        }
    }
}

impl Observer for OverloadDetector {
    fn on_step(&mut self, summary: &StepSummary) {
        if self.fired.is_none() {
            self.check(summary.now_secs);
        }
    }

    fn wants_events(&self) -> bool {
        true
    }

    fn on_event(&mut self, now_secs: f64, event: &Event) {
        let (id, latency) = match *event {
            Event::Admitted { request_id, .. } => (request_id, Latency::Ttft),
            Event::Finished { request_id, .. } => (request_id, Latency::E2e),
            Event::Rejected { request_id, .. } => {
                let Some(r) = self.requests.get_mut(request_id.0 as usize) else {
                    return;
                };
                let (ttft_open, e2e_open) = (r.open(Latency::Ttft), r.open(Latency::E2e));
                r.rejected = true;
                let arrival = r.arrival_secs;
                for (b, t) in self.rule.bounds.iter().zip(&mut self.trackers) {
                    let open = match b.latency {
                        Latency::Ttft => ttft_open,
                        Latency::E2e => e2e_open,
                    };
                    if open {
                        t.open -= 1;
                        t.open_arrivals -= arrival;
                    }
                }
                return;
            }
            Event::Preempted { .. } => return,
        };
        let i = id.0 as usize;
        let Some(r) = self.requests.get_mut(i) else {
            return;
        };
        if !r.open(latency) {
            return;
        }
        match latency {
            Latency::Ttft => r.admitted = true,
            Latency::E2e => r.finished = true,
        }
        let secs = now_secs - r.arrival_secs;
        self.settle(i, latency, secs);
    }

    fn on_arrival(&mut self, request_id: RequestId, arrival_secs: f64) {
        let i = request_id.0 as usize;
        if i >= self.requests.len() {
            self.requests.resize(i + 1, Request::default());
        }
        self.requests[i].arrival_secs = arrival_secs;
        for t in &mut self.trackers {
            t.open += 1;
            t.open_arrivals += arrival_secs;
        }
    }

    fn should_stop(&self) -> bool {
        self.fired.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Simulator;
    use crate::config::Config;
    use crate::engine::{NoopObserver, SimOptions};
    use crate::metrics::catalog::metric_cells;
    use crate::workload::Workload;
    use proptest::prelude::*;

    fn config(pattern: &str, policy: &str, rate: f64, seed: u64) -> Config {
        let cv = if pattern == "gamma" {
            "arrival_cv = 2.0"
        } else {
            ""
        };
        let text = format!(
            "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 2048\nmax_num_seqs = 16\npolicy = '{policy}'\n[workload]\narrival_pattern = '{pattern}'\n{cv}\narrival_rate = {rate}\nnum_requests = 300\nseed = {seed}\ninput_len_dist = {{ type = 'lognormal', mean = 6.0, std_dev = 0.7 }}\noutput_len_dist = {{ type = 'lognormal', mean = 4.5, std_dev = 0.8 }}\n"
        );
        Config::from_toml_str(&text, "t").unwrap()
    }

    /// The metric `column` of a full run of `cfg`, and the detector's verdict
    /// with its steps against the full run's.
    fn runs(cfg: &Config, slos: &[Slo]) -> (Vec<(String, f64)>, Option<String>, u64, u64) {
        let full = Simulator::new(
            cfg,
            Workload::from_config(cfg).unwrap(),
            SimOptions::default(),
        )
        .run(&mut NoopObserver)
        .unwrap();
        let json = serde_json::to_value(&full.result).unwrap();
        let cells: Vec<(String, f64)> = metric_cells(&json)
            .into_iter()
            .filter_map(|(name, cell)| Some((name, cell.as_number()?)))
            .collect();
        let workload = Workload::from_config(cfg).unwrap();
        let mut detector = OverloadRule::new(slos)
            .unwrap()
            .detector(workload.planned_requests())
            .unwrap();
        let early = Simulator::new(cfg, workload, SimOptions::default())
            .run(&mut detector)
            .unwrap();
        (
            cells,
            detector.fired().map(str::to_string),
            early.result.simulation.steps,
            full.result.simulation.steps,
        )
    }

    const COLUMNS: [&str; 9] = [
        "ttft_ms_p50",
        "ttft_ms_p99",
        "ttft_ms_mean",
        "ttft_ms_max",
        "ttft_ms_min",
        "e2e_ms_p90",
        "e2e_ms_mean",
        "e2e_ms_max",
        "e2e_ms_min",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The detector never stops a run that would have met every SLO, and
        /// when it stops one, the SLO it names fails in the full run.
        #[test]
        fn never_fails_a_probe_that_would_have_passed(
            rate in 0.5f64..40.0,
            seed in 1u64..1000,
            bursty in any::<bool>(),
            sof in any::<bool>(),
            picks in proptest::collection::vec((0usize..COLUMNS.len(), 0.2f64..3.0), 1..4),
        ) {
            let cfg = config(if bursty { "gamma" } else { "poisson" }, if sof { "sof" } else { "fcfs" }, rate, seed);
            // Bounds around the light-load value of each metric, so both
            // verdicts occur.
            let light = runs(&config("poisson", "fcfs", 0.2, seed), &[Slo { column: "ttft_ms_max".into(), max: 1e9 }]).0;
            let value = |cells: &[(String, f64)], c: &str| cells.iter().find(|(n, _)| n == c).map(|(_, v)| *v).unwrap();
            let slos: Vec<Slo> = picks
                .iter()
                .map(|&(c, f)| Slo { column: COLUMNS[c].into(), max: value(&light, COLUMNS[c]) * f * 3.0 })
                .collect();
            let (full, fired, early_steps, full_steps) = runs(&cfg, &slos);
            let passes = slos.iter().all(|s| value(&full, &s.column) <= s.max);
            if passes {
                prop_assert!(fired.is_none(), "stopped a passing run: {fired:?}");
                prop_assert_eq!(early_steps, full_steps);
            }
            if let Some(reason) = fired {
                let slo = slos.iter().find(|s| reason.starts_with(&format!("{} cannot stay <= {}:", s.column, s.max))).unwrap();
                prop_assert!(value(&full, &slo.column) > slo.max, "{reason}: the full run has {}", value(&full, &slo.column));
                prop_assert!(early_steps <= full_steps);
            }
        }
    }

    #[test]
    fn an_overloaded_run_stops_in_a_fraction_of_its_steps() {
        let slos = [Slo {
            column: "ttft_ms_p99".into(),
            max: 2000.0,
        }];
        let (full, fired, early, all) = runs(&config("poisson", "fcfs", 200.0, 1), &slos);
        let p99 = full.iter().find(|(n, _)| n == "ttft_ms_p99").unwrap().1;
        assert!(p99 > 2000.0, "{p99}");
        let reason = fired.expect("the detector fires");
        // More than 300 - ceil(0.99 * 300) = 3 requests already waited too long.
        let head = reason
            .split_once(" of 300 requests already exceed it")
            .map(|(head, _)| head)
            .unwrap_or_default();
        let certain: u64 = head
            .strip_prefix("ttft_ms_p99 cannot stay <= 2000: ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(certain > 3, "{reason}");
        assert!(early * 4 < all, "{early} of {all} steps");
    }

    #[test]
    fn only_latency_slos_on_ttft_and_e2e_are_bounded() {
        let slo = |c: &str| Slo {
            column: c.into(),
            max: 1.0,
        };
        assert!(OverloadRule::new(&[slo("per_token_ms_p99"), slo("requests_per_sec")]).is_none());
        let rule = OverloadRule::new(&[slo("e2e_ms_p95"), slo("per_token_ms_p99")]).unwrap();
        assert_eq!(rule.bounds.len(), 1);
        assert_eq!(rule.bounds[0].stat, Stat::Rank(95.0));
        assert!(rule.detector(None).is_none(), "needs the request count");
        let d = rule.detector(Some(1000)).unwrap();
        assert_eq!(d.trackers[0].allowance, 50);
    }
}
