//! Trains the small byte-level BPE tokenizer shipped as `examples/tokenizer.json`,
//! so that the dataset examples run without downloading anything:
//!
//! ```text
//! cargo run --release --example make_tokenizer
//! ```
//!
//! It is built like Llama 3's tokenizer (byte-level BPE, a `<|begin_of_text|>`
//! BOS added by the post-processor, the Llama 3 and ChatML chat tokens as
//! special tokens) but with a small vocabulary (at most 4,096 tokens) learnt from the texts of
//! `examples/sample_dataset.jsonl`, so token counts are realistic for that
//! dataset, not for any real model. For real studies point `--tokenizer` at
//! the `tokenizer.json` of the model you simulate.

use std::error::Error;
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

const BOS: &str = "<|begin_of_text|>";
const SPECIAL: &[&str] = &[
    BOS,
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|im_start|>",
    "<|im_end|>",
];

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dataset = std::fs::read_to_string(root.join("sample_dataset.jsonl"))?;
    let mut texts: Vec<String> = Vec::new();
    for line in dataset.lines().filter(|l| !l.trim().is_empty()) {
        let request: serde_json::Value = serde_json::from_str(line)?;
        let messages = request["body"]["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for m in messages {
            if let Some(content) = m["content"].as_str() {
                texts.push(content.to_owned());
            }
        }
    }
    let special: Vec<AddedToken> = SPECIAL.iter().map(|s| AddedToken::from(*s, true)).collect();
    let mut trainer: TrainerWrapper = BpeTrainer::builder()
        .vocab_size(4096)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(special.clone())
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    let mut tokenizer = Tokenizer::new(BPE::default());
    tokenizer
        .with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)))
        .with_decoder(Some(ByteLevel::default()));
    tokenizer.train(&mut trainer, texts.iter())?;
    tokenizer.add_special_tokens(&special);
    let bos_id = tokenizer
        .token_to_id(BOS)
        .ok_or("the BOS token is not in the vocabulary")?;
    let post = TemplateProcessing::builder()
        .try_single(format!("{BOS} $A"))?
        .try_pair(format!("{BOS} $A {BOS} $B"))?
        .special_tokens(vec![(BOS, bos_id)])
        .build()?;
    tokenizer.with_post_processor(Some(post));
    let out = root.join("tokenizer.json");
    tokenizer.save(&out, false)?;
    println!(
        "wrote {} ({} tokens in the vocabulary)",
        out.display(),
        tokenizer.get_vocab_size(true)
    );
    Ok(())
}
