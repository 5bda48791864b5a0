//! `inference-lab validate FILE...`: check configs and sweep manifests, run nothing.

use super::args::ValidateArgs;
use super::{report, Failure, Outcome, EXIT_OK};
use crate::io::config_file::{config_from_doc, read_toml};
use crate::io::workload::check_dataset_exists;
use crate::sweep::manifest::Manifest;
use crate::sweep::plan::Plan;
use std::path::Path;

/// Checks each file; prints one line per file; fails if any is invalid
/// (with the exit code of the first failure).
pub fn validate(args: &ValidateArgs) -> Outcome {
    let mut code = EXIT_OK;
    for path in &args.files {
        match check(path) {
            Ok(what) => super::print_stdout(&format!("ok: {} ({what})\n", path.display()))?,
            Err(failure) => {
                let failed = report(&failure);
                if code == EXIT_OK {
                    code = failed;
                }
            }
        }
    }
    Ok(code)
}

/// Checks one file: a sweep manifest (it has a `[sweep]` table) by expanding
/// and resolving every point, anything else as a config.
fn check(path: &Path) -> Result<String, Failure> {
    let doc = read_toml(path, "")?;
    if doc.contains_key("sweep") {
        let plan = Plan::build(Manifest::load(path)?)?;
        return Ok(format!(
            "sweep manifest: {} points, {} invalid",
            plan.len(),
            plan.invalid_points()
        ));
    }
    let config = config_from_doc(doc, path)?;
    check_dataset_exists(&config, path)?;
    Ok("config".into())
}
