//! `inference-lab sweep`: the real binary on real manifests, tables read back
//! with the parquet crate.

mod common;
use arrow_array::{Array, Float64Array, Int64Array, StringArray};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SMALL_GRID: &str = "[grid]\n\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n\"scheduler.max_num_batched_tokens\" = [2048, 8192]\n\"workload.seed\" = { range = [1, 2] }\n";

#[test]
fn the_table_has_one_typed_row_per_point() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", SMALL_GRID);
    let o = run(
        dir.path(),
        &["sweep", m.to_str().unwrap(), "-q", "--run-files"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.path().join("out");
    let batch = read_parquet(&out.join("runs.parquet"));
    assert_eq!(batch.num_rows(), 8);
    // Every column's name and type: tests/golden/runs-columns.txt.
    let points = column::<Int64Array>(&batch, "point");
    assert_eq!(points.values().to_vec(), (0..8).collect::<Vec<i64>>());
    let policy = column::<StringArray>(&batch, "scheduler.policy");
    assert_eq!(policy.value(0), "fcfs");
    assert_eq!(policy.value(7), "sof");
    let seeds = column::<Int64Array>(&batch, "workload.seed");
    assert_eq!(seeds.values().to_vec(), [1, 2, 1, 2, 1, 2, 1, 2]);
    let status = column::<StringArray>(&batch, "status");
    assert!((0..8).all(|i| status.value(i) == "ok"));
    let completed = column::<Int64Array>(&batch, "requests_completed");
    assert!(completed.values().iter().all(|&c| c == 100));

    // Each row's JSON result (--run-files) exists and agrees with the table
    // and the CSV; the run store holds every run once.
    let ids = column::<StringArray>(&batch, "run_id");
    let ttft = column::<Float64Array>(&batch, "ttft_ms_p50");
    let csv = csv_without_wall_time(&out.join("runs.csv"));
    let csv_ttft = csv[0].iter().position(|h| h == "ttft_ms_p50").unwrap();
    for i in 0..8 {
        let result = json(&out.join("runs").join(format!("{}.json", ids.value(i))));
        assert_eq!(
            result["latency_metrics"]["ttft_ms"]["p50"].as_f64(),
            Some(ttft.value(i))
        );
        assert_eq!(
            result["config"]["workload"]["seed"].as_i64(),
            Some(seeds.value(i))
        );
        assert_eq!(csv[i + 1][csv_ttft].parse::<f64>().unwrap(), ttft.value(i));
    }
    let mut stored = stored_runs(&out);
    stored.sort();
    let mut in_table: Vec<String> = (0..8).map(|i| ids.value(i).to_string()).collect();
    in_table.sort();
    assert_eq!(stored, in_table);
    let meta = json(&out.join("sweep.json"));
    assert_eq!(meta["points"], 8);
    assert_eq!(meta["ok"], 8);
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    assert!(meta["shard"].is_null());
}

#[test]
fn one_and_two_threads_write_the_same_tables() {
    same_tables_with_one_and_two_threads("configs/quick.toml", SMALL_GRID);
}

#[test]
fn one_and_two_threads_write_the_same_tables_for_deployments() {
    same_tables_with_one_and_two_threads(
        "configs/replicas.toml",
        "[grid]\n\"deployment.router\" = [\"round_robin\", \"least_outstanding\", \"least_kv\", \"prefix_affinity\"]\n\"deployment.replicas\" = [1, 3]\n\"workload.num_requests\" = [300]\n",
    );
}

/// Sweeps `grid` over `base` with one and with two threads and compares
/// the tables, wall times aside.
fn same_tables_with_one_and_two_threads(base: &str, grid: &str) {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", base, grid);
    for (jobs, out) in [("1", "j1"), ("2", "j2")] {
        let o = run(
            dir.path(),
            &["sweep", m.to_str().unwrap(), "-q", "-j", jobs, "-o", out],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let (a, b) = (dir.path().join("j1"), dir.path().join("j2"));
    assert_eq!(
        csv_without_wall_time(&a.join("runs.csv")),
        csv_without_wall_time(&b.join("runs.csv"))
    );
    let (pa, pb) = (
        read_parquet(&a.join("runs.parquet")),
        read_parquet(&b.join("runs.parquet")),
    );
    assert_eq!(pa.schema(), pb.schema());
    for (i, field) in pa.schema().fields().iter().enumerate() {
        if field.name() != "wall_seconds" {
            assert_eq!(pa.column(i), pb.column(i), "{}", field.name());
        }
    }
}

#[test]
fn an_invalid_combination_is_one_failed_row_among_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.input_len_dist\" = [{ type = \"uniform\", min = 1, max = 1 }]\n\"workload.input_len_dist.min\" = [10, 500]\n\"workload.input_len_dist.max\" = [100, 1000]\n",
    );
    let o = run(dir.path(), &["sweep", m.to_str().unwrap(), "-q"]);
    assert_failure(&o, 3, "1 of 4 runs failed");
    let batch = read_parquet(&dir.path().join("out/runs.parquet"));
    assert_eq!(batch.num_rows(), 4);
    let status = column::<StringArray>(&batch, "status");
    let error = column::<StringArray>(&batch, "error");
    let ttft = column::<Float64Array>(&batch, "ttft_ms_p50");
    for i in 0..4 {
        if i == 2 {
            assert_eq!(status.value(i), "failed");
            assert!(
                error.value(i).contains("workload.input_len_dist.min"),
                "{}",
                error.value(i)
            );
            assert!(ttft.is_null(i));
        } else {
            assert_eq!(status.value(i), "ok");
            assert!(error.is_null(i));
            assert!(ttft.value(i) > 0.0);
        }
    }
    // The column of the swept table value is its TOML text.
    let dist = column::<StringArray>(&batch, "workload.input_len_dist");
    assert!(dist.value(0).contains("uniform"), "{}", dist.value(0));
}

/// A sweep slow enough to interrupt: 16 runs of 40,000 requests.
fn slow_manifest(dir: &Path) -> PathBuf {
    write_manifest(
        dir,
        "m.toml",
        "configs/long.toml",
        "[grid]\n\"workload.seed\" = { range = [1, 16] }\n",
    )
}

fn finished_runs(out: &Path) -> usize {
    stored_runs(out).len()
}

/// Starts the slow sweep into `out` and waits until `n` runs have finished.
fn start_and_wait(dir: &Path, m: &Path, out: &str, n: usize) -> std::process::Child {
    let child = cmd(dir)
        .args(["sweep", m.to_str().unwrap(), "-q", "-j", "1", "-o", out])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while finished_runs(&dir.join(out)) < n {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "runs never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_killed_sweep_resumes_with_every_point_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let m = slow_manifest(dir.path());
    let mut child = start_and_wait(dir.path(), &m, "out", 3);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let done_before = finished_runs(&dir.path().join("out"));
    assert!(done_before < 16, "the sweep finished before it was killed");

    let o = run(dir.path(), &["sweep", m.to_str().unwrap(), "-q", "-j", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let meta = json(&dir.path().join("out/sweep.json"));
    assert_eq!(meta["ok"], 16);
    assert_eq!(meta["reused"].as_u64().unwrap() as usize, done_before);
    // No temporary file survives.
    for entry in fs::read_dir(dir.path().join("out/runs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "leftover {name}");
    }

    let o = run(
        dir.path(),
        &["sweep", m.to_str().unwrap(), "-q", "-o", "whole"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        csv_without_wall_time(&dir.path().join("out/runs.csv")),
        csv_without_wall_time(&dir.path().join("whole/runs.csv"))
    );
}

#[test]
fn ctrl_c_writes_what_finished_and_says_how_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let m = slow_manifest(dir.path());
    let child = start_and_wait(dir.path(), &m, "out", 2);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("run the same command again to resume"),
        "{}",
        stderr(&o)
    );
    let meta = json(&dir.path().join("out/sweep.json"));
    let ok = meta["ok"].as_u64().unwrap();
    assert!((2..16).contains(&ok), "{meta}");
    assert_eq!(meta["not_run"].as_u64().unwrap(), 16 - ok);
    let batch = read_parquet(&dir.path().join("out/runs.parquet"));
    assert_eq!(batch.num_rows() as u64, ok);
}

#[test]
fn a_sweep_of_absurd_work_warns_once_with_its_total_and_ctrl_c_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.num_requests\" = [100, 1000000000000]\n\"workload.seed\" = [1, 2]\n",
    );
    let (child, line, took) =
        first_stderr_line(dir.path(), &["sweep", m.to_str().unwrap(), "-q", "-j", "1"]);
    assert!(
        line.starts_with("warning: this sweep simulates about 2e12 requests in 4 points: about ")
            && line.contains(", and its largest run about "),
        "{line:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The first Ctrl-C waits for the run in progress, the second does not.
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(200));
    interrupt(&child);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));

    let m = write_manifest(dir.path(), "small.toml", "configs/quick.toml", SMALL_GRID);
    let o = run(dir.path(), &["sweep", m.to_str().unwrap(), "-o", "small"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

/// Runs a sweep of `grid` on `configs/quick.toml` with `--per-request`;
/// returns its runs and requests tables.
fn per_request_sweep(grid: &str) -> (arrow_array::RecordBatch, arrow_array::RecordBatch) {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", grid);
    let o = run(
        dir.path(),
        &["sweep", m.to_str().unwrap(), "-q", "--per-request"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (
        read_parquet(&dir.path().join("out/runs.parquet")),
        read_parquet(&dir.path().join("out/requests.parquet")),
    )
}

#[test]
fn per_request_rows_stream_into_one_file() {
    let (runs, requests) = per_request_sweep("[grid]\n\"workload.seed\" = [1, 2, 3]\n");
    let completed: i64 = column::<Int64Array>(&runs, "requests_completed")
        .values()
        .iter()
        .sum();
    assert_eq!(requests.num_rows() as i64, completed);
    let ids = column::<StringArray>(&runs, "run_id");
    let request_runs = column::<StringArray>(&requests, "run_id");
    assert_eq!(request_runs.value(0), ids.value(0), "rows in point order");
    assert_eq!(request_runs.value(requests.num_rows() - 1), ids.value(2));
    // The columns' types: tests/golden/requests-columns.txt.
}

#[test]
fn per_request_rows_name_the_replica_that_served_them() {
    let (runs, requests) = per_request_sweep(
        "[grid]\n\"deployment.replicas\" = [1, 2]\n\"deployment.router\" = [\"round_robin\"]\n",
    );
    let run_ids = column::<StringArray>(&runs, "run_id");
    let replicas = column::<Int64Array>(&runs, "deployment.replicas");
    let completed = column::<Int64Array>(&runs, "requests_completed");
    let request_runs = column::<StringArray>(&requests, "run_id");
    let served_by = column::<Int64Array>(&requests, "replica");
    assert_eq!(served_by.null_count(), 0);
    for run in 0..runs.num_rows() {
        let mut seen: Vec<i64> = (0..requests.num_rows())
            .filter(|&row| request_runs.value(row) == run_ids.value(run))
            .map(|row| served_by.value(row))
            .collect();
        assert_eq!(
            seen.len() as i64,
            completed.value(run),
            "every request once"
        );
        seen.sort_unstable();
        seen.dedup();
        let expected: Vec<i64> = (0..replicas.value(run)).collect();
        assert_eq!(seen, expected, "replicas {}", replicas.value(run));
    }
}

#[test]
fn resume_reuses_finished_runs_and_force_redoes_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = [1, 2]\n",
    );
    let m = m.to_str().unwrap();
    assert_eq!(run(dir.path(), &["sweep", m, "-q"]).status.code(), Some(0));
    let meta = || json(&dir.path().join("out/sweep.json"));
    assert_eq!(meta()["reused"], 0);
    assert_eq!(
        run(dir.path(), &["sweep", m, "-q", "--resume"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(meta()["reused"], 2);
    assert_eq!(
        run(dir.path(), &["sweep", m, "-q", "--force"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(meta()["reused"], 0);
    // The run store: one part per invocation that ran something (the
    // resume ran nothing); records of another version are not trusted.
    let parts: Vec<PathBuf> = (0..2)
        .map(|n| dir.path().join(format!("out/runs/part-{n:06}.jsonl")))
        .collect();
    assert!(parts.iter().all(|p| p.is_file()), "{parts:?}");
    assert!(!dir.path().join("out/runs/part-000002.jsonl").exists());
    assert_eq!(stored_runs(&dir.path().join("out")).len(), 4);
    for part in &parts {
        let text = fs::read_to_string(part).unwrap();
        let version = format!("\"version\":\"{}\"", env!("CARGO_PKG_VERSION"));
        assert_eq!(text.matches(&version).count(), 1, "{text}");
        fs::write(part, text.replacen(&version, "\"version\":\"0.0.1\"", 1)).unwrap();
    }
    assert_eq!(run(dir.path(), &["sweep", m, "-q"]).status.code(), Some(0));
    assert_eq!(meta()["reused"], 0);
    assert_eq!(run(dir.path(), &["sweep", m, "-q"]).status.code(), Some(0));
    assert_eq!(meta()["reused"], 2);
}

#[test]
fn dry_run_lists_the_points_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", SMALL_GRID);
    let o = run(dir.path(), &["sweep", m.to_str().unwrap(), "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("8 points (0 invalid)"), "{text}");
    assert_eq!(text.lines().count(), 1 + 1 + 8, "{text}");
    let header = text.lines().nth(1).unwrap();
    assert!(
        header.contains("scheduler.policy") && header.contains("workload.seed"),
        "{header}"
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn the_shipped_manifests_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifests: Vec<PathBuf> = fs::read_dir(shipped("sweeps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    assert!(manifests.contains(&shipped("sweeps/policies.toml")));
    for path in manifests {
        let name = path.display().to_string();
        let o = run(dir.path(), &["sweep", &name, "--dry-run"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let text = stdout(&o);
        // "<manifest>: N points (0 invalid)", a header, then one line a point.
        let points: usize = text
            .lines()
            .next()
            .and_then(|l| l.strip_suffix(" points (0 invalid)"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {text}"));
        assert!(points > 0, "{name}");
        assert_eq!(text.lines().count(), points + 2, "{name}: {text}");
        let o = run(dir.path(), &["validate", &name]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert!(stdout(&o).contains("points"), "{}", stdout(&o));
    }
}

#[test]
fn an_unwritable_output_is_an_error() {
    // Bad manifests and a missing base config: tests/golden/errors.txt.
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = [1]\n",
    );
    fs::write(dir.path().join("file"), "").unwrap();
    let o = run(
        dir.path(),
        &["sweep", m.to_str().unwrap(), "-q", "-o", "file/out"],
    );
    assert_failure(&o, 4, "cannot create the output directory 'file/out'");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", SMALL_GRID);
    // -j 0: tests/golden/errors.txt.
    for args in [vec!["--shard", "4/4"], vec!["--shard", "x"]] {
        let mut all = vec!["sweep", m.to_str().unwrap()];
        all.extend(args);
        assert_eq!(run(dir.path(), &all).status.code(), Some(2), "{all:?}");
    }
}

#[test]
fn dataset_configs_sweep_with_the_manifests_tokenizer_and_template() {
    let dir = tempfile::tempdir().unwrap();
    let base = shipped("configs/dataset.toml");
    let tokenizer = shipped("examples/tokenizer.json");
    let write = |extra: &str| {
        fs::write(
            dir.path().join("d.toml"),
            format!(
                "[sweep]\nname = \"d\"\nbase = {:?}\n{extra}[grid]\n\"workload.seed\" = [1, 2]\n",
                base.display().to_string()
            ),
        )
        .unwrap();
    };
    write(&format!(
        "tokenizer = {:?}\nchat_template = \"None\"\n",
        tokenizer.display().to_string()
    ));
    let o = run(dir.path(), &["sweep", "d.toml", "-q", "-o", "ok"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let batch = read_parquet(&dir.path().join("ok/runs.parquet"));
    assert!(column::<Int64Array>(&batch, "requests_completed")
        .values()
        .iter()
        .all(|&n| n > 0));

    // Without a tokenizer each run fails with the reason; nothing else is lost.
    write("");
    let o = run(dir.path(), &["sweep", "d.toml", "-q", "-o", "bad"]);
    assert_eq!(o.status.code(), Some(3), "runs failed");
    let batch = read_parquet(&dir.path().join("bad/runs.parquet"));
    let error = column::<StringArray>(&batch, "error");
    assert_eq!(batch.num_rows(), 2);
    assert!(error.value(0).contains("--tokenizer"), "{}", error.value(0));
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = { range = [1, 20000] }\n",
    );
    let mut child = cmd(dir.path())
        .args(["sweep", m.to_str().unwrap(), "--dry-run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap(); // then `| head` goes away
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// The main job crosses saturation: at its heaviest load the length-aware
/// policies beat fcfs on TTFT p50 by more than both 95% intervals, at every
/// budget, and the best points are reported per load.
#[test]
fn the_main_job_separates_length_aware_policies_from_fcfs_at_its_heaviest_load() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let manifest = shipped("sweeps/policies.toml");
    let o = run(
        dir.path(),
        &[
            "sweep",
            manifest.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = read_parquet(&out.join("summary.parquet"));
    let load = column::<Float64Array>(&summary, "workload.arrival_rate");
    let policy = column::<StringArray>(&summary, "scheduler.policy");
    let budget = column::<Int64Array>(&summary, "scheduler.max_num_batched_tokens");
    let mean = column::<Float64Array>(&summary, "ttft_ms_p50_mean");
    let ci = column::<Float64Array>(&summary, "ttft_ms_p50_ci95");
    let heaviest = load.values().iter().copied().fold(f64::MIN, f64::max);
    let lightest = load.values().iter().copied().fold(f64::MAX, f64::min);
    let at = |l: f64, p: &str, b: i64| -> (f64, f64) {
        let i = (0..summary.num_rows())
            .find(|&i| load.value(i) == l && policy.value(i) == p && budget.value(i) == b)
            .unwrap_or_else(|| panic!("no row for {p} at {l}/s, budget {b}"));
        (mean.value(i), ci.value(i))
    };
    let mut budgets: Vec<i64> = budget.values().to_vec();
    budgets.sort_unstable();
    budgets.dedup();
    for &b in &budgets {
        let (fcfs, fcfs_ci) = at(heaviest, "fcfs", b);
        for p in ["sif", "stf", "sof"] {
            let (m, m_ci) = at(heaviest, p, b);
            assert!(
                m + m_ci < fcfs - fcfs_ci,
                "{p} at {heaviest}/s, budget {b}: TTFT p50 {m:.1} ± {m_ci:.1} ms vs fcfs {fcfs:.1} ± {fcfs_ci:.1}"
            );
        }
        // At the lightest load nobody waits, so the policies agree.
        let (light, light_ci) = at(lightest, "fcfs", b);
        let (sif, sif_ci) = at(lightest, "sif", b);
        assert!((light - sif).abs() <= light_ci + sif_ci, "{light} vs {sif}");
    }
    let text = stdout(&o);
    for l in [lightest, heaviest] {
        assert!(
            text.contains(&format!("Best points at workload.arrival_rate={l:?} ")),
            "{text}"
        );
    }
}

#[test]
fn a_finished_sweep_resumes_without_rewriting_its_tables_until_something_changes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("b.toml");
    let config = fs::read_to_string(shipped("configs/quick.toml")).unwrap();
    fs::write(&base, &config).unwrap();
    let m = dir.path().join("m.toml");
    fs::write(
        &m,
        format!("[sweep]\nname = \"t\"\nbase = \"b.toml\"\noutput = \"out\"\n{SMALL_GRID}"),
    )
    .unwrap();
    let m = m.to_str().unwrap();
    let out = dir.path().join("out");
    let sweep = |extra: &[&str]| {
        let mut args = vec!["sweep", m];
        args.extend_from_slice(extra);
        let o = run(dir.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let current = stderr(&o).contains("nothing changed since this sweep finished");
        (current, stdout(&o))
    };
    let tables = ["runs.csv", "runs.parquet", "summary.csv", "summary.parquet"];
    let written = || {
        tables
            .iter()
            .map(|t| fs::metadata(out.join(t)).unwrap().modified().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(!sweep(&[]).0);
    let first = written();
    // Nothing changed: the tables stay as they are, and the report and
    // counts are those of a full resume.
    let (current, shortcut) = sweep(&[]);
    assert!(current);
    assert_eq!(written(), first);
    assert!(
        shortcut.contains("8 points, 8 runs: 8 ok (8 reused), 0 failed"),
        "{shortcut}"
    );
    assert_eq!(json(&out.join("sweep.json"))["reused"], 8);
    fs::remove_file(out.join(".tables-stamp")).unwrap();
    let (current, full) = sweep(&[]);
    assert!(!current);
    assert_eq!(
        full, shortcut,
        "the shortcut reports what a full resume does"
    );
    assert_ne!(written(), first);
    assert!(sweep(&[]).0, "a full resume stamps the tables again");

    // Anything that changed takes the full resume: a record part, a table,
    // the base config, another flag.
    let part = out.join("runs/part-000000.jsonl");
    let text = fs::read_to_string(&part).unwrap();
    fs::write(&part, format!("{text}\n")).unwrap();
    assert!(!sweep(&[]).0);
    assert!(sweep(&[]).0);
    let csv = fs::read(out.join("runs.csv")).unwrap();
    fs::write(out.join("runs.csv"), b"edited\n").unwrap();
    assert!(!sweep(&[]).0);
    assert_eq!(fs::read(out.join("runs.csv")).unwrap().len(), csv.len());
    assert!(!sweep(&["--per-request"]).0);
    assert!(sweep(&["--per-request"]).0);
    let requests = out.join("requests.parquet");
    let bytes = fs::read(&requests).unwrap();
    fs::write(&requests, &bytes[..bytes.len() / 2]).unwrap();
    assert!(!sweep(&["--per-request"]).0);
    assert_eq!(fs::read(&requests).unwrap(), bytes);
    // A table that is a symlink is judged by the file it points to.
    #[cfg(unix)]
    {
        let elsewhere = dir.path().join("elsewhere.csv");
        fs::rename(out.join("summary.csv"), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("summary.csv")).unwrap();
        assert!(!sweep(&["--per-request"]).0);
        assert!(sweep(&["--per-request"]).0);
        let summary = fs::read_to_string(&elsewhere).unwrap();
        fs::write(&elsewhere, "edited\n").unwrap();
        assert!(!sweep(&["--per-request"]).0);
        assert!(out.join("summary.csv").is_symlink());
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), summary);
    }
    assert!(!sweep(&[]).0);
    fs::write(&base, format!("{config}\n# edited\n")).unwrap();
    assert!(!sweep(&[]).0);
    assert!(!sweep(&["--force"]).0);
}

#[test]
fn a_sweep_with_failed_runs_is_never_stamped_current() {
    let dir = tempfile::tempdir().unwrap();
    // A dataset config without a tokenizer: every run fails.
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/dataset.toml",
        "[grid]\n\"workload.seed\" = [1, 2]\n",
    );
    let m = m.to_str().unwrap();
    for _ in 0..2 {
        let o = run(dir.path(), &["sweep", m]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(!stderr(&o).contains("nothing changed"), "{}", stderr(&o));
        assert!(!dir.path().join("out/.tables-stamp").exists());
    }
}
