//! `inference-lab validate FILE...`: check configs, run nothing.

use super::args::ValidateArgs;
use super::run::read_config;
use super::{EXIT_FAILURE, EXIT_OK};
use anyhow::Result;

/// Checks each file; prints one line per file; fails if any is invalid.
pub fn validate(args: &ValidateArgs) -> Result<u8> {
    let mut failed = 0;
    for path in &args.files {
        match read_config(path).and_then(|c| super::dataset::check_dataset_exists(&c, path)) {
            Ok(_) => println!("ok: {}", path.display()),
            Err(err) => {
                failed += 1;
                eprintln!("error: {}", super::render_error(&err));
            }
        }
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILURE })
}
