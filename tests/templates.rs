//! Chat templates render exactly as Hugging Face transformers renders them
//! (Python Jinja2 with transformers' settings), byte for byte.
#![cfg(feature = "cli")]

use inference_lab::io::dataset::{ChatTemplate, Conversation, SpecialTokens, TemplateArg};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

/// The shipped templates (real models' templates, and simple ChatML/Llama 3 ones).
fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/templates")
}

fn llama3_special() -> SpecialTokens {
    SpecialTokens {
        bos: "<|begin_of_text|>".into(),
        eos: "<|end_of_text|>".into(),
    }
}

fn render(template_file: &str, special: &SpecialTokens, line: &str) -> Result<String, String> {
    let path = templates().join(template_file);
    let template =
        ChatTemplate::load(&TemplateArg::parse(path.to_str().unwrap(), None), special).unwrap();
    template.render(&Conversation::parse(line).unwrap())
}

/// A fixed conversation: system prompt, a turn with stray whitespace, an answer, quotes.
const CONVERSATION: &str = r#"{"custom_id": "g1", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "  What is 2 + 2?\n"}, {"role": "assistant", "content": "4"}, {"role": "user", "content": "And times 3? Answer with \"a number\"."}], "max_tokens": 8}}"#;

#[test]
fn chatml_golden() {
    let out = render("chatml.jinja", &llama3_special(), CONVERSATION).unwrap();
    assert_eq!(
        out,
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n  What is 2 + 2?\n<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd times 3? Answer with \"a number\".<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn llama3_golden() {
    let out = render("llama3.jinja", &llama3_special(), CONVERSATION).unwrap();
    assert_eq!(
        out,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd times 3? Answer with \"a number\".<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    );
}

#[test]
fn mistral_raises_when_roles_do_not_alternate() {
    let e = render("mistral.jinja", &llama3_special(), CONVERSATION).unwrap_err();
    assert!(
        e.contains("the template raised an exception: Conversation roles must alternate user/assistant/user/assistant/..."),
        "{e}"
    );
}

/// Every template under examples/templates on every conversation of
/// tests/fixtures/templates/conversations.jsonl, against what Python rendered
/// (scripts/template-goldens.py wrote expected.json).
#[test]
fn real_templates_match_python_jinja2() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let special = SpecialTokens {
        bos: expected["special_tokens"]["bos_token"]
            .as_str()
            .unwrap()
            .into(),
        eos: expected["special_tokens"]["eos_token"]
            .as_str()
            .unwrap()
            .into(),
    };
    let conversations = std::fs::read_to_string(fixtures().join("conversations.jsonl")).unwrap();
    let lines: Vec<&str> = conversations
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let renders = expected["renders"].as_object().unwrap();
    let shipped = std::fs::read_dir(templates())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "jinja")
        })
        .count();
    assert!(shipped >= 5);
    assert_eq!(renders.len(), shipped, "run scripts/template-goldens.py");
    let mut checked = 0;
    for (template, cases) in renders {
        let cases = cases.as_array().unwrap();
        assert_eq!(cases.len(), lines.len(), "{template}");
        for (line, case) in lines.iter().zip(cases) {
            let got = render(template, &special, line);
            let what = format!("{template} on {line}");
            match (case.get("text"), case.get("raises")) {
                (Some(text), _) => assert_eq!(got.as_deref(), Ok(text.as_str().unwrap()), "{what}"),
                (None, Some(message)) => {
                    let e = got.expect_err(&what);
                    let raised = format!("raised an exception: {}", message.as_str().unwrap());
                    assert!(e.contains(&raised), "{what}: {e}");
                }
                // Python failed another way (a type error): so must we.
                (None, None) => assert!(got.is_err(), "{what}: {got:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, renders.len() * lines.len());
}
