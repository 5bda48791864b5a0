//! Traffic as it really arrives: shared prefixes, conversations, trace
//! replay in every format (exactly once, also through sharded sweeps), and
//! the new knobs in sweeps. Traces are written by the tests
//! themselves; prefix-cache hits are checked against hand counts.

mod common;
use common::*;
use inference_lab::cluster::Simulator;
use inference_lab::config::Config;
use inference_lab::engine::{NoopObserver, SimOptions};
use inference_lab::metrics::RequestRecord;
use inference_lab::workload::{RequestSpec, Workload};
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Llama-3.1-8B on an H100: a KV cache far larger than any test needs, so
/// nothing is evicted and every hit is the hand count's.
const SERVER: &str = "hardware = 'h100'\nmodel = 'llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens = 8192\nmax_num_seqs = 64\n";

/// Writes `config` (after the server tables) to `dir/c.toml`.
fn write_config(dir: &Path, block_size: u64, workload: &str) -> std::path::PathBuf {
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        format!("{SERVER}block_size = {block_size}\n[workload]\n{workload}\n"),
    )
    .unwrap();
    path
}

/// Runs the binary on `config` and returns its JSON results.
fn results(dir: &Path, config: &Path) -> serde_json::Value {
    let out = dir.join("out.json");
    let o = run(
        dir,
        &[
            "-c",
            config.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    json(&out)
}

/// `(hits, misses, cached_tokens)` of a run's prefix cache.
fn prefix_cache(r: &serde_json::Value) -> (u64, u64, u64) {
    let p = &r["prefix_cache"];
    let n = |k: &str| p[k].as_u64().unwrap();
    (n("hits"), n("misses"), n("cached_tokens"))
}

#[test]
fn shared_prefix_hits_equal_a_hand_count() {
    // 3 groups x 4 prompts of 40 system + 30 question tokens, 16-token blocks:
    // blocks 0-1 (tokens 0-31) are the group's, blocks 2-3 the prompt's own;
    // a 70-token prompt can reuse at most 69 / 16 = 4 blocks. One request
    // every 10 s, so each is done before the next arrives. In the first cycle
    // each group's first prompt misses and the other 9 reuse 2 blocks; in
    // the second cycle all 12 prompts reuse all 4 blocks.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        16,
        "arrival_pattern = 'fixed_rate'\narrival_rate = 0.1\nnum_requests = 24\noutput_len_dist = { type = 'fixed', value = 4 }\nshared_prefix = { num_groups = 3, prompts_per_group = 4, system_prompt_len = 40, question_len = 30 }",
    );
    let r = results(dir.path(), &config);
    assert_eq!(prefix_cache(&r), (9 + 12, 3, 9 * 32 + 12 * 64));
}

#[test]
fn random_shared_prefix_hits_follow_the_prompt_choices() {
    // With random choices the hand count follows the prompts actually
    // chosen: a repeat reuses 4 blocks, a first prompt of a seen group 2.
    let text = format!("{SERVER}[workload]\narrival_pattern = 'fixed_rate'\narrival_rate = 0.1\nnum_requests = 60\nseed = 7\noutput_len_dist = {{ type = 'fixed', value = 4 }}\nshared_prefix = {{ num_groups = 3, prompts_per_group = 4, system_prompt_len = 40, question_len = 30, order = 'random' }}\n");
    let config = Config::from_toml_str(&text, "c.toml").unwrap();
    let mut choices = Workload::from_config(&config).unwrap();
    let mut seen_prompts: Vec<Arc<[u64]>> = Vec::new();
    let mut seen_groups: Vec<u64> = Vec::new();
    let mut expected = Vec::new();
    while choices.peek_time().is_some() {
        let h = choices.next_request().prompt_block_hashes.unwrap();
        expected.push(if seen_prompts.iter().any(|p| Arc::ptr_eq(p, &h)) {
            64
        } else if seen_groups.contains(&h[0]) {
            32
        } else {
            0
        });
        seen_prompts.push(Arc::clone(&h));
        seen_groups.push(h[0]);
    }
    let records = simulate(&config, Workload::from_config(&config).unwrap());
    let cached: Vec<u32> = records.iter().map(|r| r.cached_tokens).collect();
    assert_eq!(cached, expected);
    assert!(
        expected.contains(&64) && expected.contains(&32),
        "{expected:?}"
    );
}

/// The config of a trace replay: the server and `workload.trace = { TABLE }`.
fn trace_config(table: &str) -> Config {
    Config::from_toml_str(
        &format!("{SERVER}[workload]\ntrace = {{ {table} }}\n"),
        "c.toml",
    )
    .unwrap()
}

/// The workload replaying `config`'s trace, read from `dir` (its trace path
/// is relative to it).
fn replay(dir: &Path, config: &Config) -> Workload {
    let trace = config.workload.trace.as_ref().unwrap();
    let records = inference_lab::io::trace::open(&dir.join(&trace.path), trace).unwrap();
    Workload::from_trace(config, records).unwrap()
}

/// (arrival, input, output) of each simulated request of `config`'s trace.
fn replayed(dir: &Path, config: &Config) -> Vec<(f64, u32, u32)> {
    simulate(config, replay(dir, config))
        .iter()
        .map(|r| (r.arrival_secs, r.input_tokens, r.output_tokens))
        .collect()
}

/// Runs `workload` and returns its per-request records in arrival order.
fn simulate(config: &Config, workload: Workload) -> Vec<RequestRecord> {
    let output = Simulator::new(config, workload, SimOptions::recording(true))
        .run(&mut NoopObserver)
        .unwrap();
    let mut records = output.requests.unwrap();
    records.sort_by_key(|r| r.request_id);
    records
}

const MOONCAKE: &str = r#"{"timestamp": 0, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2, 3]}
{"timestamp": 10000, "input_length": 700, "output_length": 5, "hash_ids": [1, 4]}
{"timestamp": 20000, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2, 3]}
{"timestamp": 30000, "input_length": 1600, "output_length": 5, "hash_ids": [1, 2, 5, 6]}
{"timestamp": 40000, "input_length": 300, "output_length": 5, "hash_ids": [7]}
"#;

