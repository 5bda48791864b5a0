//! Setting dotted keys in a TOML document: how the grid runner makes the
//! points of a comparison (`scheduler.policy`, `workload.arrival_rate`) from
//! one base config.

use toml::{Table, Value};

/// Sets `value` at the dotted `key` of `doc`, creating tables on the way. A
/// preset name standing where a table is needed (`hardware = "h100"` when
/// setting `hardware.kv_cache_capacity`) becomes `{ preset = "h100" }`, which
/// the config reads the same way. The error says which part of the key is in
/// the way.
pub fn set(doc: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "'{key}' is not a dotted key (for example scheduler.policy)"
        ));
    }
    let (last, sections) = parts
        .split_last()
        .ok_or_else(|| format!("empty key '{key}'"))?;
    let mut table = doc;
    for (depth, part) in sections.iter().enumerate() {
        let slot = table
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::String(name) = slot {
            let mut preset = Table::new();
            preset.insert("preset".into(), Value::String(std::mem::take(name)));
            *slot = Value::Table(preset);
        }
        table = match slot {
            Value::Table(t) => t,
            other => {
                return Err(format!(
                    "cannot set '{key}': '{}' is {}, not a table",
                    parts[..=depth].join("."),
                    other.type_str()
                ))
            }
        };
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// A JSON scalar as a TOML value: integers stay integers (the config reads
/// them as floats where it needs floats).
pub fn toml_value(json: &serde_json::Value) -> Result<Value, String> {
    match json {
        serde_json::Value::Bool(b) => Ok(Value::Boolean(*b)),
        serde_json::Value::String(s) => Ok(Value::String(s.clone())),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Value::Integer(i)),
            (None, Some(f)) => Ok(Value::Float(f)),
            (None, None) => Err(format!("{n} is out of range")),
        },
        other => Err(format!("expected a number, string or boolean, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn sets_existing_and_new_keys() {
        let mut d = doc("[scheduler]\npolicy = 'fcfs'\n");
        set(&mut d, "scheduler.policy", Value::from("sof")).unwrap();
        set(&mut d, "workload.seed", Value::from(7)).unwrap();
        assert_eq!(d["scheduler"]["policy"].as_str(), Some("sof"));
        assert_eq!(d["workload"]["seed"].as_integer(), Some(7));
    }

    #[test]
    fn a_preset_name_becomes_a_table_naming_it() {
        let mut d = doc("hardware = 'h100'\n");
        set(&mut d, "hardware.kv_cache_capacity", Value::from(1 << 30)).unwrap();
        assert_eq!(d["hardware"]["preset"].as_str(), Some("h100"));
        assert_eq!(
            d["hardware"]["kv_cache_capacity"].as_integer(),
            Some(1 << 30)
        );
    }

    #[test]
    fn says_what_is_in_the_way() {
        let mut d = doc("[workload]\nseed = 1\n");
        let e = set(&mut d, "workload.seed.x", Value::from(1)).unwrap_err();
        assert_eq!(
            e,
            "cannot set 'workload.seed.x': 'workload.seed' is integer, not a table"
        );
        assert!(set(&mut d, "workload..seed", Value::from(1)).is_err());
        assert!(set(&mut d, "", Value::from(1)).is_err());
    }

    #[test]
    fn json_scalars_map_to_toml() {
        assert_eq!(
            toml_value(&serde_json::json!(4)).unwrap(),
            Value::Integer(4)
        );
        assert_eq!(
            toml_value(&serde_json::json!(2.5)).unwrap(),
            Value::Float(2.5)
        );
        assert_eq!(
            toml_value(&serde_json::json!("sof")).unwrap(),
            Value::from("sof")
        );
        assert!(toml_value(&serde_json::json!([1])).is_err());
    }
}
