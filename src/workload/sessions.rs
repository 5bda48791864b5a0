//! Conversations (`[workload.sessions]`): sessions of several turns, each
//! turn's prompt the whole conversation so far plus a new user message.
//!
//! A session is a growing document: its system prompt (shared by every
//! session), then each turn's message and response in order. Token `t` of a
//! session is "token `t` of that session's document" (or of the system
//! prompt, inside it), and the KV block hashes follow that content, so a
//! later turn finds the blocks of the earlier turns (prompts and responses)
//! in the prefix cache while they survive. A turn's hashes cover its output
//! too: the engine registers the blocks of generated tokens under them, as
//! vLLM caches generated blocks, and the next turn repeats those tokens.
//!
//! Every random choice of session `k` (its number of turns, each message
//! and output length, each think time) comes from a generator of its own,
//! seeded by `workload.seed` and `k`, in a fixed order. So a session is the
//! same conversation whatever the load, the server, or how its turns
//! interleave with other sessions', and only its timing changes (common
//! random numbers).

use super::dist::{DurationSampler, LengthSampler};
use super::{stream, RequestEnd, RequestId, RequestSpec};
use crate::config::SessionsConfig;
use crate::engine::kv_cache::{chain_block_hashes, chain_hash};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

/// First random stream of the sessions; session `k` draws from stream
/// `STREAM_SESSIONS + k`, apart from the workload's other streams.
const STREAM_SESSIONS: u64 = 1 << 63;
/// Salt of the system prompt's content.
const SYSTEM_SALT: u64 = 0x5E55_1085_0000_0001;
/// Salt of each session's own content.
const SESSION_SALT: u64 = 0x5E55_1085_0000_0002;

/// One conversation.
#[derive(Debug)]
struct Session {
    /// Its content key.
    document: u64,
    /// Its own random choices.
    rng: ChaCha8Rng,
    /// Turns still to send.
    turns_left: u64,
    /// Tokens of the conversation so far: the system prompt and every
    /// earlier turn's prompt and output (each prompt repeats the ones before).
    context_tokens: u64,
}

/// A session waiting for its user to send the next turn.
#[derive(Debug)]
struct Thinking {
    ready_secs: f64,
    /// Order of scheduling: breaks ties between equal times.
    seq: u64,
    session: Box<Session>,
}

impl PartialEq for Thinking {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Thinking {}

impl PartialOrd for Thinking {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Thinking {
    /// Reversed, so the max-heap gives the earliest (then first scheduled).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .ready_secs
            .total_cmp(&self.ready_secs)
            .then(other.seq.cmp(&self.seq))
    }
}

/// The sessions of a run: those whose turn is being served, those whose
/// user is thinking, and what new turns are drawn from.
#[derive(Debug)]
pub(crate) struct Conversations {
    seed: u64,
    block_size: u64,
    system_prompt_len: u64,
    num_sessions: Option<u64>,
    turns: LengthSampler,
    user: LengthSampler,
    output: LengthSampler,
    think: DurationSampler,
    /// Sessions started so far.
    started: u64,
    /// Sessions whose last turn is being served, by that turn's request id.
    in_flight: HashMap<RequestId, Box<Session>>,
    /// Sessions whose next turn is due, earliest first.
    thinking: BinaryHeap<Thinking>,
    scheduled: u64,
}

impl Conversations {
    /// The sessions of `cfg`, with output lengths from `output` and KV
    /// blocks of `block_size` tokens.
    pub fn new(cfg: &SessionsConfig, output: LengthSampler, seed: u64, block_size: u64) -> Self {
        Self {
            seed,
            block_size: block_size.max(1),
            system_prompt_len: cfg.system_prompt_len,
            num_sessions: cfg.num_sessions,
            turns: LengthSampler::new(&cfg.turns_dist),
            user: LengthSampler::new(&cfg.user_len_dist),
            output,
            think: DurationSampler::new(&cfg.think_time_dist),
            started: 0,
            in_flight: HashMap::new(),
            thinking: BinaryHeap::new(),
            scheduled: 0,
        }
    }

    /// Whether another session may start (`num_sessions` not reached).
    pub fn may_start(&self) -> bool {
        self.num_sessions.is_none_or(|n| self.started < n)
    }

    /// When the next waiting turn is due, if any session is waiting.
    pub fn next_turn_secs(&self) -> Option<f64> {
        self.thinking.peek().map(|t| t.ready_secs)
    }

    /// Starts a session at `arrival_secs`: its first turn, request `id`.
    pub fn start(&mut self, id: RequestId, arrival_secs: f64) -> RequestSpec {
        let k = self.started;
        self.started += 1;
        let mut rng = stream(self.seed, STREAM_SESSIONS.wrapping_add(k));
        let turns_left = u64::from(self.turns.sample(&mut rng, 1));
        let session = Box::new(Session {
            document: chain_hash(SESSION_SALT, k),
            rng,
            turns_left,
            context_tokens: self.system_prompt_len,
        });
        self.send(session, id, arrival_secs)
    }

    /// Sends the earliest waiting turn as request `id`. Call only after
    /// [`next_turn_secs`](Self::next_turn_secs) returned `Some`.
    pub fn next_turn(&mut self, id: RequestId) -> Option<RequestSpec> {
        let t = self.thinking.pop()?;
        Some(self.send(t.session, id, t.ready_secs))
    }

