//! The tokenizer: a Hugging Face `tokenizer.json` loaded by the `tokenizers`
//! crate (never downloaded), and the special tokens chat templates print.

use super::template::SpecialTokens;
use super::DatasetError;
use crate::io::lines::read_text_file;
use serde_json::Value;
use std::path::Path;
use tokenizers::Tokenizer;

/// A loaded tokenizer and its BOS/EOS texts.
pub struct PromptTokenizer {
    inner: Tokenizer,
    special: SpecialTokens,
}

/// File next to `tokenizer.json` in a Hugging Face model directory that names
/// the BOS and EOS tokens.
const TOKENIZER_CONFIG: &str = "tokenizer_config.json";

/// Well-known BOS and EOS texts, most specific first: the fallback when
/// neither `tokenizer_config.json` nor the post-processor names them.
const KNOWN_BOS: &[&str] = &[
    "<|begin_of_text|>",
    "<|begin▁of▁sentence|>",
    "<|startoftext|>",
    "<bos>",
    "<s>",
];
const KNOWN_EOS: &[&str] = &[
    "<|end_of_text|>",
    "<|end▁of▁sentence|>",
    "<|endoftext|>",
    "<eos>",
    "</s>",
];

impl PromptTokenizer {
    /// Loads `path`. BOS and EOS come from a `tokenizer_config.json` next to
    /// it when there is one, else from the tokenizer's post-processor (BOS)
    /// and well-known special tokens; they stay empty when nothing names them.
    pub fn from_file(path: &Path) -> Result<Self, DatasetError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            DatasetError::new(&name, format!("cannot read the tokenizer file: {e}"))
        })?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
            DatasetError::at_line(
                &name,
                e.line() as u64,
                format!("not a tokenizer.json: invalid JSON: {e}"),
            )
        })?;
        let mut inner = Tokenizer::from_bytes(&bytes).map_err(|e| {
            let line = e
                .downcast_ref::<serde_json::Error>()
                .map(|e| e.line() as u64);
            let message = format!("not a Hugging Face tokenizer.json: {e}");
            match line {
                Some(line) => DatasetError::at_line(&name, line, message),
                None => DatasetError::new(&name, message),
            }
        })?;
        // A prompt is never cut or padded: the engine sees every token.
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| DatasetError::new(&name, format!("cannot turn truncation off: {e}")))?;
        let special = match path.parent().map(|dir| dir.join(TOKENIZER_CONFIG)) {
            Some(config) if config.is_file() => special_from_config(&config)?,
            _ => special_from_tokenizer(&doc),
        };
        Ok(Self { inner, special })
    }

    /// The BOS and EOS texts for chat templates.
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    /// The token ids of `text`; `add_special_tokens` lets the tokenizer's
    /// post-processor add its own (a BOS, for example).
    pub fn token_ids(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, String> {
        self.inner
            .encode_fast(text, add_special_tokens)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| format!("the tokenizer failed: {e}"))
    }
}

/// BOS and EOS from a `tokenizer_config.json` (`"bos_token": "<s>"` or
/// `"bos_token": {"content": "<s>", ...}`).
fn special_from_config(path: &Path) -> Result<SpecialTokens, DatasetError> {
    let name = path.display().to_string();
    let text = read_text_file(path, usize::MAX)
        .map_err(|e| DatasetError::new(&name, format!("cannot read: {e}")))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| DatasetError::at_line(&name, e.line() as u64, format!("invalid JSON: {e}")))?;
    let token = |key: &str| match doc.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    };
    Ok(SpecialTokens {
        bos: token("bos_token"),
        eos: token("eos_token"),
    })
}

