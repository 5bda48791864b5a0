//! The bare `inference-lab` command, exactly as the user guide uses it.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn run_to_json(dir: &std::path::Path, config: &str, extra: &[&str]) -> serde_json::Value {
    let out = dir.join("r.json");
    let mut args = vec!["-c", config, "-q", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    json(&out)
}

#[test]
fn json_output_has_every_documented_key() {
    let dir = tempfile::tempdir().unwrap();
    let quick = shipped("configs/quick.toml");
    let v = run_to_json(dir.path(), quick.to_str().unwrap(), &[]);
    for key in [
        "config",
        "latency_metrics",
        "throughput_metrics",
        "utilization",
        "preemptions",
        "prefix_cache",
        "requests",
        "simulation",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for m in ["ttft_ms", "e2e_ms", "per_token_ms"] {
        for s in ["min", "mean", "p50", "p90", "p95", "p99", "max"] {
            assert!(v["latency_metrics"][m][s].is_f64(), "{m}.{s}");
        }
    }
    for k in [
        "input_tokens_per_sec",
        "output_tokens_per_sec",
        "requests_per_sec",
    ] {
        assert!(v["throughput_metrics"][k].as_f64().unwrap() > 0.0, "{k}");
    }
    for k in ["avg_kv_cache_util", "avg_flops_util", "avg_bandwidth_util"] {
        let u = v["utilization"][k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&u) && u > 0.0, "{k} = {u}");
    }
    assert!(v["preemptions"]["total"].is_u64());
    assert!(v["preemptions"]["per_request_mean"].is_f64());
    for k in ["hits", "misses", "hit_rate"] {
        assert!(v["prefix_cache"].get(k).is_some(), "{k}");
    }
    assert_eq!(v["requests"]["total"], 100);
    assert_eq!(
        v["requests"]["completed"].as_u64().unwrap() + v["requests"]["rejected"].as_u64().unwrap(),
        100
    );
    for k in ["simulated_seconds", "steps", "wall_seconds", "version"] {
        assert!(v["simulation"].get(k).is_some(), "{k}");
    }
    // The config is fully resolved: presets expanded, defaults filled.
    assert_eq!(v["config"]["hardware"]["name"], "H100-SXM5-80GB");
    assert_eq!(v["config"]["scheduler"]["block_size"], 16);
    assert_eq!(v["config"]["model"]["head_dim"], 128);
}

fn without_wall_time(mut v: serde_json::Value) -> serde_json::Value {
    v["simulation"]["wall_seconds"] = serde_json::Value::Null;
    v
}

#[test]
fn same_config_and_seed_give_byte_identical_json_minus_wall_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = shipped("configs/config.toml");
    let c = config.to_str().unwrap();
    let a = run_to_json(dir.path(), c, &["--seed", "7"]);
    let b = run_to_json(dir.path(), c, &["--seed", "7"]);
    assert_eq!(
        serde_json::to_string(&without_wall_time(a.clone())).unwrap(),
        serde_json::to_string(&without_wall_time(b)).unwrap()
    );
    assert_eq!(a["config"]["workload"]["seed"], 7);
    let other = run_to_json(dir.path(), c, &["--seed", "8"]);
    assert_ne!(a["latency_metrics"], other["latency_metrics"]);
}

#[test]
fn without_c_it_reads_config_toml_or_runs_the_builtin_default() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["-o", "default.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("built-in default"), "{}", stderr(&o));
    let builtin = json(&dir.path().join("default.json"));
    assert_eq!(builtin["config"]["model"]["name"], "Llama-3-70B");
    assert_eq!(builtin["config"]["workload"]["arrival_pattern"], "poisson");
    // The built-in default is configs/config.toml.
    let shipped_default = run_to_json(
        dir.path(),
        shipped("configs/config.toml").to_str().unwrap(),
        &[],
    );
    assert_eq!(
        builtin["latency_metrics"],
        shipped_default["latency_metrics"]
    );

    fs::copy(
        shipped("configs/quick.toml"),
        dir.path().join("config.toml"),
    )
    .unwrap();
    let o = run(dir.path(), &["-q", "-o", "local.json"]);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("built-in default"));
    assert_eq!(
        json(&dir.path().join("local.json"))["requests"]["total"],
        100
    );
}

#[test]
fn console_report_has_every_block_and_no_escape_codes_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_quick(dir.path(), &[]);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in [
        "Latency (ms)",
        "TTFT",
        "E2E",
        "Per-token",
        "p50",
        "p99",
        "Throughput",
        "Input tokens/s",
        "Output tokens/s",
        "Requests/s",
        "Utilization",
        "KV cache",
        "FLOPS",
        "Bandwidth",
        "Preemptions",
        "Per request",
        "Prefix cache",
        "Hits",
        "Hit rate",
        "Tokens saved",
        "Summary",
        "Requests completed",
        "Simulated time",
        "Wall time",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in\n{text}");
    }
    assert!(!text.contains('\x1b'), "escape codes in a pipe");
    assert!(!stderr(&o).contains('\x1b'), "escape codes on stderr");
}

