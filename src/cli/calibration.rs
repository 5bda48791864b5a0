//! Calibration files and step tables on the command line: reading them, and
//! inlining a config's `hardware.calibration = "file.toml"` into the config
//! before it is validated (the core reads no files).

use crate::calibration::{parse_steps, Accuracy, StepTable};
use crate::config::{parse_toml, Calibration};
use anyhow::{Context, Result};
use std::path::Path;
use toml::{Table, Value};

/// Replaces a `hardware.calibration` that names a file with the file's table,
/// checked on its own so that its errors name the calibration file. A relative
/// path is relative to the directory of `config_path`, the file the document
/// came from.
pub(crate) fn inline_calibration_file(doc: &mut Table, config_path: &Path) -> Result<()> {
    let Some(Value::Table(hardware)) = doc.get_mut("hardware") else {
        return Ok(());
    };
    let Some(Value::String(file)) = hardware.get("calibration") else {
        return Ok(());
    };
    let path = super::dataset::resolve(Some(config_path), file);
    let (table, _) = read_calibration_file(&path).with_context(|| {
        format!(
            "{}: hardware.calibration: cannot use the calibration file '{file}' (a relative path is relative to the config file's directory)",
            config_path.display()
        )
    })?;
    hardware.insert("calibration".to_string(), Value::Table(table));
    Ok(())
}

/// Reads and validates a calibration file: its table and what it says.
pub(crate) fn read_calibration_file(path: &Path) -> Result<(Table, Calibration)> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read calibration file '{source}'"))?;
    let table = parse_toml(&text, &source)?;
    let calibration = Calibration::from_table(&table, "", &source)?;
    Ok((table, calibration))
}

/// Reads and parses a step table.
pub(crate) fn read_steps(path: &Path) -> Result<StepTable> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read step table '{}'", path.display()))?;
    Ok(parse_steps(&text, &path.display().to_string())?)
}

/// A relative error as a signed percentage.
pub(crate) fn percent(error: f64) -> String {
    format!("{:+.1}%", error * 100.0)
}

/// One line: MAPE, the largest error, and the MAPE of each kind.
pub(crate) fn accuracy_line(a: &Accuracy) -> String {
    let kinds: Vec<String> = a
        .by_kind
        .iter()
        .map(|(kind, n, mape)| format!("{} {:.1}% ({n})", kind.name(), mape * 100.0))
        .collect();
    format!(
        "MAPE {:5.1}%, max {:5.1}%; {}",
        a.mape * 100.0,
        a.max_error * 100.0,
        kinds.join(", ")
    )
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
        let e = format!("{:#}", read_calibration_file(&file).unwrap_err());
        assert!(
            e.contains(
                "h.toml: compute_efficiency: expected a finite number, got the string \"fast\""
            ),
            "{e}"
        );
    }
}
