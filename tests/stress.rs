//! `kill -9` at random moments: a sweep of several hundred points with
//! per-request tables, killed again and again (a seeded schedule, so a
//! failure replays) and resumed with the same command until it finishes,
//! ends with every point exactly once, no temporary file and the same tables
//! as one uninterrupted sweep.

mod common;
use arrow_array::{RecordBatch, StringArray};
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// 2 policies x 2 token budgets x 100 seeds of `configs/quick.toml` with
/// 1,000 requests each: about a second of work on two threads, long enough
/// per point that a kill lands close to the moment it was meant for.
const GRID: &str = "[grid]\n\"workload.num_requests\" = [1000]\n\"scheduler.policy\" = [\"fcfs\", \"sof\"]\n\"scheduler.max_num_batched_tokens\" = [2048, 8192]\n\"workload.seed\" = { range = [1, 100] }\n";
const POINTS: usize = 400;

/// The schedule's seed; `INFERENCE_LAB_STRESS_SEED=N` tries other moments.
const SEED: u64 = 18;
/// Invocations killed alive before the one that is left to finish.
const KILLS: usize = 12;
/// Invocations tried at most to kill as many (some end before their
/// moment comes).
const ATTEMPTS: usize = 4 * KILLS;

/// When to kill an invocation.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Once the run store holds this many finished runs.
    Stored(usize),
    /// This long after the start (also before the first run, or while the
    /// tables are written).
    After(Duration),
}

/// The sweep into `out`, with per-request rows, on `jobs` threads.
fn start(dir: &Path, m: &Path, out: &str, jobs: &str) -> Child {
    cmd(dir)
        .args([
            "sweep",
            m.to_str().unwrap(),
            "-q",
            "--per-request",
            "-j",
            jobs,
            "-o",
            out,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `moment`; returns false if the process ended before it.
fn wait_for(child: &mut Child, out: &Path, moment: Moment) -> bool {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let reached = match moment {
            Moment::Stored(n) => stored_runs(out).len() >= n,
            Moment::After(d) => started.elapsed() >= d,
        };
        if reached {
            return true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{moment:?} never came"
        );
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// Cuts the last record of the newest journal part in `out` at a random
/// byte, as a kill in the middle of its write would; returns whether there
/// was one.
fn tear_last_record(out: &Path, rng: &mut ChaCha8Rng) -> bool {
    let Some(part) = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .max()
    else {
        return false;
    };
    let bytes = std::fs::read(&part).unwrap();
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return false; // torn already
    };
    let Some(start) = body.iter().rposition(|&b| b == b'\n').map(|i| i + 1) else {
        return false; // the header alone
    };
    let cut = rng.random_range(start..bytes.len());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&part)
        .unwrap()
        .set_len(cut as u64)
        .unwrap();
    true
}

/// Asserts that no run id is stored twice; returns the stored ids.
fn stored_once(out: &Path) -> BTreeSet<String> {
    let ids = stored_runs(out);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a run is stored twice");
    unique
}

/// The names in `dir` that a writer left behind (its temporary files).
fn temporary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp-"))
        .collect()
}

/// A CSV file as rows of cells.
fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

/// A Parquet table without its `wall_seconds` column (if it has one).
fn without_wall_time(batch: RecordBatch) -> RecordBatch {
    let mut batch = batch;
    if let Ok(i) = batch.schema().index_of("wall_seconds") {
        batch.remove_column(i);
    }
    batch
}

#[test]
fn a_sweep_killed_at_random_moments_ends_with_every_point_once_and_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "m.toml", "configs/quick.toml", GRID);
    let out = dir.path().join("out");
    let seed = std::env::var("INFERENCE_LAB_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // (runs stored before, after) of each invocation that was killed alive.
    let mut killed = Vec::new();
    // Journal parts whose last record was cut short.
    let mut torn = 0;
    for _ in 0..ATTEMPTS {
        if killed.len() == KILLS {
            break;
        }
        let before = stored_once(&out).len();
        let moment = if before < POINTS && rng.random_bool(0.7) {
            Moment::Stored(before + rng.random_range(1..=POINTS / 8))
        } else {
            Moment::After(Duration::from_millis(rng.random_range(0..=300)))
        };
        // Without its stamp a finished sweep resumes in full, rewriting its
        // tables: kills that come then must lose nothing either.
        let _ = std::fs::remove_file(out.join(".tables-stamp"));
        let mut child = start(dir.path(), &m, "out", "2");
        let alive = wait_for(&mut child, &out, moment);
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        let status = child.wait().unwrap();
        if alive {
            let after = stored_once(&out).len();
            // Every third kill also tears the last record, as if it had
            // come in the middle of that record's write.
            if killed.len() % 3 == 1 && tear_last_record(&out, &mut rng) {
                assert_eq!(stored_once(&out).len(), after - 1, "one record torn");
                torn += 1;
            }
            killed.push((before, after));
            // Shown if the test fails.
            eprintln!("seed {seed}: killed at {moment:?}, runs stored {before} -> {after}");
        } else {
            assert!(status.success(), "{moment:?}: {status}");
        }
        if out.join("runs.parquet").exists() {
            read_parquet(&out.join("runs.parquet")); // whole, or not there
        }
    }
    let mid_run = killed.iter().filter(|&&(_, after)| after < POINTS).count();
    let progressed = killed.iter().filter(|&&(b, a)| b < a).count();
    assert!(
        killed.len() == KILLS && mid_run >= 4 && progressed >= 3 && torn >= 1,
        "seed {seed}: the kills did not interrupt the sweep often enough: {killed:?}, {torn} torn"
    );

    let before = stored_once(&out).len();
    let last = start(dir.path(), &m, "out", "2")
        .wait_with_output()
        .unwrap();
    assert_eq!(last.status.code(), Some(0), "{}", stderr(&last));
    let meta = json(&out.join("sweep.json"));
    assert_eq!(meta["ok"], POINTS, "{meta}");
    assert_eq!(meta["not_run"], 0, "{meta}");
    assert_eq!(meta["reused"].as_u64().unwrap() as usize, before, "{meta}");

    // Every point's run once in the store, with one per-request file.
    let runs = read_parquet(&out.join("runs.parquet"));
    let ids = column::<StringArray>(&runs, "run_id");
    let points: BTreeSet<String> = ids.iter().map(|id| id.unwrap().to_string()).collect();
    assert_eq!(points.len(), POINTS);
    assert_eq!(stored_once(&out), points);
    let request_files: BTreeSet<String> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".requests.parquet").map(str::to_string)
        })
        .collect();
    assert_eq!(request_files, points);
    for d in [&out, &out.join("runs")] {
        assert_eq!(temporary_files(d), Vec::<String>::new(), "{}", d.display());
    }

    // The same tables as one uninterrupted sweep (on one thread).
    let whole = start(dir.path(), &m, "whole", "1")
        .wait_with_output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
    let whole_dir = dir.path().join("whole");
    assert_eq!(
        csv_without_wall_time(&out.join("runs.csv")),
        csv_without_wall_time(&whole_dir.join("runs.csv"))
    );
    assert_eq!(
        without_wall_time(runs),
        without_wall_time(read_parquet(&whole_dir.join("runs.parquet")))
    );
    assert_eq!(
        csv_rows(&out.join("summary.csv")),
        csv_rows(&whole_dir.join("summary.csv"))
    );
    for table in ["summary.parquet", "requests.parquet"] {
        assert_eq!(
            read_parquet(&out.join(table)),
            read_parquet(&whole_dir.join(table)),
            "{table}"
        );
    }
}
