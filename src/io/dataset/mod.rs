//! Dataset mode: real prompts from a JSONL file, rendered with a chat template
//! and tokenized with a Hugging Face tokenizer, reduced to what the core needs
//! (token counts, KV block hashes, `max_tokens`; see [`crate::workload::PromptSet`]).
//!
//! Lines are read in chunks; each chunk is parsed, rendered, tokenized and
//! hashed in parallel (rayon) and its results are kept in file order, so the
//! prompts (and every simulation result) are the same whatever the thread
//! count. Only the block hashes of each prompt are kept, not its text or tokens.

mod error;
mod jsonl;
mod template;
mod tokenize;

pub use error::DatasetError;
pub use jsonl::{Conversation, ROLES};
pub use template::{ChatTemplate, SpecialTokens, TemplateArg, MAX_TEMPLATE_FUEL};
pub use tokenize::PromptTokenizer;

use crate::engine::kv_cache::token_block_hashes;
use crate::io::lines::{read_bounded_line, MAX_LINE_BYTES};
use crate::workload::{DatasetPrompt, PromptSet};
use rayon::prelude::*;
use std::io::BufReader;
use std::path::Path;

/// The longest prompt text a dataset line may render to, in bytes: 8 MiB
/// (a million tokens is about 4 MB of text), so a template cannot hand the
/// tokenizer more than a line could.
pub const MAX_PROMPT_BYTES: usize = 8 << 20;

/// Turns one dataset line into a prompt: parse, render, tokenize, hash.
pub struct PromptBuilder<'a> {
    tokenizer: &'a PromptTokenizer,
    template: &'a ChatTemplate,
    block_size: u64,
}

impl<'a> PromptBuilder<'a> {
    /// A builder hashing prompts for KV blocks of `block_size` tokens
    /// (`scheduler.block_size`).
    pub fn new(
        tokenizer: &'a PromptTokenizer,
        template: &'a ChatTemplate,
        block_size: u64,
    ) -> Self {
        Self {
            tokenizer,
            template,
            block_size: block_size.max(1),
        }
    }

    /// The prompt of line number `line` (1-based), or `None` for a blank line.
    /// The error says what is wrong with the line.
    pub fn build(&self, line: u64, text: &str) -> Result<Option<DatasetPrompt>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let conversation = Conversation::parse(text)?;
        let prompt = self.template.render(&conversation)?;
        if prompt.len() > MAX_PROMPT_BYTES {
            return Err(format!(
                "the rendered prompt has {} bytes, more than the limit of {} MiB ({MAX_PROMPT_BYTES} bytes)",
                prompt.len(),
                MAX_PROMPT_BYTES >> 20
            ));
        }
        let tokens = self
            .tokenizer
            .token_ids(&prompt, self.template.tokenizer_adds_special_tokens())?;
        if tokens.is_empty() {
            return Err("empty prompt: the rendered prompt has no tokens".into());
        }
        let input_tokens = u32::try_from(tokens.len()).map_err(|_| {
            format!(
                "the prompt has {} tokens, more than the simulator can hold",
                tokens.len()
            )
        })?;
        Ok(Some(DatasetPrompt {
            line,
            input_tokens,
            max_tokens: conversation.max_tokens,
            block_hashes: token_block_hashes(&tokens, self.block_size as usize).into(),
        }))
    }

    /// Tokens per KV block the prompts are hashed for.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }
}

/// Lines handed to the thread pool at once: enough to keep every core busy,
/// few enough that a chunk's text stays small.
const CHUNK_LINES: usize = 2048;

/// Bytes of text after which a chunk is handed over with fewer lines: long
/// lines (up to [`MAX_LINE_BYTES`] each) must not make a chunk of gigabytes.
const CHUNK_BYTES: usize = 64 << 20;

/// How far loading has come, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    /// Bytes of the file read so far.
    pub bytes: u64,
    /// Prompts ready so far.
    pub prompts: u64,
}

/// Reads the dataset at `path` (`name` is how messages call it) into prompts
/// in file order, stopping after `limit` prompts when given. Blank lines are
/// skipped. `progress` is told after each chunk. The first bad line (in file
/// order) fails the whole load, naming its line number.
pub fn load(
    path: &Path,
    name: &str,
    builder: &PromptBuilder<'_>,
    limit: Option<u64>,
    progress: &mut dyn FnMut(LoadProgress),
) -> Result<PromptSet, DatasetError> {
    let file = std::fs::File::open(path)
        .map_err(|e| DatasetError::new(name, format!("cannot open the dataset: {e}")))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let limit = limit.unwrap_or(u64::MAX);
    let mut prompts: Vec<DatasetPrompt> = Vec::new();
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    let mut chunk: Vec<(u64, Vec<u8>)> = Vec::with_capacity(CHUNK_LINES);
    let mut at_end = false;
    while !at_end && (prompts.len() as u64) < limit {
        chunk.clear();
        let mut chunk_bytes = 0usize;
        let wanted = (limit - prompts.len() as u64).min(CHUNK_LINES as u64) as usize;
        while chunk.len() < wanted {
            let mut buf = Vec::new();
            let n = read_bounded_line(&mut reader, &mut buf, MAX_LINE_BYTES)
                .map_err(|e| DatasetError::at_line(name, line_no + 1, e.to_string()))?;
            if n == 0 {
                at_end = true;
                break;
            }
            line_no += 1;
            bytes += n as u64;
            chunk_bytes += n;
            chunk.push((line_no, buf));
            if chunk_bytes >= CHUNK_BYTES {
                break;
            }
        }
        let built: Vec<Result<Option<DatasetPrompt>, DatasetError>> = chunk
            .par_iter()
            .map(|(line, raw)| {
                let text = std::str::from_utf8(raw)
                    .map_err(|e| format!("not valid UTF-8: {e}"))
                    .and_then(|t| builder.build(*line, t.trim_start_matches('\u{feff}')));
                text.map_err(|message| DatasetError::at_line(name, *line, message))
            })
            .collect();
        for result in built {
            if (prompts.len() as u64) >= limit {
                break;
            }
            if let Some(prompt) = result? {
                prompts.push(prompt);
            }
        }
        progress(LoadProgress {
            bytes,
            prompts: prompts.len() as u64,
        });
    }
    if prompts.is_empty() {
        return Err(DatasetError::new(
            name,
            "the dataset holds no prompts (expected one JSON chat request per line)",
        ));
    }
    Ok(PromptSet::new(builder.block_size(), prompts))
}
