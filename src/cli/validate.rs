//! `inference-lab validate FILE...`: check configs and sweep manifests, run nothing.

use super::args::ValidateArgs;
use super::run::config_from_doc;
use super::{EXIT_FAILURE, EXIT_OK};
use crate::sweep::manifest::Manifest;
use crate::sweep::plan::Plan;
use anyhow::{Context, Result};
use std::path::Path;

/// Checks each file; prints one line per file; fails if any is invalid.
pub fn validate(args: &ValidateArgs) -> Result<u8> {
    let mut failed = 0;
    for path in &args.files {
        match check(path) {
            Ok(what) => super::print_stdout(&format!("ok: {} ({what})\n", path.display()))?,
            Err(err) => {
                failed += 1;
                eprintln!("error: {}", super::render_error(&err));
            }
        }
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILURE })
}

/// Checks one file: a sweep manifest (it has a `[sweep]` table) by expanding
/// and resolving every point, anything else as a config.
fn check(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read '{}'", path.display()))?;
    let doc = crate::config::parse_toml(&text, &path.display().to_string())?;
    if doc.contains_key("sweep") {
        let plan = Plan::build(Manifest::load(path)?)?;
        return Ok(format!(
            "sweep manifest: {} points, {} invalid",
            plan.points.len(),
            plan.invalid_points()
        ));
    }
    let config = config_from_doc(doc, path)?;
    super::dataset::check_dataset_exists(&config, path)?;
    Ok("config".into())
}
