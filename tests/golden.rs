//! Golden tests: today's results and formats, committed under `tests/golden/`.
//!
//! Two runs in one process can only show that the tool agrees with itself;
//! these compare the real binary's output on real files with committed files,
//! so that any change of results (a new random stream, a scheduler tweak) or of
//! a public format (a renamed column, a reworded error) fails here until it is
//! re-blessed on purpose: `INFERENCE_LAB_BLESS=1 cargo test --release --test
//! golden`, then review `git diff tests/golden/` (see tests/README.md).

mod common;
use arrow_array::{Float64Array, Int64Array};
use arrow_schema::{DataType, SchemaRef};
use common::snapshot::{assert_committed, assert_snapshot, diff};
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The small sweep whose tables are snapshotted (on `configs/quick.toml`).
const SWEEP: &str = "tests/golden/sweep.toml";

/// Arrivals pinned for seed 42.
const ARRIVALS: usize = 20;

/// The text a redacted value is replaced with.
const REDACTED: &str = "<redacted>";

/// Runs `configs/quick.toml` with `-o` and returns the JSON file's text.
fn quick_json_text(dir: &Path) -> String {
    let o = run_quick(dir, &["-q", "-o", "r.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::read_to_string(dir.join("r.json")).expect("the result was written")
}

/// The JSON result of `configs/quick.toml`, `simulation.wall_seconds` and
/// `simulation.version` checked and then redacted.
fn quick_result_redacted() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let text = quick_json_text(dir.path());
    let mut v: Value = serde_json::from_str(&text).expect("valid JSON");
    // The golden file holds the binary's own bytes, less the redacted values.
    assert_eq!(
        serde_json::to_string_pretty(&v).unwrap() + "\n",
        text,
        "the JSON result is no longer pretty-printed serde_json with a final newline"
    );
    let sim = &mut v["simulation"];
    assert_eq!(sim["version"], env!("CARGO_PKG_VERSION"));
    let wall = sim["wall_seconds"].as_f64();
    assert!(wall.is_some_and(|s| s >= 0.0), "wall_seconds: {wall:?}");
    sim["wall_seconds"] = REDACTED.into();
    sim["version"] = REDACTED.into();
    v
}

#[test]
fn the_json_result_of_quick_toml() {
    let v = quick_result_redacted();
    assert_snapshot(
        "quick.json",
        &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
    );
}

/// The JSON type of a leaf; integers and floats apart, as readers see them.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array (empty)",
        Value::Object(_) => "object (empty)",
    }
}

/// Every leaf's dotted path and type (array elements as `path[]`).
fn leaf_paths(path: &str, v: &Value, out: &mut BTreeSet<String>) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                leaf_paths(&child(key), value, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                leaf_paths(&format!("{path}[]"), item, out);
            }
        }
        _ => {
            out.insert(format!("{path}: {}", json_kind(v)));
        }
    }
}

#[test]
fn the_key_paths_of_the_json_result() {
    let dir = tempfile::tempdir().unwrap();
    let v: Value = serde_json::from_str(&quick_json_text(dir.path())).unwrap();
    let mut paths = BTreeSet::new();
    leaf_paths("", &v, &mut paths);
    let text: String = paths.iter().map(|p| format!("{p}\n")).collect();
    assert_snapshot("quick-json-paths.txt", &text);
}

