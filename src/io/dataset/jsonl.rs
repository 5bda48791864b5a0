//! One dataset line: a chat request in the OpenAI batch format
//! (`{"custom_id", "method", "url", "body": {"messages": [...], "max_tokens": N}}`)
//! or its flat form (`{"messages": [...], "max_tokens": N}`), checked and
//! reduced to what the chat template and the simulator need.

use crate::config::{excerpt, with_hint};
use serde_json::{Map, Value};

/// Roles a message may have (OpenAI's chat roles).
pub const ROLES: &[&str] = &["system", "user", "assistant", "tool", "developer"];

/// A checked chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// The messages as written (objects with a known `role` and a text
    /// `content`), passed to chat templates unchanged.
    pub messages: Vec<Value>,
    /// The request's `tools`, passed to chat templates (`None` when absent).
    pub tools: Option<Value>,
    /// `max_tokens` (or `max_completion_tokens`): the most output tokens.
    pub max_tokens: Option<u32>,
}

impl Conversation {
    /// Parses and checks one line. The error says what is wrong, naming the
    /// field (`messages[1].role`) where there is one.
    pub fn parse(line: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| {
            // Each line is its own document: its "line 1" is noise.
            format!("invalid JSON: {e}").replace(" at line 1 column ", " at column ")
        })?;
        let Value::Object(mut top) = value else {
            return Err(format!(
                "expected a JSON object (a chat request), got {}",
                describe(&value)
            ));
        };
        let (mut request, prefix) = match top.remove("body") {
            Some(Value::Object(body)) => (body, "body."),
            Some(other) => {
                return Err(format!(
                    "body: expected an object (the chat request), got {}",
                    describe(&other)
                ))
            }
            None => (top, ""),
        };
        let messages = match request.remove("messages") {
            Some(Value::Array(m)) if m.is_empty() => {
                return Err(format!(
                    "{prefix}messages: empty: a prompt needs at least one message"
                ))
            }
            Some(Value::Array(m)) => m,
            Some(other) => {
                return Err(format!(
                    "{prefix}messages: expected an array of {{role, content}} objects, got {}",
                    describe(&other)
                ))
            }
            None => {
                return Err(
                    "missing messages: expected body.messages (OpenAI batch format) or messages at the top level"
                        .into(),
                )
            }
        };
        let mut text = false;
        for (i, message) in messages.iter().enumerate() {
            text |= check_message(message, &format!("{prefix}messages[{i}]"))?;
        }
        if !text {
            return Err(format!(
                "empty prompt: every message in {prefix}messages has empty content"
            ));
        }
        let max_tokens = match ["max_tokens", "max_completion_tokens"]
            .into_iter()
            .find_map(|key| request.get(key).filter(|v| !v.is_null()).map(|v| (key, v)))
        {
            None => None,
            Some((key, v)) => Some(
                v.as_u64()
                    .filter(|&n| n >= 1)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        format!(
                            "{prefix}{key}: expected an integer from 1 to {}, got {v}",
                            u32::MAX
                        )
                    })?,
            ),
        };
        let tools = request.remove("tools").filter(|t| !t.is_null());
        Ok(Self {
            messages,
            tools,
            max_tokens,
        })
    }

    /// The messages' text contents joined by newlines: the prompt when no
    /// chat template is used (`--chat-template None`).
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for (i, message) in self.messages.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if let Some(content) = message.get("content") {
                push_content_text(content, &mut out);
            }
        }
        out
    }
}

/// Checks one message at `path`; returns whether it has non-blank text.
fn check_message(message: &Value, path: &str) -> Result<bool, String> {
    let Value::Object(fields) = message else {
        return Err(format!(
            "{path}: expected an object with role and content, got {}",
            describe(message)
        ));
    };
    let role = match fields.get("role") {
        Some(Value::String(role)) => role.as_str(),
        Some(other) => {
            return Err(format!(
                "{path}.role: expected a string, got {}",
                describe(other)
            ))
        }
        None => return Err(format!("{path}.role: missing")),
    };
    if !ROLES.contains(&role) {
        return Err(with_hint(
            format!(
                "{path}.role: unknown role '{}' (expected one of: {})",
                excerpt(role),
                ROLES.join(", ")
            ),
            role,
            ROLES,
        ));
    }
    match fields.get("content") {
        Some(content) => check_content(content, &format!("{path}.content")),
        // An assistant turn that only calls tools has no content.
        None if role == "assistant" && has_tool_calls(fields) => Ok(false),
        None => Err(format!("{path}.content: missing")),
    }
}

fn has_tool_calls(fields: &Map<String, Value>) -> bool {
    fields.get("tool_calls").is_some_and(|t| !t.is_null())
}

