//! Hardware and model presets shipped under `configs/` and compiled into the binary,
//! so `hardware = "h100"` works wherever the binary runs.

use super::error::{with_hint, ConfigError};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use toml::{Table, Value};

/// Shipped hardware presets: name and TOML text (`configs/hardware/NAME.toml`).
pub const HARDWARE_PRESETS: &[(&str, &str)] = &[
    ("h100", include_str!("../../configs/hardware/h100.toml")),
    ("h200", include_str!("../../configs/hardware/h200.toml")),
    (
        "a100-80gb",
        include_str!("../../configs/hardware/a100-80gb.toml"),
    ),
    ("b200", include_str!("../../configs/hardware/b200.toml")),
];

/// Shipped model presets: name and TOML text (`configs/models/NAME.toml`).
pub const MODEL_PRESETS: &[(&str, &str)] = &[
    (
        "llama-3-70b",
        include_str!("../../configs/models/llama-3-70b.toml"),
    ),
    (
        "llama-3.1-8b",
        include_str!("../../configs/models/llama-3.1-8b.toml"),
    ),
    (
        "qwen3-30b-a3b",
        include_str!("../../configs/models/qwen3-30b-a3b.toml"),
    ),
    (
        "gpt-oss-120b",
        include_str!("../../configs/models/gpt-oss-120b.toml"),
    ),
    (
        "llama-3.1-70b",
        include_str!("../../configs/models/llama-3.1-70b.toml"),
    ),
    (
        "llama-3.1-405b",
        include_str!("../../configs/models/llama-3.1-405b.toml"),
    ),
    (
        "qwen3-235b-a22b",
        include_str!("../../configs/models/qwen3-235b-a22b.toml"),
    ),
    (
        "llama-2-7b",
        include_str!("../../configs/models/llama-2-7b.toml"),
    ),
    (
        "llama-2-70b",
        include_str!("../../configs/models/llama-2-70b.toml"),
    ),
];

/// The names of a preset list, for the `preset` field tables (their
/// choices are the presets compiled in).
pub const fn preset_names<const N: usize>(presets: &[(&'static str, &str)]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = presets[i].0;
        i += 1;
    }
    names
}

/// The section kinds that accept presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PresetKind {
    Hardware,
    Model,
}

impl PresetKind {
    fn section(self) -> &'static str {
        match self {
            PresetKind::Hardware => "hardware",
            PresetKind::Model => "model",
        }
    }

    fn presets(self) -> &'static [(&'static str, &'static str)] {
        match self {
            PresetKind::Hardware => HARDWARE_PRESETS,
            PresetKind::Model => MODEL_PRESETS,
        }
    }
}

/// The table of preset `name`, or an error listing the presets (with a hint).
fn preset_table(
    kind: PresetKind,
    name: &str,
    source: &str,
    field: &str,
) -> Result<Table, ConfigError> {
    let presets = kind.presets();
    let Some((_, text)) = presets.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = presets.iter().map(|(n, _)| *n).collect();
        let message = with_hint(
            format!(
                "unknown {} preset '{name}' (expected one of: {})",
                kind.section(),
                names.join(", ")
            ),
            name,
            &names,
        );
        return Err(ConfigError::new(source, field, message));
    };
    parsed(text).map_err(|e| {
        ConfigError::new(
            format!("built-in {} preset '{name}'", kind.section()),
            "",
            e.message().to_string(),
        )
    })
}

/// A built-in preset's table, parsed on first use: a sweep resolves a
/// preset for every point, and parsing its text each time was a fifth of
/// the cost of planning.
fn parsed(text: &'static str) -> Result<Table, toml::de::Error> {
    static CACHE: OnceLock<Mutex<HashMap<usize, Table>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let key = text.as_ptr() as usize;
    if let Some(table) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Ok(table.clone());
    }
    let table: Table = toml::from_str(text)?;
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, table.clone());
    Ok(table)
}

/// Turns a `[hardware]`/`[model]` value into the table to read: a preset name
/// becomes the preset's table; a table naming a `preset` gets the preset's
/// fields under its own.
pub(crate) fn resolve(kind: PresetKind, value: &Value, source: &str) -> Result<Table, ConfigError> {
    let section = kind.section();
    match value {
        Value::String(name) => preset_table(kind, name, source, section),
        Value::Table(table) => match table.get("preset") {
            None => Ok(table.clone()),
            Some(Value::String(name)) => {
                let mut merged = preset_table(kind, name, source, &format!("{section}.preset"))?;
                for (k, v) in table.iter().filter(|(k, _)| *k != "preset") {
                    merged.insert(k.clone(), v.clone());
                }
                Ok(merged)
            }
            Some(other) => Err(ConfigError::new(
                source,
                format!("{section}.preset"),
                format!(
                    "expected a preset name, got {}",
                    super::reader::describe(other)
                ),
            )),
        },
        other => Err(ConfigError::new(
            source,
            section,
            format!(
                "expected a table or a preset name, got {}",
                super::reader::describe(other)
            ),
        )),
    }
}
