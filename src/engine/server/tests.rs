//! Engine tests: hand-traced schedules, the progress guard, determinism, the
//! open API (event order, load snapshots, prefix lookups) and property tests
//! of the invariants over random small configs, driving the engine in strict
//! time order as a cluster will and comparing with the single-run driver.

use super::*;
use crate::cluster::simulate;
use crate::config::{Config, Policy};
use crate::engine::cost::{BatchShape, Work};
use crate::engine::kv_cache::token_block_hashes;
use crate::engine::{NoopObserver, RunOutput, Traffic};
use crate::workload::{RequestEnd, Workload};
use proptest::prelude::*;
use std::collections::HashSet;

/// Eight requests of 40 + 40 tokens arriving together (5 blocks each at the end).
const HEAVY: &str = "arrival_pattern = 'batched'\nbatch_size = 8\narrival_rate = 1.0\nnum_requests = 8\ninput_len_dist = { type = 'fixed', value = 40 }\noutput_len_dist = { type = 'fixed', value = 40 }";

/// Bytes of one 16-token block of the test model: 2 (K,V) * 4 layers * 2 kv heads * 64 * 2 B * 16.
const BLOCK_BYTES: u64 = 32_768;

#[derive(Debug)]
struct Setup {
    scheduler: String,
    workload: String,
    kv_blocks: u64,
    max_seq_len: u64,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            scheduler: "max_num_batched_tokens = 512\nmax_num_seqs = 8".into(),
            workload: "arrival_pattern = 'fixed_rate'\narrival_rate = 1000.0\nnum_requests = 1\ninput_len_dist = { type = 'fixed', value = 100 }\noutput_len_dist = { type = 'fixed', value = 3 }".into(),
            kv_blocks: 1000,
            max_seq_len: 4096,
        }
    }
}

impl Setup {
    fn config(&self) -> Config {
        let text = format!(
            "[hardware]\nname = 'test-gpu'\ncompute_flops = 1e14\nmemory_bandwidth = 1e12\nmemory_capacity = 1e11\nbytes_per_param = 2\nkv_cache_capacity = {}\n\
             [model]\nname = 'tiny'\nnum_parameters = 1000000000\nnum_layers = 4\nhidden_dim = 512\nnum_heads = 8\nnum_kv_heads = 2\nmax_seq_len = {}\n\
             [scheduler]\n{}\n[workload]\n{}\n",
            self.kv_blocks * BLOCK_BYTES,
            self.max_seq_len,
            self.scheduler,
            self.workload
        );
        Config::from_toml_str(&text, "test").unwrap_or_else(|e| panic!("{e}\n{text}"))
    }
}

fn run(config: &Config) -> RunOutput {
    let options = SimOptions {
        record_requests: true,
        ..SimOptions::default()
    };
    simulate(config, options, &mut NoopObserver).unwrap()
}

fn records(out: &RunOutput) -> &[RequestRecord] {
    out.requests.as_deref().unwrap()
}

/// Step time of one request computing `new` tokens on `context` cached ones.
fn step_secs(config: &Config, context: u64, new: u64) -> f64 {
    let mut shape = BatchShape::default();
    shape.add(context, new, 0, Work::PrefillLast);
    CostModel::new(&config.server).step_cost(&shape).secs
}

#[test]
fn one_request_prefills_then_decodes() {
    let config = Setup::default().config();
    let out = run(&config);
    let r = records(&out)[0];
    let prefill = step_secs(&config, 0, 100);
    let decode1 = step_secs(&config, 100, 1);
    let decode2 = step_secs(&config, 101, 1);
    // First token at the end of the prefill step; N - 1 = 2 decode steps follow.
    assert_eq!(r.first_token_secs, prefill);
    assert_eq!(r.finish_secs, prefill + decode1 + decode2);
    assert_eq!(out.result.simulation.steps, 3);
    assert_eq!(out.result.requests.completed, 1);
}

