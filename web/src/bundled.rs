//! The shipped configs and calibration files, compiled in by `build.rs`
//! from `configs/` (the browser has no file system).

use inference_lab::config::{parse_toml, ConfigError};
use serde::Serialize;
use toml::{Table, Value};

include!(concat!(env!("OUT_DIR"), "/files.rs"));

/// The directory of `configs/` that calibration paths in the shipped configs start from.
const CALIBRATION_DIR: &str = "calibration/";

/// A shipped config, as the playground offers it.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    /// File name in `configs/` (`quick.toml`).
    pub name: &'static str,
    /// Its text.
    pub toml: &'static str,
    /// Whether it runs in the browser (dataset-mode configs need files).
    pub runs_here: bool,
}

/// Every shipped config in `configs/`, by file name.
pub fn examples() -> Vec<Example> {
    EXAMPLES
        .iter()
        .map(|&(name, toml)| Example {
            name,
            toml,
            runs_here: crate::validate(toml, name).is_empty(),
        })
        .collect()
}

/// The text of the shipped config `name` (`quick.toml`).
pub fn example(name: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Replaces a `hardware.calibration` that names a shipped calibration file
/// (`calibration/NAME.toml`) with the file's table. Any other file name is
/// an error naming the field: the browser can read no other file.
pub(crate) fn inline_calibration(doc: &mut Table, source: &str) -> Result<(), ConfigError> {
    let Some(Value::Table(hardware)) = doc.get_mut("hardware") else {
        return Ok(());
    };
    let Some(Value::String(path)) = hardware.get("calibration") else {
        return Ok(());
    };
    let name = path.trim_start_matches("./");
    let text = name
        .strip_prefix(CALIBRATION_DIR)
        .and_then(|file| CALIBRATIONS.iter().find(|(n, _)| *n == file))
        .map(|(_, text)| *text);
    let Some(text) = text else {
        let shipped: Vec<String> = CALIBRATIONS
            .iter()
            .map(|(n, _)| format!("{CALIBRATION_DIR}{n}"))
            .collect();
        return Err(ConfigError::new(
            source,
            "hardware.calibration",
            format!(
                "the browser cannot read the file '{path}': use a shipped calibration ({}) or write the calibration as a table ([hardware.calibration])",
                shipped.join(", ")
            ),
        ));
    };
    let table = parse_toml(text, &format!("{CALIBRATION_DIR}{name}"))?;
    hardware.insert("calibration".to_string(), Value::Table(table));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_config_is_bundled_and_valid() {
        let names: Vec<&str> = examples().iter().map(|e| e.name).collect();
        for name in [
            "config.toml",
            "quick.toml",
            "closed-loop.toml",
            "h200-llama-3.1-8b-calibrated.toml",
            "bursty.toml",
            "shared-prefix.toml",
            "daily-cycle.toml",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        for e in examples() {
            let problems = crate::validate(e.toml, e.name);
            let reads_files = e.name.starts_with("dataset") || e.name == "trace.toml";
            assert_eq!(e.runs_here, !reads_files, "{}: {problems:?}", e.name);
            assert!(
                problems.iter().all(
                    |p| ["workload.dataset_path", "workload.trace"].contains(&p.field.as_str())
                ),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn shipped_calibrations_are_inlined_others_are_named() {
        let calibrated = example("h200-llama-3.1-8b-calibrated.toml").unwrap();
        let hardware = |text: &str| {
            let json = crate::resolved_config(text, "c.toml").unwrap();
            serde_json::from_str::<serde_json::Value>(&json).unwrap()["hardware"].clone()
        };
        let plain = example("h200-llama-3.1-8b.toml").unwrap();
        assert_ne!(
            hardware(calibrated),
            hardware(plain),
            "the calibration was not applied"
        );
        let e = crate::load(
            "hardware = { preset = 'h200', calibration = 'mine.toml' }\nmodel = 'llama-3.1-8b'",
            "editor",
        )
        .unwrap_err();
        assert_eq!(e.field, "hardware.calibration");
        assert!(
            e.message.contains("calibration/h200-llama-3.1-8b.toml"),
            "{e}"
        );
    }
}
