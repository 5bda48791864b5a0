//! Shards and `sweep merge`: the real binary, as a cluster job array would run it.

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const GRID: &str =
    "[grid]\n\"scheduler.policy\" = [\"fcfs\", \"sof\", \"lof\"]\n\"workload.seed\" = { range = [1, 3] }\n";

fn sweep(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["sweep"];
    all.extend_from_slice(args);
    run(dir, &all)
}

fn points_of(path: &Path) -> Vec<usize> {
    csv_without_wall_time(path)[1..]
        .iter()
        .map(|r| r[2].parse().unwrap())
        .collect()
}

#[test]
fn shards_partition_the_points_and_merge_equals_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", GRID);
    let m = m.to_str().unwrap();
    for i in 0..4 {
        let shard = format!("{i}/4");
        let o = sweep(dir.path(), &[m, "-q", "--shard", &shard, "--per-request"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let shard_dir = dir.path().join(format!("out/shard-{i}-of-4"));
        let expected: Vec<usize> = (0..9).filter(|p| p % 4 == i).collect();
        assert_eq!(points_of(&shard_dir.join("runs.csv")), expected);
        let meta = json(&shard_dir.join("sweep.json"));
        assert_eq!(meta["shard"]["index"], i);
        assert_eq!(meta["shard"]["count"], 4);
        assert_eq!(meta["points"], 9);
    }
    let shards: Vec<String> = (0..4).map(|i| format!("out/shard-{i}-of-4")).collect();
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(shards.iter().map(String::as_str));
    args.extend(["-o", "merged"]);
    let o = sweep(dir.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("9 of 9 points"), "{}", stdout(&o));

    let o = sweep(dir.path(), &[m, "-q", "-o", "whole", "--per-request"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let merged = dir.path().join("merged");
    let whole = dir.path().join("whole");
    assert_eq!(
        csv_without_wall_time(&merged.join("runs.csv")),
        csv_without_wall_time(&whole.join("runs.csv"))
    );
    let request_rows = |dir: &Path| {
        let file = fs::File::open(dir.join("requests.parquet")).unwrap();
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .metadata()
            .file_metadata()
            .num_rows()
    };
    assert!(request_rows(&merged) > 0);
    assert_eq!(request_rows(&merged), request_rows(&whole));
    let meta = json(&merged.join("sweep.json"));
    assert!(meta["shard"].is_null());
    assert_eq!(meta["ok"], 9);

    // Merging again changes nothing.
    let before = fs::read(merged.join("runs.parquet")).unwrap();
    let o = sweep(dir.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read(merged.join("runs.parquet")).unwrap(), before);
}

#[test]
fn merge_names_the_missing_points_and_the_shard_to_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", GRID);
    let m = m.to_str().unwrap();
    for shard in ["0/3", "1/3"] {
        assert_eq!(
            sweep(dir.path(), &[m, "-q", "--shard", shard])
                .status
                .code(),
            Some(0)
        );
    }
    let merge = |dir: &Path| {
        sweep(
            dir,
            &[
                "merge",
                "out/shard-0-of-3",
                "out/shard-1-of-3",
                "out/shard-2-of-3",
                "-o",
                "out",
            ],
        )
    };
    // A shard whose task never ran has no directory at all.
    let o = sweep(
        dir.path(),
        &["merge", "out/shard-0-of-3", "out/shard-1-of-3", "-o", "out"],
    );
    assert_eq!(o.status.code(), Some(3), "a merge missing points");
    let err = stderr(&o);
    assert!(
        err.contains("3 of 9 points have no result: 2, 5, 8;"),
        "{err}"
    );
    assert!(err.contains("rerun shard index(es) 2:"), "{err}");
    assert!(err.contains("--shard 2/3 -o out"), "{err}");
    assert_eq!(
        points_of(&dir.path().join("out/runs.csv")),
        [0, 1, 3, 4, 6, 7]
    );

    assert_eq!(
        sweep(dir.path(), &[m, "-q", "--shard", "2/3"])
            .status
            .code(),
        Some(0)
    );
    let o = merge(dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        points_of(&dir.path().join("out/runs.csv")),
        (0..9).collect::<Vec<_>>()
    );
}

#[test]
fn merge_refuses_shards_of_different_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_manifest(dir.path(), "a.toml", "configs/quick.toml", GRID);
    let b = write_manifest(
        dir.path(),
        "b.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = [1, 2]\n",
    );
    assert_eq!(
        sweep(
            dir.path(),
            &[a.to_str().unwrap(), "-q", "--shard", "0/2", "-o", "a"]
        )
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        sweep(
            dir.path(),
            &[b.to_str().unwrap(), "-q", "--shard", "1/2", "-o", "b"]
        )
        .status
        .code(),
        Some(0)
    );
    let o = sweep(
        dir.path(),
        &["merge", "a/shard-0-of-2", "b/shard-1-of-2", "-o", "m"],
    );
    assert_error(&o, "shards of different sweeps");
    assert!(!dir.path().join("m").exists());

    let o = sweep(dir.path(), &["merge", "nowhere", "-o", "m"]);
    assert_error(&o, "'nowhere' is not a sweep output directory");

    // A manifest edited after its shards ran is refused too.
    let text = fs::read_to_string(&a).unwrap();
    fs::write(&a, text.replace("\"lof\"", "\"sif\"")).unwrap();
    let o = sweep(dir.path(), &["merge", "a/shard-0-of-2", "-o", "m"]);
    assert_error(&o, "the manifest changed since the shards ran");
}

#[test]
fn a_killed_task_is_completed_by_rerunning_its_shard() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/long.toml",
        "[grid]\n\"workload.seed\" = { range = [1, 12] }\n",
    );
    let m = m.to_str().unwrap();
    assert_eq!(
        sweep(dir.path(), &[m, "-q", "--shard", "0/2"])
            .status
            .code(),
        Some(0)
    );
    // Shard 1 dies (SIGKILL) after its first runs.
    let shard = dir.path().join("out/shard-1-of-2");
    let count = || stored_runs(&shard).len();
    let mut child = cmd(dir.path())
        .args(["sweep", m, "-q", "-j", "1", "--shard", "1/2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while count() < 2 {
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = stored_runs(&shard);
    assert!(
        finished.len() < 6,
        "the shard finished before it was killed"
    );

    let o = sweep(
        dir.path(),
        &["merge", "out/shard-0-of-2", "out/shard-1-of-2", "-o", "out"],
    );
    assert_eq!(o.status.code(), Some(3), "a merge missing points");
    // Exactly the odd points whose run did not finish are missing.
    let merged = csv_without_wall_time(&dir.path().join("out/runs.csv"));
    let present: Vec<usize> = merged[1..].iter().map(|r| r[2].parse().unwrap()).collect();
    let expected_missing: Vec<usize> = (0..12).filter(|p| !present.contains(p)).collect();
    assert_eq!(expected_missing.len(), 6 - finished.len());
    assert!(expected_missing.iter().all(|p| p % 2 == 1));
    let listed: Vec<String> = expected_missing.iter().map(usize::to_string).collect();
    assert!(
        stderr(&o).contains(&format!(
            "{} of 12 points have no result: {};",
            expected_missing.len(),
            listed.join(", ")
        )),
        "{}",
        stderr(&o)
    );
    for id in &finished {
        assert!(merged.iter().any(|r| &r[0] == id), "finished run {id} lost");
    }

    let o = sweep(dir.path(), &[m, "-q", "--shard", "1/2"]);
    assert_eq!(o.status.code(), Some(0));
    let meta = json(&dir.path().join("out/shard-1-of-2/sweep.json"));
    assert_eq!(meta["reused"].as_u64().unwrap() as usize, finished.len());
    let o = sweep(
        dir.path(),
        &["merge", "out/shard-0-of-2", "out/shard-1-of-2", "-o", "out"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        sweep(dir.path(), &[m, "-q", "-o", "whole"]).status.code(),
        Some(0)
    );
    assert_eq!(
        csv_without_wall_time(&dir.path().join("out/runs.csv")),
        csv_without_wall_time(&dir.path().join("whole/runs.csv"))
    );
}

#[test]
fn shard_auto_reads_slurm_and_kubernetes_environments() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", GRID);
    let m = m.to_str().unwrap();
    let auto = |env: &[(&str, &str)], extra: &[&str]| {
        let mut c = cmd(dir.path());
        c.args(["sweep", m, "-q", "--shard", "auto"]).args(extra);
        for var in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_ARRAY_TASK_MIN",
            "JOB_COMPLETION_INDEX",
        ] {
            c.env_remove(var);
        }
        c.envs(env.iter().copied());
        c.output().unwrap()
    };
    let o = auto(
        &[
            ("SLURM_ARRAY_TASK_ID", "11"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        points_of(&dir.path().join("out/shard-1-of-3/runs.csv")),
        [1, 4, 7]
    );
    let o = auto(&[("JOB_COMPLETION_INDEX", "0")], &["--shards", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        points_of(&dir.path().join("out/shard-0-of-2/runs.csv")),
        [0, 2, 4, 6, 8]
    );
    let o = auto(&[], &[]);
    assert_failure(&o, 2, "neither SLURM_ARRAY_TASK_ID");
}