#[test]
fn mooncake_hash_ids_give_the_hand_counted_hits() {
    // Every 512-token id block is shared where the ids agree. With 16-token
    // blocks: line 2 reuses id 1 (512 tokens), line 3 repeats line 1 (up to
    // 1099 / 16 = 68 blocks, 1088 tokens), line 4 reuses ids 1, 2 (1024).
    // With 48-token blocks only blocks wholly inside agreeing ids count:
    // 480 (10 blocks) + 1056 (1099 / 48 = 22 blocks) + 1008 (21 blocks).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.jsonl"), MOONCAKE).unwrap();
    for (block, cached) in [(16, 512 + 1088 + 1024), (48, 480 + 1056 + 1008)] {
        let config = write_config(dir.path(), block, "trace = { path = 'm.jsonl' }");
        let r = results(dir.path(), &config);
        assert_eq!(prefix_cache(&r), (3, 2, cached), "block size {block}");
    }
}

/// One trace in each format with the same requests: (seconds, input, output).
const REQUESTS: [(f64, u32, u32); 5] = [
    (0.0, 120, 7),
    (0.25, 900, 31),
    (0.25, 64, 1),
    (1.5, 2000, 12),
    (3.75, 10, 3),
];

fn traces() -> Vec<(&'static str, String)> {
    let lines = |f: &dyn Fn(f64, u32, u32) -> String| -> String {
        REQUESTS.iter().map(|&(t, i, o)| f(t, i, o)).collect()
    };
    vec![
        (
            "azure.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n".to_string()
                + &lines(&|t, i, o| {
                    let ms = 46_000.0 + t * 1000.0;
                    format!(
                        "2023-11-16 18:15:{:02}.{:03}0000,{i},{o}\n",
                        (ms / 1000.0) as u32,
                        ms as u32 % 1000
                    )
                }),
        ),
        (
            "mooncake.jsonl",
            lines(&|t, i, o| {
                format!("{{\"timestamp\": {}, \"input_length\": {i}, \"output_length\": {o}, \"hash_ids\": []}}\n", 5000.0 + t * 1000.0)
            }),
        ),
        (
            "burstgpt.csv",
            "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n".to_string()
                + &lines(&|t, i, o| {
                    format!("{},ChatGPT,{i},{o},{},Conversation log\n", 100.0 + t, i + o)
                }),
        ),
        (
            "plain.csv",
            "arrival_secs,input_tokens,output_tokens\n".to_string()
                + &lines(&|t, i, o| format!("{t},{i},{o}\n")),
        ),
    ]
}

