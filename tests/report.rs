//! Summaries, `sweep report` and `--plot`: the real binary end to end.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn manifest(dir: &Path, grid: &str) -> PathBuf {
    let path = dir.join("m.toml");
    let base = shipped("configs/quick.toml");
    fs::write(
        &path,
        format!(
            "[sweep]\nname = \"t\"\nbase = {:?}\noutput = \"out\"\n[grid]\n{grid}",
            base.display().to_string()
        ),
    )
    .unwrap();
    path
}

const GRID: &str = "\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n\"scheduler.max_num_batched_tokens\" = [2048, 8192]\n\"workload.seed\" = { range = [1, 3] }\n";

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn sweep(dir: &Path, grid: &str) -> PathBuf {
    let m = manifest(dir, grid);
    let o = run(dir, &["sweep", m.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    dir.join("out")
}

#[test]
fn the_summary_folds_the_seeds_of_each_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = sweep(dir.path(), GRID);
    let (rh, runs) = read_csv(&out.join("runs.csv"));
    let (sh, summary) = read_csv(&out.join("summary.csv"));
    assert_eq!(runs.len(), 12);
    assert_eq!(summary.len(), 4);
    assert_eq!(
        &sh[..6],
        [
            "sweep",
            "scheduler.policy",
            "scheduler.max_num_batched_tokens",
            "runs",
            "failed_runs",
            "seeds"
        ]
    );
    let rc = |n: &str| rh.iter().position(|h| h == n).unwrap();
    let sc = |n: &str| sh.iter().position(|h| h == n).unwrap();
    // Recompute the first configuration's statistics from its three runs.
    let values: Vec<f64> = runs
        .iter()
        .filter(|r| {
            r[rc("scheduler.policy")] == "fcfs"
                && r[rc("scheduler.max_num_batched_tokens")] == "2048"
        })
        .map(|r| r[rc("ttft_ms_p99")].parse().unwrap())
        .collect();
    assert_eq!(values.len(), 3);
    let mean = values.iter().sum::<f64>() / 3.0;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 2.0).sqrt();
    let row = &summary[0];
    let get = |n: &str| row[sc(n)].parse::<f64>().unwrap();
    assert_eq!(row[sc("seeds")], "3");
    assert_eq!(row[sc("failed_runs")], "0");
    assert!((get("ttft_ms_p99_mean") - mean).abs() <= 1e-9 * mean.abs().max(1.0));
    assert!((get("ttft_ms_p99_std") - std).abs() <= 1e-9 * std.max(1.0));
    let ci = 4.303 * std / 3f64.sqrt();
    assert!((get("ttft_ms_p99_ci95") - ci).abs() <= 1e-9 * ci.max(1.0));
    assert!(out.join("summary.parquet").is_file());
}

#[test]
fn without_a_seed_key_each_run_is_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = sweep(dir.path(), "\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n");
    let (sh, summary) = read_csv(&out.join("summary.csv"));
    assert_eq!(summary.len(), 2);
    let std = sh.iter().position(|h| h == "e2e_ms_p50_std").unwrap();
    assert!(
        summary.iter().all(|r| r[std].is_empty()),
        "no spread of one run"
    );
}

#[test]
fn sweep_report_writes_one_page_with_every_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out = sweep(dir.path(), GRID);
    let o = run(dir.path(), &["sweep", "report", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = fs::read_to_string(out.join("report.html")).unwrap();
    // Eight key metrics against the budget, plus the scatter; two policies
    // of two budgets each.
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 9);
    assert_eq!(
        page.matches(r#"data-series="2" data-points="4""#).count(),
        9
    );
    assert!(page.contains(r#"data-chart="ttft_ms_p50 vs scheduler.max_num_batched_tokens""#));
    assert!(page.contains(r#"<g class="front""#));
    assert!(page.contains("manifest_hash"), "sweep.json is shown");
    assert!(!page.contains("https://") && !page.contains("<script src"));

    // Without summary.parquet (an older sweep) the runs are summarized.
    fs::remove_file(out.join("summary.parquet")).unwrap();
    let custom = dir.path().join("r.html");
    let o = run(
        dir.path(),
        &[
            "sweep",
            "report",
            out.to_str().unwrap(),
            "-o",
            custom.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let again = fs::read_to_string(&custom).unwrap();
    assert_eq!(again.matches("<svg class=\"chart\"").count(), 9);
}

#[test]
fn sweep_report_of_a_wrong_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["sweep", "report", "nowhere"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("'nowhere' is not a directory"),
        "{}",
        stderr(&o)
    );
    let o = run(dir.path(), &["sweep", "report", "."]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("neither summary.parquet nor runs.parquet"),
        "{}",
        stderr(&o)
    );
    let o = run(dir.path(), &["sweep", "report"]);
    assert_eq!(o.status.code(), Some(2), "usage error");
}

#[test]
fn plot_writes_the_run_page() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_quick(dir.path(), &["-q", "--plot", "run.html", "-o", "r.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = fs::read_to_string(dir.path().join("run.html")).unwrap();
    let completed = json(&dir.path().join("r.json"))["requests"]["completed"]
        .as_u64()
        .unwrap();
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 6);
    for chart in ["ttft cdf", "e2e cdf"] {
        let marker = format!(r#"data-chart="{chart}" data-series="1" data-points="{completed}""#);
        assert!(page.contains(&marker), "{marker}");
    }
    assert!(page.contains(r#"data-chart="queues" data-series="2""#));
    let o = run_quick(dir.path(), &["-q", "--plot", "no/such/dir/run.html"]);
    assert_eq!(o.status.code(), Some(4), "an output error");
    assert!(
        stderr(&o).contains("cannot write the plot"),
        "{}",
        stderr(&o)
    );
}