    /// Request `id` ended at `now_secs`. Returns whether its session ended
    /// with it: after its last turn, or when a turn was refused (the
    /// conversation cannot go on without its response).
    pub fn on_done(&mut self, id: RequestId, end: RequestEnd, now_secs: f64) -> bool {
        let Some(mut session) = self.in_flight.remove(&id) else {
            return false;
        };
        if end == RequestEnd::Rejected || session.turns_left == 0 {
            return true;
        }
        let ready_secs = now_secs + self.think.sample(&mut session.rng);
        self.thinking.push(Thinking {
            ready_secs,
            seq: self.scheduled,
            session,
        });
        self.scheduled += 1;
        false
    }

    /// The next turn of `session` as request `id` at `arrival_secs`: the
    /// conversation so far plus a new message.
    fn send(&mut self, mut session: Box<Session>, id: RequestId, arrival_secs: f64) -> RequestSpec {
        let message = u64::from(self.user.sample(&mut session.rng, 1));
        let output = self.output.sample(&mut session.rng, 1);
        let input = session.context_tokens.saturating_add(message);
        let input_tokens = u32::try_from(input).unwrap_or(u32::MAX);
        session.context_tokens = input.saturating_add(u64::from(output));
        session.turns_left = session.turns_left.saturating_sub(1);
        // Full blocks of what the engine computes: the prompt and every
        // output token but the last (which is never fed back).
        let blocks = (u64::from(input_tokens) + u64::from(output) - 1) / self.block_size;
        let hashes = self.block_hashes(session.document, blocks);
        self.in_flight.insert(id, session);
        RequestSpec {
            arrival_secs,
            input_tokens,
            output_tokens: output,
            priority: 0,
            prompt_block_hashes: Some(hashes),
        }
    }

    /// The chained hashes of the first `blocks` blocks of the session
    /// `document`: blocks wholly inside the system prompt hold the same
    /// content in every session, the rest the session's own.
    fn block_hashes(&self, document: u64, blocks: u64) -> Arc<[u64]> {
        let system_blocks = self.system_prompt_len / self.block_size;
        Arc::from(chain_block_hashes((0..blocks).map(|b| {
            if b < system_blocks {
                chain_hash(SYSTEM_SALT, b)
            } else {
                chain_hash(document, b)
            }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DurationDist, LengthDist};

    fn conversations(turns: u64, system_prompt_len: u64) -> Conversations {
        let cfg = SessionsConfig {
            turns_dist: LengthDist::Fixed { value: turns },
            think_time_dist: DurationDist::Fixed { value: 2.0 },
            user_len_dist: LengthDist::Uniform { min: 5, max: 50 },
            system_prompt_len,
            num_sessions: Some(2),
        };
        let output = LengthSampler::new(&LengthDist::Uniform { min: 1, max: 40 });
        Conversations::new(&cfg, output, 7, 16)
    }

    #[test]
    fn each_turn_repeats_the_conversation_so_far() {
        let mut c = conversations(4, 0);
        let mut spec = c.start(RequestId(0), 1.0);
        let mut context = 0u64;
        for turn in 1..=4u64 {
            let input = u64::from(spec.input_tokens);
            let output = u64::from(spec.output_tokens);
            assert!((context + 5..=context + 50).contains(&input), "turn {turn}");
            let hashes = spec.prompt_block_hashes.clone().unwrap();
            assert_eq!(hashes.len() as u64, (input + output - 1) / 16);
            let ended = c.on_done(
                RequestId(turn - 1),
                RequestEnd::Completed,
                10.0 * turn as f64,
            );
            assert_eq!(ended, turn == 4);
            context = input + output;
            if turn < 4 {
                assert_eq!(c.next_turn_secs(), Some(10.0 * turn as f64 + 2.0));
                let next = c.next_turn(RequestId(turn)).unwrap();
                let next_hashes = next.prompt_block_hashes.clone().unwrap();
                assert_eq!(
                    next_hashes[..hashes.len()],
                    hashes[..],
                    "a prefix of the next turn"
                );
                spec = next;
            }
        }
        assert_eq!(c.next_turn_secs(), None);
    }

    #[test]
    fn sessions_share_the_system_prompts_blocks_only() {
        let mut c = conversations(1, 40);
        let a = c.start(RequestId(0), 0.0).prompt_block_hashes.unwrap();
        let b = c.start(RequestId(1), 0.0).prompt_block_hashes.unwrap();
        assert_eq!(a[..2], b[..2], "40 tokens: two whole blocks");
        assert_ne!(a[2], b[2]);
        assert!(!c.may_start(), "num_sessions = 2");
    }

    #[test]
    fn a_refused_turn_ends_its_session() {
        let mut c = conversations(3, 0);
        c.start(RequestId(0), 0.0);
        assert!(c.on_done(RequestId(0), RequestEnd::Rejected, 1.0));
        assert_eq!(c.next_turn_secs(), None);
    }

    #[test]
    fn a_session_is_the_same_conversation_whatever_else_runs() {
        // Session 0's turns, alone or beside session 1 (whose next turn is
        // due only after session 0 has ended).
        let session_zero = |with_another: bool| {
            let mut c = conversations(3, 0);
            let mut spec = c.start(RequestId(0), 0.0);
            if with_another {
                c.start(RequestId(1), 0.0);
                c.on_done(RequestId(1), RequestEnd::Completed, 100.0);
            }
            let (mut id, mut turns) = (RequestId(0), Vec::new());
            for k in 1..=3u64 {
                turns.push((spec.input_tokens, spec.output_tokens, spec.arrival_secs));
                c.on_done(id, RequestEnd::Completed, 3.0 * k as f64);
                if k < 3 {
                    id = RequestId(10 + k);
                    spec = c.next_turn(id).unwrap();
                }
            }
            turns
        };
        let alone = session_zero(false);
        assert_eq!(alone, session_zero(true));
        assert_eq!(alone[2].2, 8.0, "think time 2 s after the response at 6 s");
    }
}
