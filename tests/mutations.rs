//! Mutated inputs for every parser of a user file: shipped configs,
//! calibration files, sweep manifests, step tables, measured benchmark
//! files, traces in every format, datasets, chat templates and tokenizers,
//! changed as files go wrong (`common::mutate`). Each parser, called through
//! the library, must end within a deadline without a panic, and when it
//! refuses the file its message is one short line naming the file and the
//! field or line; a config it accepts must also build its workload and
//! simulator without a panic. A few mutated files go through the real
//! binary, which must exit with a documented code (never 101, never a
//! signal).

mod common;
use common::mutate::*;
use common::*;
use inference_lab::calibration::StepModels;
use inference_lab::cluster::Simulator;
use inference_lab::config::TraceConfig;
use inference_lab::engine::SimOptions;
use inference_lab::io::config_file::{read_calibration_file, read_config, read_steps};
use inference_lab::io::dataset::{
    self, ChatTemplate, Conversation, PromptBuilder, PromptTokenizer, TemplateArg,
};
use inference_lab::io::measured;
use inference_lab::io::workload::{build_workload, DatasetInputs, WorkloadSource};
use inference_lab::sweep::manifest::Manifest;
use inference_lab::sweep::plan::Plan;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Lines hostile in TOML: unknown keys and sections, repeated tables,
/// nesting deeper than any parser's stack.
fn toml_lines() -> Vec<Vec<u8>> {
    vec![
        b"unknown_key = 1".to_vec(),
        b"[unknown_section]".to_vec(),
        b"[workload]".to_vec(),
        b"[[zip]]".to_vec(),
        b"a.b.c.d = 1".to_vec(),
        b"x = \"\"\"".to_vec(),
        [b"x = ".to_vec(), nested("[", "]", "1", 100_000)].concat(),
        [b"x = ".to_vec(), nested("{a=", "}", "1", 100_000)].concat(),
        [b"x = [".to_vec(), b"1,".repeat(200_000), b"]".to_vec()].concat(),
    ]
}

/// Lines hostile in JSON: nesting, unknown keys, huge arrays.
fn json_lines() -> Vec<Vec<u8>> {
    vec![
        nested("[", "]", "1", 100_000),
        nested("{\"a\":", "}", "1", 100_000),
        b"{\"unknown\": 1}".to_vec(),
        b"{}".to_vec(),
        b"[]".to_vec(),
        [b"[".to_vec(), b"1,".repeat(200_000), b"1]".to_vec()].concat(),
    ]
}

/// Lines hostile in CSV: unbalanced quotes, rows of the wrong width, a
/// header again.
fn csv_lines() -> Vec<Vec<u8>> {
    vec![
        b"\"unterminated,1,2".to_vec(),
        b"1,2".to_vec(),
        b"1,2,3,4,5,6,7,8,9,10,11,12".to_vec(),
        b"# comment".to_vec(),
        b"a\"b,1,2".to_vec(),
    ]
}

