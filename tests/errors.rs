//! Bad input: one line naming the file and the dotted field, exit code 1, never a panic.
//! Usage errors: exit code 2.

mod common;
use common::*;
use std::fs;

/// Writes `text` as `bad.toml`, runs it, and returns the one-line error.
fn error_for(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("bad.toml"), text).unwrap();
    let o = run(dir.path(), &["-c", "bad.toml", "-q"]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: bad.toml: "), "{err}");
    err
}

fn quick_with(from: &str, to: &str) -> String {
    let text = fs::read_to_string(shipped("configs/quick.toml")).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

#[test]
fn malformed_toml() {
    let e = error_for("[scheduler\nmax_num_seqs = 4\n");
    assert!(e.contains("invalid TOML: line 1"), "{e}");
}

#[test]
fn missing_section() {
    let text = quick_with("[scheduler]", "[schedulerx]");
    let e = error_for(&text);
    assert!(
        e.contains("schedulerx: unknown section 'schedulerx'; did you mean 'scheduler'?"),
        "{e}"
    );
    let e = error_for("hardware = 'h100'\nmodel = 'llama-3.1-8b'\n");
    assert!(
        e.contains("scheduler: missing required section [scheduler]"),
        "{e}"
    );
}

#[test]
fn missing_field() {
    let e = error_for(&quick_with("max_num_seqs = 256\n", ""));
    assert!(
        e.contains("scheduler.max_num_seqs: missing required field"),
        "{e}"
    );
}

#[test]
fn wrong_type() {
    let e = error_for(&quick_with("max_num_seqs = 256", "max_num_seqs = \"many\""));
    assert!(
        e.contains(
            "scheduler.max_num_seqs: expected a non-negative integer, got the string \"many\""
        ),
        "{e}"
    );
}

#[test]
fn negative_or_zero_rates_sizes_and_block_size() {
    for (from, to, field) in [
        (
            "arrival_rate = 2.0",
            "arrival_rate = -2.0",
            "workload.arrival_rate",
        ),
        (
            "arrival_rate = 2.0",
            "arrival_rate = 0.0",
            "workload.arrival_rate",
        ),
        (
            "max_num_batched_tokens = 8192",
            "max_num_batched_tokens = 0",
            "scheduler.max_num_batched_tokens",
        ),
        (
            "max_num_seqs = 256",
            "max_num_seqs = -1",
            "scheduler.max_num_seqs",
        ),
        ("block_size = 16", "block_size = 0", "scheduler.block_size"),
        (
            "num_requests = 100",
            "num_requests = 0",
            "workload.num_requests",
        ),
        (
            "kv_cache_capacity = 68719476736",
            "kv_cache_capacity = -5",
            "hardware.kv_cache_capacity",
        ),
    ] {
        let e = error_for(&quick_with(from, to));
        assert!(e.contains(&format!("bad.toml: {field}: expected")), "{e}");
    }
}

#[test]
fn model_that_does_not_fit_in_memory() {
    let e = error_for(&quick_with(
        "kv_cache_capacity = 68719476736",
        "gpu_memory_utilization = 0.9",
    ));
    assert!(
        e.contains("hardware.memory_capacity: the model does not fit"),
        "{e}"
    );
}

#[test]
fn kv_cache_that_cannot_hold_one_block() {
    let e = error_for(&quick_with(
        "kv_cache_capacity = 68719476736",
        "kv_cache_capacity = 4096",
    ));
    assert!(
        e.contains("hardware.kv_cache_capacity: the KV cache (4.0 KiB) cannot hold one block"),
        "{e}"
    );
}

#[test]
fn unknown_key_and_policy_get_hints() {
    let e = error_for(&quick_with("policy = \"fcfs\"", "polcy = \"fcfs\""));
    assert!(
        e.contains("scheduler.polcy: unknown field 'polcy'; did you mean 'policy'?"),
        "{e}"
    );
    let e = error_for(&quick_with("policy = \"fcfs\"", "policy = \"fcsf\""));
    assert!(e.contains("did you mean 'fcfs'?"), "{e}");
}

#[test]
fn closed_loop_without_users() {
    let e = error_for(&quick_with(
        "arrival_pattern = \"poisson\"",
        "arrival_pattern = \"closed_loop\"",
    ));
    assert!(
        e.contains("workload.num_concurrent_users: missing required field"),
        "{e}"
    );
}

#[test]
fn min_above_max() {
    let e = error_for(&quick_with(
        "type = \"lognormal\"\nmean = 5.3\nstd_dev = 0.8",
        "type = \"uniform\"\nmin = 10\nmax = 5",
    ));
    assert!(
        e.contains("workload.output_len_dist.min: expected min <= max (5), got 10"),
        "{e}"
    );
}

#[test]
fn missing_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["-c", "nope.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot read config file 'nope.toml'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_quick(dir.path(), &["-q", "-o", "missing-dir/r.json"]);
    assert_eq!(o.status.code(), Some(4), "an output error");
    assert!(
        stderr(&o).contains("cannot write results to 'missing-dir/r.json'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["--no-such-flag"]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["--seed", "abc"]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["validate"]).status.code(), Some(2));
}

#[test]
fn validate_checks_without_running() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("bad.toml"),
        quick_with("block_size = 16", "block_size = 0"),
    )
    .unwrap();
    let good = shipped("configs/config.toml");
    let o = run(
        dir.path(),
        &["validate", good.to_str().unwrap(), "bad.toml"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("ok: "));
    assert!(
        stderr(&o).contains("bad.toml: scheduler.block_size"),
        "{}",
        stderr(&o)
    );
}
