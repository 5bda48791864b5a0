//! Workloads: the stream of requests offered to the server — when each arrives,
//! how long its prompt and output are, and (in dataset mode) its real content.
//!
//! Every random choice comes from a ChaCha8 generator seeded by
//! `workload.seed`, with one independent stream per purpose (arrival gaps,
//! prompt lengths, output lengths, priorities), so that changing the arrival
//! rate does not change the request lengths, and the same seed always gives the
//! same requests.

mod arrival;
mod dataset;
mod dist;
mod variate;

pub use dataset::{DatasetPrompt, PromptSet, WorkloadError};

use crate::config::{ArrivalLimit, ArrivalPattern, Config, WorkloadConfig};
use arrival::ArrivalProcess;
use dist::LengthSampler;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Arc;

/// One request as offered to the server.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Simulated arrival time in seconds.
    pub arrival_secs: f64,
    /// Prompt length in tokens.
    pub input_tokens: u32,
    /// Output length in tokens (at least 1).
    pub output_tokens: u32,
    /// Priority for the `priority` policy (lower runs first).
    pub priority: i64,
    /// Chained hashes of the prompt's full KV blocks (dataset mode); `None` for
    /// synthetic prompts, whose content is unique to the request.
    pub prompt_block_hashes: Option<Arc<[u64]>>,
}

/// Random streams, one per purpose.
const STREAM_ARRIVALS: u64 = 0;
const STREAM_INPUT: u64 = 1;
const STREAM_OUTPUT: u64 = 2;
const STREAM_PRIORITY: u64 = 3;

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// When requests arrive.
#[derive(Debug, Clone)]
enum Arrivals {
    /// The next arrival time of an open-loop process, computed ahead.
    Open {
        process: Box<ArrivalProcess>,
        next: f64,
    },
    /// Times at which closed-loop users are ready to send, in time order.
    Closed { ready: VecDeque<f64> },
}

/// Where prompts come from.
// One per run, sampled on every arrival: keep the generator inline, unboxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Prompts {
    /// Lengths sampled from `input_len_dist`; content unique to each request.
    Synthetic {
        input: LengthSampler,
        rng: ChaCha8Rng,
    },
    /// A dataset's prompts in file order; `next` is the next one to send.
    Dataset { set: Arc<PromptSet>, next: usize },
}

/// Request contents: prompts, output lengths and priorities.
#[derive(Debug, Clone)]
struct Lengths {
    prompts: Prompts,
    /// `None` only in dataset mode, where every line's `max_tokens` is the
    /// output length (checked when the workload is built).
    output: Option<LengthSampler>,
    priority: Option<LengthSampler>,
    output_rng: ChaCha8Rng,
    priority_rng: ChaCha8Rng,
}

/// A deterministic source of requests.
#[derive(Debug, Clone)]
pub struct Workload {
    arrivals: Arrivals,
    lengths: Lengths,
    limit: ArrivalLimit,
    issued: u64,
}

impl Workload {
    /// The synthetic workload of a config. Returns `None` when the config has no
    /// length distributions (dataset mode, whose prompts come from a file).
    pub fn synthetic(cfg: &WorkloadConfig) -> Option<Self> {
        let prompts = Prompts::Synthetic {
            input: LengthSampler::new(cfg.input_len_dist.as_ref()?),
            rng: stream(cfg.seed, STREAM_INPUT),
        };
        cfg.output_len_dist.as_ref()?;
        Some(Self::new(cfg, prompts))
    }