/// The files under `dir` (relative to the repository) whose names end
/// with `ext`, recursively, relative to the repository.
fn shipped_files(dir: &str, ext: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(repo().join(&d)).unwrap().flatten() {
            let rel = d.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                stack.push(rel);
            } else if rel.to_string_lossy().ends_with(ext) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// Scratch copies of the shipped files `rels`.
fn scratches(rels: &[String]) -> Vec<Scratch> {
    rels.iter().map(|r| scratch(r, None)).collect()
}

/// Runs `parse` on the mutated file within the deadline, and checks its
/// message when it refuses it.
fn check(
    file: &Scratch,
    ms: &[Mutation],
    whole_file: &[&str],
    parse: impl FnOnce(PathBuf) -> Result<(), String> + Send + 'static,
) -> Result<(), TestCaseError> {
    file.write(ms);
    let path = file.path.clone();
    match bounded(move || parse(path))? {
        Ok(()) => Ok(()),
        Err(message) => check_message(&message, &file.path, whole_file),
    }
}

/// Reads a config; one that is accepted also builds its workload (a trace
/// is read) and its simulator.
fn config_outcome(path: PathBuf) -> Result<(), String> {
    let config = read_config(&path).map_err(|e| e.to_string())?;
    let inputs = DatasetInputs::default();
    let source = WorkloadSource {
        config_path: Some(&path),
        dataset: &inputs,
        cache: None,
    };
    if let Ok(workload) = build_workload(&config, &source, &mut |_| {}) {
        drop(Simulator::new(&config, workload, SimOptions::default()));
    }
    Ok(())
}

/// Messages about a config or manifest as a whole.
const TOML_WHOLE_FILE: &[&str] = &[
    "this is a sweep manifest",
    "this is a config file",
    "cannot read",
];

proptest! {
    #![proptest_config(settings(256))]

    /// Every shipped config, mutated.
    #[test]
    fn mutated_configs(pick in any::<prop::sample::Index>(), ms in mutations(toml_lines())) {
        thread_local! {
            static FILES: Vec<Scratch> = {
                let mut rels = shipped_files("configs", ".toml");
                rels.retain(|r| !r.starts_with("configs/hardware/") && !r.starts_with("configs/models/"));
                rels.extend(shipped_files("tests/fixtures", ".toml"));
                scratches(&rels)
            };
        }
        FILES.with(|files| check(&files[pick.index(files.len())], &ms, TOML_WHOLE_FILE, config_outcome))?;
    }
}

proptest! {
    #![proptest_config(settings(64))]

    /// The shipped calibration files, mutated.
    #[test]
    fn mutated_calibration_files(pick in any::<prop::sample::Index>(), ms in mutations(toml_lines())) {
        thread_local! {
            static FILES: Vec<Scratch> = scratches(&shipped_files("configs/calibration", ".toml"));
        }
        FILES.with(|files| check(&files[pick.index(files.len())], &ms, TOML_WHOLE_FILE, |path| {
            read_calibration_file(&path).map(drop).map_err(|e| e.to_string())
        }))?;
    }
}

proptest! {
    #![proptest_config(settings(128))]

    /// The shipped sweep manifests, mutated; a small one is planned (every
    /// point resolved).
    #[test]
    fn mutated_manifests(pick in any::<prop::sample::Index>(), ms in mutations(toml_lines())) {
        thread_local! {
            static FILES: Vec<Scratch> = {
                let mut rels = shipped_files("sweeps", ".toml");
                rels.push("tests/golden/sweep.toml".into());
                scratches(&rels)
            };
        }
        FILES.with(|files| check(&files[pick.index(files.len())], &ms, TOML_WHOLE_FILE, |path| {
            let manifest = Manifest::load(&path).map_err(|e| e.to_string())?;
            if manifest.point_count() <= 64 {
                Plan::build(manifest).map_err(|e| e.to_string())?;
            }
            Ok(())
        }))?;
    }
}

proptest! {
    #![proptest_config(settings(128))]

    /// The shipped step table, mutated; an accepted one is priced.
    #[test]
    fn mutated_step_tables(ms in mutations(csv_lines())) {
        thread_local! {
            static FILE: Scratch = scratch("tests/fixtures/h200-llama-3.1-8b-steps.csv", None);
        }
        FILE.with(|file| check(file, &ms, &[], |path| {
            let table = read_steps(&path).map_err(|e| e.to_string())?;
            let config = read_config(&shipped("configs/h200-llama-3.1-8b.toml")).unwrap();
            let models = StepModels::new(&config.server, &table.steps);
            for step in &table.steps {
                models.of(step).step_cost(&models.shape(step));
            }
            Ok(())
        }))?;
    }
}

/// A vLLM result, an inference-perf result and a metric CSV.
fn measured_seeds() -> Vec<(&'static str, String)> {
    vec![
        ("vllm.json", serde_json::json!({
            "date": "20260301-120000", "backend": "vllm", "num_prompts": 100, "duration": 60.0,
            "completed": 100, "request_throughput": 1.6, "output_throughput": 450.0,
            "total_token_throughput": 2500.0, "ttfts": [0.2], "itls": [[0.02]],
            "mean_ttft_ms": 120.5, "median_ttft_ms": 150.0, "p99_ttft_ms": 900.0,
            "mean_tpot_ms": 30.0, "p99.9_e2el_ms": 20000.0,
        }).to_string().replace(", \"", ",\n\""), ),
        ("stage_0_lifecycle_metrics.json", serde_json::to_string_pretty(&serde_json::json!({
            "successes": {
                "count": 100,
                "latency": {
                    "request_latency": {"mean": 8.0, "min": 1.0, "max": 30.0, "p0.1": 1.0, "median": 7.5, "p99.9": 29.0},
                    "time_to_first_token": {"mean": 0.25, "median": 0.2, "p90": 0.5},
                },
                "throughput": {"output_tokens_per_sec": 440.0, "requests_per_sec": 1.6},
            },
            "failures": {"count": 0, "request_latency": null},
        })).unwrap()),
        ("measured.csv", "metric,value\nttft_ms_p99,250.5\ntotal_tokens_per_sec,900\ne2e_ms_mean,8000\n".into()),
    ]
}

proptest! {
    #![proptest_config(settings(128))]

    /// Measured benchmark files of each format, mutated.
    #[test]
    fn mutated_measured_files(pick in any::<prop::sample::Index>(), ms in mutations([json_lines(), csv_lines()].concat())) {
        thread_local! {
            static FILES: Vec<Scratch> = measured_seeds()
                .iter()
                .map(|(name, text)| scratch(&format!("tests/{name}"), Some(text.as_bytes())))
                .collect();
        }
        let whole_file = ["neither a vllm bench serve result", "no metric the simulator reports", "expected a JSON object", "cannot read"];
        FILES.with(|files| check(&files[pick.index(files.len())], &ms, &whole_file, |path| {
            measured::read(&path, None).map(drop).map_err(|e| e.to_string())
        }))?;
    }
}

/// A trace in each format besides the shipped plain CSV.
fn trace_seeds() -> Vec<(&'static str, String)> {
    let rows = [
        (0.0, 1018, 147),
        (0.55, 474, 220),
        (1.49, 1560, 76),
        (2.5, 12, 3),
    ];
    let lines = |f: &dyn Fn(f64, u32, u32) -> String| -> String {
        rows.iter().map(|&(t, i, o)| f(t, i, o)).collect()
    };
    vec![
        (
            "azure.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n".to_string()
                + &lines(&|t, i, o| format!("2023-11-16 18:15:{:09.6}0,{i},{o}\n", 46.0 + t)),
        ),
        (
            "mooncake.jsonl",
            lines(&|t, i, o| {
                format!(
            "{{\"timestamp\": {}, \"input_length\": {i}, \"output_length\": {o}, \"hash_ids\": [1, 2, {i}]}}\n",
            t * 1000.0
        )
            }),
        ),
        (
            "burstgpt.csv",
            "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n".to_string()
                + &lines(&|t, i, o| format!("{t},ChatGPT,{i},{o},{},Conversation log\n", i + o)),
        ),
    ]
}

proptest! {
    #![proptest_config(settings(192))]

    /// Traces of every format, mutated, read to the end (in file order or sorted).
    #[test]
    fn mutated_traces(pick in any::<prop::sample::Index>(), sort in any::<bool>(), ms in mutations([json_lines(), csv_lines()].concat())) {
        thread_local! {
            static FILES: Vec<Scratch> = std::iter::once(scratch("examples/trace.csv", None))
                .chain(trace_seeds().iter().map(|(name, text)| scratch(&format!("examples/{name}"), Some(text.as_bytes()))))
                .collect();
        }
        let whole_file = ["the trace is empty", "cannot tell the trace format"];
        FILES.with(|files| check(&files[pick.index(files.len())], &ms, &whole_file, move |path| {
            let cfg = TraceConfig {
                path: path.display().to_string(),
                format: None,
                time_scale: 1.0,
                start_secs: 0.0,
                duration_secs: None,
                max_requests: None,
                sort,
            };
            let records = inference_lab::io::trace::open(&path, &cfg).map_err(|e| e.to_string())?;
            for record in records {
                record.map_err(|e| e.to_string())?;
            }
            Ok(())
        }))?;
    }
}

/// The shipped tokenizer and its ChatML template, loaded once.
fn tokenizer_and_template() -> Arc<(PromptTokenizer, ChatTemplate)> {
    static LOADED: std::sync::OnceLock<Arc<(PromptTokenizer, ChatTemplate)>> =
        std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let tokenizer =
                PromptTokenizer::from_file(&shipped("examples/tokenizer.json")).unwrap();
            let template = ChatTemplate::load(
                &TemplateArg::File(shipped("examples/templates/chatml.jinja")),
                tokenizer.special_tokens(),
            )
            .unwrap();
            Arc::new((tokenizer, template))
        })
        .clone()
}

