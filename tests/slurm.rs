//! A sweep on a real Slurm cluster: `scripts/slurm/submit.sh` submits
//! `sweeps/policies.toml` as a 4-task job array plus the dependent merge job,
//! and the merged table must equal the same sweep run on one machine.
//!
//! Needs a running cluster (`scripts/slurm/local-cluster.sh start`, as CI
//! does). Where there is none, the test says so on the terminal and passes,
//! unless INFERENCE_LAB_REQUIRE_SLURM=1 (set by CI), where it fails.

mod common;
use common::*;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

fn slurm_is_up() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .is_ok_and(|o| {
            let states = String::from_utf8_lossy(&o.stdout);
            o.status.success()
                && states
                    .lines()
                    .any(|s| ["idle", "mix", "alloc"].contains(&s.trim()))
        })
}

#[test]
fn a_sweep_on_slurm_merges_to_the_single_machine_table() {
    if !slurm_is_up() {
        let required = std::env::var("INFERENCE_LAB_REQUIRE_SLURM").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "INFERENCE_LAB_REQUIRE_SLURM=1 but no Slurm node is up"
        );
        // Straight to the terminal: the test harness would hide a println.
        let _ = writeln!(
            std::io::stderr().lock(),
            "\nSKIPPED a_sweep_on_slurm_merges_to_the_single_machine_table: no Slurm cluster is up \
             (start one with `sudo scripts/slurm/local-cluster.sh start`)\n"
        );
        return;
    }
    // The jobs run on the node as this user: a directory it can write.
    let dir = tempfile::Builder::new()
        .prefix("inference-lab-slurm-")
        .tempdir_in("/tmp")
        .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(shipped("scripts/slurm/submit.sh"))
        .current_dir(repo())
        .env("INFERENCE_LAB", env!("CARGO_BIN_EXE_inference-lab"))
        .args(["-n", "4", "sweeps/policies.toml", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "submit.sh: {}", stderr(&o));
    let ids: Vec<String> = stdout(&o).split_whitespace().map(str::to_string).collect();
    assert_eq!(ids.len(), 2, "array and merge job ids: {}", stdout(&o));

    let started = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &ids.join(","), "-o", "%i %T"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "jobs still queued: {}",
            String::from_utf8_lossy(&q.stdout)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut points_in_shards = 0;
    for i in 0..4 {
        let meta = json(&out.join(format!("shard-{i}-of-4/sweep.json")));
        assert_eq!(meta["shard"]["index"], i, "task {i} ran its own shard");
        let here = meta["points_here"].as_u64().unwrap_or(0);
        assert!(here > 0, "task {i} ran no points: {meta}");
        points_in_shards += here;
    }
    let merged = out.join("runs.csv");
    assert!(
        merged.is_file(),
        "the merge job wrote no table; logs in {}",
        out.join("logs").display()
    );

    let o = run(
        dir.path(),
        &[
            "sweep",
            shipped("sweeps/policies.toml").to_str().unwrap(),
            "-q",
            "-o",
            "whole",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let merged = csv_without_wall_time(&merged);
    // One header line, then one row per point of the manifest, every one
    // run by exactly one of the four tasks.
    assert_eq!(merged.len() as u64, points_in_shards + 1);
    assert_eq!(
        merged,
        csv_without_wall_time(&dir.path().join("whole/runs.csv"))
    );
}