/// The JSON Schemas under `schemas/` are what `inference-lab schema` prints
/// from the parser's field tables: a field added, renamed or re-documented
/// without regenerating them fails here (bless to regenerate).
#[test]
fn the_committed_json_schemas() {
    for kind in ["config", "sweep"] {
        let o = run(&repo(), &["schema", kind]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_committed(&format!("schemas/{kind}.schema.json"), &text);
    }
    // Every shipped config and manifest points editors at its schema.
    for (dir, schema) in [("configs", "config"), ("sweeps", "sweep")] {
        for path in toml_files(&repo().join(dir)) {
            let rel = path.strip_prefix(repo()).unwrap();
            if rel.starts_with("configs/hardware")
                || rel.starts_with("configs/models")
                || rel.starts_with("configs/calibration")
            {
                continue;
            }
            let depth = rel.components().count() - 1;
            let directive = format!(
                "#:schema {}schemas/{schema}.schema.json",
                "../".repeat(depth)
            );
            let first = fs::read_to_string(&path).unwrap();
            assert_eq!(
                first.lines().next(),
                Some(directive.as_str()),
                "{}",
                rel.display()
            );
        }
    }
}

fn toml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(toml_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_console_report_of_quick_toml() {
    let o = run(&repo(), &["-c", "configs/quick.toml", "--no-color"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "nothing on stderr in a pipe");
    let text = stdout(&o);
    let header = format!("inference-lab {}:", env!("CARGO_PKG_VERSION"));
    assert_eq!(text.matches(&header).count(), 1, "{text}");
    let text = text.replace(&header, "inference-lab <version>:");
    let mut walls = 0;
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            let Some(at) = line.find("Wall time") else {
                return line.to_string();
            };
            walls += 1;
            let (label, rest) = line.split_at(at + "Wall time".len());
            let value = rest.trim_start();
            let seconds = value.strip_suffix(" s").and_then(|s| s.parse::<f64>().ok());
            assert!(seconds.is_some(), "wall time {value:?}");
            let pad = &rest[..rest.len() - value.len()];
            format!("{label}{pad}{REDACTED} s")
        })
        .collect();
    assert_eq!(walls, 1, "{text}");
    assert_snapshot("quick-report.txt", &lines.join("\n"));
}

/// Runs the golden sweep (with `--per-request`) into `dir/out`.
fn golden_sweep(dir: &Path) -> std::path::PathBuf {
    let manifest = shipped(SWEEP);
    let o = run(
        dir,
        &[
            "sweep",
            manifest.to_str().unwrap(),
            "-q",
            "--per-request",
            "-o",
            "out",
        ],
    );
    // Its min = 500, max = 100 points fail: failed rows are part of the tables.
    assert_failure(&o, 3, "4 of 16 runs failed");
    dir.join("out")
}

/// The schemas of a Parquet file written by the tool: Arrow, and Parquet as text.
fn parquet_schemas(path: &Path) -> (SchemaRef, String) {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let mut text = Vec::new();
    parquet::schema::printer::print_schema(&mut text, builder.parquet_schema().root_schema());
    (builder.schema().clone(), String::from_utf8(text).unwrap())
}

/// How a CSV cell of a column of Arrow type `ty` is written.
fn csv_kind(cell: &str, ty: &DataType) -> &'static str {
    if cell.is_empty() {
        "empty"
    } else if *ty == DataType::Boolean && (cell == "true" || cell == "false") {
        "bool"
    } else if *ty == DataType::Utf8 {
        "text"
    } else if cell.parse::<i64>().is_ok() {
        "integer"
    } else if cell.parse::<f64>().is_ok() {
        "float"
    } else {
        "text"
    }
}

