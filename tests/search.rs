//! Capacity search (`[search]` in a sweep manifest), end to end through the
//! binary: queueing theory as the oracle, a brute-force scan for integer
//! keys, the bounds, bad SLOs, and identical tables for any thread count,
//! shards and resume.

mod common;

use common::{cmd, csv_without_wall_time, json, run, shipped, stderr, stored_runs};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Writes the manifest `dir/m.toml` (sweep "t", output "out") on the
/// fixture `base`, with `body` ([grid] and [search] tables).
fn manifest(dir: &Path, base: &str, body: &str) -> PathBuf {
    let path = dir.join("m.toml");
    let base = shipped(&format!("tests/fixtures/{base}"));
    fs::write(
        &path,
        format!(
            "[sweep]\nname = \"t\"\nbase = {:?}\noutput = \"out\"\n{body}",
            base.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// Runs `sweep m.toml` with `extra` flags and expects exit code 0.
fn sweep(dir: &Path, m: &Path, extra: &[&str]) -> String {
    let mut args = vec!["sweep", m.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stderr(&o)
}

/// A CSV table as one map of column to value per row.
fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .map(str::to_string)
                .zip(r.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {:?}", row[column]))
}

const MD1_SEARCH: &str = "[grid]\n\"workload.seed\" = [1, 2, 3]\n[search]\nover = \"workload.arrival_rate\"\nbounds = [0.5, 64.0]\ntolerance = 0.01\n[search.slo]\ne2e_ms_mean = 250.0\n";

#[test]
fn an_md1_search_finds_the_rate_queueing_theory_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), "md1.toml", MD1_SEARCH);
    sweep(dir.path(), &m, &[]);
    let out = dir.path().join("out");
    // The service time S: the latency of a request that found the server idle.
    let probes = rows(&out.join("runs.csv"));
    let s = probes
        .iter()
        .map(|r| num(r, "e2e_ms_min"))
        .fold(f64::INFINITY, f64::min)
        / 1000.0;
    // Mean e2e = S + rho S / (2 (1 - rho)) = 250 ms: rho = 2k / (1 + 2k), k = (E - S) / S.
    let k = (0.25 - s) / s;
    let theory = 2.0 * k / (1.0 + 2.0 * k) / s;
    let summary = rows(&out.join("capacity_summary.csv"));
    assert_eq!(summary.len(), 1);
    let found = num(&summary[0], "capacity_mean");
    assert!(
        (found / theory - 1.0).abs() < 0.03,
        "found {found} req/s, M/D/1 predicts {theory}"
    );
    assert_eq!(summary[0]["seeds"], "3");
    assert!(num(&summary[0], "capacity_ci95") > 0.0);

    let capacity = rows(&out.join("capacity.csv"));
    assert_eq!(capacity.len(), 3);
    for row in &capacity {
        let (lo, hi) = (num(row, "capacity"), num(row, "fails_at"));
        assert!(lo < hi && hi / lo - 1.0 <= 0.01, "bracket [{lo}, {hi}]");
        assert!(
            ["e2e_ms_mean", "overload"].contains(&row["binding_slo"].as_str()),
            "{row:?}"
        );
        assert!(num(row, "e2e_ms_mean") <= 250.0);
        assert_eq!(row["gpus"], "1");
        assert_eq!(
            num(row, "goodput_requests_per_sec"),
            num(row, "requests_per_sec")
        );
        // Every probe is in the runs table with its load.
        let point = &row["point"];
        let probes_here: Vec<_> = probes.iter().filter(|p| &p["point"] == point).collect();
        assert_eq!(probes_here.len().to_string(), row["probes"]);
        assert_eq!(probes_here[0]["probe"], "0");
        assert_eq!(probes_here[0]["workload.arrival_rate"], "0.5");
        assert_eq!(probes_here[1]["workload.arrival_rate"], "64.0");
    }
    // The upper bound is hopeless: the overload detector stopped it early.
    let top = probes
        .iter()
        .find(|p| p["workload.arrival_rate"] == "64.0")
        .unwrap();
    assert!(
        top["overload"].starts_with("e2e_ms_mean cannot stay <= 250"),
        "{top:?}"
    );
    assert!(num(top, "requests_completed") < 20000.0);

    // Without the detector every probe runs to the end and the search
    // finds exactly the same capacities.
    fs::write(
        &m,
        fs::read_to_string(&m).unwrap().replace(
            "tolerance = 0.01\n",
            "tolerance = 0.01\nearly_stop = false\n",
        ),
    )
    .unwrap();
    sweep(dir.path(), &m, &["-o", "full"]);
    let full = rows(&dir.path().join("full/capacity.csv"));
    for (a, b) in capacity.iter().zip(&full) {
        assert_eq!(
            (&a["capacity"], &a["fails_at"]),
            (&b["capacity"], &b["fails_at"])
        );
        assert_eq!(b["binding_slo"], "e2e_ms_mean");
    }
    assert!(rows(&dir.path().join("full/runs.csv"))
        .iter()
        .all(|p| p["overload"].is_empty()));
}

#[test]
fn an_integer_search_finds_the_user_count_of_a_brute_force_scan() {
    let dir = tempfile::tempdir().unwrap();
    let slo = "[search.slo]\nttft_ms_p99 = 1500.0\n";
    let m = manifest(
        dir.path(),
        "closed-loop-small.toml",
        &format!("[grid]\n\"workload.seed\" = [1, 2]\n[search]\nover = \"workload.num_concurrent_users\"\nbounds = [1, 40]\n{slo}"),
    );
    sweep(dir.path(), &m, &[]);
    let capacity = rows(&dir.path().join("out/capacity.csv"));
    let probes = rows(&dir.path().join("out/runs.csv"));
    assert!(probes
        .iter()
        .all(|p| !p["workload.num_concurrent_users"].contains('.')));
    // Brute force: every count in the bracket, largest passing one.
    let scan = dir.path().join("scan.toml");
    fs::write(
        &scan,
        format!(
            "[sweep]\nname = \"scan\"\nbase = {:?}\noutput = \"scan\"\n[grid]\n\"workload.seed\" = [1, 2]\n\"workload.num_concurrent_users\" = {{ range = [1, 40] }}\n",
            shipped("tests/fixtures/closed-loop-small.toml").display().to_string()
        ),
    )
    .unwrap();
    sweep(dir.path(), &scan, &[]);
    let scanned = rows(&dir.path().join("scan/runs.csv"));
    for (seed, row) in ["1", "2"].iter().zip(&capacity) {
        assert_eq!(&row["workload.seed"], seed);
        let best = scanned
            .iter()
            .filter(|r| &r["workload.seed"] == seed && num(r, "ttft_ms_p99") <= 1500.0)
            .map(|r| num(r, "workload.num_concurrent_users") as i64)
            .max()
            .unwrap();
        assert_eq!(row["capacity"], best.to_string(), "seed {seed}");
        assert_eq!(row["fails_at"], (best + 1).to_string(), "seed {seed}");
        assert_eq!(row["binding_slo"], "ttft_ms_p99");
    }
}

#[test]
fn the_bounds_end_a_search_at_once_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "md1.toml",
        "[grid]\n\"workload.output_len_dist.value\" = [16, 4000]\n\"workload.num_requests\" = [300]\n[search]\nover = \"workload.arrival_rate\"\nbounds = [0.5, 2.0]\n[search.slo]\ne2e_ms_mean = 250.0\n",
    );
    let err = sweep(dir.path(), &m, &[]);
    assert!(
        err.contains(
            "warning: 1 of 2 points still meet every SLO at the upper bound search.bounds = 2.0"
        ),
        "{err}"
    );
    // Resumed unchanged, the warnings come from the capacity table read
    // back; a capacity table edited since takes the full resume.
    let stamp = dir.path().join("out/.tables-stamp");
    assert!(stamp.is_file());
    assert_eq!(sweep(dir.path(), &m, &[]), err);
    let summary = dir.path().join("out/capacity_summary.csv");
    let text = fs::read_to_string(&summary).unwrap();
    fs::write(&summary, "edited\n").unwrap();
    let o = run(dir.path(), &["sweep", m.to_str().unwrap()]);
    assert!(!stderr(&o).contains("nothing changed"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&summary).unwrap(), text);
    let capacity = rows(&dir.path().join("out/capacity.csv"));
    // Short outputs pass even at the upper bound: the capacity is the bound.
    assert_eq!(
        (
            capacity[0]["capacity"].as_str(),
            capacity[0]["fails_at"].as_str()
        ),
        ("2.0", "")
    );
    assert_eq!(capacity[0]["binding_slo"], "bound");
    assert_eq!(capacity[0]["probes"], "2");
    // 4,000-token outputs fail at the lower bound: no capacity, the SLO named.
    assert_eq!(
        (
            capacity[1]["capacity"].as_str(),
            capacity[1]["fails_at"].as_str()
        ),
        ("", "0.5")
    );
    assert_eq!(capacity[1]["binding_slo"], "e2e_ms_mean");
    assert_eq!(capacity[1]["probes"], "1");
    let probes = rows(&dir.path().join("out/runs.csv"));
    assert!(
        probes[2]["overload"].starts_with("e2e_ms_mean cannot stay <= 250"),
        "{:?}",
        probes[2]
    );
    assert_eq!(capacity[1]["e2e_ms_mean"], "");
}

