//! Dataset mode, run through the real binary on real files: a JSONL dataset, a
//! tokenizer.json each test trains and saves itself (no network), chat templates.
#![cfg(feature = "cli")]

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainer};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::{AddedToken, Tokenizer};

/// Trains a word-level tokenizer on `words` (each whitespace-separated word of
/// them becomes exactly one token), saves it as `dir/tokenizer.json` the way a
/// user's file is saved, and returns its path.
fn word_tokenizer<'a>(dir: &Path, words: impl Iterator<Item = &'a str> + Send) -> PathBuf {
    let mut trainer: TrainerWrapper = WordLevelTrainer::builder()
        .min_frequency(0)
        .vocab_size(1_000_000)
        .special_tokens(vec![AddedToken::from("[UNK]", true)])
        .build()
        .unwrap()
        .into();
    let model = WordLevel::builder()
        .unk_token("[UNK]".into())
        .build()
        .unwrap();
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(Whitespace {}));
    tokenizer.train(&mut trainer, words).unwrap();
    let path = dir.join("tokenizer.json");
    tokenizer.save(&path, true).unwrap();
    path
}

/// A chat request line in the OpenAI batch format.
fn request(id: usize, messages: &[(&str, &str)], max_tokens: Option<u32>) -> String {
    let messages: Vec<Value> = messages
        .iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({"model": "m", "messages": messages});
    if let Some(n) = max_tokens {
        body["max_tokens"] = json!(n);
    }
    json!({"custom_id": format!("r{id}"), "method": "POST", "url": "/v1/chat/completions", "body": body})
        .to_string()
}

/// A dataset-mode config: Llama-3.1-8B on one H100, requests 0.1 s apart.
fn config(dataset: &str, workload_extra: &str, scheduler_extra: &str) -> String {
    format!(
        "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 8192\nmax_num_seqs = 64\nblock_size = 16\n{scheduler_extra}\n[workload]\ndataset_path = '{dataset}'\narrival_pattern = 'fixed_rate'\narrival_rate = 10.0\nseed = 1\n{workload_extra}\n"
    )
}

const OUTPUT_FIXED_4: &str = "output_len_dist = { type = 'fixed', value = 4 }";

