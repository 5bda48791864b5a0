//! Workloads: the stream of requests offered to the server — when each arrives,
//! how long its prompt and output are, and (with a dataset, shared prefixes or
//! a trace) what content the prompts share.
//!
//! Every random choice comes from a ChaCha8 generator seeded by
//! `workload.seed`, with one independent stream per purpose (arrival gaps,
//! prompt lengths, output lengths, priorities, prompt choices), so that
//! changing the arrival rate does not change the requests, only when they
//! arrive, and the same seed always gives the same requests.

mod arrival;
mod dataset;
mod dist;
mod schedule;
mod sessions;
mod shared_prefix;
mod trace;
mod variate;

pub use dataset::{DatasetPrompt, PromptSet, WorkloadError};
pub use trace::{TraceContent, TraceError, TraceRecord, TraceRecords};

use crate::config::{
    ArrivalLimit, ArrivalPattern, Config, LengthDist, SessionsConfig, WorkloadConfig,
};
use arrival::ArrivalProcess;
use dist::LengthSampler;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schedule::RateClock;
use serde::Serialize;
use sessions::Conversations;
use shared_prefix::PromptChoice;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use trace::TraceReplay;

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
    /// Chained hashes of the request's full KV blocks whose content is
    /// known (dataset, shared-prefix and trace prompts with shared content;
    /// a conversation turn's prompt and response, which later turns repeat);
    /// `None` for prompts whose content is unique to the request. Blocks
    /// past the last hash are the request's own.
    pub prompt_block_hashes: Option<Arc<[u64]>>,
}

/// The global id of a request in a run: its index in the run's traffic
/// (0, 1, 2, ... in arrival order), assigned by whoever feeds the engines. It
/// names the request in events and records and breaks ties between requests
/// in every scheduling policy. Serialises as the plain number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a request ended, as the workload hears of it: what closed loops and
/// conversations wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEnd {
    /// It emitted its last token.
    Completed,
    /// The server refused it.
    Rejected,
}

/// Random streams, one per purpose.
const STREAM_ARRIVALS: u64 = 0;
const STREAM_INPUT: u64 = 1;
const STREAM_OUTPUT: u64 = 2;
const STREAM_PRIORITY: u64 = 3;
const STREAM_PROMPT_CHOICE: u64 = 4;

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// When requests arrive.
#[derive(Debug)]
enum Arrivals {
    /// The next arrival time of an open-loop process, computed ahead (`None`
    /// once a rate schedule has ended). With a schedule the process runs at
    /// unit rate and `clock` maps its times to real time.
    Open {
        process: Box<ArrivalProcess>,
        clock: Option<RateClock>,
        next: Option<f64>,
    },
    /// Times at which closed-loop users are ready to send, in time order.
    Closed { ready: VecDeque<f64> },
    /// A trace's requests, which bring their arrival times and contents.
    Trace(Box<TraceReplay>),
    /// Conversations: sessions start at the times of `starts` (open or
    /// closed loop), and their later turns when their users are ready.
    Sessions {
        starts: Box<Arrivals>,
        conversations: Box<Conversations>,
    },
}

impl Arrivals {
    /// The open-loop arrivals of `cfg`.
    fn open(cfg: &WorkloadConfig) -> Self {
        let group = match cfg.arrival_pattern {
            ArrivalPattern::Burst => cfg.burst_size,
            ArrivalPattern::Batched => cfg.batch_size,
            _ => 1,
        };
        let clock = cfg
            .rate_schedule
            .as_ref()
            .map(|s| RateClock::new(s, cfg.arrival_rate));
        let rate = if clock.is_some() {
            1.0
        } else {
            cfg.arrival_rate
        };
        let mut process = Box::new(ArrivalProcess::new(
            cfg.arrival_pattern,
            rate,
            group,
            cfg.arrival_cv,
            stream(cfg.seed, STREAM_ARRIVALS),
        ));
        let mut clock = clock;
        let next = Self::advance(&mut process, &mut clock);
        Arrivals::Open {
            process,
            clock,
            next,
        }
    }