#[test]
fn bad_search_sections_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[search]\nover = \"workload.arrival_rate\"\nbounds = [0.5, 2.0]\n[search.slo]\nttft_p99 = 1.0\n", "search.slo.ttft_p99: 'ttft_p99' is not a metric column of the runs table; did you mean 'ttft_ms_p99'?"),
        ("[grid]\n\"workload.arrival_rate\" = [1.0]\n[search]\nover = \"workload.arrival_rate\"\nbounds = [0.5, 2.0]\n[search.slo]\nttft_ms_p99 = 1.0\n", "search.over: 'workload.arrival_rate' is swept in the grid too"),
        ("[search]\nover = \"workload.num_concurrent_users\"\nbounds = [0.5, 2.0]\n[search.slo]\nttft_ms_p99 = 1.0\n", "search.bounds: the search cannot set it to 0.5"),
        ("[search]\nover = \"workload.arival_rate\"\nbounds = [0.5, 2.0]\n[search.slo]\nttft_ms_p99 = 1.0\n", "did you mean 'arrival_rate'?"),
    ];
    for (body, expected) in cases {
        let m = manifest(dir.path(), "md1.toml", body);
        let o = run(dir.path(), &["sweep", m.to_str().unwrap(), "-q"]);
        assert_eq!(o.status.code(), Some(1), "{body}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(expected),
            "{}\n  expected: {expected}",
            stderr(&o)
        );
        let o = run(dir.path(), &["validate", m.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "validate: {body}");
    }
    assert!(!dir.path().join("out").exists());
}

