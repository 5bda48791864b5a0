//! Chat templates: how a conversation becomes the prompt text the model sees.
//!
//! `--chat-template None` joins the messages' contents with newlines. Anything
//! else is a Jinja template (given inline, or as a file: a `.jinja` template, or
//! a Hugging Face `tokenizer_config.json` holding a `chat_template`) rendered by
//! minijinja the way Hugging Face `transformers` renders it: `trim_blocks` and
//! `lstrip_blocks` on, loop controls, Python string and dict methods
//! (`.strip()`, `.startswith()`, `.items()`, ...), and the globals and filters
//! `transformers` adds (`raise_exception`, `strftime_now`, a `tojson` that
//! writes what Python's `json.dumps` writes).

use super::jsonl::Conversation;
use super::DatasetError;
use crate::io::lines::read_text_file;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Serde, Value as JinjaValue};
use minijinja::{context, Environment, Error as JinjaError, ErrorKind};
use std::path::{Path, PathBuf};

/// What `--chat-template` says to do.
#[derive(Debug)]
pub enum ChatTemplate {
    /// `None`: the messages' contents joined by newlines.
    Plain,
    /// A Jinja chat template.
    Jinja(Box<JinjaTemplate>),
}

/// The special tokens a chat template may print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Beginning-of-sequence token text (`bos_token`), empty if unknown.
    pub bos: String,
    /// End-of-sequence token text (`eos_token`), empty if unknown.
    pub eos: String,
}

/// A compiled Jinja chat template.
#[derive(Debug)]
pub struct JinjaTemplate {
    env: Environment<'static>,
    /// Where the template came from, for messages (a file path or `--chat-template`).
    name: String,
    special: SpecialTokens,
}

/// Name of the flag, used as the source of inline templates in messages.
const FLAG: &str = "--chat-template";

/// What a `--chat-template` flag or a manifest's `sweep.chat_template`
/// says, by the one rule both follow: `None` (or `none`) joins the messages'
/// contents; text holding `{{` or `{%` is an inline Jinja template; anything
/// else is a template file (a relative path is relative to `base`: the
/// working directory for the flag, the manifest's directory for a manifest).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TemplateArg {
    /// Join the messages' contents with newlines.
    Plain,
    /// An inline Jinja template.
    Inline(String),
    /// A template file: a `.jinja` template or a `tokenizer_config.json`.
    File(PathBuf),
}

impl TemplateArg {
    /// Interprets `arg`; a file path is taken relative to `base` when given.
    pub fn parse(arg: &str, base: Option<&Path>) -> Self {
        if arg == "None" || arg == "none" {
            Self::Plain
        } else if arg.contains("{{") || arg.contains("{%") {
            Self::Inline(arg.to_owned())
        } else {
            Self::File(match base {
                Some(dir) => dir.join(arg),
                None => PathBuf::from(arg),
            })
        }
    }

    /// The file the template is read from, if it is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File(path) => Some(path),
            Self::Plain | Self::Inline(_) => None,
        }
    }
}

impl ChatTemplate {
    /// Loads the template `arg` describes, compiling it with `special` tokens.
    pub fn load(arg: &TemplateArg, special: &SpecialTokens) -> Result<Self, DatasetError> {
        match arg {
            TemplateArg::Plain => Ok(Self::Plain),
            TemplateArg::Inline(source) => {
                JinjaTemplate::new(source.clone(), FLAG.to_owned(), special.clone())
                    .map(|t| Self::Jinja(Box::new(t)))
            }
            TemplateArg::File(path) if path.is_file() => {
                let name = path.display().to_string();
                let text = read_text_file(path, usize::MAX).map_err(|e| {
                    DatasetError::new(&name, format!("cannot read the chat template: {e}"))
                })?;
                let source = if path.extension().is_some_and(|e| e == "json") {
                    template_in_json(&text, &name)?
                } else {
                    text
                };
                JinjaTemplate::new(source, name, special.clone()).map(|t| Self::Jinja(Box::new(t)))
            }
            TemplateArg::File(path) => Err(DatasetError::new(
                FLAG,
                format!(
                    "'{}' is neither None, an existing template file, nor a Jinja template (no '{{{{' or '{{%' in it)",
                    path.display()
                ),
            )),
        }
    }

    /// Whether the tokenizer should add its own special tokens (its
    /// post-processor's BOS, for example). Templates print them themselves,
    /// so, as in `transformers`, only plain prompts get them.
    pub fn tokenizer_adds_special_tokens(&self) -> bool {
        matches!(self, Self::Plain)
    }

