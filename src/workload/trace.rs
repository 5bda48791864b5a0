//! Trace replay as the core sees it: a stream of parsed records (the I/O
//! side reads and parses the file; see `io::trace`), cut to the configured
//! window, time-scaled, and turned into requests one at a time, so memory
//! does not grow with the trace.

use super::RequestSpec;
use crate::config::TraceConfig;
use crate::engine::kv_cache::{chain_block_hashes, chain_hash};
use std::fmt;
use std::sync::Arc;

/// One request of a trace, as parsed from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    /// The 1-based line of the trace file it came from.
    pub line: u64,
    /// Arrival in trace time: seconds after the trace's first record.
    pub arrival_secs: f64,
    /// Prompt tokens (at least 1).
    pub input_tokens: u32,
    /// Output tokens (at least 1).
    pub output_tokens: u32,
    /// What the prompt shares with other prompts of the trace.
    pub content: TraceContent,
}

/// What a trace says about a prompt's content, for prefix caching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceContent {
    /// Nothing: the prompt shares no content.
    Unique,
    /// A content key (the plain format's `prefix_id` or `session_id`):
    /// prompts with the same key have the same tokens over their common
    /// length, as if each were the start of one document.
    Stream(u64),
    /// Ids of consecutive fixed-size blocks of the prompt (Mooncake's
    /// `hash_ids`): equal ids mean equal content.
    BlockIds {
        /// Tokens per id (512 for Mooncake).
        block_tokens: u32,
        /// One id per block, in order.
        ids: Vec<u64>,
    },
}

/// A bad trace line, or a trace that cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TraceError {
    /// The trace file.
    pub file: String,
    /// The 1-based line (0 when the problem is not on one line).
    pub line: u64,
    /// The field or column at fault (empty when it is the whole line).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ": line {}", self.line)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The parsed records of a trace in file order (or sorted, with
/// `workload.trace.sort`); each is read when the replay needs it.
pub type TraceRecords = Box<dyn Iterator<Item = Result<TraceRecord, TraceError>> + Send>;

/// Salt of the content of `TraceContent::Stream` keys.
const STREAM_SALT: u64 = 0x7EA5_C0DE_0000_0003;
/// Salt of the content of `TraceContent::BlockIds` ids.
const BLOCK_ID_SALT: u64 = 0x7EA5_C0DE_0000_0004;

/// A trace being replayed: the window, the time scale and the request limit
/// applied to the records, one record read ahead.
pub(crate) struct TraceReplay {
    records: TraceRecords,
    start_secs: f64,
    end_secs: Option<f64>,
    time_scale: f64,
    max_requests: Option<u64>,
    block_size: u64,
    /// The next request, read ahead.
    next: Option<RequestSpec>,
    /// Requests taken so far.
    taken: u64,
    /// Why the replay stopped early, if it did.
    error: Option<TraceError>,
}

impl fmt::Debug for TraceReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReplay")
            .field("next", &self.next)
            .field("taken", &self.taken)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl TraceReplay {
    /// Replays `records` as `cfg` says, hashing shared content for KV blocks
    /// of `block_size` tokens.
    pub fn new(records: TraceRecords, cfg: &TraceConfig, block_size: u64) -> Self {
        let mut replay = Self {
            records,
            start_secs: cfg.start_secs,
            end_secs: cfg.end_secs(),
            time_scale: cfg.time_scale,
            max_requests: cfg.max_requests,
            block_size: block_size.max(1),
            next: None,
            taken: 0,
            error: None,
        };
        replay.read_ahead();
        replay
    }

    /// The next request, without taking it.
    pub fn peek(&self) -> Option<&RequestSpec> {
        self.next.as_ref()
    }

    /// Takes the next request and reads the one after.
    pub fn take(&mut self) -> Option<RequestSpec> {
        let spec = self.next.take()?;
        self.taken += 1;
        self.read_ahead();
        Some(spec)
    }

    /// The bad record that ended the replay, if one did.
    pub fn error(&self) -> Option<&TraceError> {
        self.error.as_ref()
    }

    /// Most requests the replay will send, when a limit says.
    pub fn max_requests(&self) -> Option<u64> {
        self.max_requests
    }

    fn read_ahead(&mut self) {
        if self.error.is_some() || self.max_requests.is_some_and(|n| self.taken >= n) {
            return;
        }
        for item in self.records.by_ref() {
            let record = match item {
                Ok(r) => r,
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            };
            if record.arrival_secs < self.start_secs {
                continue;
            }
            // Records come in time order, so nothing after this one is in the window.
            if self.end_secs.is_some_and(|end| record.arrival_secs >= end) {
                return;
            }
            self.next = Some(RequestSpec {
                arrival_secs: (record.arrival_secs - self.start_secs) / self.time_scale,
                input_tokens: record.input_tokens,
                output_tokens: record.output_tokens,
                priority: 0,
                prompt_block_hashes: block_hashes(
                    &record.content,
                    record.input_tokens,
                    self.block_size,
                ),
            });
            return;
        }
    }
}