    /// The next arrival time of an open or closed loop (what starts sessions).
    fn peek(&self) -> Option<f64> {
        match self {
            Arrivals::Open { next, .. } => *next,
            Arrivals::Closed { ready } => ready.front().copied(),
            Arrivals::Trace(replay) => replay.peek().map(|r| r.arrival_secs),
            Arrivals::Sessions {
                starts,
                conversations,
            } => {
                let start = starts.peek().filter(|_| conversations.may_start());
                match (conversations.next_turn_secs(), start) {
                    // A due turn goes before a session that starts at the same time.
                    (Some(turn), Some(start)) => Some(turn.min(start)),
                    (turn, start) => turn.or(start),
                }
            }
        }
    }

    /// Takes the next arrival time of an open or closed loop.
    fn take_time(&mut self) -> f64 {
        match self {
            Arrivals::Open {
                process,
                clock,
                next,
            } => {
                std::mem::replace(next, Arrivals::advance(process, clock)).unwrap_or(f64::INFINITY)
            }
            Arrivals::Closed { ready } => ready.pop_front().unwrap_or(0.0),
            // These bring whole requests (see Workload::next_request).
            Arrivals::Trace(_) | Arrivals::Sessions { .. } => f64::INFINITY,
        }
    }

    /// A request ended at `now`: a closed-loop user sends the next one.
    fn on_request_done(&mut self, id: RequestId, end: RequestEnd, now: f64) {
        match self {
            Arrivals::Closed { ready } => ready.push_back(now),
            Arrivals::Sessions {
                starts,
                conversations,
            } => {
                if conversations.on_done(id, end, now) {
                    // The session ended: a closed-loop user starts another.
                    starts.on_request_done(id, end, now);
                }
            }
            Arrivals::Open { .. } | Arrivals::Trace(_) => {}
        }
    }

    /// Whether arrivals are driven by completions.
    fn is_closed_loop(&self) -> bool {
        match self {
            Arrivals::Closed { .. } => true,
            Arrivals::Sessions { starts, .. } => starts.is_closed_loop(),
            Arrivals::Open { .. } | Arrivals::Trace(_) => false,
        }
    }

    /// The open-loop process's next time, through the schedule's clock if any.
    fn advance(process: &mut ArrivalProcess, clock: &mut Option<RateClock>) -> Option<f64> {
        let t = process.next_time();
        match clock {
            Some(c) => c.time_of(t),
            None => Some(t),
        }
    }
}

/// Where prompts come from.
#[derive(Debug, Clone)]
enum Prompts {
    /// Lengths sampled from `input_len_dist`; content unique to each request.
    Synthetic {
        input: LengthSampler,
        rng: ChaCha8Rng,
    },
    /// A dataset's prompts in file order; `next` is the next one to send.
    Dataset { set: Arc<PromptSet>, next: usize },
    /// Shared-prefix prompts, chosen by `choice` (they never run out).
    Shared {
        set: Arc<PromptSet>,
        choice: PromptChoice,
    },
    /// Every request brings its prompt (a trace).
    FromArrivals,
}

/// Request contents: prompts, output lengths and priorities.
#[derive(Debug, Clone)]
struct Lengths {
    prompts: Prompts,
    /// `None` in dataset mode without `output_len_dist`, where every line's
    /// `max_tokens` is the output length (checked when the workload is
    /// built), and for a trace, whose records bring theirs.
    output: Option<LengthSampler>,
    priority: Option<LengthSampler>,
    output_rng: ChaCha8Rng,
    priority_rng: ChaCha8Rng,
}

/// A deterministic source of requests.
#[derive(Debug)]
pub struct Workload {
    arrivals: Arrivals,
    lengths: Lengths,
    limit: ArrivalLimit,
    issued: u64,
}

impl Workload {
    /// The synthetic workload of a config. Returns `None` when the config has no
    /// length distributions (its prompts come from a dataset, shared prefixes
    /// or a trace).
    pub fn synthetic(cfg: &WorkloadConfig) -> Option<Self> {
        let prompts = Prompts::Synthetic {
            input: LengthSampler::new(cfg.input_len_dist.as_ref()?),
            rng: stream(cfg.seed, STREAM_INPUT),
        };
        cfg.output_len_dist.as_ref()?;
        Some(Self::new(cfg, prompts))
    }

