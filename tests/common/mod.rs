//! Helpers for integration tests that run the real `inference-lab` binary.
#![allow(dead_code)]

pub mod mutate;
pub mod snapshot;

use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `configs/` lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped file, by path relative to the repository root.
pub fn shipped(rel: &str) -> PathBuf {
    repo().join(rel)
}

/// The binary under test, run in `cwd` with colour and terminal detection neutral.
pub fn cmd(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_inference-lab"));
    c.current_dir(cwd).env_remove("NO_COLOR");
    c
}

/// Runs the binary with `args` in `cwd`.
pub fn run(cwd: &Path, args: &[&str]) -> Output {
    cmd(cwd).args(args).output().expect("binary runs")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Reads a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json file exists"))
        .expect("valid json")
}

/// Runs the binary on the shipped quick config (100 requests) with `extra` flags.
pub fn run_quick(cwd: &Path, extra: &[&str]) -> Output {
    let quick = shipped("configs/quick.toml");
    let mut args = vec!["-c", quick.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    run(cwd, &args)
}

/// Asserts that the command failed with exit code 1 (a bad config or
/// input) and said `text` on stderr.
pub fn assert_error(o: &Output, text: &str) {
    assert_failure(o, 1, text);
}

/// Asserts that the command exited with `code` and said `text` on stderr.
pub fn assert_failure(o: &Output, code: i32, text: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    assert!(
        stderr(o).contains(text),
        "expected {text:?} in: {}",
        stderr(o)
    );
}

/// Writes the sweep manifest `dir/name` (sweep "t", output "out") on the
/// shipped config `base`, followed by `body` (its [grid] and [[zip]] tables).
pub fn write_manifest(dir: &Path, name: &str, base: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[sweep]\nname = \"t\"\nbase = {:?}\noutput = \"out\"\n{body}",
            shipped(base).display().to_string()
        ),
    )
    .expect("manifest written");
    path
}

/// A sweep's CSV table as rows of strings (header first) without the
/// `wall_seconds` column, the one thing that differs between two runs of the
/// same sweep.
pub fn csv_without_wall_time(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("csv record").iter().map(str::to_string).collect())
        .collect();
    let wall = rows[0]
        .iter()
        .position(|h| h == "wall_seconds")
        .expect("a wall_seconds column");
    rows.into_iter()
        .map(|mut row| {
            row.remove(wall);
            row
        })
        .collect()
}

/// A Parquet file written by the tool, read back whole as one batch.
pub fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        batches.len(),
        1,
        "{}: one row group expected",
        path.display()
    );
    batches.remove(0)
}

/// Column `name` of `batch` as the array type `T`.
pub fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| {
            panic!(
                "column {name} has type {}",
                batch.column_by_name(name).unwrap().data_type()
            )
        })
}

/// The ids of the finished runs the run store of the sweep directory `out`
/// holds: the complete record lines with metrics in `runs/part-*.jsonl`.
pub fn stored_runs(out: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(out.join("runs")) else {
        return Vec::new();
    };
    let mut parts: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("part-") && name.ends_with(".jsonl")
        })
        .collect();
    parts.sort();
    let mut ids = Vec::new();
    for part in parts {
        let text = std::fs::read_to_string(part).unwrap_or_default();
        for line in text.split_inclusive('\n').skip(1) {
            let Ok(record) = serde_json::from_str::<serde_json::Value>(line.trim_end()) else {
                continue;
            };
            if line.ends_with('\n') && record.get("metrics").is_some() {
                ids.push(record["run"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    ids
}

/// Starts the binary with `args` in `cwd` and waits (at most 30 s) for
/// the first line it writes on stderr; returns the child, the line and
/// how long it took.
pub fn first_stderr_line(
    cwd: &Path,
    args: &[&str],
) -> (std::process::Child, String, std::time::Duration) {
    use std::io::BufRead;
    let started = std::time::Instant::now();
    let mut child = cmd(cwd)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary starts");
    let err = child.stderr.take().expect("stderr piped");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(err).read_line(&mut line);
        let _ = send.send(line);
    });
    let line = receive
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap_or_default();
    (child, line, started.elapsed())
}

/// Sends SIGINT (Ctrl-C) to `child`.
pub fn interrupt(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}