    /// A workload that sends `prompts` in order, at the times of the config's
    /// arrival pattern (closed loop included). Each output length is a sample
    /// of `workload.output_len_dist` capped by the prompt's `max_tokens`, or
    /// its `max_tokens` when there is no distribution. `num_requests` and
    /// `duration_secs` may stop arrivals early; arrivals also stop when the
    /// prompts run out.
    pub fn from_prompts(config: &Config, prompts: Arc<PromptSet>) -> Result<Self, WorkloadError> {
        let cfg = &config.workload;
        if prompts.block_size() != config.scheduler.block_size {
            return Err(WorkloadError::BlockSizeMismatch {
                hashed: prompts.block_size(),
                configured: config.scheduler.block_size,
            });
        }
        if cfg.output_len_dist.is_none() {
            let sent = cfg
                .num_requests
                .map_or(prompts.len(), |n| prompts.len().min(n as usize));
            if let Some(p) = prompts.prompts()[..sent]
                .iter()
                .find(|p| p.max_tokens.is_none())
            {
                return Err(WorkloadError::NoOutputLength { line: p.line });
            }
        }
        Ok(Self::new(
            cfg,
            Prompts::Dataset {
                set: prompts,
                next: 0,
            },
        ))
    }

    fn new(cfg: &WorkloadConfig, prompts: Prompts) -> Self {
        let seed = cfg.seed;
        let lengths = Lengths {
            prompts,
            output: cfg.output_len_dist.as_ref().map(LengthSampler::new),
            priority: cfg.priority_dist.as_ref().map(LengthSampler::new),
            output_rng: stream(seed, STREAM_OUTPUT),
            priority_rng: stream(seed, STREAM_PRIORITY),
        };
        let arrivals = match cfg.arrival_pattern {
            ArrivalPattern::ClosedLoop => Arrivals::Closed {
                ready: std::iter::repeat_n(0.0, cfg.num_concurrent_users.unwrap_or(1) as usize)
                    .collect(),
            },
            pattern => {
                let group = match pattern {
                    ArrivalPattern::Burst => cfg.burst_size,
                    ArrivalPattern::Batched => cfg.batch_size,
                    _ => 1,
                };
                let mut process = Box::new(ArrivalProcess::new(
                    pattern,
                    cfg.arrival_rate,
                    group,
                    stream(seed, STREAM_ARRIVALS),
                ));
                let next = process.next_time();
                Arrivals::Open { process, next }
            }
        };
        Self {
            arrivals,
            lengths,
            limit: cfg.limit(),
            issued: 0,
        }
    }

    /// How many requests will arrive, when that is known in advance: the
    /// smaller of `num_requests` and the dataset's size (`None` for a synthetic
    /// workload bounded only by `duration_secs`).
    pub fn planned_requests(&self) -> Option<u64> {
        let dataset = match &self.lengths.prompts {
            Prompts::Dataset { set, .. } => Some(set.len() as u64),
            Prompts::Synthetic { .. } => None,
        };
        match (self.limit.num_requests, dataset) {
            (Some(n), Some(d)) => Some(n.min(d)),
            (n, d) => n.or(d),
        }
    }

    /// Arrival time of the next request, or `None` when no more will arrive
    /// (limit reached, or every closed-loop user is waiting for a reply).
    pub fn peek_time(&self) -> Option<f64> {
        if self.limit.num_requests.is_some_and(|n| self.issued >= n) {
            return None;
        }
        if let Prompts::Dataset { set, next } = &self.lengths.prompts {
            if *next >= set.len() {
                return None;
            }
        }
        let t = match &self.arrivals {
            Arrivals::Open { next, .. } => *next,
            Arrivals::Closed { ready } => *ready.front()?,
        };
        match self.limit.duration_secs {
            Some(d) if t > d => None,
            _ => Some(t),
        }
    }

    /// Takes the next request. Call only after [`peek_time`](Self::peek_time) returned `Some`.
    pub fn next_request(&mut self) -> RequestSpec {
        let arrival_secs = match &mut self.arrivals {
            Arrivals::Open { process, next } => std::mem::replace(next, process.next_time()),
            Arrivals::Closed { ready } => ready.pop_front().unwrap_or(0.0),
        };
        self.issued += 1;
        let l = &mut self.lengths;
        let (input_tokens, prompt_block_hashes, max_tokens) = match &mut l.prompts {
            Prompts::Synthetic { input, rng } => (input.sample(rng, 1), None, None),
            Prompts::Dataset { set, next } => {
                let p = &set.prompts()[*next];
                *next += 1;
                (
                    p.input_tokens,
                    Some(Arc::clone(&p.block_hashes)),
                    p.max_tokens,
                )
            }
        };
        let output_tokens = match &l.output {
            Some(dist) => {
                let sampled = dist.sample(&mut l.output_rng, 1);
                max_tokens.map_or(sampled, |cap| sampled.min(cap))
            }
            // Dataset mode without output_len_dist: from_prompts checked that
            // every prompt it will send has max_tokens.
            None => max_tokens.unwrap_or(1),
        };
        RequestSpec {
            arrival_secs,
            input_tokens,
            output_tokens,
            priority: l
                .priority
                .as_ref()
                .map_or(0, |p| i64::from(p.sample(&mut l.priority_rng, 0))),
            prompt_block_hashes,
        }
    }

