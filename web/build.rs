//! Bundles the shipped configs (`configs/*.toml`, the playground's starting
//! points) and calibration files (`configs/calibration/*.toml`, which
//! `hardware.calibration = "calibration/..."` names) into the module: the
//! browser has no file system. The directories are the list: a config added
//! there is bundled on the next build.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut out = String::new();
    for (name, dir) in [
        ("EXAMPLES", configs.clone()),
        ("CALIBRATIONS", configs.join("calibration")),
    ] {
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let _ = writeln!(out, "pub(crate) const {name}: &[(&str, &str)] = &[");
        for path in &files {
            println!("cargo:rerun-if-changed={}", path.display());
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
            let _ = writeln!(
                out,
                "    ({:?}, include_str!({:?})),",
                file.unwrap_or_default(),
                path.display().to_string()
            );
        }
        out.push_str("];\n");
    }
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("files.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
