//! Config parsing and validation: defaults, presets, derived values and the
//! consistency checks of models. The exact wording of config errors, as the
//! binary prints them, is pinned by the error catalogue (`tests/golden/errors.txt`).

use super::*;

/// A small valid config (shared with the error catalogue of tests/golden.rs).
const MINIMAL: &str = include_str!("../../tests/fixtures/minimal.toml");

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, "c.toml")
}

fn error_of(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn defaults_are_filled_in() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.server.scheduler.policy, Policy::Fcfs);
    assert!(c.server.scheduler.enable_chunked_prefill);
    assert!(c.server.scheduler.enable_prefix_caching);
    assert!(!c.server.scheduler.enable_preemption_free);
    assert_eq!(c.server.scheduler.block_size, 16);
    assert_eq!(c.server.scheduler.long_prefill_token_threshold, 0);
    assert_eq!(c.server.scheduler.max_num_partial_prefills, 1);
    assert_eq!(c.workload.seed, 42);
    assert_eq!(c.workload.burst_size, DEFAULT_BURST_SIZE);
    assert_eq!(c.simulation.log_interval, 100);
    assert_eq!(c.server.hardware.gpu_memory_utilization, 0.9);
    assert_eq!(c.server.model.num_kv_heads, 8);
    assert_eq!(c.server.model.head_dim, 128);
    assert_eq!(
        c.server.model.num_active_parameters,
        c.server.model.num_parameters
    );
    // KV capacity = memory * 0.9 - weights = 85,899,345,920 * 0.9 - 8,030,261,248 * 2.
    assert_eq!(
        c.server.hardware.kv_cache_capacity,
        (85_899_345_920f64 * 0.9) as u64 - 16_060_522_496
    );
}

#[test]
fn threshold_defaults_to_four_percent_with_several_partial_prefills() {
    let text = MINIMAL.replace(
        "max_num_seqs = 256",
        "max_num_seqs = 256\nmax_num_partial_prefills = 4",
    );
    // 4% of max_seq_len 131072.
    assert_eq!(
        parse(&text)
            .unwrap()
            .server
            .scheduler
            .long_prefill_token_threshold,
        5242
    );
}

#[test]
fn head_dim_defaults_to_hidden_over_heads() {
    let text = MINIMAL.replace(
        "model = \"llama-3.1-8b\"",
        "model = { name = 'm', num_parameters = 1000, num_layers = 2, hidden_dim = 512, num_heads = 4, max_seq_len = 100 }",
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.server.model.head_dim, 128);
    assert_eq!(c.server.model.num_kv_heads, 4);
}