/// BOS and EOS guessed from `tokenizer.json` alone: the special token the
/// post-processor puts before a single sequence is the BOS (after it, the
/// EOS); otherwise well-known names among the added special tokens.
fn special_from_tokenizer(doc: &Value) -> SpecialTokens {
    let (mut bos, mut eos) = doc
        .get("post_processor")
        .map(post_processor_specials)
        .unwrap_or_default();
    let added: Vec<&str> = doc
        .get("added_tokens")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t.get("special").and_then(Value::as_bool) == Some(true))
        .filter_map(|t| t.get("content")?.as_str())
        .collect();
    let known = |names: &[&str]| {
        names
            .iter()
            .find(|n| added.contains(n))
            .map(|n| (*n).to_owned())
    };
    if bos.is_none() {
        bos = known(KNOWN_BOS);
    }
    if eos.is_none() {
        eos = known(KNOWN_EOS);
    }
    SpecialTokens {
        bos: bos.unwrap_or_default(),
        eos: eos.unwrap_or_default(),
    }
}

/// The special tokens a post-processor puts before and after a single sequence.
fn post_processor_specials(pp: &Value) -> (Option<String>, Option<String>) {
    match pp.get("type").and_then(Value::as_str) {
        Some("TemplateProcessing") => {
            let pieces = pp.get("single").and_then(Value::as_array);
            let pieces = pieces.map(Vec::as_slice).unwrap_or_default();
            let special = |p: &Value| -> Option<String> {
                Some(p.get("SpecialToken")?.get("id")?.as_str()?.to_owned())
            };
            let sequence = pieces.iter().position(|p| p.get("Sequence").is_some());
            let (before, after) = match sequence {
                Some(i) => (&pieces[..i], &pieces[i + 1..]),
                None => (pieces, &[][..]),
            };
            (
                before.iter().find_map(special),
                after.iter().rev().find_map(special),
            )
        }
        Some("BertProcessing") | Some("RobertaProcessing") => {
            let token = |key: &str| Some(pp.get(key)?.get(0)?.as_str()?.to_owned());
            (token("cls"), token("sep"))
        }
        Some("Sequence") => {
            let processors = pp.get("processors").and_then(Value::as_array);
            processors
                .into_iter()
                .flatten()
                .map(post_processor_specials)
                .fold((None, None), |(b, e), (b2, e2)| (b.or(b2), e.or(e2)))
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn post_processor_names_bos_and_eos() {
        let doc = json!({
            "added_tokens": [],
            "post_processor": {"type": "Sequence", "processors": [
                {"type": "ByteLevel"},
                {"type": "TemplateProcessing", "single": [
                    {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "<|eot|>", "type_id": 0}}
                ]}
            ]}
        });
        assert_eq!(
            special_from_tokenizer(&doc),
            SpecialTokens {
                bos: "<|begin_of_text|>".into(),
                eos: "<|eot|>".into()
            }
        );
        let bert = json!({"post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]}});
        assert_eq!(special_from_tokenizer(&bert).bos, "[CLS]");
        assert_eq!(special_from_tokenizer(&bert).eos, "[SEP]");
    }

    #[test]
    fn well_known_added_tokens_are_the_fallback() {
        let doc = json!({"post_processor": null, "added_tokens": [
            {"content": "<unk>", "special": true},
            {"content": "<s>", "special": true},
            {"content": "</s>", "special": true},
            {"content": "<|endoftext|>", "special": false}
        ]});
        assert_eq!(
            special_from_tokenizer(&doc),
            SpecialTokens {
                bos: "<s>".into(),
                eos: "</s>".into()
            }
        );
        assert_eq!(special_from_tokenizer(&json!({})), SpecialTokens::default());
    }

    #[test]
    fn tokenizer_config_names_bos_and_eos() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKENIZER_CONFIG);
        std::fs::write(
            &path,
            r#"{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "<|im_end|>"}"#,
        )
        .unwrap();
        assert_eq!(
            special_from_config(&path).unwrap(),
            SpecialTokens {
                bos: "<s>".into(),
                eos: "<|im_end|>".into()
            }
        );
        std::fs::write(&path, "{\n\"bos_token\": ").unwrap();
        let e = special_from_config(&path).unwrap_err();
        assert_eq!(e.line, Some(2));
    }
}