proptest! {
    #![proptest_config(settings(96))]

    /// Datasets (the first lines of the shipped sample, the template test's
    /// conversations), mutated, rendered and tokenized.
    #[test]
    fn mutated_datasets(pick in any::<prop::sample::Index>(), ms in mutations(json_lines())) {
        thread_local! {
            static FILES: Vec<Scratch> = {
                let sample = std::fs::read_to_string(shipped("examples/sample_dataset.jsonl")).unwrap();
                let head: String = sample.split_inclusive('\n').take(12).collect();
                vec![
                    scratch("examples/sample_dataset.jsonl", Some(head.as_bytes())),
                    scratch("tests/fixtures/templates/conversations.jsonl", None),
                ]
            };
        }
        let loaded = tokenizer_and_template();
        FILES.with(|files| check(&files[pick.index(files.len())], &ms, &["the dataset holds no prompts"], move |path| {
            let (tokenizer, template) = &*loaded;
            let builder = PromptBuilder::new(tokenizer, template, 16);
            let name = path.display().to_string();
            dataset::load(&path, &name, &builder, None, &mut |_| {}).map(drop).map_err(|e| e.to_string())
        }))?;
    }
}

proptest! {
    #![proptest_config(settings(96))]

    /// The shipped chat templates, mutated, rendering a conversation.
    #[test]
    fn mutated_chat_templates(pick in any::<prop::sample::Index>(), ms in mutations(vec![
        b"{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}".to_vec(),
        b"{{ messages * 100000 }}".to_vec(),
        nested("{% if true %}", "{% endif %}", "x", 10_000),
        nested("{{ (", ") }}", "1", 10_000),
        b"{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}".to_vec(),
        b"{{ undefined_thing.attr }}".to_vec(),
    ])) {
        thread_local! {
            static FILES: Vec<Scratch> = scratches(&shipped_files("examples/templates", ".jinja"));
        }
        let loaded = tokenizer_and_template();
        FILES.with(|files| check(&files[pick.index(files.len())], &ms, &[], move |path| {
            let template = ChatTemplate::load(&TemplateArg::File(path), loaded.0.special_tokens())
                .map_err(|e| e.to_string())?;
            let conversation = Conversation::parse(
                r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}], "max_tokens": 8}"#,
            )
            .unwrap();
            // A render error names the template's line; the dataset line it
            // belongs to is the caller's to add.
            let _ = template.render(&conversation);
            Ok(())
        }))?;
    }
}

