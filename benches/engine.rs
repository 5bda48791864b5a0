//! `cargo bench`: the cost model and the step loop, timed with a plain harness
//! (median of several runs) so the figures are comparable from run to run.

use inference_lab::config::Config;
use inference_lab::engine::cost::{BatchShape, CostModel, Work};
use inference_lab::engine::{simulate, NoopObserver, SimOptions};
use std::hint::black_box;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn load(path: &str) -> Config {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Config::from_toml_str(&text, path).unwrap_or_else(|e| panic!("{e}"))
}

fn bench_cost_model() {
    let config = load("configs/config.toml");
    let model = CostModel::new(&config.server);
    let mut shape = BatchShape::default();
    for i in 0..255 {
        shape.add(1000 + i, 1, 0, Work::Decode);
    }
    shape.add(0, 2048, 0, Work::PrefillLast);
    let calls = 5_000_000;
    let times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut total = 0.0;
            for _ in 0..calls {
                total += model.step_cost(black_box(&shape)).secs;
            }
            black_box(total);
            start.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    println!(
        "cost model: step_cost            {:>8.1} ns per step",
        median(times) * 1e9
    );
}

fn bench_step_loop(path: &str) {
    let config = load(path);
    let mut steps = 0;
    let mut requests = 0;
    let times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let out = simulate(&config, SimOptions::default(), &mut NoopObserver)
                .unwrap_or_else(|e| panic!("{e}"));
            steps = out.result.simulation.steps;
            requests = out.result.requests.total;
            start.elapsed().as_secs_f64()
        })
        .collect();
    let t = median(times);
    println!(
        "step loop: {path:<38} {:>7.3} s  {:>9.0} requests/s  {:>6.0} ns per step",
        t,
        requests as f64 / t,
        t / steps as f64 * 1e9
    );
}

fn main() {
    // `cargo bench` passes --bench; a filter argument selects benchmarks by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if wanted("cost") {
        bench_cost_model();
    }
    for path in [
        "configs/long.toml",
        "configs/bench/closed-loop-100k.toml",
        "configs/bench/poisson-100k.toml",
    ] {
        if wanted("step") || wanted(path) {
            bench_step_loop(path);
        }
    }
}