/// The snapshot of one table: each column's name, Arrow type, nullability
/// and (with a CSV twin) how the CSV writes its cells, then the Parquet schema.
fn table_snapshot(out: &Path, table: &str, with_csv: bool) -> String {
    let (schema, parquet_schema) = parquet_schemas(&out.join(format!("{table}.parquet")));
    let kinds: Vec<String> = if with_csv {
        let path = out.join(format!("{table}.csv"));
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(&path)
            .unwrap();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(rows[0], names, "{table}.csv and {table}.parquet columns");
        assert!(rows.len() > 1, "{table}.csv has no rows");
        schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let kinds: BTreeSet<&str> = rows[1..]
                    .iter()
                    .map(|row| csv_kind(&row[i], field.data_type()))
                    .collect();
                format!("csv: {}", kinds.into_iter().collect::<Vec<_>>().join("|"))
            })
            .collect()
    } else {
        vec![String::new(); schema.fields().len()]
    };
    let width = schema
        .fields()
        .iter()
        .map(|f| f.name().len())
        .max()
        .unwrap();
    let mut text = format!(
        "# {table}.parquet{}: name, Arrow type, nullability{}\n",
        if with_csv {
            format!(" and {table}.csv")
        } else {
            String::new()
        },
        if with_csv {
            ", how the CSV writes the cells"
        } else {
            ""
        }
    );
    text.push_str(&format!("# (the sweep {SWEEP}, with --per-request)\n"));
    for (field, kind) in schema.fields().iter().zip(kinds) {
        let line = format!(
            "{:width$}  {:8}  {:8}  {kind}",
            field.name(),
            field.data_type().to_string(),
            if field.is_nullable() {
                "nullable"
            } else {
                "not null"
            },
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push_str("\n# The Parquet schema\n");
    text.push_str(&parquet_schema);
    text
}

#[test]
fn the_columns_and_types_of_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = golden_sweep(dir.path());
    assert_snapshot("runs-columns.txt", &table_snapshot(&out, "runs", true));
    assert_snapshot(
        "summary-columns.txt",
        &table_snapshot(&out, "summary", true),
    );
    assert_snapshot(
        "requests-columns.txt",
        &table_snapshot(&out, "requests", false),
    );
}

