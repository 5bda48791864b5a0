//! Config files as the core needs them: read, parsed, with a
//! `hardware.calibration = "file.toml"` inlined (the core reads no files),
//! and validated. Also calibration files and step tables on their own, and
//! the rule for paths written inside a config: relative to the config file.

use super::error::{Context, Error, Result};
use super::lines::{read_text_file, MAX_LINE_BYTES};
use crate::calibration::{parse_steps, StepTable};
use crate::config::{parse_toml, Calibration, Config};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Reads and validates the config file at `path`.
pub fn read_config(path: &Path) -> Result<Config> {
    let doc = read_toml(path, "config file")?;
    config_from_doc(doc, path)
}

/// Reads and parses a TOML file (`what` names it in messages).
pub fn read_toml(path: &Path, what: &'static str) -> Result<Table> {
    let text = read_text(path, what)?;
    Ok(parse_toml(&text, &path.display().to_string())?)
}

/// Reads a whole text file (`what` names it in messages); bytes that are
/// not UTF-8 are an error naming their line.
pub fn read_text(path: &Path, what: &'static str) -> Result<String> {
    read_text_file(path, usize::MAX).map_err(|e| Error::read(what, path, e))
}

/// Validates a parsed config document that was read from the file `path`
/// (perhaps changed since, as sweeps and `--set` do): the one place where a
/// config file becomes a [`Config`], so that every command resolves it the
/// same way. A `hardware.calibration` naming a file is read here, relative
/// to `path`.
pub fn config_from_doc(mut doc: Table, path: &Path) -> Result<Config> {
    inline_calibration_file(&mut doc, path)?;
    Ok(Config::from_table(&doc, &path.display().to_string())?)
}

/// A file path written in a config (a dataset, a calibration, a trace):
/// relative paths are relative to the config file's directory, so a config
/// and its files can move together. `config_path` is `None` for the
/// built-in default, whose paths are taken as written.
pub fn resolve_path(config_path: Option<&Path>, file: &str) -> PathBuf {
    let path = Path::new(file);
    match config_path.and_then(Path::parent) {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Replaces a `hardware.calibration` that names a file with the file's table,
/// checked on its own so that its errors name the calibration file. A relative
/// path is relative to the directory of `config_path`, the file the document
/// came from.
fn inline_calibration_file(doc: &mut Table, config_path: &Path) -> Result<()> {
    let Some((file, path)) = calibration_file(doc, config_path) else {
        return Ok(());
    };
    let Some(Value::Table(hardware)) = doc.get_mut("hardware") else {
        return Ok(());
    };
    let (table, _) = read_calibration_file(&path).context_with(|| {
        format!(
            "{}: hardware.calibration: cannot use the calibration file '{file}' (a relative path is relative to the config file's directory)",
            config_path.display()
        )
    })?;
    hardware.insert("calibration".to_string(), Value::Table(table));
    Ok(())
}

/// The calibration file a config document names (`hardware.calibration =
/// "file.toml"`), as written and resolved against `config_path`: the one
/// file [`config_from_doc`] reads, which a sweep's plan digests.
pub fn calibration_file(doc: &Table, config_path: &Path) -> Option<(String, PathBuf)> {
    let file = doc.get("hardware")?.get("calibration")?.as_str()?;
    Some((file.to_string(), resolve_path(Some(config_path), file)))
}

/// Reads and validates a calibration file: its table and what it says.
pub fn read_calibration_file(path: &Path) -> Result<(Table, Calibration)> {
    let table = read_toml(path, "calibration file")?;
    let calibration = Calibration::from_table(&table, "", &path.display().to_string())?;
    Ok((table, calibration))
}

/// Reads and parses a step table; a line may be at most [`MAX_LINE_BYTES`] long.
pub fn read_steps(path: &Path) -> Result<StepTable> {
    let text =
        read_text_file(path, MAX_LINE_BYTES).map_err(|e| Error::read("step table", path, e))?;
    Ok(parse_steps(&text, &path.display().to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_path_is_inlined_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("cal")).unwrap();
        std::fs::write(dir.path().join("cal/h.toml"), "compute_efficiency = 0.5\n").unwrap();
        let mut doc: Table =
            toml::from_str("hardware = { preset = 'h200', calibration = 'cal/h.toml' }").unwrap();
        inline_calibration_file(&mut doc, &dir.path().join("c.toml")).unwrap();
        let cal = doc["hardware"]["calibration"].as_table().unwrap();
        assert_eq!(cal["compute_efficiency"].as_float(), Some(0.5));
        // Preset names and inline tables are left alone.
        let mut doc: Table = toml::from_str("hardware = 'h200'").unwrap();
        inline_calibration_file(&mut doc, Path::new("c.toml")).unwrap();
        assert_eq!(doc["hardware"].as_str(), Some("h200"));
    }

    #[test]
    fn a_bad_calibration_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("h.toml");
        std::fs::write(&file, "compute_efficiency = 'fast'\n").unwrap();
        let e = read_calibration_file(&file).unwrap_err().to_string();
        assert!(
            e.contains(
                "h.toml: compute_efficiency: expected a finite number, got the string \"fast\""
            ),
            "{e}"
        );
    }

    #[test]
    fn a_step_table_line_past_the_limit_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.csv");
        let long = "9".repeat(MAX_LINE_BYTES + 1);
        std::fs::write(&file, format!("kind,num_seqs\n{long}\n")).unwrap();
        let e = read_steps(&file).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "cannot read step table '{}': line 2: the line is longer than 8 MiB (8388608 bytes), the limit on a line",
                file.display()
            )
        );
        std::fs::write(&file, b"kind,num_seqs\nde\xffcode\n").unwrap();
        let e = read_steps(&file).unwrap_err().to_string();
        assert!(
            e.ends_with("s.csv': line 2, column 3: not UTF-8 text"),
            "{e}"
        );
    }

    #[test]
    fn paths_are_relative_to_the_config() {
        assert_eq!(
            resolve_path(
                Some(Path::new("configs/dataset.toml")),
                "../examples/d.jsonl"
            ),
            PathBuf::from("configs/../examples/d.jsonl")
        );
        assert_eq!(
            resolve_path(Some(Path::new("configs/dataset.toml")), "/data/d.jsonl"),
            PathBuf::from("/data/d.jsonl")
        );
        assert_eq!(
            resolve_path(Some(Path::new("dataset.toml")), "d.jsonl"),
            PathBuf::from("d.jsonl")
        );
        assert_eq!(resolve_path(None, "d.jsonl"), PathBuf::from("d.jsonl"));
    }
}
