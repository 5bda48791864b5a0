//! Hostile outputs and misused flags: outputs that are not regular files,
//! outputs that are inputs, two sweeps into one directory, run files that
//! cannot be trusted, and flags or files of the wrong kind.

mod common;
use common::*;
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn a_fifo_is_written_through_and_a_symlink_stays_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
    };
    let o = run_quick(dir.path(), &["-q", "-o", "out.fifo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = reader.join().unwrap();
    let result: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(result.get("config").is_some());
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());

    std::os::unix::fs::symlink("real.json", dir.path().join("out.json")).unwrap();
    let o = run_quick(dir.path(), &["-q", "-o", "out.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let link = fs::symlink_metadata(dir.path().join("out.json")).unwrap();
    assert!(link.file_type().is_symlink());
    assert!(json(&dir.path().join("real.json")).get("config").is_some());
    // Nothing else: no temporary file left beside them.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn stdout_redirected_to_a_file_is_appended_to_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.json");
    for _ in 0..2 {
        let out = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&all)
            .unwrap();
        let quick = shipped("configs/quick.toml");
        let o = cmd(dir.path())
            .args(["-c", quick.to_str().unwrap(), "-q", "-o", "/dev/stdout"])
            .stdout(out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let text = fs::read_to_string(&all).unwrap();
    assert_eq!(text.matches("\"latency_metrics\"").count(), 2, "{text}");
}

#[test]
fn a_full_device_is_an_output_error() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = run_quick(dir.path(), &["-q", "-o", "/dev/full"]);
    assert_failure(&o, 4, "error: cannot write results to '/dev/full': ");
    assert!(fs::metadata(full).unwrap().file_type().is_char_device());
}

#[test]
fn an_output_that_is_an_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::copy(shipped("configs/quick.toml"), d.join("c.toml")).unwrap();
    fs::copy(
        shipped("tests/fixtures/h200-llama-3.1-8b-steps.csv"),
        d.join("s.csv"),
    )
    .unwrap();
    let config = fs::read(d.join("c.toml")).unwrap();
    let steps = fs::read(d.join("s.csv")).unwrap();

    let o = run(d, &["-c", "c.toml", "-q", "-o", "./c.toml"]);
    assert_failure(
        &o,
        2,
        "-o './c.toml' is the config file: refusing to overwrite an input",
    );
    let o = run(
        d,
        &["-c", "c.toml", "-q", "-o", "x.html", "--plot", "x.html"],
    );
    assert_failure(&o, 2, "--plot 'x.html' is also the -o output");
    assert!(!d.join("x.html").exists());
    let o = run(
        d,
        &[
            "calibrate",
            "-c",
            "c.toml",
            "--measured",
            "s.csv",
            "-o",
            "s.csv",
        ],
    );
    assert_failure(&o, 2, "-o 's.csv' is the step table (--measured)");
    let o = run(
        d,
        &[
            "predict-steps",
            "-c",
            "c.toml",
            "--steps",
            "s.csv",
            "-o",
            "c.toml",
        ],
    );
    assert_failure(&o, 2, "-o 'c.toml' is the config file (-c)");
    let o = run(
        d,
        &[
            "capacity",
            "-c",
            "c.toml",
            "--slo",
            "ttft_ms_p99=1",
            "-o",
            "c.toml",
        ],
    );
    assert_failure(&o, 2, "-o 'c.toml' is the config file (-c)");
    let o = run(
        d,
        &[
            "compare",
            "-c",
            "c.toml",
            "--measured",
            "s.csv",
            "-o",
            "s.csv",
        ],
    );
    assert_failure(&o, 2, "-o 's.csv' is the measured file (--measured)");
    fs::create_dir_all(d.join("a")).unwrap();
    fs::create_dir_all(d.join("b")).unwrap();
    let o = run(d, &["sweep", "merge", "a", "b", "-o", "a/"]);
    assert_failure(&o, 2, "-o 'a/' is a directory to merge");
    assert_eq!(fs::read_dir(d.join("a")).unwrap().count(), 0);
    assert_eq!(fs::read(d.join("c.toml")).unwrap(), config);
    assert_eq!(fs::read(d.join("s.csv")).unwrap(), steps);
}

#[test]
fn a_second_sweep_into_a_directory_in_use_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = { range = [1, 5000] }\n",
    );
    let m = m.to_str().unwrap();
    let mut first = cmd(dir.path())
        .args(["sweep", m, "-q", "-j", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join("out/.sweep.lock");
    let holder = format!("pid {} on host ", first.id());
    let started = Instant::now();
    while !fs::read_to_string(&lock).is_ok_and(|t| t.contains(&holder)) {
        assert!(started.elapsed() < Duration::from_secs(60), "no lock taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let o = run(dir.path(), &["sweep", m, "-q"]);
    let still_running = first.try_wait().unwrap().is_none();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        still_running,
        "the first sweep ended too early for the test"
    );
    assert_failure(&o, 4, "out': another sweep is writing there (");
    assert!(stderr(&o).contains(&holder), "{}", stderr(&o));
    assert!(asked.elapsed() < Duration::from_secs(20));
    // The holder gone, the directory is free again (and resumes).
    let o = run(dir.path(), &["sweep", m, "-q", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_directory_of_another_sweep_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let grid = "[grid]\n\"workload.seed\" = [1, 2]\n";
    let a = write_manifest(dir.path(), "a.toml", "configs/quick.toml", grid);
    let b = write_manifest(dir.path(), "b.toml", "configs/quick.toml", grid);
    let sweep = |m: &Path, extra: &[&str]| {
        let mut args = vec!["sweep", m.to_str().unwrap(), "-q", "-o", "out"];
        args.extend(extra);
        run(dir.path(), &args)
    };
    assert_eq!(sweep(&a, &[]).status.code(), Some(0));
    let before = fs::read(dir.path().join("out/runs.csv")).unwrap();
    let o = sweep(&b, &[]);
    assert_failure(&o, 2, "holds the results of sweep");
    assert!(stderr(&o).contains("a.toml"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(fs::read(dir.path().join("out/runs.csv")).unwrap(), before);
    // The same manifest resumes there, even edited.
    fs::write(
        &a,
        fs::read_to_string(&a)
            .unwrap()
            .replace("[1, 2]", "[1, 2, 3]"),
    )
    .unwrap();
    assert_eq!(sweep(&a, &[]).status.code(), Some(0));
    assert_eq!(json(&dir.path().join("out/sweep.json"))["reused"], 2);
    let o = sweep(&b, &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(json(&dir.path().join("out/sweep.json"))["manifest"]
        .as_str()
        .unwrap()
        .ends_with("b.toml"));
}

#[test]
fn resume_redoes_what_it_cannot_trust_and_removes_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = [1, 2, 3, 4]\n",
    );
    let m = m.to_str().unwrap();
    let sweep = || run(dir.path(), &["sweep", m, "-q", "--per-request"]);
    assert_eq!(sweep().status.code(), Some(0));
    let out = dir.path().join("out");
    let runs_csv = csv_without_wall_time(&out.join("runs.csv"));
    let ids: Vec<String> = runs_csv[1..].iter().map(|r| r[0].clone()).collect();
    let runs = out.join("runs");
    // A metric removed from one run's record, a metric made text in another,
    // one per-request file cut short, temporary files of killed writers.
    let part = runs.join("part-000000.jsonl");
    let edit = |id: &str, from: &str, to: &str| {
        let text = fs::read_to_string(&part).unwrap();
        let edited: Vec<String> = text
            .lines()
            .map(|l| match l.contains(id) {
                true => {
                    assert_eq!(l.matches(from).count(), 1, "{from} in {l}");
                    l.replacen(from, to, 1)
                }
                false => l.to_string(),
            })
            .collect();
        fs::write(&part, edited.join("\n") + "\n").unwrap();
    };
    let text = fs::read_to_string(&part).unwrap();
    let line = text.lines().find(|l| l.contains(&ids[0])).unwrap();
    let last_metric = line.rfind(',').unwrap();
    edit(&ids[0], &line[last_metric..], "]}");
    edit(&ids[1], "\"metrics\":[", "\"metrics\":[\"x\",");
    let parquet = runs.join(format!("{}.requests.parquet", ids[2]));
    let bytes = fs::read(&parquet).unwrap();
    fs::write(&parquet, &bytes[..bytes.len() / 2]).unwrap();
    fs::write(out.join(".requests.parquet.tmp-99999-0"), b"partial").unwrap();
    fs::write(runs.join(format!(".{}.json.tmp-99999-1", ids[3])), b"{").unwrap();

    assert_eq!(sweep().status.code(), Some(0));
    assert_eq!(json(&out.join("sweep.json"))["reused"], 1);
    assert_eq!(csv_without_wall_time(&out.join("runs.csv")), runs_csv);
    let left: Vec<String> = [&out, &runs]
        .iter()
        .flat_map(|d| fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn flags_that_contradict_each_other_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(
        dir.path(),
        "m.toml",
        "configs/quick.toml",
        "[grid]\n\"workload.seed\" = [1]\n",
    );
    let m = m.to_str().unwrap();
    let o = run(dir.path(), &["sweep", m, "-q", "--resume", "--force"]);
    assert_failure(&o, 2, "'--resume' cannot be used with '--force'");
    let o = run(dir.path(), &["sweep", m, "-q", "--shards", "2"]);
    assert_failure(&o, 2, "--shards 2 is read only with --shard auto");
    let o = run(
        dir.path(),
        &["sweep", m, "-q", "--shard", "0/2", "--shards", "2"],
    );
    assert_failure(&o, 2, "--shards 2 is read only with --shard auto");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_config_and_a_manifest_given_for_each_other_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = shipped("configs/quick.toml");
    let manifest = shipped("sweeps/policies.toml");
    let o = run(dir.path(), &["sweep", config.to_str().unwrap(), "-q"]);
    assert_failure(&o, 1, "this is a config file (it has '");
    assert!(
        stderr(&o).contains("not a sweep manifest"),
        "{}",
        stderr(&o)
    );
    let o = run(dir.path(), &["-c", manifest.to_str().unwrap(), "-q"]);
    assert_failure(
        &o,
        1,
        "this is a sweep manifest (it has a [sweep] section), not a config file",
    );
}

/// The exit code of the binary run in `dir` with `args` and stderr `err`
/// (stdout discarded).
fn code_with_stderr(dir: &Path, args: &[&str], err: Stdio) -> Option<i32> {
    cmd(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(err)
        .status()
        .unwrap()
        .code()
}

#[test]
fn a_stderr_that_cannot_be_written_never_panics_and_keeps_the_exit_code() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let quick = shipped("configs/quick.toml");
    let quick = quick.to_str().unwrap();
    fs::write(
        dir.path().join("m.toml"),
        format!("[sweep]\nname = \"t\"\nbase = {quick:?}\noutput = \"out\"\n[grid]\n\"workload.seed\" = [1, 2]\n"),
    )
    .unwrap();
    // Progress, logs and decisions (-v --debug), an error, a usage error, a sweep.
    let cases: [(&[&str], i32); 4] = [
        (&["-c", quick, "-v", "--debug"], 0),
        (&["-c", "no-such.toml"], 1),
        (&["--no-such-flag"], 2),
        (&["sweep", "m.toml"], 0),
    ];
    for (args, code) in cases {
        let err = Stdio::from(fs::OpenOptions::new().write(true).open(full).unwrap());
        assert_eq!(
            code_with_stderr(dir.path(), args, err),
            Some(code),
            "{args:?} 2>/dev/full"
        );
    }
    // A closed pipe: its reader gone before the run writes (exit 101 was a panic).
    let mut child = cmd(dir.path())
        .args(["-c", quick, "-v", "--debug"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "stderr a closed pipe"
    );
}