    /// Tells the workload that a request ended (completed or rejected) at `now`:
    /// in a closed loop its user sends the next one at that time.
    pub fn on_request_done(&mut self, now: f64) {
        if let Arrivals::Closed { ready } = &mut self.arrivals {
            ready.push_back(now);
        }
    }

    /// Whether arrivals are driven by completions.
    pub fn is_closed_loop(&self) -> bool {
        matches!(self.arrivals, Arrivals::Closed { .. })
    }

    /// How many requests have been taken so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// What stops arrivals.
    pub fn limit(&self) -> ArrivalLimit {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn workload(extra: &str) -> Workload {
        let text = format!(
            "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 2048\nmax_num_seqs = 8\n[workload]\n{extra}\ninput_len_dist = {{ type = 'fixed', value = 10 }}\noutput_len_dist = {{ type = 'uniform', min = 1, max = 9 }}\n"
        );
        Workload::synthetic(&Config::from_toml_str(&text, "t").unwrap().workload).unwrap()
    }

    #[test]
    fn open_loop_stops_at_num_requests() {
        let mut w = workload("arrival_pattern = 'poisson'\narrival_rate = 5.0\nnum_requests = 3");
        let mut n = 0;
        while w.peek_time().is_some() {
            w.next_request();
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn open_loop_stops_at_duration() {
        let mut w =
            workload("arrival_pattern = 'fixed_rate'\narrival_rate = 10.0\nduration_secs = 1.0");
        let mut last = 0.0;
        while let Some(t) = w.peek_time() {
            last = w.next_request().arrival_secs;
            assert_eq!(last, t);
        }
        assert_eq!(w.issued(), 11); // t = 0.0, 0.1, ..., 1.0
        assert!(last <= 1.0);
    }

    #[test]
    fn closed_loop_users_wait_for_replies() {
        let mut w =
            workload("arrival_pattern = 'closed_loop'\nnum_concurrent_users = 2\nnum_requests = 5");
        assert_eq!(w.next_request().arrival_secs, 0.0);
        assert_eq!(w.next_request().arrival_secs, 0.0);
        assert_eq!(w.peek_time(), None);
        w.on_request_done(1.5);
        assert_eq!(w.peek_time(), Some(1.5));
    }

    fn prompts(max_tokens: &[Option<u32>]) -> Arc<PromptSet> {
        let prompts = max_tokens
            .iter()
            .enumerate()
            .map(|(i, &max_tokens)| DatasetPrompt {
                line: i as u64 + 1,
                input_tokens: 100 + i as u32,
                max_tokens,
                block_hashes: vec![i as u64; 6].into(),
            })
            .collect();
        Arc::new(PromptSet::new(16, prompts))
    }

    fn dataset_config(extra: &str, output: &str) -> Config {
        let text = format!(
            "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 2048\nmax_num_seqs = 8\n[workload]\ndataset_path = 'd.jsonl'\n{extra}\n{output}"
        );
        Config::from_toml_str(&text, "t").unwrap()
    }

    fn drain(w: &mut Workload) -> Vec<RequestSpec> {
        let mut out = Vec::new();
        while w.peek_time().is_some() {
            out.push(w.next_request());
        }
        out
    }

    #[test]
    fn dataset_prompts_are_sent_in_order_until_they_run_out() {
        let cfg = dataset_config("arrival_pattern = 'fixed_rate'\narrival_rate = 2.0", "");
        let mut w = Workload::from_prompts(&cfg, prompts(&[Some(5), Some(7), Some(9)])).unwrap();
        assert_eq!(w.planned_requests(), Some(3));
        let sent = drain(&mut w);
        let inputs: Vec<u32> = sent.iter().map(|r| r.input_tokens).collect();
        assert_eq!(inputs, [100, 101, 102]);
        let arrivals: Vec<f64> = sent.iter().map(|r| r.arrival_secs).collect();
        assert_eq!(arrivals, [0.0, 0.5, 1.0]);
        // Without output_len_dist, max_tokens is the output length.
        let outputs: Vec<u32> = sent.iter().map(|r| r.output_tokens).collect();
        assert_eq!(outputs, [5, 7, 9]);
        assert_eq!(sent[1].prompt_block_hashes.as_deref(), Some(&[1u64; 6][..]));
    }

    #[test]
    fn num_requests_cuts_the_dataset() {
        let cfg = dataset_config(
            "arrival_pattern = 'poisson'\narrival_rate = 2.0\nnum_requests = 2",
            "",
        );
        let mut w = Workload::from_prompts(&cfg, prompts(&[Some(5), Some(7), None])).unwrap();
        assert_eq!(w.planned_requests(), Some(2));
        assert_eq!(drain(&mut w).len(), 2);
    }

    #[test]
    fn sampled_output_lengths_are_capped_by_max_tokens() {
        let cfg = dataset_config(
            "arrival_pattern = 'poisson'\narrival_rate = 2.0",
            "output_len_dist = { type = 'fixed', value = 50 }",
        );
        let mut w = Workload::from_prompts(&cfg, prompts(&[Some(10), None, Some(80)])).unwrap();
        let outputs: Vec<u32> = drain(&mut w).iter().map(|r| r.output_tokens).collect();
        assert_eq!(outputs, [10, 50, 50]);
    }

    #[test]
    fn a_prompt_without_any_output_length_is_an_error() {
        let cfg = dataset_config("arrival_pattern = 'poisson'\narrival_rate = 2.0", "");
        let e = Workload::from_prompts(&cfg, prompts(&[Some(5), None])).unwrap_err();
        assert_eq!(e, WorkloadError::NoOutputLength { line: 2 });
        // A line that num_requests leaves out does not matter.
        let cfg = dataset_config(
            "arrival_pattern = 'poisson'\narrival_rate = 2.0\nnum_requests = 1",
            "",
        );
        assert!(Workload::from_prompts(&cfg, prompts(&[Some(5), None])).is_ok());
    }

    #[test]
    fn prompts_must_be_hashed_for_the_configured_block_size() {
        let cfg = dataset_config("arrival_pattern = 'poisson'\narrival_rate = 2.0", "");
        let set = Arc::new(PromptSet::new(32, prompts(&[Some(1)]).prompts().to_vec()));
        assert_eq!(
            Workload::from_prompts(&cfg, set).unwrap_err(),
            WorkloadError::BlockSizeMismatch {
                hashed: 32,
                configured: 16
            }
        );
    }

    #[test]
    fn closed_loop_users_replay_the_dataset() {
        let cfg = dataset_config(
            "arrival_pattern = 'closed_loop'\nnum_concurrent_users = 2",
            "",
        );
        let mut w = Workload::from_prompts(&cfg, prompts(&[Some(1), Some(2), Some(3)])).unwrap();
        assert_eq!(w.next_request().input_tokens, 100);
        assert_eq!(w.next_request().input_tokens, 101);
        assert_eq!(w.peek_time(), None);
        w.on_request_done(2.5);
        let third = w.next_request();
        assert_eq!((third.arrival_secs, third.input_tokens), (2.5, 102));
        w.on_request_done(3.0);
        assert_eq!(w.peek_time(), None, "the dataset ran out");
    }

    #[test]
    fn same_seed_same_requests() {
        let spec = "arrival_pattern = 'poisson'\narrival_rate = 5.0\nnum_requests = 50";
        let (mut a, mut b) = (workload(spec), workload(spec));
        for _ in 0..50 {
            assert_eq!(a.next_request(), b.next_request());
        }
    }
}