    /// The prompt text of a conversation; the error says what failed (with
    /// the template's line), for the caller to place at the dataset line.
    pub fn render(&self, conversation: &Conversation) -> Result<String, String> {
        match self {
            Self::Plain => Ok(conversation.plain_text()),
            Self::Jinja(t) => t.render(conversation),
        }
    }
}

impl JinjaTemplate {
    /// Compiles `source`; syntax errors name `name` and the template line.
    fn new(source: String, name: String, special: SpecialTokens) -> Result<Self, DatasetError> {
        let mut env = Environment::new();
        // transformers' ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).
        if let Ok(syntax) = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_fuel(Some(MAX_TEMPLATE_FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.add_template_owned(TEMPLATE, source).map_err(|e| {
            let (line, message) = describe_error(&e);
            match line {
                Some(line) => DatasetError::at_line(&name, line, message),
                None => DatasetError::new(&name, message),
            }
        })?;
        Ok(Self { env, name, special })
    }

    fn render(&self, conversation: &Conversation) -> Result<String, String> {
        let ctx = context! {
            messages => JinjaValue::from(Serde(&conversation.messages)),
            tools => conversation.tools.as_ref().map(|t| JinjaValue::from(Serde(t))),
            documents => JinjaValue::from(()),
            add_generation_prompt => true,
            bos_token => self.special.bos.as_str(),
            eos_token => self.special.eos.as_str(),
        };
        self.env
            .get_template(TEMPLATE)
            .and_then(|t| t.render(ctx))
            .map_err(|e| {
                let (line, message) = describe_error(&e);
                let at = line.map_or(String::new(), |l| format!(" (line {l} of {})", self.name));
                format!("chat template: {message}{at}")
            })
    }
}

/// The work one render of a chat template may do, in minijinja fuel (about
/// one per instruction and one per 64 bytes of data it makes): 2,000,000,
/// which bounds a render to about that many instructions and 128 MB, far
/// above what a real template needs for a conversation of thousands of
/// messages. A template that runs out (nested loops over the messages, say)
/// is an error at the dataset line, not a hang.
pub const MAX_TEMPLATE_FUEL: u64 = 2_000_000;

/// Name of the one template in each environment.
const TEMPLATE: &str = "chat_template";

/// Takes the chat template out of a `tokenizer_config.json`-style file: a
/// `chat_template` string, or a list of named templates (the `default` one).
fn template_in_json(text: &str, name: &str) -> Result<String, DatasetError> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| DatasetError::at_line(name, e.line() as u64, format!("invalid JSON: {e}")))?;
    let missing = || {
        DatasetError::new(
            name,
            "no chat_template in this JSON file (expected a string, or a list of {name, template} with a 'default')",
        )
    };
    match doc.get("chat_template") {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Array(named)) => named
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .and_then(|t| t.get("template")?.as_str())
            .map(str::to_owned)
            .ok_or_else(missing),
        _ => Err(missing()),
    }
}

/// Marks an error as coming from the template's own `raise_exception`.
#[derive(Debug)]
struct Raised;

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raised by the template")
    }
}

impl std::error::Error for Raised {}

/// `raise_exception(message)`: the template rejects the conversation.
fn raise_exception(message: String) -> Result<JinjaValue, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message).with_source(Raised))
}

/// The line and a one-line description of a template error.
fn describe_error(e: &JinjaError) -> (Option<u64>, String) {
    let raised = std::error::Error::source(e).is_some_and(|s| s.is::<Raised>());
    let detail = e.detail().unwrap_or_default();
    let message = if raised {
        format!("the template raised an exception: {detail}")
    } else if e.kind() == ErrorKind::OutOfFuel {
        format!(
            "the template did more work than the limit on one render ({MAX_TEMPLATE_FUEL} fuel: about as many instructions, or 64 bytes of data each); does it loop without end or nest loops over the messages?"
        )
    } else if detail.is_empty() {
        e.kind().to_string()
    } else {
        format!("{}: {detail}", e.kind())
    };
    (e.line().map(|l| l as u64), message.replace('\n', " "))
}

/// `strftime_now(format)`: transformers passes today's date; a simulation must
/// not depend on the day it runs, so this formats a fixed instant,
/// 26 July 2024 00:00:00 (the date Llama 3.1's template falls back to).
fn strftime_now(format: String) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("26"),
            Some('e') => out.push_str("26"),
            Some('m') => out.push_str("07"),
            Some('Y') => out.push_str("2024"),
            Some('y') => out.push_str("24"),
            Some('b') => out.push_str("Jul"),
            Some('B') => out.push_str("July"),
            Some('a') => out.push_str("Fri"),
            Some('A') => out.push_str("Friday"),
            Some('j') => out.push_str("208"),
            Some('H') | Some('M') | Some('S') => out.push_str("00"),
            Some('I') => out.push_str("12"),
            Some('p') => out.push_str("AM"),
            Some('F') => out.push_str("2024-07-26"),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `tojson`, as transformers defines it: Python's `json.dumps` with