/// A directory holding `data.jsonl` (the given lines), `c.toml` and a
/// word-level `tokenizer.json` that knows every word of the lines.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(lines: &[String], config_text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("data.jsonl"), lines.join("\n") + "\n").unwrap();
        fs::write(dir.path().join("c.toml"), config_text).unwrap();
        let text = lines.join(" ");
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        word_tokenizer(dir.path(), words.iter().map(String::as_str));
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `-c c.toml --tokenizer tokenizer.json --chat-template T` plus `extra`.
    fn run(&self, template: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "-c",
            "c.toml",
            "--tokenizer",
            "tokenizer.json",
            "--chat-template",
            template,
        ];
        args.extend_from_slice(extra);
        run(self.path(), &args)
    }

    /// Runs and returns the JSON result and stderr (which has the dataset summary).
    fn run_json(&self, template: &str) -> (Value, String) {
        let o = self.run(template, &["-o", "r.json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        (json(&self.path().join("r.json")), stderr(&o))
    }

    /// Runs, expects exit code 1 and one error line, and returns it.
    fn error(&self, template: &str) -> String {
        let o = self.run(template, &["-q"]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert!(!e.contains("panicked"), "{e}");
        assert_eq!(e.trim_end().lines().count(), 1, "not one line: {e}");
        assert!(e.starts_with("error: "), "{e}");
        e
    }
}

/// The `(N prompts, M prompt tokens)` of the dataset summary line.
fn loaded(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("dataset: "))
        .unwrap_or_else(|| panic!("no dataset line in {stderr}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// Output tokens over prompt tokens of a run (same time base for both).
fn output_per_input(v: &Value) -> f64 {
    let t = &v["throughput_metrics"];
    t["output_tokens_per_sec"].as_f64().unwrap() / t["input_tokens_per_sec"].as_f64().unwrap()
}

/// `n` one-message requests of 3 tokens each (`questionI about topicI`).
fn questions(n: usize, max_tokens: u32) -> Vec<String> {
    (0..n)
        .map(|i| request(i, &[("user", &user(i))], Some(max_tokens)))
        .collect()
}

fn user(i: usize) -> String {
    format!("question{i} about topic{i}")
}

#[test]
fn the_shipped_dataset_configs_run_as_the_readme_says() {
    let out = tempfile::tempdir().unwrap();
    let lines = fs::read_to_string(shipped("examples/sample_dataset.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    let result = out.path().join("r.json");
    let mut tokens = Vec::new();
    for (config, template) in [
        ("configs/dataset.toml", "None"),
        ("configs/dataset.toml", "examples/templates/llama3.jinja"),
        (
            "configs/dataset-closed-loop.toml",
            "examples/templates/chatml.jinja",
        ),
    ] {
        // Run from the repository root, exactly as the README writes it.
        let o = run(
            &repo(),
            &[
                "-c",
                config,
                "--tokenizer",
                "examples/tokenizer.json",
                "--chat-template",
                template,
                "-o",
                result.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{config}: {}", stderr(&o));
        let v = json(&result);
        assert_eq!(v["requests"]["completed"].as_u64(), Some(lines), "{config}");
        // The sample's apps share system prompts: the prefix cache hits.
        assert!(
            v["prefix_cache"]["hits"].as_u64().unwrap() > lines / 2,
            "{config}"
        );
        let (prompts, prompt_tokens) = loaded(&stderr(&o));
        assert_eq!(prompts, lines);
        tokens.push(prompt_tokens);
        assert!(stdout(&o).contains("Tokens saved"));
    }
    // The Llama 3 template adds headers and a BOS to every prompt.
    assert!(tokens[1] > tokens[0] + 5 * lines, "{tokens:?}");
}

/// 100 requests share a 500-token system prompt; each adds 20 tokens of its
/// own. With 16-token blocks the shared prompt fills 31 whole blocks (496
/// tokens; block 32 mixes its last 4 tokens with the question). Requests
/// arrive 0.1 s apart, after the previous one has finished, so the first
/// misses and each of the other 99 reuses the 31 blocks.
#[test]
fn prefix_caching_matches_a_hand_count_and_lowers_ttft() {
    let system: String = (0..500).map(|i| format!("sys{i} ")).collect();
    let lines: Vec<String> = (0..100)
        .map(|i| {
            let question: String = (0..20).map(|j| format!("q{i}w{j} ")).collect();
            request(
                i,
                &[("system", system.trim()), ("user", question.trim())],
                None,
            )
        })
        .collect();
    let cached = Setup::new(&lines, &config("data.jsonl", OUTPUT_FIXED_4, ""));
    let (with, err) = cached.run_json("None");
    assert_eq!(loaded(&err), (100, 100 * 520));
    let pc = &with["prefix_cache"];
    assert_eq!(pc["hits"], 99);
    assert_eq!(pc["misses"], 1);
    assert_eq!(pc["hit_rate"], 0.99);
    assert_eq!(pc["cached_tokens"], 99 * 31 * 16);

    let uncached = Setup::new(
        &lines,
        &config(
            "data.jsonl",
            OUTPUT_FIXED_4,
            "enable_prefix_caching = false",
        ),
    );
    let (without, _) = uncached.run_json("None");
    let pc = &without["prefix_cache"];
    assert_eq!(pc["hits"], 0);
    assert_eq!(pc["cached_tokens"], 0);
    assert_eq!(pc["hit_rate"], 0.0);
    assert_eq!(without["requests"]["completed"], 100);
    let ttft = |v: &Value| v["latency_metrics"]["ttft_ms"]["mean"].as_f64().unwrap();
    assert!(
        ttft(&without) > ttft(&with),
        "{} vs {}",
        ttft(&without),
        ttft(&with)
    );
}

#[test]
fn num_requests_cuts_the_dataset_and_max_tokens_caps_outputs() {
    let lines = questions(10, 3);
    let s = Setup::new(
        &lines,
        &config(
            "data.jsonl",
            &format!("num_requests = 4\n{OUTPUT_FIXED_4}"),
            "",
        ),
    );
    let (v, err) = s.run_json("None");
    assert_eq!(v["requests"]["total"], 4);
    assert_eq!(loaded(&err), (4, 12));
    // 3 prompt tokens each, and min(4 sampled, max_tokens 3) = 3 output tokens.
    assert!((output_per_input(&v) - 1.0).abs() < 1e-9, "{v}");
}

#[test]
fn without_output_len_dist_each_request_generates_its_max_tokens() {
    let lines = questions(3, 8);
    let s = Setup::new(&lines, &config("data.jsonl", "", ""));
    let (v, _) = s.run_json("None");
    // 3 prompt tokens and 8 output tokens each.
    assert!((output_per_input(&v) - 8.0 / 3.0).abs() < 1e-9, "{v}");
}

#[test]
fn a_relative_dataset_path_is_relative_to_the_config_file() {
    let lines = vec![request(0, &[("user", "hello there")], Some(2))];
    let s = Setup::new(&lines, "");
    let sub = s.path().join("configs");
    fs::create_dir_all(sub.join("data")).unwrap();
    fs::rename(s.path().join("data.jsonl"), sub.join("data/p.jsonl")).unwrap();
    fs::write(sub.join("c.toml"), config("data/p.jsonl", "", "")).unwrap();
    let o = run(
        s.path(),
        &[
            "-c",
            "configs/c.toml",
            "--tokenizer",
            "tokenizer.json",
            "--chat-template",
            "None",
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let system: String = (0..40).map(|i| format!("rule{i} ")).collect();
    let lines: Vec<String> = (0..3000)
        .map(|i| {
            request(
                i,
                &[("system", system.trim()), ("user", &user(i % 50))],
                Some(1 + (i % 7) as u32),
            )
        })
        .collect();
    let s = Setup::new(&lines, &config("data.jsonl", "", ""));
    let result = |threads: &str| {
        let o = cmd(s.path())
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "-c",
                "c.toml",
                "--tokenizer",
                "tokenizer.json",
                "--chat-template",
                "None",
                "-q",
                "-o",
                "r.json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let mut v = json(&s.path().join("r.json"));
        v["simulation"]["wall_seconds"] = Value::Null;
        v.to_string()
    };
    assert_eq!(result("1"), result("2"));
}

#[test]
fn quiet_hides_the_dataset_summary() {
    let lines = vec![request(0, &[("user", "hello")], Some(2))];
    let s = Setup::new(&lines, &config("data.jsonl", "", ""));
    let o = s.run("None", &["-q"]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
    assert_eq!(stdout(&o), "");
}

#[test]
fn a_dataset_config_without_the_flags_says_which_are_missing() {
    let lines = vec![request(0, &[("user", "hello")], Some(2))];
    let s = Setup::new(&lines, &config("data.jsonl", "", ""));
    // Neither flag: tests/golden/errors.txt. One of them: the other is named.
    let o = run(s.path(), &["-c", "c.toml", "--tokenizer", "tokenizer.json"]);
    let e = stderr(&o);
    assert!(
        e.contains("pass --chat-template T") && !e.contains("--tokenizer FILE"),
        "{e}"
    );
    let o = run(s.path(), &["-c", "c.toml", "--chat-template", "None"]);
    let e = stderr(&o);
    assert!(
        e.contains("pass --tokenizer FILE") && !e.contains("--chat-template T"),
        "{e}"
    );
}

/// Each bad dataset line: the message names the file and the line, exit code 1.
#[test]
fn bad_lines_name_the_file_and_the_line() {
    let good = request(0, &[("user", "hello")], Some(2));
    // Not JSON, no messages, an unknown role, no max_tokens: tests/golden/errors.txt.
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                good.clone(),
                good.clone(),
                request(2, &[("system", ""), ("user", " ")], Some(2)),
            ],
            "data.jsonl: line 3: empty prompt",
        ),
        // Blank lines are skipped but still counted.
        (
            vec![good.clone(), String::new(), "not json".into()],
            "data.jsonl: line 3: invalid JSON",
        ),
    ];
    for (lines, expected) in cases {
        let s = Setup::new(&lines, &config("data.jsonl", "", ""));
        let e = s.error("None");
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
}

#[test]
fn corrupt_tokenizers_are_reported() {
    // A missing tokenizer file: tests/golden/errors.txt.
    let s = Setup::new(
        &[request(0, &[("user", "hello")], Some(2))],
        &config("data.jsonl", "", ""),
    );
    // Cut off mid-file: invalid JSON, with the line where it breaks.
    let full = fs::read_to_string(s.path().join("tokenizer.json")).unwrap();
    let cut: String = full.lines().take(5).collect::<Vec<_>>().join("\n");
    fs::write(s.path().join("tokenizer.json"), &cut).unwrap();
    let e = s.error("None");
    assert!(
        e.contains("tokenizer.json: line 5: not a tokenizer.json: invalid JSON"),
        "{e}"
    );

    // Valid JSON, but not a tokenizer.
    fs::write(
        s.path().join("tokenizer.json"),
        "{\n  \"model\": {\"type\": \"Nope\"}\n}\n",
    )
    .unwrap();
    let e = s.error("None");
    assert!(
        e.contains("tokenizer.json: line") && e.contains("not a Hugging Face tokenizer.json"),
        "{e}"
    );
}

#[test]
fn template_errors_name_the_template_or_the_dataset_line() {
    let lines = vec![
        request(
            0,
            &[("user", "hello"), ("assistant", "hi"), ("user", "bye")],
            Some(2),
        ),
        request(1, &[("system", "rules"), ("user", "hello")], Some(2)),
    ];
    let s = Setup::new(&lines, &config("data.jsonl", "", ""));
    fs::write(
        s.path().join("bad.jinja"),
        "{% for m in messages %}\n{{ m.content }\n{% endfor %}",
    )
    .unwrap();
    let e = s.error("bad.jinja");
    assert!(e.contains("error: bad.jinja: line 2: syntax error"), "{e}");

    let e = s.error("{% if true %}unclosed");
    assert!(
        e.contains("error: --chat-template: line 1: syntax error"),
        "{e}"
    );

    // The Mistral template refuses system prompts: line 2 has one.
    let mistral = shipped("examples/templates/mistral.jinja");
    let e = s.error(mistral.to_str().unwrap());
    assert!(
        e.contains("data.jsonl: line 2: chat template: the template raised an exception: Conversation roles must alternate"),
        "{e}"
    );

    let e = s.error("no-such-template.jinja");
    assert!(e.contains("'no-such-template.jinja' is neither None, an existing template file, nor a Jinja template"), "{e}");
}

/// Hostile datasets and templates fail fast with the limit they broke:
/// a line past 8 MiB (or `/dev/zero`, one endless line), a template that
/// never ends, and a rendered prompt past 8 MiB.
#[test]
fn dataset_and_template_limits_fail_fast_naming_the_line_and_the_limit() {
    let good = request(0, &[("user", "hello")], Some(2));
    let long = format!("{}\n", "a".repeat(9 << 20));
    let s = Setup::new(&[good.clone(), long], &config("data.jsonl", "", ""));
    let started = std::time::Instant::now();
    let e = s.error("None");
    assert!(
        e.contains("data.jsonl: line 2: the line is longer than 8 MiB (8388608 bytes)"),
        "{e}"
    );
    if Path::new("/dev/zero").exists() {
        fs::write(s.path().join("c.toml"), config("/dev/zero", "", "")).unwrap();
        let e = s.error("None");
        assert!(
            e.contains("/dev/zero: line 1: the line is longer than 8 MiB"),
            "{e}"
        );
    }
    fs::write(s.path().join("c.toml"), config("data.jsonl", "", "")).unwrap();
    fs::write(s.path().join("data.jsonl"), format!("{good}\n")).unwrap();
    let e = s
        .error("{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}");
    assert!(
        e.contains("data.jsonl: line 1: chat template: the template did more work than the limit on one render (2000000 fuel"),
        "{e}"
    );
    let e = s.error("{% for m in messages %}{{ m.content * 2000000 }}{% endfor %}");
    assert!(
        e.contains("data.jsonl: line 1: the rendered prompt has 10000000 bytes, more than the limit of 8 MiB"),
        "{e}"
    );
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn validate_accepts_the_dataset_configs() {
    let o = run(
        &repo(),
        &[
            "validate",
            "configs/dataset.toml",
            "configs/dataset-closed-loop.toml",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn validate_reports_a_missing_dataset_file() {
    let s = Setup::new(&questions(1, 2), &config("gone.jsonl", "", ""));
    let o = run(s.path(), &["validate", "c.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("c.toml: workload.dataset_path: no such file 'gone.jsonl'"),
        "{}",
        stderr(&o)
    );
}

/// Run identity covers the files a run reads: after the dataset is edited,
/// or the tokenizer or chat template changes, a resumed sweep reruns every
/// point instead of reusing results of the old inputs; with the inputs
/// unchanged it reuses them all.
#[test]
fn a_resumed_sweep_never_reuses_results_of_changed_input_files() {
    let lines: Vec<String> = (0..30)
        .map(|i| request(i, &[("user", &user(i))], Some(3)))
        .collect();
    let s = Setup::new(&lines, &config("data.jsonl", "", ""));
    let dir = s.path();
    fs::write(
        dir.join("t.jinja"),
        "{% for m in messages %}{{ m.content }}{% endfor %}",
    )
    .unwrap();
    let manifest = |template: &str| {
        fs::write(
            dir.join("m.toml"),
            format!("[sweep]\nname = \"d\"\nbase = \"c.toml\"\ntokenizer = \"tokenizer.json\"\nchat_template = \"{template}\"\n[grid]\n\"workload.seed\" = [1, 2]\n"),
        )
        .unwrap();
    };
    let sweep = || {
        let o = run(dir, &["sweep", "m.toml", "-o", "out", "--run-files"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let reused = stdout(&o)
            .split(" reused")
            .next()
            .and_then(|s| s.rsplit('(').next())
            .and_then(|n| n.trim().parse::<usize>().ok())
            .expect("a summary line with the reused count");
        let runs = csv_without_wall_time(&dir.join("out/runs.csv"));
        let ids: Vec<String> = runs[1..].iter().map(|r| r[0].clone()).collect();
        let tokens = runs[0]
            .iter()
            .position(|c| c == "requests_completed")
            .unwrap();
        (reused, ids, runs[1][tokens].clone())
    };
    manifest("none");
    let (reused, ids, _) = sweep();
    assert_eq!(reused, 0);
    assert_eq!(sweep().0, 2, "unchanged inputs: both runs reused");

    // The dataset loses lines: new ids, nothing reused, the new data counted.
    fs::write(dir.join("data.jsonl"), lines[..10].join("\n") + "\n").unwrap();
    let (reused, edited, completed) = sweep();
    assert_eq!(reused, 0, "an edited dataset reruns every point");
    assert!(
        edited.iter().all(|id| !ids.contains(id)),
        "{edited:?} vs {ids:?}"
    );
    assert_eq!(completed, "10");

    // Another tokenizer file (same vocabulary, other content).
    let mut tokenizer: Value = json(&dir.join("tokenizer.json"));
    tokenizer["truncation"] = Value::Null;
    tokenizer["added_tokens"][0]["special"] = json!(false);
    fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let (reused, retokenized, _) = sweep();
    assert_eq!(reused, 0, "another tokenizer reruns every point");
    assert!(retokenized.iter().all(|id| !edited.contains(id)));

    // A chat template file: its content is part of the identity too.
    manifest("t.jinja");
    let (reused, templated, _) = sweep();
    assert_eq!(reused, 0);
    fs::write(
        dir.join("t.jinja"),
        "{% for m in messages %}{{ m.content }} {% endfor %}",
    )
    .unwrap();
    let (reused, edited_template, _) = sweep();
    assert_eq!(reused, 0, "an edited template reruns every point");
    assert!(edited_template.iter().all(|id| !templated.contains(id)));
    let run_file: Value = json(&dir.join(format!("out/runs/{}.json", edited_template[0])));
    let roles: Vec<&str> = run_file["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["dataset", "tokenizer", "chat_template"]);
}