const POLICY_SEARCH: &str = "[grid]\n\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n\"workload.seed\" = [1, 2, 3]\n[search]\nover = \"workload.num_concurrent_users\"\nbounds = [1, 40]\n[search.slo]\nttft_ms_p99 = 1500.0\ne2e_ms_p90 = 2500.0\n";

fn same_tables(a: &Path, b: &Path) {
    for table in ["capacity.csv", "capacity_summary.csv"] {
        assert_eq!(
            fs::read_to_string(a.join(table)).unwrap(),
            fs::read_to_string(b.join(table)).unwrap(),
            "{table}"
        );
    }
    assert_eq!(
        csv_without_wall_time(&a.join("runs.csv")),
        csv_without_wall_time(&b.join("runs.csv"))
    );
}

/// Runs manifest `m` as two shards under `sharded/` and merges them into `merged/`.
fn shard_and_merge(dir: &Path, m: &Path) {
    for shard in ["0/2", "1/2"] {
        sweep(dir, m, &["--shard", shard, "-o", "sharded"]);
    }
    let o = run(
        dir,
        &[
            "sweep",
            "merge",
            "sharded/shard-0-of-2",
            "sharded/shard-1-of-2",
            "-o",
            "merged",
            "-q",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn threads_shards_and_merges_give_identical_capacity_tables() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), "closed-loop-small.toml", POLICY_SEARCH);
    sweep(dir.path(), &m, &["-j", "1", "-o", "one"]);
    sweep(dir.path(), &m, &["-j", "2", "-o", "two"]);
    same_tables(&dir.path().join("one"), &dir.path().join("two"));
    shard_and_merge(dir.path(), &m);
    same_tables(&dir.path().join("one"), &dir.path().join("merged"));
    // A merge with a shard missing names what to rerun.
    let o = run(
        dir.path(),
        &["sweep", "merge", "sharded/shard-0-of-2", "-o", "part"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--shard 1/2"), "{}", stderr(&o));
}

fn run_files(out: &Path) -> usize {
    stored_runs(out).len()
}

#[test]
fn a_killed_search_resumes_only_its_unfinished_probes() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "md1.toml",
        &MD1_SEARCH.replace("[1, 2, 3]", "[1, 2, 3, 4, 5, 6]"),
    );
    let mut child = cmd(dir.path())
        .args(["sweep", m.to_str().unwrap(), "-q", "-j", "1", "-o", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while run_files(&dir.path().join("out")) < 14 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "probes never finished"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_before = run_files(&dir.path().join("out"));
    sweep(dir.path(), &m, &["-j", "2"]);
    let meta = json(&dir.path().join("out/sweep.json"));
    assert_eq!(
        meta["reused"].as_u64().unwrap() as usize,
        done_before,
        "every finished probe reused"
    );
    assert!(
        meta["ok"].as_u64().unwrap() as usize > done_before,
        "the sweep was killed before it finished"
    );
    sweep(dir.path(), &m, &["-o", "whole"]);
    same_tables(&dir.path().join("out"), &dir.path().join("whole"));
}

/// `inference-lab capacity` on one config: the same search as the manifest
/// form, so the same capacity for the same seed.
#[test]
fn the_capacity_command_finds_what_the_manifest_search_finds() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "md1.toml",
        "[grid]\n\"workload.seed\" = [2]\n[search]\nover = \"workload.arrival_rate\"\nbounds = [0.5, 64.0]\ntolerance = 0.01\n[search.slo]\ne2e_ms_mean = 250.0\n",
    );
    sweep(dir.path(), &m, &[]);
    let expected = rows(&dir.path().join("out/capacity.csv"));
    let config = shipped("tests/fixtures/md1.toml");
    let o = run(
        dir.path(),
        &[
            "capacity",
            "-c",
            config.to_str().unwrap(),
            "--slo",
            "e2e_ms_mean=250",
            "--bounds",
            "0.5,64",
            "--tolerance",
            "0.01",
            "--seed",
            "2",
            "-o",
            "cap.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        common::stdout(&o).contains("capacity"),
        "{}",
        common::stdout(&o)
    );
    let found = common::json(&dir.path().join("cap.json"));
    let result = &found["result"];
    assert_eq!(
        result["capacity"].as_f64().unwrap(),
        num(&expected[0], "capacity")
    );
    assert_eq!(
        result["fails_at"].as_f64().unwrap(),
        num(&expected[0], "fails_at")
    );
    assert_eq!(result["binding_slo"], expected[0]["binding_slo"].as_str());
    let probes = found["probes"].as_array().unwrap();
    assert_eq!(probes.len() as f64, num(&expected[0], "probes"));
    let capacity = result["capacity"].as_f64().unwrap();
    for p in probes {
        let load = p["load"].as_f64().unwrap();
        assert_eq!(p["passed"].as_bool().unwrap(), load <= capacity, "{p}");
    }
}

#[test]
fn the_capacity_command_names_a_misspelt_slo_and_a_bound_that_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let config = shipped("tests/fixtures/md1.toml");
    let c = config.to_str().unwrap();
    let o = run(dir.path(), &["capacity", "-c", c, "--slo", "e2e_mean=250"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did you mean 'e2e_ms_mean'"),
        "{}",
        stderr(&o)
    );
    let o = run(
        dir.path(),
        &[
            "capacity",
            "-c",
            c,
            "--slo",
            "e2e_ms_mean=250",
            "--bounds",
            "0.5,1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("raise --bounds"), "{}", stderr(&o));
    assert!(
        common::stdout(&o).contains("bound"),
        "{}",
        common::stdout(&o)
    );
}

/// `sweep report` of a search draws the capacity of each configuration as
/// bars with intervals and each SLO's metric against the load with the SLO
/// and the found capacities as guide lines, also for a merged sharded search.
#[test]
fn the_report_of_a_search_draws_capacity_bars_and_the_slo_lines() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), "closed-loop-small.toml", POLICY_SEARCH);
    shard_and_merge(dir.path(), &m);
    let o = run(dir.path(), &["sweep", "report", "merged"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = fs::read_to_string(dir.path().join("merged/report.html")).unwrap();
    assert!(page.contains("Capacity search: t"), "the search page");
    // Two policies, one bar each, with the 95% interval of three seeds.
    assert!(
        page.contains(r#"data-chart="capacity bars" data-series="1" data-points="2""#),
        "{page}"
    );
    assert_eq!(page.matches(r#"<rect class="bar""#).count(), 2);
    for (slo, max) in [("ttft_ms_p99", "1500"), ("e2e_ms_p90", "2500")] {
        assert!(page.contains(&format!(
            r#"data-chart="{slo} vs workload.num_concurrent_users" data-series="2""#
        )));
        assert!(page.contains(&format!(r#"data-axis="y" data-value="{max}""#)));
    }
    // Each policy's mean capacity is marked on both load charts.
    let capacity = rows(&dir.path().join("merged/capacity_summary.csv"));
    for row in &capacity {
        let mean = num(row, "capacity_mean");
        assert_eq!(
            page.matches(&format!(r#"data-axis="x" data-value="{mean}""#))
                .count(),
            2,
            "capacity {mean}"
        );
    }
}