#[test]
fn every_shipped_preset_and_config_parses() {
    for (name, _) in presets::HARDWARE_PRESETS {
        let text = MINIMAL.replace("hardware = \"h100\"", &format!("hardware = \"{name}\""));
        parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, _) in presets::MODEL_PRESETS {
        let text = MINIMAL
            .replace("model = \"llama-3.1-8b\"", &format!("model = \"{name}\""))
            .replace(
                "hardware = \"h100\"",
                "hardware = { preset = \"b200\", bytes_per_param = 1 }",
            );
        parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    Config::builtin_default().unwrap();
}

#[test]
fn preset_tables_take_overrides() {
    let text = MINIMAL.replace(
        "hardware = \"h100\"",
        "hardware = { preset = \"h100\", memory_bandwidth = 1e12, kv_cache_capacity = 1073741824 }",
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.server.hardware.memory_bandwidth, 1e12);
    assert_eq!(c.server.hardware.compute_flops, 989e12);
    assert_eq!(c.server.hardware.kv_cache_capacity, 1 << 30);
}

#[test]
fn model_consistency_checks() {
    let model = |extra: &str| {
        MINIMAL.replace(
            "model = \"llama-3.1-8b\"",
            &format!("model = {{ name = 'm', num_parameters = 1000, num_layers = 2, hidden_dim = 512, num_heads = 8, max_seq_len = 100, {extra} }}"),
        )
    };
    assert!(error_of(&model("num_kv_heads = 3"))
        .contains("model.num_kv_heads: expected a divisor of num_heads (8)"));
    assert!(error_of(&model("num_sliding_layers = 1")).contains("model.sliding_window: missing"));
    assert!(
        error_of(&model("num_sliding_layers = 2, sliding_window = 4"))
            .contains("model.num_sliding_layers: expected fewer than num_layers")
    );
    assert!(error_of(&model("num_experts = 4")).contains("model.experts_per_token: missing"));
    assert!(error_of(&model("num_experts = 4, experts_per_token = 8"))
        .contains("model.experts_per_token: expected at most num_experts (4)"));
    assert!(error_of(&model("num_active_parameters = 2000"))
        .contains("model.num_active_parameters: expected at most num_parameters"));
    // 512 x 2 untied = 1024 vocabulary parameters, more than the model's 1000.
    assert!(error_of(&model("vocab_size = 1")).contains(
        "model.vocab_size: the embedding and LM head (2 x vocab_size x hidden_dim = 1024 parameters) must be fewer than num_active_parameters (1000)"
    ));
    assert!(parse(&model("vocab_size = 1, tie_word_embeddings = true")).is_ok());
}

#[test]
fn a_calibration_path_is_for_the_command_line_to_read() {
    let text = MINIMAL.replace(
        "hardware = \"h100\"",
        "hardware = { preset = 'h100', calibration = 'cal.toml' }",
    );
    assert!(error_of(&text)
        .starts_with("c.toml: hardware.calibration: the calibration file 'cal.toml' was not read"));
    let text = MINIMAL.replace(
        "hardware = \"h100\"",
        "hardware = { preset = 'h100', calibration = { compute_efficiency = 0.5 } }",
    );
    assert_eq!(
        parse(&text)
            .unwrap()
            .server
            .hardware
            .calibration
            .compute_efficiency,
        0.5
    );
    assert_eq!(
        parse(MINIMAL).unwrap().server.hardware.calibration,
        Calibration::DATASHEET
    );
}

#[test]
fn dataset_mode_needs_neither_length_distributions_nor_a_limit() {
    let text = "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 2048\nmax_num_seqs = 8\n[workload]\narrival_pattern = 'poisson'\narrival_rate = 1.0\ndataset_path = 'prompts.jsonl'\n";
    let c = Config::from_toml_str(text, "c.toml").unwrap();
    assert_eq!(c.workload.dataset_path.as_deref(), Some("prompts.jsonl"));
    assert_eq!(c.workload.num_requests, None);
    assert_eq!(c.workload.duration_secs, None);
    let synthetic = text.replace("dataset_path = 'prompts.jsonl'\n", "");
    let e = Config::from_toml_str(&synthetic, "c.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("workload.num_requests: missing"), "{e}");
}

/// Checks that every field of `fields` left out of `given` resolves to the
/// default its field table states (the tables feed the docs and the JSON
/// Schemas, so they must tell the parser's truth).
fn check_table_defaults(
    fields: &[fields::Field],
    given: &Table,
    resolved: &serde_json::Value,
    path: &str,
) {
    use fields::{FieldDefault, FieldKind};
    for f in fields {
        if given.contains_key(f.name) {
            continue;
        }
        let value = &resolved[f.name];
        let at = format!("{path}.{}", f.name);
        match f.default {
            FieldDefault::Integer(v) => assert_eq!(value.as_u64(), Some(v), "{at}"),
            FieldDefault::Number(v) => assert_eq!(value.as_f64(), Some(v), "{at}"),
            FieldDefault::Bool(v) => assert_eq!(value.as_bool(), Some(v), "{at}"),
            FieldDefault::Name(v) => assert_eq!(value.as_str(), Some(v), "{at}"),
            FieldDefault::Absent => assert!(value.is_null(), "{at}: {value}"),
            FieldDefault::Required | FieldDefault::Derived(_) | FieldDefault::Depends(_) => {}
        }
        if let FieldKind::Table(inner) | FieldKind::PathOrTable(inner) = f.kind {
            if value.is_object() {
                check_table_defaults(inner, &Table::new(), value, &at);
            }
        }
    }
}

#[test]
fn the_field_tables_state_the_parsers_defaults() {
    let shared = MINIMAL.replace(
        "input_len_dist = { type = \"fixed\", value = 100 }",
        "shared_prefix = { num_groups = 2, prompts_per_group = 3, system_prompt_len = 10, question_len = 5 }",
    );
    let trace = "hardware = \"h100\"\nmodel = \"llama-3.1-8b\"\n[scheduler]\nmax_num_batched_tokens = 8192\nmax_num_seqs = 256\n[workload]\ntrace = { path = \"t.csv\" }\n";
    for text in [MINIMAL, shared.as_str(), trace] {
        let doc = parse_toml(text, "c.toml").unwrap();
        let config = parse(text).unwrap();
        let json = serde_json::to_value(&config).unwrap();
        for section in SECTIONS {
            let given = match doc.get(section.name) {
                Some(value @ toml::Value::String(_)) | Some(value @ toml::Value::Table(_))
                    if matches!(section.kind, fields::FieldKind::PresetOrTable(_)) =>
                {
                    let kind = if section.name == "hardware" {
                        PresetKind::Hardware
                    } else {
                        PresetKind::Model
                    };
                    presets::resolve(kind, value, "c.toml").unwrap()
                }
                Some(toml::Value::Table(t)) => t.clone(),
                _ => Table::new(),
            };
            let (fields::FieldKind::Table(inner) | fields::FieldKind::PresetOrTable(inner)) =
                section.kind
            else {
                panic!("section {} is not a table", section.name);
            };
            check_table_defaults(inner, &given, &json[section.name], section.name);
        }
        // The nested tables of the workload, where this config has them.
        for (key, inner) in [
            ("shared_prefix", shared_prefix::SHARED_PREFIX_FIELDS),
            ("trace", trace::TRACE_FIELDS),
        ] {
            if let Some(toml::Value::Table(t)) = doc["workload"].get(key) {
                check_table_defaults(inner, t, &json["workload"][key], key);
            }
        }
    }
}

/// Every field of every table appears in docs/configuration.md (as `name`,
/// a section as [name]),
/// so a new field cannot ship undocumented.
#[test]
fn every_field_is_documented() {
    const DOCS: &str = include_str!("../../docs/configuration.md");
    fn walk(fields: &[fields::Field], path: &str, missing: &mut Vec<String>) {
        for f in fields {
            let at = format!("{path}.{}", f.name);
            let quoted = [format!("`{}`", f.name), format!("[{}]", f.name)];
            if !quoted.iter().any(|q| DOCS.contains(q.as_str())) {
                missing.push(at.clone());
            }
            match f.kind {
                fields::FieldKind::Table(inner)
                | fields::FieldKind::PresetOrTable(inner)
                | fields::FieldKind::PathOrTable(inner) => walk(inner, &at, missing),
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    walk(SECTIONS, "", &mut missing);
    assert!(missing.is_empty(), "undocumented fields: {missing:?}");
}