    /// The workload of a config whose requests need no files: synthetic
    /// lengths or shared prefixes. Returns `None` when its prompts come from
    /// a dataset or a trace (which the command line reads).
    pub fn from_config(config: &Config) -> Option<Self> {
        let cfg = &config.workload;
        match &cfg.shared_prefix {
            Some(shared) => {
                let set = shared_prefix::prompts(shared, config.server.scheduler.block_size);
                let choice = PromptChoice::new(
                    shared.order,
                    set.len() as u32,
                    stream(cfg.seed, STREAM_PROMPT_CHOICE),
                );
                let set = Arc::new(set);
                Some(Self::new(cfg, Prompts::Shared { set, choice }))
            }
            None => match &cfg.sessions {
                Some(sessions) => Some(Self::conversations(config, sessions)),
                None => Self::synthetic(cfg),
            },
        }
    }

    /// The conversations of `sessions`: the config's arrival pattern starts
    /// the sessions.
    fn conversations(config: &Config, sessions: &SessionsConfig) -> Self {
        let cfg = &config.workload;
        let output = cfg.output_len_dist.as_ref().map_or(
            LengthSampler::new(&LengthDist::Fixed { value: 1 }),
            LengthSampler::new,
        );
        let conversations = Box::new(Conversations::new(
            sessions,
            output,
            cfg.seed,
            config.server.scheduler.block_size,
        ));
        let mut workload = Self::new(cfg, Prompts::FromArrivals);
        let starts = std::mem::replace(
            &mut workload.arrivals,
            Arrivals::Closed {
                ready: VecDeque::new(),
            },
        );
        workload.arrivals = Arrivals::Sessions {
            starts: Box::new(starts),
            conversations,
        };
        workload
    }

    /// A workload that replays a trace's `records` (read by the caller from
    /// `workload.trace`), cut and scaled as the config's trace table says.
    /// Returns `None` when the config has no trace.
    pub fn from_trace(config: &Config, records: TraceRecords) -> Option<Self> {
        let cfg = &config.workload;
        let replay = TraceReplay::new(
            records,
            cfg.trace.as_ref()?,
            config.server.scheduler.block_size,
        );
        let mut workload = Self::new(cfg, Prompts::FromArrivals);
        workload.arrivals = Arrivals::Trace(Box::new(replay));
        Some(workload)
    }