#[test]
fn quiet_prints_nothing_but_still_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_quick(dir.path(), &["-q", "-o", "q.json"]);
    assert!(o.status.success());
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).is_empty());
    assert!(dir.path().join("q.json").exists());
}

#[test]
fn verbose_logs_steps_and_debug_logs_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let q = shipped("configs/quick.toml");
    let o = run(dir.path(), &["-c", q.to_str().unwrap(), "-v"]);
    assert!(o.status.success());
    let log = stderr(&o);
    assert!(log.lines().any(|l| l.starts_with("step      100")), "{log}");
    let o = run(dir.path(), &["-c", q.to_str().unwrap(), "--debug", "-q"]);
    let log = stderr(&o);
    assert!(log.contains("admitted request 0"), "{log}");
    assert!(log.contains("finished request 0"), "{log}");
}

/// Every `.toml` file under `dir`, recursively, sorted.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(toml_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Validates the config `text`, written as `dir/name`.
fn validates(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
    let o = run(dir, &["validate", name]);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    assert!(stdout(&o).contains("ok: "), "{name}: {}", stdout(&o));
}

/// Every file under configs/, checked as what its folder holds: presets as
/// presets (through a config that names them), calibrations through a config
/// that reads them, validation stages as configs that validate (tests/serving.rs
/// runs them), and everything else as a config that validates and runs
/// (dataset configs with the shipped tokenizer, as their comments say).
#[test]
fn every_shipped_config_runs_and_every_preset_validates() {
    let dir = tempfile::tempdir().unwrap();
    let root = shipped("configs");
    let files = toml_files(&root);
    assert!(files.contains(&root.join("quick.toml")), "{files:?}");
    let tokenizer = shipped("examples/tokenizer.json");
    let h200 = fs::read_to_string(shipped("configs/h200-llama-3.1-8b.toml")).unwrap();
    for path in files {
        let rel = path.strip_prefix(&root).unwrap();
        let name = rel.display().to_string();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let folder = rel.parent().and_then(Path::to_str).unwrap_or("");
        match folder {
            "hardware" => validates(
                dir.path(),
                "preset.toml",
                &format!("hardware = {stem:?}\nmodel = 'llama-3.1-8b'\n{SMALL_REST}"),
            ),
            "models" => validates(
                dir.path(),
                "preset.toml",
                // Eight B200s at fp8 hold every shipped model (405B included).
                &format!("hardware = {{ preset = 'b200', bytes_per_param = 1 }}\nmodel = {stem:?}\n[deployment]\ntensor_parallel_size = 8\n{SMALL_REST}"),
            ),
            "calibration" => validates(
                dir.path(),
                "calibrated.toml",
                &h200.replacen(
                    "preset = \"h200\"",
                    &format!("preset = \"h200\"\ncalibration = {:?}", path.display().to_string()),
                    1,
                ),
            ),
            "" | "bench" => {
                let o = run(dir.path(), &["validate", path.to_str().unwrap()]);
                assert!(o.status.success(), "{name}: {}", stderr(&o));
                let text = fs::read_to_string(&path).unwrap();
                let table: toml::Table = toml::from_str(&text).unwrap();
                let dataset = table["workload"].get("dataset_path").is_some();
                let flags = ["--tokenizer", tokenizer.to_str().unwrap(), "--chat-template", "None"];
                let extra: &[&str] = if dataset { &flags } else { &[] };
                let v = run_to_json(dir.path(), path.to_str().unwrap(), extra);
                assert!(v["requests"]["completed"].as_u64().unwrap() > 0, "{name}");
                if stem == "preemption-free" {
                    assert_eq!(v["preemptions"]["total"], 0);
                }
                if stem == "closed-loop" {
                    assert_eq!(v["config"]["workload"]["num_concurrent_users"], 64);
                }
            }
            // Simulated in full, against the measurements, by tests/serving.rs.
            "validation" => {
                let o = run(dir.path(), &["validate", path.to_str().unwrap()]);
                assert!(o.status.success(), "{name}: {}", stderr(&o));
            }
            other => panic!("configs/{other}/: a folder this test does not know how to check"),
        }
    }
}