/// `ensure_ascii=False` by default (no HTML escaping), `", "` and `": "`
/// separators (`","` between items when indenting), and the `indent`,
/// `separators`, `sort_keys` and `ensure_ascii` arguments.
fn tojson(value: &JinjaValue, kwargs: Kwargs) -> Result<JinjaValue, JinjaError> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let separators = match separators.as_deref() {
        None => None,
        Some([item, key]) => Some((item.clone(), key.clone())),
        Some(_) => {
            return Err(JinjaError::new(
                ErrorKind::InvalidOperation,
                "tojson: separators must be (item_separator, key_separator)",
            ))
        }
    };
    let json = serde_json::to_value(value).map_err(|e| {
        JinjaError::new(ErrorKind::InvalidOperation, "cannot serialize to JSON").with_source(e)
    })?;
    let (item, key) = separators.unwrap_or_else(|| {
        let item = if indent.is_some() { "," } else { ", " };
        (item.to_owned(), ": ".to_owned())
    });
    let style = PyJson {
        indent,
        item: &item,
        key: &key,
        sort_keys: sort_keys.unwrap_or(false),
        ensure_ascii: ensure_ascii.unwrap_or(false),
    };
    let mut out = String::new();
    style.write(&json, 0, &mut out);
    Ok(JinjaValue::from_safe_string(out))
}

/// The layout choices of Python's `json.dumps`.
struct PyJson<'a> {
    indent: Option<usize>,
    item: &'a str,
    key: &'a str,
    sort_keys: bool,
    ensure_ascii: bool,
}

