//! `inference-lab compare`: a config simulated against measured files of
//! each format, written here, with the simulator's own `-o` JSON as the
//! reference for the simulated column; and what bad measured files do.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The `-o` JSON of a run of the quick config with `extra` flags.
fn simulated(dir: &Path, extra: &[&str]) -> Value {
    let out = dir.join("run.json");
    let mut args = vec!["-q", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run_quick(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    json(&out)
}

/// `compare` of the quick config against `measured` with `extra` flags:
/// its stdout and its `-o` JSON.
fn compare(dir: &Path, measured: &Path, extra: &[&str]) -> (String, Value) {
    let quick = shipped("configs/quick.toml");
    let out = dir.join("compare.json");
    let mut args = vec![
        "compare",
        "-c",
        quick.to_str().unwrap(),
        "--measured",
        measured.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--no-color",
    ];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    (stdout(&o), json(&out))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The row of `metric` in a comparison.
fn row<'a>(comparison: &'a Value, metric: &str) -> &'a Value {
    comparison["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == metric)
        .unwrap_or_else(|| panic!("no row {metric} in {comparison:#}"))
}

/// Checks that `metric` was compared with the simulated value `sim` (the
/// run's own), the `measured` value and their relative error.
fn check(comparison: &Value, metric: &str, sim: f64, measured: f64) {
    let r = row(comparison, metric);
    assert_eq!(number(&r["simulated"]), sim, "{metric}");
    assert!(
        (number(&r["measured"]) - measured).abs() < 1e-9 * measured,
        "{metric}"
    );
    let error = number(&r["relative_error"]);
    assert!(
        (error - (sim / measured - 1.0)).abs() < 1e-12,
        "{metric}: {error}"
    );
}

#[test]
fn a_vllm_result_is_compared_key_by_key_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let reference = simulated(dir.path(), &[]);
    let lat = &reference["latency_metrics"];
    let thr = &reference["throughput_metrics"];
    let ttft_mean = number(&lat["ttft_ms"]["mean"]);
    let total = number(&thr["input_tokens_per_sec"]) + number(&thr["output_tokens_per_sec"]);
    let file = json!({
        "date": "20260301-120000", "backend": "vllm", "model_id": "meta-llama/Meta-Llama-3-70B",
        "num_prompts": 100, "request_rate": 2.0, "burstiness": 1.0, "max_concurrency": null,
        "duration": 60.0, "completed": 100, "failed": 0,
        "total_input_tokens": 127000, "total_output_tokens": 27500,
        "request_throughput": 1.6, "request_goodput": null,
        "output_throughput": 450.0, "total_token_throughput": 2500.0,
        "input_lens": [1270], "output_lens": [275], "ttfts": [0.2], "itls": [[0.02]],
        "generated_texts": ["x"], "errors": [""],
        "mean_ttft_ms": ttft_mean * 1.1, "median_ttft_ms": 150.0, "std_ttft_ms": 40.0,
        "p99_ttft_ms": 900.0,
        "mean_tpot_ms": 30.0, "median_tpot_ms": 29.0, "std_tpot_ms": 3.0, "p99_tpot_ms": 45.0,
        "mean_itl_ms": 30.0, "median_itl_ms": 28.0, "std_itl_ms": 9.0, "p99_itl_ms": 80.0,
        "mean_e2el_ms": 9000.0, "median_e2el_ms": 8000.0, "std_e2el_ms": 2000.0,
        "p90_e2el_ms": 15000.0, "p99_e2el_ms": 20000.0,
    });
    let path = write(dir.path(), "vllm-result.json", &file.to_string());
    let (text, c) = compare(dir.path(), &path, &[]);
    assert_eq!(c["format"], "vllm");
    let cases = [
        ("ttft_ms_mean", ttft_mean, ttft_mean * 1.1),
        ("ttft_ms_p50", number(&lat["ttft_ms"]["p50"]), 150.0),
        ("ttft_ms_p99", number(&lat["ttft_ms"]["p99"]), 900.0),
        (
            "per_token_ms_mean",
            number(&lat["per_token_ms"]["mean"]),
            30.0,
        ),
        (
            "per_token_ms_p50",
            number(&lat["per_token_ms"]["p50"]),
            29.0,
        ),
        (
            "per_token_ms_p99",
            number(&lat["per_token_ms"]["p99"]),
            45.0,
        ),
        ("e2e_ms_mean", number(&lat["e2e_ms"]["mean"]), 9000.0),
        ("e2e_ms_p50", number(&lat["e2e_ms"]["p50"]), 8000.0),
        ("e2e_ms_p90", number(&lat["e2e_ms"]["p90"]), 15000.0),
        ("e2e_ms_p99", number(&lat["e2e_ms"]["p99"]), 20000.0),
        ("requests_per_sec", number(&thr["requests_per_sec"]), 1.6),
        (
            "output_tokens_per_sec",
            number(&thr["output_tokens_per_sec"]),
            450.0,
        ),
        ("total_tokens_per_sec", total, 2500.0),
        (
            "requests_completed",
            number(&reference["requests"]["completed"]),
            100.0,
        ),
        (
            "requests_total",
            number(&reference["requests"]["total"]),
            100.0,
        ),
        (
            "simulated_seconds",
            number(&reference["simulation"]["simulated_seconds"]),
            60.0,
        ),
    ];
    for (metric, sim, measured) in cases {
        check(&c, metric, sim, measured);
    }
    assert_eq!(c["metrics"].as_array().unwrap().len(), cases.len());
    assert_eq!(row(&c, "ttft_ms_mean")["source"], "mean_ttft_ms");
    assert_eq!(row(&c, "requests_completed")["averaged"], false);
    let skipped: Vec<&str> = c["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for key in [
        "std_ttft_ms",
        "mean_itl_ms",
        "p99_itl_ms",
        "failed",
        "total_input_tokens",
        "request_rate",
    ] {
        assert!(skipped.contains(&key), "{key} not in {skipped:?}");
    }
    for key in ["date", "ttfts", "request_goodput", "mean_ttft_ms"] {
        assert!(!skipped.contains(&key), "{key} in {skipped:?}");
    }
    // The MAPE is over the 13 latency and throughput rows, not the 3 facts of the run.
    assert_eq!(c["mape_metrics"], 13);
    let errors: Vec<f64> = c["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["averaged"] == true)
        .map(|m| number(&m["relative_error"]).abs())
        .collect();
    let mape = errors.iter().sum::<f64>() / errors.len() as f64;
    assert!((number(&c["mape"]) - mape).abs() < 1e-12);
    // The console shows each row with its signed error, and the summary.
    let ttft_line = text.lines().find(|l| l.contains("ttft_ms_mean")).unwrap();
    assert!(
        ttft_line.contains("-9.1%") && ttft_line.contains("mean_ttft_ms"),
        "{ttft_line}"
    );
    assert!(
        text.contains(&format!("MAPE {:.1}% over 13 metrics", mape * 100.0)),
        "{text}"
    );
    assert!(
        text.contains("not averaged: requests_total, requests_completed, simulated_seconds"),
        "{text}"
    );
    assert!(text.contains("Skipped, no simulator counterpart"), "{text}");
}

#[test]
fn inference_perf_seconds_become_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let reference = simulated(dir.path(), &[]);
    let lat = &reference["latency_metrics"];
    let file = json!({
        "benchmark_time_seconds": 62.5,
        "load_summary": {"count": 100, "send_duration": 49.5, "requested_rate": 2.0, "achieved_rate": 2.02},
        "successes": {
            "count": 100,
            "latency": {
                "request_latency": {"mean": 8.0, "min": 1.0, "max": 30.0, "p0.1": 1.0, "median": 7.5, "p90": 14.0, "p95": 17.0, "p99": 21.0, "p99.9": 29.0},
                "normalized_time_per_output_token": {"mean": 0.04},
                "time_per_output_token": {"mean": 0.031, "median": 0.03},
                "time_to_first_token": {"mean": 0.25, "median": 0.2, "p90": 0.5, "p99": 1.0},
                "inter_token_latency": {"mean": 0.03, "median": 0.029},
            },
            "throughput": {"input_tokens_per_sec": 2000.0, "output_tokens_per_sec": 440.0, "total_tokens_per_sec": 2440.0, "requests_per_sec": 1.6},
            "prompt_tokens": {"total": 127000.0, "mean": 1270.0},
        },
        "failures": {"count": 0, "request_latency": null},
    });
    let path = write(
        dir.path(),
        "stage_0_lifecycle_metrics.json",
        &file.to_string(),
    );
    let (text, c) = compare(dir.path(), &path, &[]);
    assert_eq!(c["format"], "inference-perf");
    for (metric, stat, key, secs) in [
        ("e2e_ms", "mean", "request_latency", 8.0),
        ("e2e_ms", "min", "request_latency", 1.0),
        ("e2e_ms", "max", "request_latency", 30.0),
        ("e2e_ms", "p50", "request_latency", 7.5),
        ("e2e_ms", "p90", "request_latency", 14.0),
        ("e2e_ms", "p95", "request_latency", 17.0),
        ("e2e_ms", "p99", "request_latency", 21.0),
        ("per_token_ms", "mean", "time_per_output_token", 0.031),
        ("per_token_ms", "p50", "time_per_output_token", 0.03),
        ("ttft_ms", "mean", "time_to_first_token", 0.25),
        ("ttft_ms", "p50", "time_to_first_token", 0.2),
        ("ttft_ms", "p90", "time_to_first_token", 0.5),
        ("ttft_ms", "p99", "time_to_first_token", 1.0),
    ] {
        let name = format!("{metric}_{stat}");
        check(&c, &name, number(&lat[metric][stat]), secs * 1000.0);
        let source = row(&c, &name)["source"].as_str().unwrap().to_string();
        assert!(
            source.starts_with(&format!("successes.latency.{key}.")),
            "{source}"
        );
    }
    let thr = &reference["throughput_metrics"];
    check(
        &c,
        "input_tokens_per_sec",
        number(&thr["input_tokens_per_sec"]),
        2000.0,
    );
    check(
        &c,
        "requests_per_sec",
        number(&thr["requests_per_sec"]),
        1.6,
    );
    check(
        &c,
        "simulated_seconds",
        number(&reference["simulation"]["simulated_seconds"]),
        62.5,
    );
    let skipped = c["skipped"].to_string();
    for key in [
        "successes.latency.request_latency.p0.1",
        "successes.latency.request_latency.p99.9",
        "successes.latency.inter_token_latency",
        "successes.latency.normalized_time_per_output_token",
    ] {
        assert!(skipped.contains(key), "{key} not in {skipped}");
    }
    assert!(text.contains("inference-perf lifecycle metrics"), "{text}");
}

#[test]
fn a_csv_in_the_simulators_names_with_overrides_matches_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--set", "workload.arrival_rate=4", "--seed", "7"];
    let reference = simulated(dir.path(), &flags);
    let path = write(
        dir.path(),
        "measured.txt",
        "metric,value\n# from my client\nttft_ms_p90,500\navg_kv_cache_util,0.25\nrequests_per_sec,3.5\n",
    );
    let mut extra = vec!["--format", "csv"];
    extra.extend_from_slice(&flags);
    let (_, c) = compare(dir.path(), &path, &extra);
    assert_eq!(c["format"], "csv");
    check(
        &c,
        "ttft_ms_p90",
        number(&reference["latency_metrics"]["ttft_ms"]["p90"]),
        500.0,
    );
    check(
        &c,
        "avg_kv_cache_util",
        number(&reference["utilization"]["avg_kv_cache_util"]),
        0.25,
    );
    check(
        &c,
        "requests_per_sec",
        number(&reference["throughput_metrics"]["requests_per_sec"]),
        3.5,
    );
    assert_eq!(row(&c, "ttft_ms_p90")["source"], "line 3");
    assert_eq!(c["skipped"], json!([]));
    assert_eq!(c["mape_metrics"], 3);
    // -q: nothing on stdout, the -o file still written.
    let out = dir.path().join("quiet.json");
    let quick = shipped("configs/quick.toml");
    let o = run(
        dir.path(),
        &[
            "compare",
            "-c",
            quick.to_str().unwrap(),
            "--measured",
            path.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(json(&out)["metrics"].is_array());
}

#[test]
fn bad_measured_files_fail_with_the_file_the_field_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let quick = shipped("configs/quick.toml");
    let out = dir.path().join("c.json");
    let attempt = |measured: &Path, extra: &[&str]| {
        let mut args = vec![
            "compare",
            "-c",
            quick.to_str().unwrap(),
            "--measured",
            measured.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };
    let missing = dir.path().join("missing.json");
    assert_error(&attempt(&missing, &[]), "cannot read measured file");
    let cases: [(&str, &str, &[&str], String); 7] = [
        ("truncated.json", "{\"mean_ttft_ms\": 1.0,", &[], "truncated.json: not valid JSON".into()),
        (
            "text.json",
            "{\"mean_ttft_ms\": \"fast\"}",
            &[],
            "text.json: mean_ttft_ms: expected a number (milliseconds), got \"fast\"".into(),
        ),
        (
            "seconds.json",
            "{\"successes\": {\"latency\": {\"time_to_first_token\": {\"mean\": [0.2]}}}}",
            &[],
            "seconds.json: successes.latency.time_to_first_token.mean: expected a number (seconds), got [0.2]".into(),
        ),
        (
            "nothing.json",
            "{\"date\": \"x\", \"std_ttft_ms\": 3}",
            &["--format", "vllm"],
            "nothing.json: no metric the simulator reports; a vllm bench serve result holds keys such as mean_ttft_ms".into(),
        ),
        (
            "unknown.json",
            "{\"backend\": \"vllm\"}",
            &[],
            "unknown.json: neither a vllm bench serve result".into(),
        ),
        (
            "typo.csv",
            "metric,value\nttft_ms_p99x,3\n",
            &[],
            "typo.csv: line 2: 'ttft_ms_p99x' is not a metric column of the runs table; did you mean 'ttft_ms_p99'?".into(),
        ),
        (
            "value.csv",
            "metric,value\nttft_ms_p99,n/a\n",
            &[],
            "value.csv: line 2: ttft_ms_p99: expected a number of at least 0, got 'n/a'".into(),
        ),
    ];
    for (name, text, extra, message) in cases {
        let path = write(dir.path(), name, text);
        let o = attempt(&path, extra);
        assert_error(&o, &message);
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
        assert!(!out.exists(), "{name}: -o written on error");
    }
    let good = write(dir.path(), "good.csv", "metric,value\nttft_ms_p99,300\n");
    assert_failure(
        &attempt(&good, &["--format", "excel"]),
        2,
        "invalid value 'excel'",
    );
    assert_failure(&attempt(&good, &["--set", "scheduler.policy"]), 2, "--set");
    assert_error(
        &attempt(&good, &["--set", "scheduler.polcy=fcfs"]),
        "did you mean 'policy'?",
    );
    let nowhere = dir.path().join("no-such-dir").join("c.json");
    let o = run(
        dir.path(),
        &[
            "compare",
            "-c",
            quick.to_str().unwrap(),
            "--measured",
            good.to_str().unwrap(),
            "-q",
            "-o",
            nowhere.to_str().unwrap(),
        ],
    );
    assert_failure(&o, 4, "cannot write the comparison to");
}