/// The chained hashes of the full KV blocks of a prompt of `input_tokens`
/// tokens with `content`, or `None` when it shares nothing.
///
/// Content is defined token by token and hashed per block: token `t` of a
/// `Stream(key)` prompt is "token `t` of document `key`", and token `t` of a
/// `BlockIds` prompt is "token `t mod block_tokens` of block `ids[t /
/// block_tokens]`". A KV block's digest covers the pieces of source blocks
/// it spans (one piece when `block_size` divides `block_tokens`, as 16 does
/// 512), so any block size maps the ids deterministically, and equal ids at
/// equal offsets give equal hashes. Tokens past the last id are the
/// prompt's own, so hashing stops at the first block that reaches them.
pub(crate) fn block_hashes(
    content: &TraceContent,
    input_tokens: u32,
    block_size: u64,
) -> Option<Arc<[u64]>> {
    let full_blocks = u64::from(input_tokens) / block_size;
    let hashes = match content {
        TraceContent::Unique => return None,
        TraceContent::Stream(key) => {
            let doc = chain_hash(STREAM_SALT, *key);
            chain_block_hashes((0..full_blocks).map(|b| chain_hash(doc, b)))
        }
        TraceContent::BlockIds { block_tokens, ids } => {
            let per_id = u64::from((*block_tokens).max(1));
            let covered = (ids.len() as u64).saturating_mul(per_id) / block_size;
            chain_block_hashes((0..full_blocks.min(covered)).map(|b| {
                let (first, end) = (b * block_size, (b + 1) * block_size);
                let mut digest = BLOCK_ID_SALT;
                let mut t = first;
                while t < end {
                    let id = t / per_id;
                    let piece_end = ((id + 1) * per_id).min(end);
                    digest = chain_hash(chain_hash(digest, ids[id as usize]), t - id * per_id);
                    digest = chain_hash(digest, piece_end - t);
                    t = piece_end;
                }
                digest
            }))
        }
    };
    Some(Arc::from(hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ids: &[u64]) -> TraceContent {
        TraceContent::BlockIds {
            block_tokens: 512,
            ids: ids.to_vec(),
        }
    }

    fn shared_blocks(a: &[u64], b: &[u64]) -> usize {
        a.iter().zip(b).take_while(|(x, y)| x == y).count()
    }

    #[test]
    fn equal_ids_share_their_blocks_at_any_block_size() {
        for block in [16u64, 48, 512, 1024] {
            let a = block_hashes(&ids(&[7, 8, 9]), 1500, block).unwrap();
            let b = block_hashes(&ids(&[7, 8, 10]), 1500, block).unwrap();
            let c = block_hashes(&ids(&[7, 11, 9]), 1500, block).unwrap();
            assert_eq!(a.len() as u64, 1500 / block);
            // a and b agree on the first 1024 tokens, a and c on the first 512.
            assert_eq!(shared_blocks(&a, &b) as u64, 1024 / block, "block {block}");
            assert_eq!(shared_blocks(&a, &c) as u64, 512 / block, "block {block}");
        }
    }

    #[test]
    fn tokens_past_the_last_id_are_the_prompts_own() {
        // One id covers 512 tokens: of a 1000-token prompt, 32 blocks of 16.
        assert_eq!(block_hashes(&ids(&[1]), 1000, 16).unwrap().len(), 32);
        assert_eq!(block_hashes(&ids(&[]), 1000, 16).unwrap().len(), 0);
    }

    #[test]
    fn a_stream_key_shares_the_common_length() {
        let short = block_hashes(&TraceContent::Stream(3), 100, 16).unwrap();
        let long = block_hashes(&TraceContent::Stream(3), 300, 16).unwrap();
        let other = block_hashes(&TraceContent::Stream(4), 300, 16).unwrap();
        assert_eq!(short.len(), 6);
        assert_eq!(long[..6], short[..]);
        assert_eq!(shared_blocks(&long, &other), 0);
        assert_eq!(block_hashes(&TraceContent::Unique, 300, 16), None);
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let e = TraceError {
            file: "t.csv".into(),
            line: 3,
            field: "input_tokens".into(),
            message: "expected a whole number".into(),
        };
        assert_eq!(
            e.to_string(),
            "t.csv: line 3: input_tokens: expected a whole number"
        );
        let e = TraceError {
            line: 0,
            field: String::new(),
            ..e
        };
        assert_eq!(e.to_string(), "t.csv: expected a whole number");
    }
}
