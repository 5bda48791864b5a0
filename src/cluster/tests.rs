//! The deployment's tests: one GPU without `[deployment]` is exactly the run
//! of today, replicas behave as queueing theory says, routers do what they
//! promise, and random deployments keep the invariants of every replica.

use super::*;
use crate::config::{Config, RouterPolicy};
use crate::engine::{NoopObserver, RunOutput, StepSummary};
use crate::metrics::{RunResult, Stats};
use proptest::prelude::*;

/// Llama-3.1-8B on H100s with `deployment` and `workload` (TOML lines;
/// Poisson arrivals unless `workload` names a pattern).
fn config(deployment: &str, workload: &str) -> Config {
    let pattern = if workload.contains("arrival_pattern") {
        ""
    } else {
        "arrival_pattern='poisson'"
    };
    let text =
        format!("[deployment]\n{deployment}\n{SERVER}[workload]\n{pattern}\nseed=7\n{workload}\n");
    Config::from_toml_str(&text, "t").unwrap()
}

/// The server sections every test config shares.
const SERVER: &str = "[hardware]\npreset='h100'\n[model]\npreset='llama-3.1-8b'\n[scheduler]\nmax_num_batched_tokens=8192\nmax_num_seqs=256\n";

const LOGNORMAL: &str = "input_len_dist={type='lognormal',mean=6.9,std_dev=0.7}\noutput_len_dist={type='lognormal',mean=5.3,std_dev=0.8}";

fn run(config: &Config) -> RunResult {
    simulate(config, SimOptions::default(), &mut NoopObserver)
        .unwrap()
        .result
}

#[test]
fn one_gpu_is_the_run_without_a_deployment() {
    let workload = format!("arrival_rate=20.0\nnum_requests=2000\n{LOGNORMAL}");
    let mut without = config("", &workload);
    let text = format!("{SERVER}[workload]\narrival_pattern='poisson'\nseed=7\n{workload}\n");
    let plain = Config::from_toml_str(&text, "t").unwrap();
    assert_eq!(without, plain, "an empty [deployment] is no [deployment]");
    let explicit = config(
        "tensor_parallel_size=1\nreplicas=1\nrouter='prefix_affinity'",
        &workload,
    );
    let (a, b) = (run(&plain), run(&explicit));
    without.server.deployment = explicit.server.deployment;
    assert_eq!(
        RunResult {
            config: without,
            ..a
        },
        b
    );
}

fn mean_ttft_and_e2e(r: &RunResult) -> (f64, f64) {
    let mean = |s: Option<Stats>| s.expect("requests completed").mean;
    (
        mean(r.latency_metrics.ttft_ms),
        mean(r.latency_metrics.e2e_ms),
    )
}

/// Each of two round-robin replicas sees every other arrival of a Poisson
/// stream: gaps of the same mean but less variable (Erlang-2), so it queues a
/// little less than one replica fed by the Poisson stream itself. At light
/// load, where queueing is a small part of latency, the two agree.
#[test]
fn two_round_robin_replicas_at_twice_the_rate_match_one_replica() {
    let one = run(&config(
        "",
        &format!("arrival_rate=2.0\nnum_requests=20000\n{LOGNORMAL}"),
    ));
    let two = run(&config(
        "replicas=2\nrouter='round_robin'",
        &format!("arrival_rate=4.0\nnum_requests=40000\n{LOGNORMAL}"),
    ));
    let (a, b) = (mean_ttft_and_e2e(&one), mean_ttft_and_e2e(&two));
    for (x, y, what) in [(a.0, b.0, "TTFT"), (a.1, b.1, "E2E")] {
        assert!((x - y).abs() <= 0.05 * x, "mean {what}: {x} vs {y}");
    }
    assert_eq!(two.cluster.gpus, 2);
    assert_eq!(two.cluster.load_imbalance, 1.0, "round robin splits evenly");
    let sent: u64 = two.cluster.replicas.iter().map(|r| r.requests).sum();
    assert_eq!(sent, 40_000);
}

#[test]
fn least_outstanding_has_no_worse_a_tail_than_round_robin() {
    // Heavy-tailed lengths: some requests hold a replica far longer than others.
    let workload = "arrival_rate=36.0\nnum_requests=8000\ninput_len_dist={type='lognormal',mean=6.5,std_dev=1.2}\noutput_len_dist={type='lognormal',mean=5.0,std_dev=1.3}";
    let p99 = |router: &str| {
        let r = run(&config(&format!("replicas=4\nrouter='{router}'"), workload));
        r.latency_metrics.ttft_ms.expect("requests completed").p99
    };
    let (rr, lo) = (p99("round_robin"), p99("least_outstanding"));
    assert!(
        lo <= rr,
        "least_outstanding p99 TTFT {lo} ms, round_robin {rr} ms"
    );
}

