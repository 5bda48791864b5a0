//! Runs in which every request is rejected: their latencies, throughput and
//! preemptions per request are null (never 0 ms), the console names the
//! limit that rejected them, and in a sweep they never win a best point.

mod common;
use arrow_array::{Array, Float64Array, Int64Array};
use common::*;
use std::fs;
use std::path::Path;

/// `configs/quick.toml` with 3,000-token prompts, chunked prefill off and
/// 20 requests, written to `dir/c.toml`: a token budget below 3,000
/// rejects every request.
fn fixed_prompts_without_chunking(dir: &Path) -> String {
    let quick = fs::read_to_string(shipped("configs/quick.toml")).unwrap();
    let config = quick
        .replace(
            "type = \"lognormal\"\nmean = 6.9\nstd_dev = 0.7",
            "type = \"fixed\"\nvalue = 3000",
        )
        .replace(
            "enable_chunked_prefill = true",
            "enable_chunked_prefill = false",
        )
        .replace("num_requests = 100", "num_requests = 20");
    assert!(config.contains("value = 3000") && config.contains("= false"));
    fs::write(dir.join("c.toml"), config).unwrap();
    "c.toml".into()
}

#[test]
fn a_run_whose_every_request_is_rejected_has_null_metrics_and_names_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixed_prompts_without_chunking(dir.path());
    let o = run(
        dir.path(),
        &[
            "-c",
            &config,
            "--set",
            "scheduler.max_num_batched_tokens=2048",
            "-o",
            "r.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&dir.path().join("r.json"));
    for dist in ["ttft_ms", "e2e_ms", "per_token_ms"] {
        let stats = r["latency_metrics"][dist].as_object().unwrap();
        assert_eq!(stats.len(), 7, "{dist}: one key per statistic");
        assert!(stats.values().all(|v| v.is_null()), "{dist}: {stats:?}");
    }
    let rates = r["throughput_metrics"].as_object().unwrap();
    assert!(rates.values().all(|v| v.is_null()), "{rates:?}");
    assert!(r["preemptions"]["per_request_mean"].is_null());
    assert_eq!(r["requests"]["completed"], 0);
    assert_eq!(r["requests"]["rejected"], 20);
    assert_eq!(r["requests"]["rejected_by"]["token_budget"], 20);
    let text = stdout(&o);
    assert!(
        text.contains(
            "0 of 20 (20 rejected: 20 with a prompt over the token budget (max_num_batched_tokens 2048, chunked prefill off))"
        ),
        "{text}"
    );
    let ttft = text.lines().find(|l| l.contains("TTFT")).unwrap();
    assert!(!ttft.contains("0.00"), "{ttft}");
}

#[test]
fn a_run_without_rejections_has_no_rejected_by() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_quick(dir.path(), &["-q", "-o", "r.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&dir.path().join("r.json"));
    assert_eq!(r["requests"]["rejected"], 0);
    assert!(
        r["requests"].get("rejected_by").is_none(),
        "{}",
        r["requests"]
    );
}

#[test]
fn a_sweep_point_whose_every_request_is_rejected_never_wins_a_best_point() {
    let dir = tempfile::tempdir().unwrap();
    fixed_prompts_without_chunking(dir.path());
    fs::write(
        dir.path().join("m.toml"),
        "[sweep]\nname = \"t\"\nbase = \"c.toml\"\noutput = \"out\"\n[grid]\n\"scheduler.max_num_batched_tokens\" = [2048, 4096]\n\"workload.seed\" = [1, 2]\n",
    )
    .unwrap();
    let o = run(dir.path(), &["sweep", "m.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let best: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Best points"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(best.len(), 8, "{text}");
    for line in best {
        assert!(
            line.ends_with("scheduler.max_num_batched_tokens=4096"),
            "{line}"
        );
    }
    // The runs of budget 2048 completed nothing: null cells, in both tables.
    let runs = read_parquet(&dir.path().join("out/runs.parquet"));
    let budget = column::<Int64Array>(&runs, "scheduler.max_num_batched_tokens");
    let completed = column::<Int64Array>(&runs, "requests_completed");
    for name in [
        "ttft_ms_p50",
        "output_tokens_per_sec",
        "preemptions_per_request_mean",
    ] {
        let values = column::<Float64Array>(&runs, name);
        for i in 0..runs.num_rows() {
            let rejected_all = budget.value(i) == 2048;
            assert_eq!(completed.value(i) == 0, rejected_all);
            assert_eq!(values.is_null(i), rejected_all, "{name}, row {i}");
        }
    }
    let summary = read_parquet(&dir.path().join("out/summary.parquet"));
    let mean = column::<Float64Array>(&summary, "ttft_ms_p50_mean");
    assert_eq!((mean.null_count(), summary.num_rows()), (1, 2));
    // Resume trusts the null cells: nothing is redone.
    let o = run(dir.path(), &["sweep", "m.toml", "--resume"]);
    assert!(stdout(&o).contains("4 ok (4 reused)"), "{}", stdout(&o));
}