impl PyJson<'_> {
    fn write(&self, v: &serde_json::Value, depth: usize, out: &mut String) {
        use serde_json::Value;
        match v {
            Value::Array(items) => {
                self.container(out, depth, '[', ']', items.len(), |i, out| {
                    self.write(&items[i], depth + 1, out)
                });
            }
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if self.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                self.container(out, depth, '{', '}', entries.len(), |i, out| {
                    self.string(entries[i].0, out);
                    out.push_str(self.key);
                    self.write(entries[i].1, depth + 1, out);
                });
            }
            Value::String(s) => self.string(s, out),
            other => out.push_str(&other.to_string()),
        }
    }

    fn container(
        &self,
        out: &mut String,
        depth: usize,
        open: char,
        close: char,
        len: usize,
        mut item: impl FnMut(usize, &mut String),
    ) {
        out.push(open);
        if len == 0 {
            out.push(close);
            return;
        }
        for i in 0..len {
            if i > 0 {
                out.push_str(self.item);
            }
            self.newline(out, depth + 1);
            item(i, out);
        }
        self.newline(out, depth);
        out.push(close);
    }

    fn newline(&self, out: &mut String, depth: usize) {
        if let Some(indent) = self.indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent * depth));
        }
    }

    fn string(&self, s: &str, out: &mut String) {
        let quoted = serde_json::Value::from(s).to_string();
        if !self.ensure_ascii {
            out.push_str(&quoted);
            return;
        }
        for c in quoted.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jinja(source: &str) -> ChatTemplate {
        let special = SpecialTokens {
            bos: "<s>".into(),
            eos: "</s>".into(),
        };
        ChatTemplate::load(&TemplateArg::parse(source, None), &special).unwrap()
    }

    fn conversation(line: &str) -> Conversation {
        Conversation::parse(line).unwrap()
    }

    const CHAT: &str = r#"{"messages": [{"role": "system", "content": "  Be brief. "}, {"role": "user", "content": "Hi"}]}"#;

    #[test]
    fn one_rule_reads_flags_and_manifests_alike() {
        let base = Some(Path::new("sweeps"));
        for arg in ["None", "none"] {
            assert_eq!(TemplateArg::parse(arg, None), TemplateArg::Plain);
            assert_eq!(TemplateArg::parse(arg, base), TemplateArg::Plain);
        }
        assert_eq!(
            TemplateArg::parse("t.jinja", base),
            TemplateArg::File(PathBuf::from("sweeps/t.jinja"))
        );
        assert_eq!(
            TemplateArg::parse("{{ x }}", base),
            TemplateArg::Inline("{{ x }}".into())
        );
    }

    #[test]
    fn none_joins_contents() {
        let t = ChatTemplate::load(&TemplateArg::parse("None", None), &SpecialTokens::default())
            .unwrap();
        assert!(t.tokenizer_adds_special_tokens());
        assert_eq!(t.render(&conversation(CHAT)).unwrap(), "  Be brief. \nHi");
    }

    #[test]
    fn python_methods_globals_and_whitespace_control_work() {
        let t = jinja(
            "{{ bos_token }}{% for m in messages %}\n  {% if m.role == 'system' %}\n[{{ m.content.strip().upper() }}]\n  {% else %}\n{{ m['content'] }}{{ eos_token }}\n  {% endif %}\n{% endfor %}{% if add_generation_prompt %}>{% endif %}",
        );
        assert!(!t.tokenizer_adds_special_tokens());
        assert_eq!(
            t.render(&conversation(CHAT)).unwrap(),
            "<s>[BE BRIEF.]\nHi</s>\n>"
        );
    }

    #[test]
    fn tojson_writes_what_python_writes() {
        let t = jinja("{{ messages[0] | tojson }}|{{ messages[0] | tojson(indent=2) }}|{{ {'b': 1, 'a': [1, 'é<']} | tojson(sort_keys=true, ensure_ascii=true) }}");
        let out = t
            .render(&conversation(
                r#"{"messages": [{"role": "user", "content": "it's <b>"}]}"#,
            ))
            .unwrap();
        assert_eq!(
            out,
            "{\"role\": \"user\", \"content\": \"it's <b>\"}|{\n  \"role\": \"user\",\n  \"content\": \"it's <b>\"\n}|{\"a\": [1, \"\\u00e9<\"], \"b\": 1}"
        );
    }

    #[test]
    fn strftime_now_is_a_fixed_date() {
        assert_eq!(strftime_now("%d %b %Y".into()), "26 Jul 2024");
        assert_eq!(
            strftime_now("%A %B %e, %y %%".into()),
            "Friday July 26, 24 %"
        );
    }

    #[test]
    fn raise_exception_and_other_failures_are_told_apart() {
        let t = jinja("line one\n{{ raise_exception('roles must alternate') }}");
        let e = t.render(&conversation(CHAT)).unwrap_err();
        assert_eq!(
            e,
            "chat template: the template raised an exception: roles must alternate (line 2 of --chat-template)"
        );
        let t = jinja("{{ messages[0].content.nosuchmethod() }}");
        let e = t.render(&conversation(CHAT)).unwrap_err();
        assert!(e.starts_with("chat template: unknown method"), "{e}");
        assert!(e.ends_with("(line 1 of --chat-template)"), "{e}");
    }

    #[test]
    fn syntax_errors_name_the_template_line() {
        let e = ChatTemplate::load(
            &TemplateArg::parse("ok\n{% for m in messages %}", None),
            &SpecialTokens::default(),
        )
        .unwrap_err();
        assert_eq!(e.source, "--chat-template");
        assert_eq!(e.line, Some(2));
        assert!(e.message.starts_with("syntax error"), "{e}");
    }

    #[test]
    fn arguments_that_are_neither_file_nor_template_are_refused() {
        let e = ChatTemplate::load(
            &TemplateArg::parse("chatml.jinja", None),
            &SpecialTokens::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "'chatml.jinja' is neither None, an existing template file, nor a Jinja template"
            ),
            "{e}"
        );
    }

    #[test]
    fn reads_templates_from_files_and_tokenizer_configs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.jinja");
        std::fs::write(&file, "{{ messages | length }}").unwrap();
        let t = ChatTemplate::load(
            &TemplateArg::parse(file.to_str().unwrap(), None),
            &SpecialTokens::default(),
        )
        .unwrap();
        assert_eq!(t.render(&conversation(CHAT)).unwrap(), "2");
        let json = dir.path().join("tokenizer_config.json");
        std::fs::write(
            &json,
            r#"{"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ messages[1].content }}"}]}"#,
        )
        .unwrap();
        let t = ChatTemplate::load(
            &TemplateArg::parse(json.to_str().unwrap(), None),
            &SpecialTokens::default(),
        )
        .unwrap();
        assert_eq!(t.render(&conversation(CHAT)).unwrap(), "Hi");
        std::fs::write(&json, r#"{"bos_token": "<s>"}"#).unwrap();
        let e = ChatTemplate::load(
            &TemplateArg::parse(json.to_str().unwrap(), None),
            &SpecialTokens::default(),
        )
        .unwrap_err();
        assert!(e.message.contains("no chat_template"), "{e}");
    }
}