/// The sections after `hardware` and `model` of a small valid config.
const SMALL_REST: &str = "[scheduler]\nmax_num_batched_tokens = 8192\nmax_num_seqs = 256\n[workload]\narrival_pattern = 'poisson'\narrival_rate = 4.0\nnum_requests = 100\ninput_len_dist = { type = 'fixed', value = 100 }\noutput_len_dist = { type = 'fixed', value = 10 }\n";

#[test]
fn overload_far_above_capacity_still_finishes_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let long = fs::read_to_string(shipped("configs/long.toml")).unwrap();
    let overload = long
        .replace("arrival_rate = 2.0", "arrival_rate = 10.0")
        .replace("num_requests = 40000", "num_requests = 20000");
    assert_ne!(long, overload);
    fs::write(dir.path().join("overload.toml"), overload).unwrap();
    let v = run_to_json(dir.path(), "overload.toml", &[]);
    let r = &v["requests"];
    assert_eq!(r["total"], 20000);
    assert_eq!(
        r["completed"].as_u64().unwrap() + r["rejected"].as_u64().unwrap(),
        20000
    );
    // Far above capacity: the queue grows and requests wait.
    assert!(v["latency_metrics"]["ttft_ms"]["p50"].as_f64().unwrap() > 10_000.0);
}

#[test]
fn dataset_flags_without_a_dataset_path_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_quick(
        dir.path(),
        &["--tokenizer", "t.json", "--chat-template", "None"],
    );
    assert_eq!(o.status.code(), Some(2), "a usage error");
    let e = stderr(&o);
    assert!(
        e.contains("--tokenizer and --chat-template given, but")
            && e.contains("quick.toml has no workload.dataset_path"),
        "{e}"
    );
}

#[test]
fn set_overrides_fields_by_dotted_key_before_validation() {
    let dir = tempfile::tempdir().unwrap();
    let quick = shipped("configs/quick.toml");
    let quick = quick.to_str().unwrap();
    let v = run_to_json(
        dir.path(),
        quick,
        &[
            "--set",
            "scheduler.policy=sof",
            "--set",
            "workload.num_requests=10",
            "--set",
            "workload.input_len_dist={ type = 'fixed', value = 64 }",
        ],
    );
    assert_eq!(v["config"]["scheduler"]["policy"], "sof");
    assert_eq!(v["requests"]["total"], 10);
    assert_eq!(v["config"]["workload"]["input_len_dist"]["value"], 64);
    // A preset name replaces the section; fields go on top, as in sweeps.
    let v = run_to_json(
        dir.path(),
        quick,
        &[
            "--set",
            "hardware=h200",
            "--set",
            "hardware.kv_cache_capacity=20e9",
            "--seed",
            "7",
        ],
    );
    assert_eq!(v["config"]["hardware"]["name"], "H200-SXM-141GB");
    assert_eq!(
        v["config"]["hardware"]["kv_cache_capacity"],
        20_000_000_000u64
    );
    assert_eq!(v["config"]["workload"]["seed"], 7);
    // Values are validated like the file's own, with the dotted path.
    let o = run(dir.path(), &["-c", quick, "--set", "scheduler.polcy=sof"]);
    assert_error(
        &o,
        "scheduler.polcy: unknown field 'polcy'; did you mean 'policy'?",
    );
    let o = run(dir.path(), &["-c", quick, "--set", "workload.seed.x=1"]);
    assert_failure(
        &o,
        2,
        "cannot set workload.seed.x: workload.seed is the integer",
    );
    let o = run(dir.path(), &["-c", quick, "--set", "policy"]);
    assert_failure(&o, 2, "expected KEY=VALUE");
}

#[test]
fn absurd_work_is_warned_about_at_once_and_ctrl_c_stops_it() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let quick = fs::read_to_string(shipped("configs/quick.toml")).unwrap();
    for (name, limit, what) in [
        (
            "huge.toml",
            "num_requests = 1000000000000",
            "about 1e12 requests",
        ),
        (
            "forever.toml",
            "duration_secs = 1e300",
            "about 2e300 requests",
        ),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, quick.replace("num_requests = 100", limit)).unwrap();
        let (mut child, line, took) =
            first_stderr_line(dir.path(), &["-c", path.to_str().unwrap(), "-q"]);
        assert!(
            line.starts_with(&format!("warning: this run simulates {what}: about "))
                && line.contains(" of CPU and ")
                && line.ends_with(" of memory; Ctrl-C stops it\n"),
            "{name}: {line:?}"
        );
        // Well within a second on an idle machine; the bound leaves room for
        // a loaded one.
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
        interrupt(&child);
        let status = child.wait().unwrap();
        assert!(
            status.code() == Some(130) || status.signal() == Some(2),
            "{name}: {status}"
        );
    }
    // Legitimate work, even large, goes on without a word.
    let o = run_quick(dir.path(), &["--set", "workload.num_requests=20000"]);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}