#[test]
fn the_first_arrivals_of_seed_42() {
    // configs/quick.toml (seed 42) as the one point of a sweep, for its
    // per-request table.
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = [42]\n",
    );
    let o = run(
        dir.path(),
        &["sweep", m.to_str().unwrap(), "-q", "--per-request"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let requests = read_parquet(&dir.path().join("out/requests.parquet"));
    let request = column::<Int64Array>(&requests, "request_id");
    let arrival = column::<Float64Array>(&requests, "arrival_secs");
    let input = column::<Int64Array>(&requests, "input_tokens");
    let output = column::<Int64Array>(&requests, "output_tokens");
    let mut rows: Vec<_> = (0..requests.num_rows())
        .map(|i| {
            (
                request.value(i),
                arrival.value(i),
                input.value(i),
                output.value(i),
            )
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(ids, (0..100).collect::<Vec<_>>(), "every request completes");
    let mut text = String::from("request_id,arrival_secs,input_tokens,output_tokens\n");
    for (request, arrival, input, output) in rows.into_iter().take(ARRIVALS) {
        text.push_str(&format!("{request},{arrival},{input},{output}\n"));
    }
    assert_snapshot("quick-arrivals.csv", &text);
}

// ---------------------------------------------------------------------------
// The error catalogue: representative bad inputs, each with the exit code and
// the exact stderr the binary gives today (tests/golden/errors.txt).

/// A small valid config with the short forms (presets by name, inline tables).
const MINIMAL: &str = include_str!("fixtures/minimal.toml");

/// A dataset-mode config reading `data.jsonl`, with no output_len_dist.
const DATASET_CONFIG: &str = "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 8192\nmax_num_seqs = 64\n[workload]\ndataset_path = 'data.jsonl'\narrival_pattern = 'fixed_rate'\narrival_rate = 10.0\n";

/// A good dataset line: one user message, at most 2 output tokens.
const GOOD_LINE: &str =
    r#"{"body": {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 2}}"#;

/// The step table header of `predict-steps`.
const STEPS_HEADER: &str = "kind,num_seqs,new_tokens_per_seq,context_tokens,prefill_chunk_tokens";

/// One bad input: files written into an empty directory, then one command.
struct Case {
    /// What is wrong (the catalogue entry's heading).
    title: &'static str,
    /// What the files hold, for the reader of the catalogue.
    input: String,
    /// Files to write: name and text.
    files: Vec<(&'static str, String)>,
    /// The arguments, run in that directory.
    args: Vec<String>,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn shipped_text(rel: &str) -> String {
    fs::read_to_string(shipped(rel)).unwrap()
}

/// `bad.toml` written from `text`, run with `-c bad.toml -q`.
fn config_case(title: &'static str, input: String, text: String) -> Case {
    Case {
        title,
        input,
        files: vec![("bad.toml", text)],
        args: strings(&["-c", "bad.toml", "-q"]),
    }
}

/// `configs/quick.toml` with its first `from` replaced by `to`.
fn quick_case(title: &'static str, from: &str, to: &str) -> Case {
    let text = shipped_text("configs/quick.toml");
    assert!(text.contains(from), "{from:?} is not in quick.toml");
    config_case(
        title,
        format!("bad.toml: configs/quick.toml with {from:?} -> {to:?}"),
        text.replacen(from, to, 1),
    )
}

/// `tests/fixtures/minimal.toml` with its first `from` replaced by `to`.
fn minimal_case(title: &'static str, from: &str, to: &str) -> Case {
    assert!(MINIMAL.contains(from), "{from:?} is not in MINIMAL");
    config_case(
        title,
        format!("bad.toml: tests/fixtures/minimal.toml with {from:?} -> {to:?}"),
        MINIMAL.replacen(from, to, 1),
    )
}

/// A whole config text.
fn text_case(title: &'static str, text: &str) -> Case {
    config_case(title, format!("bad.toml: {text:?}"), text.to_string())
}

/// A dataset `data.jsonl` of `lines`, run with the shipped tokenizer.
fn dataset_case(title: &'static str, lines: &[&str]) -> Case {
    let tokenizer = shipped("examples/tokenizer.json");
    Case {
        title,
        input: format!("c.toml: DATASET; data.jsonl: {lines:?}"),
        files: vec![
            ("c.toml", DATASET_CONFIG.to_string()),
            ("data.jsonl", lines.join("\n") + "\n"),
        ],
        args: strings(&[
            "-c",
            "c.toml",
            "--tokenizer",
            tokenizer.to_str().unwrap(),
            "--chat-template",
            "None",
            "-q",
        ]),
    }
}

/// A sweep manifest on a copy of `configs/quick.toml`, followed by `body`.
fn manifest_case(title: &'static str, body: &str) -> Case {
    let manifest =
        format!("[sweep]\nname = \"t\"\nbase = \"quick.toml\"\noutput = \"out\"\n{body}");
    Case {
        title,
        input: format!("m.toml: {manifest:?}; quick.toml: configs/quick.toml"),
        files: vec![
            ("m.toml", manifest),
            ("quick.toml", shipped_text("configs/quick.toml")),
        ],
        args: strings(&["sweep", "m.toml", "-q"]),
    }
}

/// A step table for `predict-steps` on `configs/h200-llama-3.1-8b.toml`.
fn steps_case(title: &'static str, header: &str, body: &str) -> Case {
    let table = format!("{header}\n{body}\n");
    Case {
        title,
        input: format!("steps.csv: {table:?}; c.toml: configs/h200-llama-3.1-8b.toml"),
        files: vec![
            ("steps.csv", table),
            ("c.toml", shipped_text("configs/h200-llama-3.1-8b.toml")),
        ],
        args: strings(&["predict-steps", "-c", "c.toml", "--steps", "steps.csv"]),
    }
}

/// Arguments alone (usage errors), in an empty directory but for `files`.
fn args_case(
    title: &'static str,
    input: &str,
    files: Vec<(&'static str, String)>,
    args: &[&str],
) -> Case {
    Case {
        title,
        input: input.to_string(),
        files,
        args: strings(args),
    }
}

fn catalogue() -> Vec<Case> {
    let quick = || vec![("quick.toml", shipped_text("configs/quick.toml"))];
    let h200 = shipped_text("configs/h200-llama-3.1-8b.toml");
    let calibrated = |calibration: &str| {
        h200.replacen(
            "preset = \"h200\"",
            &format!("preset = \"h200\"\ncalibration = {calibration}"),
            1,
        )
    };
    vec![
        // Config files: TOML, sections, fields.
        text_case("malformed TOML", "[scheduler\nmax_num_seqs = 4\n"),
        quick_case("an unknown section, with a hint", "[scheduler]", "[schedulerx]"),
        text_case("a missing section", "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n"),
        quick_case("a missing required field", "max_num_seqs = 256\n", ""),
        quick_case("an unknown field, with a hint", "policy = \"fcfs\"", "polcy = \"fcfs\""),
        quick_case("an unknown field of a distribution, with a hint", "mean = 6.9", "maen = 6.9"),
        quick_case("a string for an integer", "max_num_seqs = 256", "max_num_seqs = \"many\""),
        quick_case("a string for a number", "arrival_rate = 2.0", "arrival_rate = \"fast\""),
        // Values out of range.
        quick_case("an unknown policy, with a hint", "policy = \"fcfs\"", "policy = \"fcsf\""),
        quick_case("an unknown policy, with the choices", "policy = \"fcfs\"", "policy = \"fifo\""),
        quick_case("a negative arrival rate", "arrival_rate = 2.0", "arrival_rate = -2.0"),
        quick_case("a zero arrival rate", "arrival_rate = 2.0", "arrival_rate = 0.0"),
        quick_case("a zero step budget", "max_num_batched_tokens = 8192", "max_num_batched_tokens = 0"),
        quick_case("a negative max_num_seqs", "max_num_seqs = 256", "max_num_seqs = -1"),
        quick_case("a zero max_num_seqs", "max_num_seqs = 256", "max_num_seqs = 0"),
        quick_case("a zero block size", "block_size = 16", "block_size = 0"),
        quick_case("zero requests", "num_requests = 100", "num_requests = 0"),
        quick_case("neither num_requests nor duration_secs", "num_requests = 100\n", ""),
        quick_case("a negative KV cache", "kv_cache_capacity = 68719476736", "kv_cache_capacity = -5"),
        quick_case("closed loop without users", "arrival_pattern = \"poisson\"", "arrival_pattern = \"closed_loop\""),
        quick_case("min above max", "type = \"lognormal\"\nmean = 5.3\nstd_dev = 0.8", "type = \"uniform\"\nmin = 10\nmax = 5"),
        quick_case("a negative standard deviation", "type = \"lognormal\"\nmean = 5.3\nstd_dev = 0.8", "type = \"normal\"\nmean = 9.0\nstd_dev = -3.0"),
        quick_case("an unknown distribution", "type = \"lognormal\"\nmean = 5.3\nstd_dev = 0.8", "type = \"zipf\""),
        quick_case("a zero fixed length", "type = \"lognormal\"\nmean = 6.9\nstd_dev = 0.7", "type = \"fixed\"\nvalue = 0"),
        // Hardware and model.
        minimal_case("an unknown hardware preset, with a hint", "\"h100\"", "\"h10\""),
        minimal_case("a number for the hardware", "hardware = \"h100\"", "hardware = 5"),
        minimal_case("custom hardware without memory_capacity", "hardware = \"h100\"", "hardware = { name = 'x', compute_flops = 1e15, memory_bandwidth = 1e12, bytes_per_param = 2 }"),
        quick_case("a model that does not fit", "kv_cache_capacity = 68719476736", "gpu_memory_utilization = 0.9"),
        quick_case("a KV cache smaller than one block", "kv_cache_capacity = 68719476736", "kv_cache_capacity = 4096"),
        // Files that are missing or cannot be written.
        args_case("a missing config file", "(no files)", vec![], &["-c", "nope.toml"]),
        args_case("an unwritable -o", "quick.toml: configs/quick.toml", quick(), &["-c", "quick.toml", "-q", "-o", "missing-dir/r.json"]),
        config_case("a missing calibration file", "bad.toml: configs/h200-llama-3.1-8b.toml with calibration = \"missing.toml\"".into(), calibrated("\"missing.toml\"")),
        Case {
            title: "a calibration file with a value out of range",
            input: "bad.toml: configs/h200-llama-3.1-8b.toml with calibration = \"cal.toml\"; cal.toml: \"bandwidth_efficiency = 91\\n\"".into(),
            files: vec![("bad.toml", calibrated("\"cal.toml\"")), ("cal.toml", "bandwidth_efficiency = 91\n".into())],
            args: strings(&["-c", "bad.toml", "-q"]),
        },
        Case {
            title: "a missing dataset file",
            input: "c.toml: DATASET with 'data.jsonl' -> 'nope.jsonl'".into(),
            files: vec![("c.toml", DATASET_CONFIG.replace("data.jsonl", "nope.jsonl"))],
            args: strings(&["-c", "c.toml", "--tokenizer", shipped("examples/tokenizer.json").to_str().unwrap(), "--chat-template", "None", "-q"]),
        },
        Case {
            title: "a missing tokenizer file",
            input: format!("c.toml: DATASET; data.jsonl: [{GOOD_LINE:?}]"),
            files: vec![("c.toml", DATASET_CONFIG.into()), ("data.jsonl", format!("{GOOD_LINE}\n"))],
            args: strings(&["-c", "c.toml", "--tokenizer", "nope.json", "--chat-template", "None", "-q"]),
        },
        Case {
            title: "a dataset config without --tokenizer and --chat-template",
            input: format!("c.toml: DATASET; data.jsonl: [{GOOD_LINE:?}]"),
            files: vec![("c.toml", DATASET_CONFIG.into()), ("data.jsonl", format!("{GOOD_LINE}\n"))],
            args: strings(&["-c", "c.toml", "-q"]),
        },
        // Dataset lines.
        dataset_case("a dataset line that is not JSON", &[GOOD_LINE, "{\"messages\": ["]),
        dataset_case("a dataset line without messages", &["{\"body\": {\"max_tokens\": 3}}"]),
        dataset_case("a dataset line with an unknown role", &[r#"{"body": {"messages": [{"role": "usr", "content": "hello"}], "max_tokens": 2}}"#]),
        dataset_case("a dataset line without max_tokens and no output_len_dist", &[GOOD_LINE, r#"{"body": {"messages": [{"role": "user", "content": "hello"}]}}"#]),
        dataset_case("a dataset without prompts", &["", ""]),
        // Sweep manifests.
        manifest_case("a manifest that is not TOML", "[grid\n"),
        manifest_case("a manifest with nothing to sweep", ""),
        manifest_case("a manifest key with a typo, with a hint", "[grid]\n\"scheduler.polcy\" = [\"fcfs\"]\n"),
        manifest_case("a manifest value of the wrong type", "[grid]\n\"scheduler.max_num_seqs\" = [\"many\"]\n"),
        manifest_case("zipped lists of different lengths", "[grid]\n\"workload.seed\" = [1]\n[[zip]]\n\"workload.arrival_rate\" = [1.0]\n\"workload.num_requests\" = [1, 2]\n"),
        args_case("a manifest whose base config is missing", "m.toml: \"[sweep]\\nname = \\\"t\\\"\\nbase = \\\"nope.toml\\\"\\n[grid]\\n\\\"workload.seed\\\" = [1]\\n\"", vec![("m.toml", "[sweep]\nname = \"t\"\nbase = \"nope.toml\"\n[grid]\n\"workload.seed\" = [1]\n".into())], &["sweep", "m.toml"]),
        // Step tables (predict-steps, calibrate).
        steps_case("a step table without a column", "kind,num_seqs,new_tokens_per_seq,prefill_chunk_tokens", "decode,8,1,0"),
        steps_case("a negative step count", STEPS_HEADER, "decode,8,1,512,0\ndecode,8,1,-512,0"),
        steps_case("an unknown step kind, after a blank line", STEPS_HEADER, "decode,8,1,512,0\n\nchunked,8,1,512,0"),
        steps_case("a negative measured time", &format!("{STEPS_HEADER},median_ms"), "decode,8,1,512,0,-5"),
        args_case("a missing step table", "c.toml: configs/h200-llama-3.1-8b.toml", vec![("c.toml", h200.clone())], &["predict-steps", "-c", "c.toml", "--steps", "nope.csv"]),
        // Usage errors.
        args_case("an unknown flag", "(no files)", vec![], &["--no-such-flag"]),
        args_case("a seed that is not a number", "(no files)", vec![], &["--seed", "abc"]),
        args_case("validate without files", "(no files)", vec![], &["validate"]),
        args_case("zero jobs", "m.toml: a valid manifest", vec![("m.toml", "[sweep]\nname = \"t\"\nbase = \"quick.toml\"\n[grid]\n\"workload.seed\" = [1]\n".into()), ("quick.toml", shipped_text("configs/quick.toml"))], &["sweep", "m.toml", "-j", "0"]),
    ]
}

/// Runs one case and returns its catalogue entry, checking what holds for
/// every bad input: a failure's exit code of the table (1 bad input, 2
/// usage, 3 a failed run, 4 an unwritable output), no panic, no file
/// written, and, except for clap's usage messages, exactly one line on stderr.
fn catalogue_entry(case: &Case) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &case.files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let o = run(dir.path(), &args);
    let code = o.status.code();
    let err = stderr(&o);
    let what = case.title;
    assert!(matches!(code, Some(1..=4)), "{what}: exit {code:?}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    if code != Some(2) {
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{what}: not one line: {err}"
        );
        assert!(err.starts_with("error: "), "{what}: {err}");
    }
    let left: BTreeSet<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let written: BTreeSet<String> = case.files.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(left, written, "{what}: bad input wrote files");
    let redact = |text: &str| {
        let mut text = text.replace(&repo().display().to_string(), "<repo>");
        for path in [dir.path().to_path_buf(), dir.path().canonicalize().unwrap()] {
            text = text.replace(&path.display().to_string(), "<tmp>");
        }
        text
    };
    let mut entry = format!(
        "## {what}\ninput: {}\n$ inference-lab {}\nexit code {}\n{}",
        redact(&case.input),
        redact(&case.args.join(" ")),
        code.unwrap_or(-1),
        redact(err.trim_end())
    );
    let out = stdout(&o);
    if !out.is_empty() {
        entry.push_str(&format!("\nstdout:\n{}", redact(out.trim_end())));
    }
    entry.push_str("\n\n");
    entry
}

#[test]
fn the_error_catalogue() {
    let cases = catalogue();
    let titles: BTreeSet<&str> = cases.iter().map(|c| c.title).collect();
    assert_eq!(titles.len(), cases.len(), "titles are unique");
    let mut text = format!(
        "# The error catalogue: bad inputs, the exit code and the exact stderr of each.\n\
         # Written by tests/golden.rs (cases in catalogue()); bless with INFERENCE_LAB_BLESS=1.\n\
         # DATASET: {DATASET_CONFIG:?}\n\n"
    );
    for case in &cases {
        text.push_str(&catalogue_entry(case));
    }
    assert_snapshot("errors.txt", &text);
}

// ---------------------------------------------------------------------------
// The snapshot helper itself.

#[test]
fn a_snapshot_diff_shows_the_changed_lines_with_some_context() {
    let d = diff("a\nb\nc\nd\n", "a\nB\nc\nd\n");
    assert!(d.starts_with("first difference at line 2:\n"), "{d}");
    assert!(d.contains("-    2 | b\n+    2 | B\n"), "{d}");
    assert!(
        d.contains("     1 | a\n") && d.contains("     3 | c\n"),
        "{d}"
    );
    let d = diff("a\nc\n", "a\nb\nc\n");
    assert!(d.contains("+    2 | b\n"), "{d}");
    assert!(!d.contains("-    "), "an insertion removes nothing: {d}");
    // Two changes far apart: two hunks, not the lines between them.
    let old: String = (0..30).map(|i| format!("{i}\n")).collect();
    let new: String = (0..30)
        .map(|i| match i {
            3 => "three\n".to_string(),
            25 => "twenty-five\n".to_string(),
            _ => format!("{i}\n"),
        })
        .collect();
    let d = diff(&old, &new);
    assert!(d.contains("-    4 | 3\n+    4 | three\n"), "{d}");
    assert!(d.contains("-   26 | 25\n+   26 | twenty-five\n"), "{d}");
    assert!(d.contains("  ...\n") && !d.contains("| 15\n"), "{d}");
    let long: String = (0..60).map(|i| format!("{i}\n")).collect();
    assert!(diff("", &long).contains("... (more differences)"));
}