    /// A workload that sends `prompts` in order, at the times of the config's
    /// arrival pattern (closed loop included). Each output length is a sample
    /// of `workload.output_len_dist` capped by the prompt's `max_tokens`, or
    /// its `max_tokens` when there is no distribution. `num_requests` and
    /// `duration_secs` may stop arrivals early; arrivals also stop when the
    /// prompts run out.
    pub fn from_prompts(config: &Config, prompts: Arc<PromptSet>) -> Result<Self, WorkloadError> {
        let cfg = &config.workload;
        if prompts.block_size() != config.server.scheduler.block_size {
            return Err(WorkloadError::BlockSizeMismatch {
                hashed: prompts.block_size(),
                configured: config.server.scheduler.block_size,
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
            // A trace's arrivals come with its records (from_trace sets
            // them); without the records nothing arrives.
            ArrivalPattern::Trace => Arrivals::Closed {
                ready: VecDeque::new(),
            },
            _ => Arrivals::open(cfg),
        };
        Self {
            arrivals,
            lengths,
            limit: cfg.limit(),
            issued: 0,
        }
    }

    /// How many requests will arrive, when that is known in advance: the
    /// smallest of `num_requests`, the dataset's size and the trace's
    /// `max_requests` (`None` when only time or the trace's end bounds it).
    pub fn planned_requests(&self) -> Option<u64> {
        let source = match (&self.lengths.prompts, &self.arrivals) {
            (Prompts::Dataset { set, .. }, _) => Some(set.len() as u64),
            (_, Arrivals::Trace(replay)) => replay.max_requests(),
            _ => None,
        };
        match (self.limit.num_requests, source) {
            (Some(n), Some(d)) => Some(n.min(d)),
            (n, d) => n.or(d),
        }
    }

    /// Arrival time of the next request, or `None` when no more will arrive
    /// (limit reached, schedule or trace ended, or every closed-loop user is
    /// waiting for a reply).
    pub fn peek_time(&self) -> Option<f64> {
        if self.limit.num_requests.is_some_and(|n| self.issued >= n) {
            return None;
        }
        if let Prompts::Dataset { set, next } = &self.lengths.prompts {
            if *next >= set.len() {
                return None;
            }
        }
        let t = self.arrivals.peek()?;
        match self.limit.duration_secs {
            Some(d) if t > d => None,
            _ => Some(t),
        }
    }

    /// Takes the next request. Call only after [`peek_time`](Self::peek_time) returned `Some`.
    pub fn next_request(&mut self) -> RequestSpec {
        let id = RequestId(self.issued);
        let (arrival_secs, carried) = match &mut self.arrivals {
            Arrivals::Trace(replay) => match replay.take() {
                Some(spec) => (spec.arrival_secs, Some(spec)),
                None => (f64::INFINITY, None),
            },
            Arrivals::Sessions {
                starts,
                conversations,
            } => {
                // As in peek: a due turn before a session starting then.
                let start = starts.peek().filter(|_| conversations.may_start());
                let turn_first = conversations
                    .next_turn_secs()
                    .is_some_and(|turn| start.is_none_or(|start| turn <= start));
                let turn = if turn_first {
                    conversations.next_turn(id)
                } else {
                    None
                };
                let spec = turn.unwrap_or_else(|| conversations.start(id, starts.take_time()));
                (spec.arrival_secs, Some(spec))
            }
            open_or_closed => (open_or_closed.take_time(), None),
        };
        self.issued += 1;
        let l = &mut self.lengths;
        let priority = l
            .priority
            .as_ref()
            .map_or(0, |p| i64::from(p.sample(&mut l.priority_rng, 0)));
        if let Some(spec) = carried {
            return RequestSpec { priority, ..spec };
        }
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
            Prompts::Shared { set, choice } => {
                let p = &set.prompts()[choice.next(set.len() as u32)];
                (p.input_tokens, Some(Arc::clone(&p.block_hashes)), None)
            }
            // Trace requests return above; this only follows a misuse
            // (next_request after peek_time said None).
            Prompts::FromArrivals => (1, None, None),
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
            priority,
            prompt_block_hashes,
        }
    }

    /// Why the workload stopped early: a bad trace record. The simulator
    /// checks it so a bad line ends the run with an error rather than
    /// silently shortening the trace.
    pub fn error(&self) -> Option<&TraceError> {
        match &self.arrivals {
            Arrivals::Trace(replay) => replay.error(),
            _ => None,
        }
    }

    /// Tells the workload that request `id` ended at `now`: in a closed
    /// loop its user sends the next one at that time; in a conversation the
    /// session's next turn follows a think time after a completion.
    pub fn on_request_done(&mut self, id: RequestId, end: RequestEnd, now: f64) {
        self.arrivals.on_request_done(id, end, now);
    }

    /// Whether arrivals are driven by completions (a closed loop, or
    /// conversations started by one).
    pub fn is_closed_loop(&self) -> bool {
        self.arrivals.is_closed_loop()
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
        w.on_request_done(RequestId(0), RequestEnd::Completed, 1.5);
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
        w.on_request_done(RequestId(0), RequestEnd::Completed, 2.5);
        let third = w.next_request();
        assert_eq!((third.arrival_secs, third.input_tokens), (2.5, 102));
        w.on_request_done(RequestId(2), RequestEnd::Completed, 3.0);
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

    fn config(workload: &str) -> Config {
        let text = format!(
            "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 2048\nmax_num_seqs = 8\n[workload]\n{workload}\n"
        );
        Config::from_toml_str(&text, "t").unwrap()
    }

    const LENGTHS: &str = "input_len_dist = { type = 'lognormal', mean = 5.0, std_dev = 0.5 }\noutput_len_dist = { type = 'uniform', min = 1, max = 99 }\npriority_dist = { type = 'uniform', min = 0, max = 9 }";

    /// Every request of `cfg`'s workload built without files.
    fn requests(cfg: &Config) -> Vec<RequestSpec> {
        drain(&mut Workload::from_config(cfg).unwrap())
    }

    #[test]
    fn every_open_loop_pattern_keeps_common_random_numbers() {
        // At every arrival_rate the same seed gives the same requests and the
        // same unit-rate arrival sequence: only the times scale.
        let shared = "[workload.shared_prefix]\nnum_groups = 3\nprompts_per_group = 4\nsystem_prompt_len = 40\nquestion_len = 20\norder = 'random'\n[workload.output_len_dist]\ntype = 'uniform'\nmin = 1\nmax = 50";
        for source in [LENGTHS, shared] {
            for (pattern, _) in ArrivalPattern::ALL {
                if matches!(pattern, "closed_loop" | "trace") {
                    continue;
                }
                let cv = if matches!(pattern, "gamma" | "weibull") {
                    "arrival_cv = 2.0"
                } else {
                    ""
                };
                let at = |rate: f64| {
                    requests(&config(&format!(
                        "arrival_pattern = '{pattern}'\narrival_rate = {rate}\nnum_requests = 500\n{cv}\n{source}"
                    )))
                };
                let (slow, fast) = (at(1.0), at(7.5));
                assert_eq!(slow.len(), 500);
                for (a, b) in slow.iter().zip(&fast) {
                    let t = b.arrival_secs * 7.5;
                    assert!((a.arrival_secs - t).abs() <= 1e-9 * t.max(1.0), "{pattern}");
                    let contents = |r: &RequestSpec| RequestSpec {
                        arrival_secs: 0.0,
                        ..r.clone()
                    };
                    assert_eq!(contents(a), contents(b), "{pattern}");
                }
            }
        }
    }

    #[test]
    fn a_schedule_keeps_common_random_numbers_too() {
        let schedule =
            "rate_schedule = { type = 'sine', mean = 4.0, amplitude = 3.0, period_secs = 60.0 }";
        let at = |rate: f64| {
            config(&format!(
                "arrival_pattern = 'gamma'\narrival_cv = 3.0\narrival_rate = {rate}\nnum_requests = 2000\n{schedule}\n{LENGTHS}"
            ))
        };
        let (slow, fast) = (at(1.0), at(2.5));
        let clock = RateClock::new(slow.workload.rate_schedule.as_ref().unwrap(), 1.0);
        let (a, b) = (requests(&slow), requests(&fast));
        for (a, b) in a.iter().zip(&b) {
            // The same operational time: 1.0 S(t_slow) = 2.5 S(t_fast).
            let (ua, ub) = (
                clock.cumulative(a.arrival_secs),
                2.5 * clock.cumulative(b.arrival_secs),
            );
            assert!((ua - ub).abs() <= 1e-9 * ua.max(1.0), "{ua} vs {ub}");
            assert_eq!(
                (a.input_tokens, a.output_tokens, a.priority),
                (b.input_tokens, b.output_tokens, b.priority)
            );
        }
    }

    /// Arrivals of `cfg` per window of `width` seconds up to `end`, against
    /// the integral of the rate over each window.
    fn counts_follow_the_schedule(cfg: &Config, width: f64, end: f64) {
        let w = &cfg.workload;
        let clock = RateClock::new(w.rate_schedule.as_ref().unwrap(), w.arrival_rate);
        let times: Vec<f64> = requests(cfg).iter().map(|r| r.arrival_secs).collect();
        assert!(times.windows(2).all(|p| p[1] >= p[0]));
        let mut start = 0.0;
        while start < end {
            let stop = start + width;
            let count = times.iter().filter(|&&t| t >= start && t < stop).count() as f64;
            let expected = w.arrival_rate * (clock.cumulative(stop) - clock.cumulative(start));
            assert!(
                (count - expected).abs() <= 0.03 * expected,
                "{:?} window [{start}, {stop}): {count} arrivals, integral {expected}",
                w.arrival_pattern
            );
            start = stop;
        }
    }

    #[test]
    fn arrivals_per_window_follow_the_integral_of_the_rate() {
        for (pattern, cv) in [
            ("poisson", ""),
            ("gamma", "arrival_cv = 1.5"),
            ("weibull", "arrival_cv = 0.5"),
        ] {
            // Pieces of 60 s at 100, 250, a pause and 400 requests/s (x 1.5).
            let piecewise = config(&format!(
                "arrival_pattern = '{pattern}'\n{cv}\narrival_rate = 1.5\n{LENGTHS}\n[[workload.rate_schedule]]\nuntil_secs = 60\nrate = 100\n[[workload.rate_schedule]]\nuntil_secs = 120\nrate = 250\n[[workload.rate_schedule]]\nuntil_secs = 150\nrate = 0\n[[workload.rate_schedule]]\nuntil_secs = 210\nrate = 400"
            ));
            counts_follow_the_schedule(&piecewise, 30.0, 210.0);
            let sine = config(&format!(
                "arrival_pattern = '{pattern}'\n{cv}\nduration_secs = 600\n{LENGTHS}\nrate_schedule = {{ type = 'sine', mean = 200.0, amplitude = 150.0, period_secs = 300.0, phase_secs = 75.0 }}"
            ));
            counts_follow_the_schedule(&sine, 50.0, 600.0);
        }
    }

    #[test]
    fn a_piecewise_schedule_ends_the_arrivals() {
        let cfg = config(&format!(
            "arrival_pattern = 'fixed_rate'\n{LENGTHS}\nrate_schedule = [{{ until_secs = 2.0, rate = 2.0 }}, {{ until_secs = 3.0, rate = 4.0 }}]"
        ));
        let times: Vec<f64> = requests(&cfg).iter().map(|r| r.arrival_secs).collect();
        assert_eq!(times, [0.0, 0.5, 1.0, 1.5, 2.0, 2.25, 2.5, 2.75, 3.0]);
    }

    #[test]
    fn shared_prefix_requests_cycle_through_the_shuffled_prompts() {
        let cfg = config(
            "arrival_pattern = 'poisson'\narrival_rate = 1.0\nnum_requests = 30\noutput_len_dist = { type = 'fixed', value = 7 }\n[workload.shared_prefix]\nnum_groups = 2\nprompts_per_group = 5\nsystem_prompt_len = 32\nquestion_len = 16",
        );
        let sent = requests(&cfg);
        let hashes: Vec<Arc<[u64]>> = sent
            .iter()
            .map(|r| r.prompt_block_hashes.clone().unwrap())
            .collect();
        assert!(sent
            .iter()
            .all(|r| r.input_tokens == 48 && r.output_tokens == 7));
        for i in 10..30 {
            // Every prompt comes back every 10 requests, and it is the very same Arc.
            assert!(Arc::ptr_eq(&hashes[i], &hashes[i - 10]));
        }
        let mut first_cycle: Vec<&[u64]> = hashes[..10].iter().map(|h| &h[..]).collect();
        first_cycle.sort();
        first_cycle.dedup();
        assert_eq!(first_cycle.len(), 10, "each prompt once per cycle");
        // Two system prompts: two distinct first blocks.
        let mut systems: Vec<u64> = hashes.iter().map(|h| h[0]).collect();
        systems.sort_unstable();
        systems.dedup();
        assert_eq!(systems.len(), 2);
    }

    #[test]
    fn a_trace_is_cut_scaled_and_counted() {
        let records: Vec<TraceRecord> = (0..10)
            .map(|i| TraceRecord {
                line: i + 2,
                arrival_secs: i as f64,
                input_tokens: 10 + i as u32,
                output_tokens: 1 + i as u32,
                content: TraceContent::Unique,
            })
            .collect();
        let cfg = config("trace = { path = 't.csv', time_scale = 2.0, start_secs = 3.0, duration_secs = 4.0, max_requests = 3 }");
        let source: TraceRecords = Box::new(records.into_iter().map(Ok));
        let mut w = Workload::from_trace(&cfg, source).unwrap();
        assert_eq!(w.planned_requests(), Some(3));
        let sent = drain(&mut w);
        let got: Vec<(f64, u32, u32)> = sent
            .iter()
            .map(|r| (r.arrival_secs, r.input_tokens, r.output_tokens))
            .collect();
        assert_eq!(got, [(0.0, 13, 4), (0.5, 14, 5), (1.0, 15, 6)]);
        assert!(w.error().is_none());
    }

    #[test]
    fn a_bad_trace_record_stops_the_replay_with_its_error() {
        let bad = TraceError {
            file: "t.csv".into(),
            line: 3,
            field: "input_tokens".into(),
            message: "expected a whole number of tokens, got 'x'".into(),
        };
        let good = TraceRecord {
            line: 2,
            arrival_secs: 0.0,
            input_tokens: 5,
            output_tokens: 5,
            content: TraceContent::Unique,
        };
        let source: TraceRecords = Box::new(vec![Ok(good), Err(bad.clone())].into_iter());
        let cfg = config("trace = { path = 't.csv' }");
        let mut w = Workload::from_trace(&cfg, source).unwrap();
        assert_eq!(drain(&mut w).len(), 1);
        assert_eq!(w.error(), Some(&bad));
    }
}