#[test]
fn chunked_prefill_splits_a_long_prompt_across_steps() {
    let config = Setup {
        scheduler: "max_num_batched_tokens = 40\nmax_num_seqs = 8".into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    let r = records(&out)[0];
    let expected =
        step_secs(&config, 0, 40) + step_secs(&config, 40, 40) + step_secs(&config, 80, 20);
    assert!((r.first_token_secs - expected).abs() < 1e-15);
    assert_eq!(out.result.simulation.steps, 3 + 2);
}

#[test]
fn long_prefill_threshold_caps_each_step() {
    let config = Setup {
        scheduler:
            "max_num_batched_tokens = 512\nmax_num_seqs = 8\nlong_prefill_token_threshold = 30"
                .into(),
        ..Setup::default()
    }
    .config();
    // 100 prompt tokens at 30 per step: 4 prefill steps, then 2 decodes.
    assert_eq!(run(&config).result.simulation.steps, 6);
}

#[test]
fn partial_prefill_limit_holds_back_a_second_long_prompt() {
    let workload = "arrival_pattern = 'batched'\nbatch_size = 2\narrival_rate = 1.0\nnum_requests = 2\ninput_len_dist = { type = 'fixed', value = 100 }\noutput_len_dist = { type = 'fixed', value = 1 }";
    let steps = |partial: u64| {
        let config = Setup {
            scheduler: format!("max_num_batched_tokens = 512\nmax_num_seqs = 8\nlong_prefill_token_threshold = 50\nmax_num_partial_prefills = {partial}"),
            workload: workload.into(),
            ..Setup::default()
        }
        .config();
        run(&config).result.simulation.steps
    };
    // Two prompts of 100 at 50 tokens per step. With one partial prefill at a
    // time the second starts only when the first completes: 50 | 50+50 | 50.
    assert_eq!(steps(1), 3);
    // With two, both run side by side: 50+50 | 50+50.
    assert_eq!(steps(2), 2);
}

#[test]
fn without_chunked_prefill_prompts_run_whole_or_wait() {
    let workload = "arrival_pattern = 'batched'\nbatch_size = 2\narrival_rate = 1.0\nnum_requests = 2\ninput_len_dist = { type = 'fixed', value = 60 }\noutput_len_dist = { type = 'fixed', value = 1 }";
    let config = Setup {
        scheduler: "max_num_batched_tokens = 100\nmax_num_seqs = 8\nenable_chunked_prefill = false"
            .into(),
        workload: workload.into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    // 60 + 60 > 100: the second prompt waits for the next step instead of being chunked.
    assert_eq!(out.result.simulation.steps, 2);
    let r = records(&out);
    assert_eq!(r[0].first_token_secs, step_secs(&config, 0, 60));
    assert!(r[1].first_token_secs > r[0].first_token_secs);

    // A prompt larger than the whole budget can never run: rejected, not spinning.
    let config = Setup {
        scheduler: "max_num_batched_tokens = 50\nmax_num_seqs = 8\nenable_chunked_prefill = false"
            .into(),
        workload: workload.into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    let counts = out.result.requests;
    assert_eq!((counts.rejected, counts.rejected_by.token_budget), (2, 2));
    assert_eq!(counts.completed, 0);
    // Nothing completed: no latency, no throughput (never 0 ms).
    assert_eq!(out.result.latency_metrics.e2e_ms, None);
    assert_eq!(out.result.throughput_metrics.requests_per_sec, None);
}

#[test]
fn requests_longer_than_max_seq_len_are_rejected_and_counted() {
    let config = Setup {
        max_seq_len: 102,
        workload: "arrival_pattern = 'fixed_rate'\narrival_rate = 10.0\nnum_requests = 5\ninput_len_dist = { type = 'uniform', min = 98, max = 101 }\noutput_len_dist = { type = 'fixed', value = 3 }".into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    let c = out.result.requests;
    assert_eq!(c.total, 5);
    assert_eq!(c.completed + c.rejected, 5);
    assert!(c.rejected > 0);
    assert_eq!(c.rejected_by.max_seq_len, c.rejected);
    assert!(records(&out)
        .iter()
        .all(|r| r.input_tokens + r.output_tokens <= 102));
}

#[test]
fn requests_larger_than_the_whole_cache_are_rejected() {
    let config = Setup {
        kv_blocks: 4, // 64 tokens
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    assert_eq!(out.result.requests.rejected, 1);
    assert_eq!(out.result.requests.rejected_by.kv_cache, 1);
}

#[test]
fn kv_pressure_preempts_by_recompute_and_everything_still_finishes() {
    // 8 requests of 40 + 40 tokens (5 blocks each at the end) in a 12-block cache.
    let config = Setup {
        kv_blocks: 12,
        workload: HEAVY.into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    assert!(out.result.preemptions.total > 0);
    assert_eq!(out.result.requests.completed, 8);
    // Recompute: a preempted request pays its prefill again, so steps exceed
    // what the same work takes without preemption.
    let roomy = Setup {
        kv_blocks: 1000,
        ..Setup {
            workload: HEAVY.into(),
            ..Setup::default()
        }
    }
    .config();
    let roomy = run(&roomy);
    assert_eq!(roomy.result.preemptions.total, 0);
    assert!(out.result.simulation.steps > roomy.result.simulation.steps);
}

#[test]
fn preemption_free_mode_never_preempts_under_the_same_pressure() {
    let config = Setup {
        kv_blocks: 12,
        scheduler: "max_num_batched_tokens = 512\nmax_num_seqs = 8\nenable_preemption_free = true"
            .into(),
        workload: HEAVY.into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    assert_eq!(out.result.preemptions.total, 0);
    assert_eq!(out.result.requests.completed, 8);
}

#[test]
fn policies_order_admission() {
    // One sequence at a time, three requests arriving together with outputs 5, 1, 3.
    let order = |policy: &str| {
        let config = Setup {
            scheduler: format!("max_num_batched_tokens = 512\nmax_num_seqs = 1\npolicy = '{policy}'"),
            workload: "arrival_pattern = 'batched'\nbatch_size = 3\narrival_rate = 1.0\nnum_requests = 3\ninput_len_dist = { type = 'fixed', value = 10 }\noutput_len_dist = { type = 'uniform', min = 1, max = 50 }".into(),
            ..Setup::default()
        }
        .config();
        let out = run(&config);
        let mut recs = records(&out).to_vec();
        let by_id: Vec<u32> = {
            let mut r = recs.clone();
            r.sort_by_key(|r| r.request_id);
            r.iter().map(|r| r.output_tokens).collect()
        };
        recs.sort_by(|a, b| a.finish_secs.total_cmp(&b.finish_secs));
        (
            by_id,
            recs.iter().map(|r| r.output_tokens).collect::<Vec<_>>(),
        )
    };
    let (outputs, fcfs) = order("fcfs");
    assert_eq!(fcfs, outputs, "fcfs finishes in arrival order");
    let (_, sof) = order("sof");
    let mut ascending = outputs.clone();
    ascending.sort();
    assert_eq!(sof, ascending);
    let (_, lof) = order("lof");
    let mut descending = ascending.clone();
    descending.reverse();
    assert_eq!(lof, descending);
}

#[test]
fn a_preempted_request_finds_its_own_prefix_in_the_cache() {
    let config = Setup {
        kv_blocks: 12,
        workload: HEAVY.into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    assert!(out.result.preemptions.total > 0);
    assert!(
        out.result.prefix_cache.hits > 0,
        "{:?}",
        out.result.prefix_cache
    );
    // Synthetic prompts never hit each other: every hit is a resumed request.
    assert!(out.result.prefix_cache.hits <= out.result.preemptions.total);
}

#[test]
fn the_progress_guard_stops_a_run_that_cannot_progress() {
    let config = Setup {
        kv_blocks: 4,
        ..Setup::default()
    }
    .config();
    let mut engine = Engine::new(&config.server, SimOptions::default());
    // Bypass the arrival checks: a request needing 7 blocks in a 4-block cache.
    let spec = Workload::synthetic(&config.workload)
        .unwrap()
        .next_request();
    engine.sched.enqueue_new(RequestId(0), spec);
    let err = engine.advance(&mut NoopObserver).unwrap_err();
    assert!(matches!(err, SimError::Stalled { .. }), "{err}");
    assert!(err.to_string().contains("1 waiting"), "{err}");
}

#[test]
fn closed_loop_keeps_users_busy_and_stops_at_num_requests() {
    let config = Setup {
        workload: "arrival_pattern = 'closed_loop'\nnum_concurrent_users = 4\nnum_requests = 20\ninput_len_dist = { type = 'fixed', value = 20 }\noutput_len_dist = { type = 'fixed', value = 5 }".into(),
        ..Setup::default()
    }
    .config();
    let out = run(&config);
    assert_eq!(out.result.requests.completed, 20);
    // Each new request arrives exactly when an earlier one finished.
    let recs = records(&out);
    let finishes: HashSet<u64> = recs.iter().map(|r| r.finish_secs.to_bits()).collect();
    assert!(recs
        .iter()
        .filter(|r| r.arrival_secs > 0.0)
        .all(|r| finishes.contains(&r.arrival_secs.to_bits())));
    assert_eq!(recs.iter().filter(|r| r.arrival_secs == 0.0).count(), 4);
}

#[test]
fn same_config_same_result() {
    let config = Config::builtin_default().unwrap();
    let a = simulate(&config, SimOptions::default(), &mut NoopObserver).unwrap();
    let b = simulate(&config, SimOptions::default(), &mut NoopObserver).unwrap();
    assert_eq!(
        serde_json::to_string(&a.result).unwrap(),
        serde_json::to_string(&b.result).unwrap()
    );
}

// ---------------------------------------------------------------------------
// Property tests: invariants over random small configs.
// ---------------------------------------------------------------------------

fn dist() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..300).prop_map(|v| format!("{{ type = 'fixed', value = {v} }}")),
        (1u64..100, 0u64..300)
            .prop_map(|(a, b)| format!("{{ type = 'uniform', min = {a}, max = {} }}", a + b)),
        (1.0f64..200.0, 0.0f64..100.0)
            .prop_map(|(m, s)| format!("{{ type = 'normal', mean = {m}, std_dev = {s} }}")),
        (1.0f64..5.5, 0.0f64..1.2)
            .prop_map(|(m, s)| format!("{{ type = 'lognormal', mean = {m}, std_dev = {s} }}")),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("arrival_pattern = 'poisson'".to_string()),
        Just("arrival_pattern = 'uniform'".to_string()),
        Just("arrival_pattern = 'fixed_rate'".to_string()),
        (1u64..12).prop_map(|n| format!("arrival_pattern = 'burst'\nburst_size = {n}")),
        (1u64..12).prop_map(|n| format!("arrival_pattern = 'batched'\nbatch_size = {n}")),
        (1u64..20)
            .prop_map(|n| format!("arrival_pattern = 'closed_loop'\nnum_concurrent_users = {n}")),
    ]
}

prop_compose! {
    fn setup()(
        budget in 1u64..600,
        seqs in 1u64..20,
        policy in prop::sample::select(Policy::ALL.map(|(name, _)| name).to_vec()),
        chunked in any::<bool>(),
        block_size in prop::sample::select(vec![1u64, 4, 16]),
        threshold in prop::sample::select(vec![0u64, 7, 64]),
        partial in 1u64..4,
        preemption_free in any::<bool>(),
        prefix in any::<bool>(),
        kv_blocks in 2u64..120,
        max_seq_len in 2u64..700,
        pattern in pattern(),
        rate in 0.5f64..5000.0,
        n in 1u64..60,
        input in dist(),
        output in dist(),
        seed in 0u64..(i64::MAX as u64),
    ) -> Setup {
        Setup {
            scheduler: format!(
                "max_num_batched_tokens = {budget}\nmax_num_seqs = {seqs}\npolicy = '{policy}'\nenable_chunked_prefill = {chunked}\nblock_size = {block_size}\nlong_prefill_token_threshold = {threshold}\nmax_num_partial_prefills = {partial}\nenable_preemption_free = {preemption_free}\nenable_prefix_caching = {prefix}"
            ),
            workload: format!(
                "{pattern}\narrival_rate = {rate}\nnum_requests = {n}\nseed = {seed}\ninput_len_dist = {input}\noutput_len_dist = {output}\npriority_dist = {{ type = 'uniform', min = 0, max = 3 }}"
            ),
            kv_blocks,
            max_seq_len,
        }
    }
}

/// Collects what finished requests held in the KV cache.
#[derive(Default)]
struct Finishes(Vec<(RequestId, u32)>);

impl Observer for Finishes {
    fn wants_events(&self) -> bool {
        true
    }
    fn on_event(&mut self, _now: f64, event: &Event) {
        if let Event::Finished {
            request_id,
            kv_tokens,
        } = *event
        {
            self.0.push((request_id, kv_tokens));
        }
    }
}

/// What the time-ordered driver saw of one event.
struct Seen {
    /// When it happened.
    time_secs: f64,
    /// The engine event performed, or `None` for an arrival.
    kind: Option<EngineEventKind>,
    /// Requests submitted and accepted so far.
    accepted: u64,
    /// Requests completed so far.
    completed: u64,
}

/// Drives one engine with `config`'s workload through the open API in strict
/// time order, as a cluster will: every request is submitted at its arrival,
/// also while a step is in flight; at equal times a StepEnd comes first, then
/// the arrivals, then a StepStart. Calls `check` after every event.
fn drive_in_time_order(
    config: &Config,
    options: SimOptions,
    obs: &mut dyn Observer,
    mut check: impl FnMut(&Engine, &Seen),
) -> RunOutput {
    let mut engine = Engine::new(&config.server, options);
    let mut traffic = Traffic::new(Workload::synthetic(&config.workload).unwrap());
    let (mut accepted, mut completed) = (0, 0);
    loop {
        let event = engine.next_event();
        let arrival = traffic.peek_time();
        let arrival_first = match (event, arrival) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(e), Some(t)) => {
                t < e.time_secs || (t == e.time_secs && e.kind == EngineEventKind::StepStart)
            }
        };
        let seen = if arrival_first {
            let (id, spec) = traffic.next_request();
            let time_secs = spec.arrival_secs;
            let outcome = engine.submit(id, spec, obs);
            accepted += u64::from(outcome.is_ok());
            traffic
                .on_submitted(id, outcome, time_secs.max(engine.now_secs()))
                .unwrap();
            Seen {
                time_secs,
                kind: None,
                accepted,
                completed,
            }
        } else if let Some(e) = event {
            match engine.advance(obs).unwrap() {
                Advance::StepEnded { finished } => {
                    for c in finished {
                        assert_eq!(c.finish_secs, e.time_secs);
                        traffic.on_completed(c.request_id, c.finish_secs);
                    }
                    completed += finished.len() as u64;
                }
                Advance::StepStarted { end_secs } => assert!(end_secs >= e.time_secs),
                Advance::Idle => panic!("an event was announced but none happened"),
            }
            Seen {
                time_secs: e.time_secs,
                kind: Some(e.kind),
                accepted,
                completed,
            }
        } else {
            break;
        };
        check(&engine, &seen);
    }
    assert_eq!(engine.next_event(), None);
    assert_eq!(engine.advance(obs).unwrap(), Advance::Idle);
    assert_eq!(
        engine.kv.blocks_in_use(),
        0,
        "blocks left in use at the end"
    );
    assert_eq!(engine.kv.bytes_in_use(), 0);
    engine.finish().into_run_output(config.clone())
}

/// Checks the invariants that must hold after every committed step.
fn check_step(engine: &Engine, config: &Config) {
    let sc = &config.server.scheduler;
    let sched = &engine.sched;
    let batch_tokens: u64 = sched.batch().iter().map(|s| u64::from(s.tokens)).sum();
    assert!(batch_tokens <= sc.max_num_batched_tokens, "budget exceeded");
    assert!(
        sched.batch().len() as u64 <= sc.max_num_seqs,
        "too many seqs in a step"
    );
    assert!(
        sched.running().len() as u64 <= sc.max_num_seqs,
        "too many running"
    );
    let layout = engine.kv.layout();
    assert!(
        engine.kv.bytes_in_use() <= layout.capacity_bytes,
        "KV over capacity"
    );
    assert!(
        engine.kv.blocks_in_use() <= layout.num_blocks(),
        "more blocks than exist"
    );
    for (i, &slot) in sched.running().iter().enumerate() {
        let r = engine.reqs.get(slot);
        assert_eq!(
            r.in_group,
            i < sched.group().len(),
            "members are the running prefix"
        );
        let (computed, generated) = sched.group().progress(&engine.reqs, slot);
        assert_eq!(
            r.blocks.len() as u64,
            layout.blocks_for(u64::from(computed)),
            "block table does not match computed tokens"
        );
        assert!(
            generated < r.output_tokens,
            "a finished request is still running"
        );
        assert!(computed <= r.input_tokens + generated);
    }
    if sc.enable_preemption_free {
        assert_eq!(
            sched.stats().preemptions,
            0,
            "preemption-free mode preempted"
        );
    }
}

/// Checks the load snapshot against counts kept outside the engine and
/// against the running requests' own block tables.
fn check_load(engine: &Engine, seen: &Seen, config: &Config) {
    let load = engine.load();
    assert_eq!(
        (load.running + load.waiting) as u64,
        seen.accepted - seen.completed,
        "running + waiting = accepted - completed"
    );
    assert!(load.running as u64 <= config.server.scheduler.max_num_seqs);
    // Reference counting: blocks in use are exactly those the running requests hold.
    let mut held = HashSet::new();
    let mut window_tokens = 0;
    for &slot in engine.sched.running() {
        let r = engine.reqs.get(slot);
        held.extend(r.blocks.iter().copied());
        window_tokens += r.window_tokens;
    }
    assert_eq!(
        held.len() as u64,
        load.kv_blocks_used,
        "leaked or double-counted blocks"
    );
    let layout = engine.kv.layout();
    assert_eq!(load.kv_blocks_total, layout.num_blocks());
    let bytes =
        load.kv_blocks_used * layout.block_bytes + window_tokens * layout.window_token_bytes;
    assert_eq!(
        load.kv_utilization,
        bytes as f64 / layout.capacity_bytes as f64
    );
}

/// A run's result (less the deployment's figures, which only a cluster
/// fills in) as JSON, with its per-request records.
fn comparable(mut out: RunOutput) -> (String, Option<Vec<RequestRecord>>) {
    out.result.cluster = Default::default();
    (serde_json::to_string(&out.result).unwrap(), out.requests)
}

/// The single-run driver's output with the given options.
fn simulated(config: &Config, options: SimOptions) -> (String, Option<Vec<RequestRecord>>) {
    comparable(simulate(config, options, &mut NoopObserver).unwrap())
}

/// Drives one engine the lazy way: each arrival is submitted just before
/// the step start it precedes (or when the idle engine's clock reaches it),
/// not at its arrival.
fn drive_lazily(config: &Config, options: SimOptions) -> RunOutput {
    let mut engine = Engine::new(&config.server, options);
    let mut traffic = Traffic::new(Workload::synthetic(&config.workload).unwrap());
    let submit_until = |engine: &mut Engine, traffic: &mut Traffic, until: f64| {
        while traffic.peek_time().is_some_and(|t| t <= until) {
            let (id, spec) = traffic.next_request();
            let arrival = spec.arrival_secs;
            let outcome = engine.submit(id, spec, &mut NoopObserver);
            let now = engine.now_secs();
            traffic.on_submitted(id, outcome, arrival.max(now)).unwrap();
        }
    };
    loop {
        match engine.next_event() {
            Some(EngineEvent {
                time_secs,
                kind: EngineEventKind::StepStart,
            }) => submit_until(&mut engine, &mut traffic, time_secs),
            Some(_) => {}
            None => match traffic.peek_time() {
                Some(t) => {
                    submit_until(&mut engine, &mut traffic, t);
                    continue;
                }
                None => break,
            },
        }
        if let Advance::StepEnded { finished } = engine.advance(&mut NoopObserver).unwrap() {
            for c in finished {
                traffic.on_completed(c.request_id, c.finish_secs);
            }
        }
    }
    engine.finish().into_run_output(config.clone())
}

#[test]
fn submitting_in_time_order_or_lazily_gives_the_single_run_result_on_the_default_config() {
    let config = Config::builtin_default().unwrap();
    let options = SimOptions::recording(true);
    let open = drive_in_time_order(&config, options, &mut NoopObserver, |_, _| {});
    let open = comparable(open);
    assert_eq!(open, comparable(drive_lazily(&config, options)));
    assert_eq!(open, simulated(&config, options));
}

#[test]
fn an_idle_engine_jumps_to_the_arrival_and_reports_each_event() {
    let config = Setup::default().config();
    let mut engine = Engine::new(&config.server, SimOptions::default());
    assert_eq!(engine.next_event(), None);
    assert_eq!(engine.advance(&mut NoopObserver).unwrap(), Advance::Idle);
    let mut spec = Workload::synthetic(&config.workload)
        .unwrap()
        .next_request();
    spec.arrival_secs = 2.5;
    engine
        .submit(RequestId(7), spec, &mut NoopObserver)
        .unwrap();
    assert_eq!(engine.now_secs(), 2.5);
    let start = EngineEvent {
        time_secs: 2.5,
        kind: EngineEventKind::StepStart,
    };
    assert_eq!(engine.next_event(), Some(start));
    let Advance::StepStarted { end_secs } = engine.advance(&mut NoopObserver).unwrap() else {
        panic!("expected a step start");
    };
    // The 100-token prompt is in flight: running, holding its 7 blocks.
    let load = engine.load();
    assert_eq!((load.running, load.waiting, load.kv_blocks_used), (1, 0, 7));
    assert_eq!(end_secs, 2.5 + step_secs(&config, 0, 100));
    assert_eq!(
        engine.next_event(),
        Some(EngineEvent {
            time_secs: end_secs,
            kind: EngineEventKind::StepEnd,
        })
    );
    // A second request arriving mid-step waits; the clock stays at the step's start.
    let mut second = Workload::synthetic(&config.workload)
        .unwrap()
        .next_request();
    second.arrival_secs = 2.6;
    engine
        .submit(RequestId(8), second, &mut NoopObserver)
        .unwrap();
    assert_eq!(engine.now_secs(), 2.5);
    assert_eq!(engine.load().waiting, 1);
    assert_eq!(
        engine.advance(&mut NoopObserver).unwrap(),
        Advance::StepEnded { finished: &[] }
    );
    assert_eq!(engine.now_secs(), end_secs);
}

/// A prompt of `tokens` with its chained block hashes, as a dataset gives it.
fn dataset_request(tokens: &[u32], output_tokens: u32) -> RequestSpec {
    RequestSpec {
        arrival_secs: 0.0,
        input_tokens: tokens.len() as u32,
        output_tokens,
        priority: 0,
        prompt_block_hashes: Some(token_block_hashes(tokens, 16).into()),
    }
}

fn run_to_idle(engine: &mut Engine) {
    while engine.next_event().is_some() {
        engine.advance(&mut NoopObserver).unwrap();
    }
}

#[test]
fn cached_prefix_blocks_counts_the_leading_blocks_held() {
    // Two chats sharing a 40-token system prompt (two whole 16-token blocks)
    // and an unrelated prompt.
    let system: Vec<u32> = (0..40).collect();
    let chat =
        |user: std::ops::Range<u32>| -> Vec<u32> { system.iter().copied().chain(user).collect() };
    let first = chat(100..130); // 70 tokens: 4 whole blocks
    let second = chat(200..226); // 66 tokens: 4 whole blocks, the first 2 shared
    let other: Vec<u32> = (500..560).collect(); // 60 tokens: 3 whole blocks
    let hashes = |tokens: &[u32]| token_block_hashes(tokens, 16);

    let config = Setup::default().config();
    let options = SimOptions::recording(true);
    let mut engine = Engine::new(&config.server, options);
    assert_eq!(engine.cached_prefix_blocks(&hashes(&first)), 0);
    engine
        .submit(RequestId(0), dataset_request(&first, 1), &mut NoopObserver)
        .unwrap();
    run_to_idle(&mut engine);
    // The first chat's four whole blocks stay cached after it finished.
    assert_eq!(engine.cached_prefix_blocks(&hashes(&first)), 4);
    assert_eq!(engine.cached_prefix_blocks(&hashes(&second)), 2);
    assert_eq!(engine.cached_prefix_blocks(&hashes(&other)), 0);
    assert_eq!(engine.cached_prefix_blocks(&hashes(&first)[..3]), 3);
    assert_eq!(engine.cached_prefix_blocks(&[]), 0);

    // The second chat then reuses exactly the two blocks counted.
    engine
        .submit(RequestId(1), dataset_request(&second, 1), &mut NoopObserver)
        .unwrap();
    run_to_idle(&mut engine);
    assert_eq!(engine.cached_prefix_blocks(&hashes(&second)), 4);
    let (_, records) = engine.finish().metrics.finish(&RunTotals::default());
    let cached: Vec<u32> = records.unwrap().iter().map(|r| r.cached_tokens).collect();
    assert_eq!(cached, [0, 32]);

    // Without prefix caching nothing is ever found.
    let config = Setup {
        scheduler: "max_num_batched_tokens = 512\nmax_num_seqs = 8\nenable_prefix_caching = false"
            .into(),
        ..Setup::default()
    }
    .config();
    let mut engine = Engine::new(&config.server, options);
    let _ = engine.submit(RequestId(0), dataset_request(&first, 1), &mut NoopObserver);
    run_to_idle(&mut engine);
    assert_eq!(engine.cached_prefix_blocks(&hashes(&first)), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_random_configs(setup in setup()) {
        let config = setup.config();
        let options = SimOptions::recording(true);
        let mut events = 0u64;
        let mut last_secs = 0.0;
        let mut finishes = Finishes::default();
        let out = drive_in_time_order(&config, options, &mut finishes, |engine, seen| {
            assert!(seen.time_secs >= last_secs, "time went back");
            last_secs = seen.time_secs;
            if seen.kind == Some(EngineEventKind::StepEnd) {
                check_step(engine, &config);
            }
            check_load(engine, seen, &config);
            events += 1;
            assert!(events < 4_000_000, "no end in sight");
        });
        let c = out.result.requests;
        prop_assert_eq!(c.total, config.workload.num_requests.unwrap());
        prop_assert_eq!(c.completed + c.rejected, c.total, "every admitted request finishes");

        // Tokens conserved: each completed request emitted exactly the tokens it
        // was generated with, and TTFT <= E2E.
        let mut expected = Workload::synthetic(&config.workload).unwrap();
        let mut specs = Vec::new();
        while expected.peek_time().is_some() && (specs.len() as u64) < c.total {
            specs.push(expected.next_request());
            expected.on_request_done(RequestId(specs.len() as u64 - 1), RequestEnd::Completed, 0.0);
        }
        prop_assert_eq!(finishes.0.len() as u64, c.completed);
        for &(id, kv_tokens) in &finishes.0 {
            let spec = &specs[id.0 as usize];
            prop_assert_eq!(kv_tokens, spec.input_tokens + spec.output_tokens - 1, "computed tokens");
        }
        for r in out.requests.as_deref().unwrap() {
            let spec = &specs[r.request_id.0 as usize];
            prop_assert_eq!(r.input_tokens, spec.input_tokens);
            prop_assert_eq!(r.output_tokens, spec.output_tokens);
            prop_assert!(r.arrival_secs <= r.first_token_secs);
            prop_assert!(r.first_token_secs <= r.finish_secs);
            prop_assert!(u64::from(r.input_tokens + r.output_tokens) <= config.server.model.max_seq_len);
        }
        let lat = out.result.latency_metrics;
        if let (Some(ttft), Some(e2e)) = (lat.ttft_ms, lat.e2e_ms) {
            prop_assert!(ttft.max <= e2e.max);
            prop_assert!(ttft.p50 <= e2e.p50);
        }
        prop_assert_eq!(lat.ttft_ms.is_some(), out.result.requests.completed > 0);

        // Submitting at arrival (mid-step) gives exactly the result of
        // submitting just before each step start, and the single run's.
        let open = comparable(out);
        prop_assert_eq!(&open, &comparable(drive_lazily(&config, options)));
        prop_assert_eq!(open, simulated(&config, options));
    }

    #[test]
    fn the_fast_path_gives_the_same_results_as_the_reference_path(setup in setup()) {
        let config = setup.config();
        let fast = simulated(&config, SimOptions { record_requests: true, reference: false });
        let plain = simulated(&config, SimOptions { record_requests: true, reference: true });
        prop_assert_eq!(fast, plain);
    }
}
