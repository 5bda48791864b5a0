//! The browser build against the native binary: the npm package, installed
//! from its tarball and run in Node.js (`web/test/package.test.mjs`), and the
//! playground page in headless Chromium (`tests/browser/check_playground.mjs`).
//! Both compare with the JSON of this build's binary.
//!
//! They need what `scripts/build-web.sh` makes (`target/web/`), Node.js and
//! npm, and for the page Chromium and playwright-core (`npm ci --prefix
//! tests/browser`). Where one is missing the test says so on the terminal and
//! passes, unless INFERENCE_LAB_REQUIRE_BROWSER=1 (set by CI), where it fails.

mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The package's tarball, as `scripts/build-web.sh` names it.
fn tarball() -> PathBuf {
    repo().join(format!(
        "target/web/inference-lab-{}.tgz",
        env!("CARGO_PKG_VERSION")
    ))
}

/// Whether `program --version` runs.
fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The first thing missing of `needs` (a description and whether it is there).
fn missing(needs: &[(&str, bool)]) -> Option<String> {
    needs
        .iter()
        .find(|(_, ok)| !ok)
        .map(|(what, _)| what.to_string())
}

/// Fails when CI requires the browser tests, else says on the terminal why `test` did not run.
fn skip(test: &str, why: &str) {
    let required = std::env::var("INFERENCE_LAB_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(!required, "INFERENCE_LAB_REQUIRE_BROWSER=1 but {why}");
    // Straight to the terminal: the test harness would hide a println.
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED {test}: {why}\n");
}

/// Runs `node` with `args` from the repository root, with the binary and the package named.
fn node(args: &[&str], extra_env: &[(&str, &Path)]) -> std::process::Output {
    let mut c = Command::new("node");
    c.current_dir(repo())
        .args(args)
        .env("INFERENCE_LAB_BIN", env!("CARGO_BIN_EXE_inference-lab"))
        .env("INFERENCE_LAB_TARBALL", tarball());
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().expect("node runs")
}

#[test]
fn the_npm_package_gives_the_native_json_byte_for_byte() {
    let needs = [
        ("Node.js is not installed", has("node")),
        ("npm is not installed", has("npm")),
        (
            "the package is not built (run scripts/build-web.sh)",
            tarball().is_file(),
        ),
    ];
    if let Some(why) = missing(&needs) {
        return skip("the_npm_package_gives_the_native_json_byte_for_byte", &why);
    }
    let o = node(&["--test", "web/test/"], &[]);
    assert!(
        o.status.success(),
        "node --test web/test/ failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn the_playground_in_chromium_shows_the_native_numbers() {
    let site = repo().join("target/web/site");
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    let needs = [
        ("Node.js is not installed", has("node")),
        (
            "the playground is not built (run scripts/build-web.sh)",
            site.join("index.html").is_file(),
        ),
        (
            "Chromium is not installed (apt-get install chromium)",
            chromium.is_some(),
        ),
        (
            "playwright-core is not installed (npm ci --prefix tests/browser)",
            repo()
                .join("tests/browser/node_modules/playwright-core")
                .is_dir(),
        ),
    ];
    if let Some(why) = missing(&needs) {
        return skip("the_playground_in_chromium_shows_the_native_numbers", &why);
    }
    let screenshot = repo().join("target/browser/playground.png");
    let chromium = chromium.unwrap_or_default();
    let o = node(
        &["tests/browser/check_playground.mjs"],
        &[
            ("SITE", &site),
            ("CHROMIUM", &chromium),
            ("SCREENSHOT", &screenshot),
        ],
    );
    assert!(
        o.status.success(),
        "check_playground.mjs failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
}
