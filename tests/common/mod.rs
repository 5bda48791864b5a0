//! Helpers for integration tests that run the real `inference-lab` binary.
#![allow(dead_code)]

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