#[test]
fn a_replayed_trace_reproduces_every_arrival_and_length_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in traces() {
        std::fs::write(dir.path().join(name), text).unwrap();
        for scale in [1.0, 2.5] {
            // The format is told from the first line.
            let config = trace_config(&format!("path = '{name}', time_scale = {scale:?}"));
            let got = replayed(dir.path(), &config);
            let expected: Vec<(f64, u32, u32)> = REQUESTS
                .iter()
                .map(|&(t, i, o)| (t / scale, i, o))
                .collect();
            assert_eq!(got, expected, "{name} at time_scale {scale}");
        }
    }
}

#[test]
fn bad_trace_lines_and_files_fail_the_run_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 16, "trace = { path = 't.csv' }");
    let c = config.to_str().unwrap();
    let trace = dir.path().join("t.csv");
    let name = trace.display().to_string();
    let cases = [
        (
            "arrival_secs,input_tokens,output_tokens\n0,10,2\n1,10,2\n2,ten,2\n",
            format!("{name}: line 4: input_tokens: expected a whole number of tokens, got 'ten'"),
        ),
        (
            "arrival_secs,input_tokens,output_tokens\n0,10,2\n2,10,2\n1,10,2\n",
            format!(
                "{name}: line 4: arrival_secs: earlier than line 3: the trace is out of time order"
            ),
        ),
        (
            "when,in,out\n0,10,2\n",
            format!(
                "{name}: line 1: cannot tell the trace format from its first line 'when,in,out'"
            ),
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&trace, text).unwrap();
        assert_error(&run(dir.path(), &["-c", c, "-q"]), &expected);
    }
    // A missing trace is an error of the config's field that names it.
    std::fs::remove_file(&trace).unwrap();
    let missing = format!("{c}: workload.trace.path: cannot open '{name}'");
    assert_error(&run(dir.path(), &["-c", c, "-q"]), &missing);
    assert_error(&run(dir.path(), &["validate", c]), &missing);
}

