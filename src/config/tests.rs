//! Config parsing and validation: defaults, presets, and one clear error per mistake.

use super::*;

const MINIMAL: &str = r#"
hardware = "h100"
model = "llama-3.1-8b"
[scheduler]
max_num_batched_tokens = 8192
max_num_seqs = 256
[workload]
arrival_pattern = "poisson"
arrival_rate = 4.0
num_requests = 100
input_len_dist = { type = "fixed", value = 100 }
output_len_dist = { type = "fixed", value = 10 }
"#;

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
fn unknown_presets_list_the_choices_with_a_hint() {
    let e = error_of(&MINIMAL.replace("\"h100\"", "\"h10\""));
    assert!(
        e.starts_with("c.toml: hardware: unknown hardware preset 'h10'"),
        "{e}"
    );
    assert!(e.contains("did you mean 'h100'?"), "{e}");
}

#[test]
fn unknown_keys_get_a_did_you_mean_hint() {
    let e = error_of(&MINIMAL.replace("max_num_seqs", "max_num_seq"));
    assert_eq!(
        e,
        "c.toml: scheduler.max_num_seq: unknown field 'max_num_seq'; did you mean 'max_num_seqs'?"
    );
    let e = error_of(&format!("{MINIMAL}\n[simulaton]\nlog_interval = 5"));
    assert!(
        e.contains("unknown section 'simulaton'; did you mean 'simulation'?"),
        "{e}"
    );
    let e = error_of(&MINIMAL.replace("value = 100", "valeu = 100"));
    assert!(
        e.contains("workload.input_len_dist.valeu: unknown field 'valeu'"),
        "{e}"
    );
    assert!(e.contains("did you mean 'value'?"), "{e}");
}

#[test]
fn each_bad_value_names_its_field() {
    let cases = [
        ("max_num_seqs = 256", "max_num_seqs = 0", "scheduler.max_num_seqs: expected an integer of at least 1, got 0"),
        ("max_num_seqs = 256", "max_num_seqs = 256\nblock_size = 0", "scheduler.block_size: expected an integer of at least 1, got 0"),
        ("arrival_rate = 4.0", "arrival_rate = -1.0", "workload.arrival_rate: expected a number above 0, got -1"),
        ("arrival_rate = 4.0", "arrival_rate = 0", "workload.arrival_rate: expected a number above 0, got 0"),
        ("arrival_rate = 4.0", "arrival_rate = \"fast\"", "workload.arrival_rate: expected a finite number, got the string \"fast\""),
        ("max_num_seqs = 256", "max_num_seqs = 256\npolicy = \"fifo\"", "scheduler.policy: unknown value 'fifo' (expected one of: fcfs, sof, sif, stf, lif, lof, ltf, priority)"),
        ("num_requests = 100", "", "workload.num_requests: missing: set num_requests or duration_secs"),
        ("arrival_pattern = \"poisson\"", "arrival_pattern = \"closed_loop\"", "workload.num_concurrent_users: missing required field"),
        ("value = 100", "value = 0", "workload.input_len_dist.value: expected an integer of at least 1, got 0"),
        ("{ type = \"fixed\", value = 10 }", "{ type = \"uniform\", min = 9, max = 3 }", "workload.output_len_dist.min: expected min <= max (3), got 9"),
        ("{ type = \"fixed\", value = 10 }", "{ type = \"normal\", mean = 9.0, std_dev = -3.0 }", "workload.output_len_dist.std_dev: expected a number of at least 0, got -3"),
        ("{ type = \"fixed\", value = 10 }", "{ type = \"zipf\" }", "workload.output_len_dist.type: unknown value 'zipf'"),
    ];
    for (from, to, expected) in cases {
        let text = MINIMAL.replacen(from, to, 1);
        let e = error_of(&text);
        assert!(e.starts_with("c.toml: "), "{e}");
        assert!(e.contains(expected), "expected '{expected}' in '{e}'");
    }
}

#[test]
fn missing_sections_and_fields_are_named() {
    let e = error_of(
        "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[workload]\narrival_pattern='poisson'",
    );
    assert_eq!(e, "c.toml: scheduler: missing required section [scheduler]");
    let e = error_of(&MINIMAL.replace("hardware = \"h100\"", "hardware = { name = 'x', compute_flops = 1e15, memory_bandwidth = 1e12, bytes_per_param = 2 }"));
    assert!(
        e.contains("hardware.memory_capacity: missing required field"),
        "{e}"
    );
    let e = error_of(&MINIMAL.replace("hardware = \"h100\"", "hardware = 5"));
    assert!(
        e.contains("hardware: expected a table or a preset name, got the integer 5"),
        "{e}"
    );
}

#[test]
fn malformed_toml_gives_line_and_column() {
    let e = error_of("[scheduler\nmax_num_seqs = 1");
    assert!(e.starts_with("c.toml: invalid TOML: line 1, column"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn a_model_that_does_not_fit_is_an_error() {
    let e = error_of(&MINIMAL.replace("llama-3.1-8b", "llama-3-70b"));
    assert!(
        e.contains("hardware.memory_capacity: the model does not fit"),
        "{e}"
    );
}

#[test]
fn a_cache_that_cannot_hold_one_block_is_an_error() {
    let text = MINIMAL.replace(
        "hardware = \"h100\"",
        "hardware = { preset = \"h100\", kv_cache_capacity = 1000 }",
    );
    let e = error_of(&text);
    assert!(
        e.contains(
            "hardware.kv_cache_capacity: the KV cache (1000 B) cannot hold one block of 16 tokens"
        ),
        "{e}"
    );
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