#[test]
fn prefix_affinity_hits_more_than_round_robin_on_many_system_prompts() {
    // 64 system prompts of 1,024 tokens: about 4 GiB of prefixes against
    // 6 GiB of KV cache per replica, so a replica that sees every prefix
    // keeps evicting them.
    let workload = "arrival_rate=30.0\nnum_requests=6000\nshared_prefix={num_groups=64,prompts_per_group=4,order='random',system_prompt_len=1024,question_len=128}\noutput_len_dist={type='fixed',value=64}";
    let hits = |router: &str| {
        let mut c = config(&format!("replicas=4\nrouter='{router}'"), workload);
        c.server.hardware.kv_cache_capacity = 6 << 30;
        run(&c).prefix_cache.token_hit_rate
    };
    let (rr, pa) = (hits("round_robin"), hits("prefix_affinity"));
    assert!(pa > rr + 0.05, "prefix_affinity {pa}, round_robin {rr}");
}

/// Checks every step of every replica: KV within capacity.
struct KvWithinCapacity(u64);

impl crate::engine::Observer for KvWithinCapacity {
    fn on_step(&mut self, step: &StepSummary) {
        assert!(step.kv_utilization <= 1.0, "KV over capacity: {step:?}");
        self.0 += 1;
    }
}

fn router() -> impl Strategy<Value = RouterPolicy> {
    prop::sample::select(RouterPolicy::ALL.map(|(_, r)| r).to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn random_deployments_finish_every_request_once_within_capacity(
        replicas in 1u64..5,
        tp in prop::sample::select(vec![1u64, 2, 4, 8]),
        router in router(),
        rate in 1.0f64..60.0,
        closed in any::<bool>(),
        kv_gib in 1u64..8,
        groups in 0u64..6,
    ) {
        let pattern = if closed {
            "arrival_pattern='closed_loop'\nnum_concurrent_users=24".to_string()
        } else {
            format!("arrival_rate={rate}")
        };
        let lengths = if groups > 0 {
            format!("shared_prefix={{num_groups={groups},prompts_per_group=3,system_prompt_len=200,question_len=100}}\noutput_len_dist={{type='uniform',min=1,max=300}}")
        } else {
            LOGNORMAL.to_string()
        };
        let deployment = format!("tensor_parallel_size={tp}\nreplicas={replicas}\nrouter='{}'", router.name());
        let mut c = config(&deployment, &format!("{pattern}\nnum_requests=400\n{lengths}"));
        c.server.hardware.kv_cache_capacity = kv_gib << 30;
        let mut observer = KvWithinCapacity(0);
        let out: RunOutput = simulate(&c, SimOptions::recording(true), &mut observer).unwrap();
        let r = &out.result;
        prop_assert!(observer.0 > 0);
        prop_assert_eq!(r.requests.completed + r.requests.rejected, r.requests.total);
        prop_assert_eq!(r.cluster.gpus, tp * replicas);
        prop_assert_eq!(r.cluster.replicas.len() as u64, replicas);
        let sent: u64 = r.cluster.replicas.iter().map(|x| x.requests).sum();
        let done: u64 = r.cluster.replicas.iter().map(|x| x.completed).sum();
        prop_assert_eq!(sent, r.requests.total);
        prop_assert_eq!(done, r.requests.completed);
        // Every completed request once, whichever replica served it.
        let mut ids: Vec<u64> = out.requests.unwrap().iter().map(|x| x.request_id.0).collect();
        ids.sort_unstable();
        ids.dedup();
        prop_assert_eq!(ids.len() as u64, r.requests.completed);
        prop_assert!(r.cluster.load_imbalance >= 1.0 && r.cluster.load_imbalance <= replicas as f64);
        // The same deployment again gives the same result, and so does the
        // reference path (one event at a time, no decode group).
        let again = simulate(&c, SimOptions::recording(true), &mut NoopObserver).unwrap();
        prop_assert_eq!(&again.result, r);
        let options = SimOptions { record_requests: true, reference: true };
        let plain = simulate(&c, options, &mut NoopObserver).unwrap();
        prop_assert_eq!(&plain.result, r);
        prop_assert_eq!(plain.requests, again.requests);
    }
}