proptest! {
    #![proptest_config(settings(48))]

    /// The shipped tokenizer.json, mutated; an accepted one tokenizes.
    #[test]
    fn mutated_tokenizers(ms in mutations(json_lines())) {
        thread_local! {
            static FILE: Scratch = scratch("examples/tokenizer.json", None);
        }
        FILE.with(|file| check(file, &ms, &["not a Hugging Face tokenizer.json"], |path| {
            let tokenizer = PromptTokenizer::from_file(&path).map_err(|e| e.to_string())?;
            let _ = tokenizer.token_ids("Hello, world: 12345 \u{1F600}", true);
            Ok(())
        }))?;
    }
}

/// The command lines of the binary-level cases, each reading one mutated
/// file (`FILE`), in the directory of the scratch copy.
fn binary_cases() -> Vec<(Scratch, Vec<String>)> {
    let config = |rel: &str| shipped(rel).display().to_string();
    let trace_config = |dir: &Path| {
        let path = dir.join("trace-config.toml");
        std::fs::write(
            &path,
            "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 8192\nmax_num_seqs = 64\n[workload]\ntrace = { path = 'trace.csv', max_requests = 50 }\n",
        )
        .unwrap();
        path.display().to_string()
    };
    let mut cases = vec![
        (
            scratch("configs/quick.toml", None),
            vec!["validate".into(), "FILE".into()],
        ),
        (
            scratch("configs/trace.toml", None),
            vec!["validate".into(), "FILE".into()],
        ),
        (
            scratch("sweeps/policies.toml", None),
            vec!["validate".into(), "FILE".into()],
        ),
        (
            scratch("tests/fixtures/h200-llama-3.1-8b-steps.csv", None),
            vec![
                "predict-steps".into(),
                "-c".into(),
                config("configs/h200-llama-3.1-8b.toml"),
                "--steps".into(),
                "FILE".into(),
                "-o".into(),
                "predicted.csv".into(),
            ],
        ),
    ];
    let measured = measured_seeds();
    let (name, text) = &measured[0];
    cases.push((
        scratch(&format!("tests/{name}"), Some(text.as_bytes())),
        vec![
            "compare".into(),
            "-c".into(),
            config("configs/quick.toml"),
            "--measured".into(),
            "FILE".into(),
            "-o".into(),
            "compared.json".into(),
        ],
    ));
    let trace = scratch("examples/trace.csv", None);
    let trace_args = vec![
        "-c".into(),
        trace_config(trace.path.parent().unwrap()),
        "-q".into(),
        "-o".into(),
        "run.json".into(),
    ];
    cases.push((trace, trace_args));
    cases
}