/// Checks a content value (a string, null, or an array of text parts);
/// returns whether it has non-blank text.
fn check_content(content: &Value, path: &str) -> Result<bool, String> {
    match content {
        Value::String(s) => Ok(!s.trim().is_empty()),
        Value::Null => Ok(false),
        Value::Array(parts) => {
            let mut text = false;
            for (i, part) in parts.iter().enumerate() {
                let kind = part.get("type").and_then(Value::as_str);
                match (kind, part.get("text")) {
                    (Some("text"), Some(Value::String(s))) => text |= !s.trim().is_empty(),
                    (Some("text"), _) => {
                        return Err(format!("{path}[{i}].text: expected a string"));
                    }
                    (Some(other), _) => {
                        return Err(format!(
                            "{path}[{i}]: only text parts can be simulated, got a part of type '{}'",
                            excerpt(other)
                        ));
                    }
                    (None, _) => {
                        return Err(format!(
                            "{path}[{i}]: expected a part {{\"type\": \"text\", \"text\": ...}}"
                        ));
                    }
                }
            }
            Ok(text)
        }
        other => Err(format!(
            "{path}: expected a string or an array of text parts, got {}",
            describe(other)
        )),
    }
}

/// Appends a checked content value's text (parts joined by newlines).
fn push_content_text(content: &Value, out: &mut String) {
    match content {
        Value::String(s) => out.push_str(s),
        Value::Array(parts) => {
            let texts = parts.iter().filter_map(|p| p.get("text")?.as_str());
            for (i, text) in texts.enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        _ => {}
    }
}

/// A short description of a JSON value for messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> String {
        Conversation::parse(line).unwrap_err()
    }

    #[test]
    fn reads_the_batch_and_the_flat_form() {
        let batch = r#"{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_tokens": 64}}"#;
        let c = Conversation::parse(batch).unwrap();
        assert_eq!(c.messages.len(), 2);
        assert_eq!(c.max_tokens, Some(64));
        assert_eq!(c.plain_text(), "Be brief.\nHi");
        let flat = r#"{"messages": [{"role": "user", "content": "Hi"}]}"#;
        let c = Conversation::parse(flat).unwrap();
        assert_eq!(c.max_tokens, None);
        assert_eq!(c.tools, None);
        assert_eq!(c.plain_text(), "Hi");
    }

    #[test]
    fn accepts_max_completion_tokens_tools_and_text_parts() {
        let line = r#"{"messages": [{"role": "developer", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]}, {"role": "assistant", "tool_calls": [{"id": "1"}]}, {"role": "tool", "content": "42"}], "max_completion_tokens": 9, "tools": [{"type": "function"}]}"#;
        let c = Conversation::parse(line).unwrap();
        assert_eq!(c.max_tokens, Some(9));
        assert!(c.tools.is_some());
        assert_eq!(c.plain_text(), "A\nB\n\n42");
    }

    #[test]
    fn keeps_the_key_order_of_messages() {
        let c = Conversation::parse(
            r#"{"messages": [{"role": "user", "name": "z", "content": "Hi"}]}"#,
        )
        .unwrap();
        let keys: Vec<&String> = c.messages[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["role", "name", "content"]);
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            ("{\"messages\": [", "invalid JSON: EOF while parsing a list at column 14"),
            ("[1, 2]", "expected a JSON object (a chat request), got an array"),
            ("{\"body\": 3}", "body: expected an object (the chat request), got the number 3"),
            ("{\"body\": {}}", "missing messages: expected body.messages"),
            ("{\"prompt\": \"hi\"}", "missing messages"),
            ("{\"messages\": []}", "messages: empty"),
            ("{\"messages\": \"hi\"}", "messages: expected an array of {role, content} objects, got the string \"hi\""),
            ("{\"messages\": [\"hi\"]}", "messages[0]: expected an object with role and content"),
            ("{\"messages\": [{\"content\": \"hi\"}]}", "messages[0].role: missing"),
            ("{\"messages\": [{\"role\": 1, \"content\": \"hi\"}]}", "messages[0].role: expected a string, got the number 1"),
            ("{\"body\": {\"messages\": [{\"role\": \"usr\", \"content\": \"hi\"}]}}", "body.messages[0].role: unknown role 'usr' (expected one of: system, user, assistant, tool, developer); did you mean 'user'?"),
            ("{\"messages\": [{\"role\": \"a\\nb\", \"content\": \"hi\"}]}", "messages[0].role: unknown role 'a\\nb' (expected"),
            ("{\"messages\": [{\"role\": \"user\"}]}", "messages[0].content: missing"),
            ("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "messages[0].content: expected a string or an array of text parts, got the number 5"),
            ("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", "messages[0].content[0]: only text parts can be simulated, got a part of type 'image_url'"),
            ("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]}", "messages[0].content[0].text: expected a string"),
            ("{\"messages\": [{\"role\": \"system\", \"content\": \"\"}, {\"role\": \"user\", \"content\": \"  \"}]}", "empty prompt: every message in messages has empty content"),
            ("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 0}", "max_tokens: expected an integer from 1 to 4294967295, got 0"),
            ("{\"body\": {\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": \"10\"}}", "body.max_tokens: expected an integer from 1 to 4294967295, got \"10\""),
        ];
        for (line, expected) in cases {
            let e = err(line);
            assert!(
                e.contains(expected),
                "for {line}: expected '{expected}' in '{e}'"
            );
        }
    }
}
