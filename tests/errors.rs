//! Bad input beyond its wording. Each mistake's exact message and exit code
//! (1 for bad input, 2 for usage) is in the error catalogue,
//! `tests/golden/errors.txt`, written by `tests/golden.rs`.

mod common;
use common::*;
use std::fs;

#[test]
fn validate_checks_without_running() {
    let dir = tempfile::tempdir().unwrap();
    let quick = fs::read_to_string(shipped("configs/quick.toml")).unwrap();
    fs::write(
        dir.path().join("bad.toml"),
        quick.replacen("block_size = 16", "block_size = 0", 1),
    )
    .unwrap();
    let good = shipped("configs/config.toml");
    let o = run(
        dir.path(),
        &["validate", good.to_str().unwrap(), "bad.toml"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("ok: "));
    assert!(
        stderr(&o).contains("bad.toml: scheduler.block_size"),
        "{}",
        stderr(&o)
    );
}