#[test]
fn the_shipped_traffic_configs_run_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    for (config, requests) in [
        ("configs/bursty.toml", 1000),
        ("configs/daily-cycle.toml", 0),
        ("configs/shared-prefix.toml", 4800),
        ("configs/trace.toml", 200),
        ("configs/conversations.toml", 0),
    ] {
        let o = run(dir.path(), &["validate", shipped(config).to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{config}: {}", stderr(&o));
        if requests > 0 {
            let r = results(dir.path(), &shipped(config));
            assert_eq!(
                r["requests"]["completed"].as_u64(),
                Some(requests),
                "{config}"
            );
        }
    }
}

/// The runs table of a sweep of `base` (written in `dir`) over `grid`.
fn sweep(dir: &Path, base: &Path, grid: &str) -> Vec<HashMap<String, String>> {
    let m = dir.join("m.toml");
    std::fs::write(
        &m,
        format!(
            "[sweep]\nname = \"t\"\nbase = {:?}\noutput = \"out\"\n[grid]\n{grid}\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    let o = run(dir, &["sweep", m.to_str().unwrap(), "-q", "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_without_wall_time(&dir.join("out/runs.csv"));
    rows[1..]
        .iter()
        .map(|row| rows[0].iter().cloned().zip(row.iter().cloned()).collect())
        .collect()
}

#[test]
fn the_new_knobs_sweep_as_dotted_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bursty = sweep(
        d,
        &shipped("configs/bursty.toml"),
        "\"workload.arrival_cv\" = [0.5, 4.0]",
    );
    assert_eq!(bursty.len(), 2);
    assert_eq!(
        (
            bursty[0]["workload.arrival_cv"].as_str(),
            bursty[1]["workload.arrival_cv"].as_str()
        ),
        ("0.5", "4.0")
    );
    let p99 = |r: &HashMap<String, String>| r["ttft_ms_p99"].parse::<f64>().unwrap();
    assert!(
        p99(&bursty[1]) > 2.0 * p99(&bursty[0]),
        "burstier is slower: {bursty:?}"
    );

    let shared = sweep(
        d,
        &shipped("configs/shared-prefix.toml"),
        "\"workload.shared_prefix.num_groups\" = [1, 10]\n\"workload.num_requests\" = [300]",
    );
    let misses: Vec<&str> = shared
        .iter()
        .map(|r| r["prefix_cache_misses"].as_str())
        .collect();
    assert_eq!(misses, ["1", "10"], "one miss per system prompt");

    let talks = sweep(
        d,
        &shipped("configs/conversations.toml"),
        "\"workload.sessions.num_sessions\" = [50]\n\"workload.sessions.turns_dist\" = [{ type = \"fixed\", value = 1 }, { type = \"fixed\", value = 3 }]\n\"workload.sessions.think_time_dist.mean\" = [2.0]",
    );
    let totals: Vec<&str> = talks.iter().map(|r| r["requests_total"].as_str()).collect();
    assert_eq!(totals, ["50", "150"], "50 sessions of 1 and of 3 turns");
    let hits = |r: &HashMap<String, String>| r["prefix_cache_hits"].parse::<u64>().unwrap();
    assert!(
        hits(&talks[1]) > hits(&talks[0]) + 90,
        "later turns hit: {talks:?}"
    );

    let traced = sweep(
        d,
        &shipped("configs/trace.toml"),
        "\"workload.trace.time_scale\" = [1.0, 4.0]\n\"workload.trace.max_requests\" = [150]",
    );
    let completed: Vec<&str> = traced
        .iter()
        .map(|r| r["requests_completed"].as_str())
        .collect();
    assert_eq!(
        completed,
        ["150", "150"],
        "the same requests at every time scale"
    );
    let e2e = |r: &HashMap<String, String>| r["e2e_ms_mean"].parse::<f64>().unwrap();
    assert!(
        e2e(&traced[1]) > e2e(&traced[0]),
        "four times the load waits longer: {traced:?}"
    );
}

/// A plain trace as text, from (gap, input, output, prefix) rows.
fn plain_trace(rows: &[(f64, u32, u32, u8)]) -> (String, Vec<(f64, u32, u32)>) {
    let mut t = 0.0;
    let mut text = String::from("arrival_secs,input_tokens,output_tokens,prefix_id\n");
    let mut requests = Vec::new();
    for &(gap, input, output, prefix) in rows {
        t += gap;
        let key = if prefix > 0 {
            format!("p{prefix}")
        } else {
            String::new()
        };
        text.push_str(&format!("{t},{input},{output},{key}\n"));
        requests.push((t, input, output));
    }
    (text, requests)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every request of the trace's window (and no other) is simulated
    /// exactly once, at its scaled time, whatever the scale, window and limit.
    #[test]
    fn every_trace_request_is_simulated_exactly_once(
        rows in prop::collection::vec((prop_oneof![Just(0.0), 0.0..2.0f64], 1..3000u32, 1..200u32, 0..4u8), 1..120),
        scale in prop_oneof![Just(1.0), 0.1..20.0f64],
        start in prop_oneof![Just(0.0), 0.0..30.0f64],
        duration in prop::option::of(1.0..100.0f64),
        max_requests in prop::option::of(1..150u64),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (text, requests) = plain_trace(&rows);
        std::fs::write(dir.path().join("t.csv"), text).unwrap();
        let mut window = format!("path = 't.csv', time_scale = {scale:?}, start_secs = {start:?}");
        if let Some(d) = duration {
            window.push_str(&format!(", duration_secs = {d:?}"));
        }
        if let Some(n) = max_requests {
            window.push_str(&format!(", max_requests = {n}"));
        }
        let got = replayed(dir.path(), &trace_config(&window));
        // The plain times as the parser reads them back (shortest round trip).
        let origin = requests[0].0;
        let expected: Vec<(f64, u32, u32)> = requests
            .iter()
            .map(|&(t, i, o)| (t - origin, i, o))
            .filter(|&(t, _, _)| t >= start && duration.is_none_or(|d| t < start + d))
            .take(max_requests.map_or(usize::MAX, |n| n as usize))
            .map(|(t, i, o)| ((t - start) / scale, i, o))
            .collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn a_trace_request_spec_carries_its_prompt_content() {
    // Lines with the same prefix_id share their common length's blocks.
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = plain_trace(&[
        (0.0, 100, 1, 1),
        (1.0, 300, 1, 1),
        (1.0, 300, 1, 2),
        (1.0, 300, 1, 0),
    ]);
    std::fs::write(dir.path().join("t.csv"), text).unwrap();
    let mut w = replay(dir.path(), &trace_config("path = 't.csv'"));
    let specs: Vec<RequestSpec> =
        std::iter::from_fn(|| w.peek_time().map(|_| w.next_request())).collect();
    let h = |i: usize| specs[i].prompt_block_hashes.clone();
    assert_eq!(
        h(1).unwrap()[..6],
        h(0).unwrap()[..],
        "100 tokens = 6 full blocks in common"
    );
    assert_ne!(h(2).unwrap()[0], h(1).unwrap()[0]);
    assert_eq!(h(3), None);
}

/// Sessions that never overlap: one starts every 1024 s (`fixed_rate`),
/// with at most 12 turns 1.5 s of think time apart, each served in well
/// under a minute. So the records in id order are the sessions one after
/// another, and a session's first turn is the one that arrives on a
/// multiple of 1024 s.
const SESSIONS: &str = "arrival_pattern = 'fixed_rate'\narrival_rate = 0.0009765625\nseed = 3\noutput_len_dist = { type = 'uniform', min = 1, max = 300 }\n[workload.sessions]\nnum_sessions = 12\nsystem_prompt_len = 40\nturns_dist = { type = 'uniform', min = 1, max = 12 }\nthink_time_dist = { type = 'fixed', value = 1.5 }\nuser_len_dist = { type = 'uniform', min = 1, max = 400 }\n";

#[test]
fn every_turn_prompts_with_the_conversation_so_far_and_hits_its_blocks() {
    let config =
        Config::from_toml_str(&format!("{SERVER}[workload]\n{SESSIONS}"), "c.toml").unwrap();
    let records = simulate(&config, Workload::from_config(&config).unwrap());
    let starts = records
        .iter()
        .filter(|r| r.arrival_secs % 1024.0 == 0.0)
        .count();
    assert_eq!(starts, 12, "every session started");
    assert!(
        records.len() > 40,
        "sessions of several turns: {}",
        records.len()
    );
    let mut first_turns = 0;
    for (i, r) in records.iter().enumerate() {
        let cached = u64::from(r.cached_tokens);
        if r.arrival_secs % 1024.0 == 0.0 {
            // A new conversation: the system prompt and a message. Its two
            // whole system blocks are cached once a session has sent them.
            assert!((41..=440).contains(&r.input_tokens), "{r:?}");
            assert_eq!(cached, if first_turns == 0 { 0 } else { 32 }, "{r:?}");
            first_turns += 1;
            continue;
        }
        // A later turn: the previous prompt, its response and 1 to 400 new
        // tokens, sent 1.5 s after the response; every whole block the
        // previous turn computed (all but its last output token) is a hit.
        let prev = &records[i - 1];
        let conversation = prev.input_tokens + prev.output_tokens;
        assert!(
            (conversation + 1..=conversation + 400).contains(&r.input_tokens),
            "{prev:?} then {r:?}"
        );
        assert_eq!(r.arrival_secs, prev.finish_secs + 1.5, "{r:?}");
        assert_eq!(
            cached,
            u64::from(conversation - 1) / 16 * 16,
            "{prev:?} then {r:?}"
        );
    }
}

#[test]
fn conversations_start_by_any_arrival_pattern_and_end_with_their_sessions() {
    // Closed loop: 3 users, each starting a new session when the last ends.
    // Fixed turns: every session is 4 requests, 10 sessions are 40.
    let closed = "arrival_pattern = 'closed_loop'\nnum_concurrent_users = 3\noutput_len_dist = { type = 'fixed', value = 20 }\nsessions = { num_sessions = 10, turns_dist = { type = 'fixed', value = 4 }, think_time_dist = { type = 'exponential', mean = 2.0 }, user_len_dist = { type = 'fixed', value = 30 } }";
    let config = Config::from_toml_str(&format!("{SERVER}[workload]\n{closed}"), "c.toml").unwrap();
    let records = simulate(&config, Workload::from_config(&config).unwrap());
    let mut inputs: Vec<u32> = records.iter().map(|r| r.input_tokens).collect();
    inputs.sort_unstable();
    // Turn k's prompt: k messages of 30 and k - 1 responses of 20.
    let expected: Vec<u32> = [30, 80, 130, 180].iter().flat_map(|&n| [n; 10]).collect();
    assert_eq!(inputs, expected);
    let starts = records.iter().filter(|r| r.input_tokens == 30).count();
    assert_eq!(starts, 10);
    let at_zero = records.iter().filter(|r| r.arrival_secs == 0.0).count();
    assert_eq!(at_zero, 3, "three users start at once");
}

#[test]
fn the_conversations_config_reuses_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let r = results(dir.path(), &shipped("configs/conversations.toml"));
    let (hits, _, cached) = prefix_cache(&r);
    let completed = r["requests"]["completed"].as_u64().unwrap();
    assert!(
        completed > 600,
        "300 sessions of 2 to 10 turns: {completed}"
    );
    assert!(
        hits > completed * 9 / 10,
        "later turns and the system prompt hit: {hits} of {completed}"
    );
    assert!(cached > 0);
}

/// Every row of a Parquet file written by the tool, batch by batch.
fn parquet_batches(path: &Path) -> Vec<arrow_array::RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn every_trace_request_is_simulated_exactly_once_through_sharded_sweeps() {
    // A 300-line trace (a third of the gaps 0: equal times), swept over time
    // scales, windows and limits in 3 shards, merged: each point's
    // per-request records are exactly its window's requests, once each.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let rows: Vec<(f64, u32, u32, u8)> = (0..300)
        .map(|_| {
            let gap = if next(3) == 0 {
                0.0
            } else {
                next(2000) as f64 / 1000.0
            };
            (
                gap,
                1 + next(3000) as u32,
                1 + next(200) as u32,
                next(4) as u8,
            )
        })
        .collect();
    let (text, requests) = plain_trace(&rows);
    std::fs::write(d.join("t.csv"), text).unwrap();
    std::fs::write(
        d.join("base.toml"),
        format!("{SERVER}[workload]\ntrace = {{ path = 't.csv' }}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("m.toml"),
        "[sweep]\nname = \"t\"\nbase = \"base.toml\"\noutput = \"out\"\n[grid]\n\"workload.trace.time_scale\" = [1.0, 2.5]\n\"workload.trace.start_secs\" = [0.0, 40.5]\n\"workload.trace.duration_secs\" = [60.0, 1000.0]\n\"workload.trace.max_requests\" = [75, 1000]\n",
    )
    .unwrap();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let o = run(
            d,
            &["sweep", "m.toml", "-q", "--per-request", "--shard", &shard],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = run(
        d,
        &[
            "sweep",
            "merge",
            "out/shard-0-of-3",
            "out/shard-1-of-3",
            "out/shard-2-of-3",
            "-o",
            "merged",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let runs = csv_without_wall_time(&d.join("merged/runs.csv"));
    let col = |name: &str| runs[0].iter().position(|h| h == name).unwrap();
    let mut got: HashMap<String, Vec<(i64, f64, i64, i64)>> = HashMap::new();
    for batch in parquet_batches(&d.join("merged/requests.parquet")) {
        let run_ids = column::<arrow_array::StringArray>(&batch, "run_id");
        let ids = column::<arrow_array::Int64Array>(&batch, "request_id");
        let arrivals = column::<arrow_array::Float64Array>(&batch, "arrival_secs");
        let inputs = column::<arrow_array::Int64Array>(&batch, "input_tokens");
        let outputs = column::<arrow_array::Int64Array>(&batch, "output_tokens");
        for i in 0..batch.num_rows() {
            got.entry(run_ids.value(i).to_string()).or_default().push((
                ids.value(i),
                arrivals.value(i),
                inputs.value(i),
                outputs.value(i),
            ));
        }
    }
    assert_eq!(runs.len() - 1, 16, "every point ran");
    let origin = requests[0].0;
    for row in &runs[1..] {
        let num = |name: &str| row[col(name)].parse::<f64>().unwrap();
        let (scale, start) = (
            num("workload.trace.time_scale"),
            num("workload.trace.start_secs"),
        );
        let (duration, max) = (
            num("workload.trace.duration_secs"),
            num("workload.trace.max_requests"),
        );
        let expected: Vec<(i64, f64, i64, i64)> = requests
            .iter()
            .map(|&(t, i, o)| (t - origin, i, o))
            .filter(|&(t, _, _)| t >= start && t < start + duration)
            .take(max as usize)
            .enumerate()
            .map(|(id, (t, i, o))| (id as i64, (t - start) / scale, i64::from(i), i64::from(o)))
            .collect();
        assert!(!expected.is_empty());
        let mut records = got.remove(&row[col("run_id")]).unwrap_or_default();
        records.sort_by_key(|r| r.0);
        assert_eq!(records, expected, "point {}", row[col("point")]);
        assert_eq!(row[col("requests_total")], expected.len().to_string());
    }
    assert!(got.is_empty(), "no records of other runs");
}