proptest! {
    #![proptest_config(settings(36))]

    /// Mutated files through the real binary: exit 0 or 1 (a bad input),
    /// never a panic (101) or a signal; a refusal is one `error:` line.
    #[test]
    fn the_binary_exits_with_a_documented_code(pick in any::<prop::sample::Index>(), ms in mutations(toml_lines())) {
        thread_local! {
            static CASES: Vec<(Scratch, Vec<String>)> = binary_cases();
        }
        CASES.with(|cases| {
            let (file, args) = &cases[pick.index(cases.len())];
            file.write(&ms);
            let dir = file.path.parent().unwrap();
            let path = file.path.display().to_string();
            let args: Vec<&str> = args.iter().map(|a| if a == "FILE" { path.as_str() } else { a }).collect();
            let o = run(dir, &args);
            let code = o.status.code();
            prop_assert!(matches!(code, Some(0 | 1)), "{args:?}: exit {code:?}: {}", stderr(&o));
            if code == Some(1) {
                let err = stderr(&o);
                prop_assert!(err.starts_with("error: ") && err.lines().count() == 1, "{args:?}: {err}");
                check_message(err.trim_end().trim_start_matches("error: "), &file.path, &[
                    "this is a sweep manifest", "this is a config file", "cannot read", "the trace is empty",
                    "cannot tell the trace format", "neither a vllm bench serve result", "no metric the simulator reports",
                ])?;
            }
            Ok(())
        })?;
    }
}

#[test]
fn each_mutation_changes_what_it_says() {
    let text = b"a = 1\nb = \"x y\"\nc = [-2.5e3, 7]\n";
    let cases: Vec<(Mutation, &[u8])> = vec![
        (
            Mutation::FlipBit { at: 4, bit: 1 },
            b"a = 3\nb = \"x y\"\nc = [-2.5e3, 7]\n",
        ),
        (
            Mutation::Delete { at: 6, len: 10 },
            b"a = 1\nc = [-2.5e3, 7]\n",
        ),
        (Mutation::Truncate { at: 5 }, b"a = 1"),
        (
            Mutation::DuplicateLine { line: 1, times: 2 },
            b"a = 1\nb = \"x y\"\nb = \"x y\"\nb = \"x y\"\nc = [-2.5e3, 7]\n",
        ),
        (
            Mutation::ReplaceValue {
                nth: 2,
                with: "NaN".into(),
            },
            b"a = 1\nb = \"x y\"\nc = [NaN, 7]\n",
        ),
        (
            Mutation::ReplaceValue {
                nth: 1,
                with: "[]".into(),
            },
            b"a = 1\nb = []\nc = [-2.5e3, 7]\n",
        ),
        (
            Mutation::InsertLine {
                line: 4,
                text: b"[x]".to_vec(),
            },
            b"a = 1\n[x]\nb = \"x y\"\nc = [-2.5e3, 7]\n",
        ),
        (Mutation::Empty, b""),
    ];
    for (m, expected) in cases {
        assert_eq!(
            String::from_utf8_lossy(&apply(text, &m)),
            String::from_utf8_lossy(expected),
            "{m:?}"
        );
    }
}
