//! Dotted-path overrides of a config document (`scheduler.policy = "sof"`),
//! applied before validation: the one rule shared by sweep keys and
//! `--set key=value`.

use super::reader::describe;
use toml::{Table, Value};

/// Sets each dotted key to its value. Shorter keys go first, so a preset
/// name (`hardware = "h200"`) replaces the whole section before a field of
/// it (`hardware.kv_cache_capacity`) is set on top.
pub fn apply_overrides(doc: &mut Table, keys: &[&str], values: &[Value]) -> Result<(), String> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| keys[i].matches('.').count());
    for i in order {
        set(doc, keys[i], values[i].clone())?;
    }
    Ok(())
}

fn set(doc: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut table = doc;
    let mut path = String::new();
    for part in parts {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(part);
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        // A section given as a preset name becomes `{ preset = NAME }`, so
        // fields can be set on top of the preset.
        if let Value::String(name) = entry {
            let mut preset = Table::new();
            preset.insert("preset".into(), Value::String(name.clone()));
            *entry = Value::Table(preset);
        }
        table = match entry {
            Value::Table(t) => t,
            other => {
                return Err(format!(
                    "cannot set {key}: {path} is {}, not a table",
                    describe(other)
                ))
            }
        };
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// Parses one `KEY=VALUE` override as the command line writes it: the value
/// is read as a TOML value (`4`, `2.5`, `true`, `"x"`, `{ type = "fixed", value = 10 }`)
/// and, when it is not one, taken as a string (`scheduler.policy=sof`).
pub fn parse_assignment(text: &str) -> Result<(String, Value), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        format!("expected KEY=VALUE (for example scheduler.policy=sof), got '{text}'")
    })?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(format!(
            "expected a dotted config path such as scheduler.policy before '=', got '{key}'"
        ));
    }
    let value = value.trim();
    let parsed = format!("v = {value}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(value.to_string()));
    Ok((key.to_string(), parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_refuse_to_descend_into_values() {
        let mut doc: Table = "[workload]\nseed = 1\n".parse().unwrap();
        let err =
            apply_overrides(&mut doc, &["workload.seed.x"], &[Value::Integer(1)]).unwrap_err();
        assert_eq!(
            err,
            "cannot set workload.seed.x: workload.seed is the integer 1, not a table"
        );
    }

    #[test]
    fn presets_become_tables_and_shorter_keys_go_first() {
        let mut doc: Table = "hardware = 'h100'\n".parse().unwrap();
        apply_overrides(
            &mut doc,
            &["hardware.kv_cache_capacity", "hardware"],
            &[Value::Integer(5), Value::String("h200".into())],
        )
        .unwrap();
        assert_eq!(doc["hardware"]["preset"].as_str(), Some("h200"));
        assert_eq!(doc["hardware"]["kv_cache_capacity"].as_integer(), Some(5));
    }

    #[test]
    fn assignments_read_toml_values_or_strings() {
        let parse = |t| parse_assignment(t).unwrap();
        assert_eq!(
            parse("workload.seed=7"),
            ("workload.seed".into(), Value::Integer(7))
        );
        assert_eq!(
            parse("scheduler.policy = sof"),
            ("scheduler.policy".into(), Value::String("sof".into()))
        );
        assert_eq!(parse("a.b=\"x y\"").1, Value::String("x y".into()));
        assert!(parse("w.d={ type = 'fixed', value = 3 }").1.is_table());
        assert!(parse_assignment("seed").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_assignment("a..b=1")
            .unwrap_err()
            .contains("dotted config path"));
    }
}
