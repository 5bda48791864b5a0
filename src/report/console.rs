//! The human-readable report printed at the end of a run.

use super::style::Style;
use crate::metrics::{RunResult, Stats};
use std::fmt::Write;

/// Renders the end-of-run report (SPEC section 2, "Console output of a run").
pub fn render(result: &RunResult, style: Style) -> String {
    let mut out = String::new();
    let c = &result.config;
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "inference-lab {}: {} on {}, policy {}",
            result.simulation.version,
            c.server.model.name,
            c.server.hardware.name,
            c.server.scheduler.policy.name()
        ))
    );
    out.push('\n');

    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "{:<12}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "Latency (ms)", "min", "mean", "p50", "p90", "p95", "p99", "max"
        ))
    );
    let lat = &result.latency_metrics;
    for (name, s) in [
        ("TTFT", &lat.ttft_ms),
        ("E2E", &lat.e2e_ms),
        ("Per-token", &lat.per_token_ms),
    ] {
        let _ = writeln!(out, "  {name:<10}{}", stats_row(s));
    }

    let t = &result.throughput_metrics;
    section(
        &mut out,
        style,
        "Throughput",
        &[
            ("Input tokens/s", format!("{:.1}", t.input_tokens_per_sec)),
            ("Output tokens/s", format!("{:.1}", t.output_tokens_per_sec)),
            ("Requests/s", format!("{:.3}", t.requests_per_sec)),
        ],
    );

    let u = &result.utilization;
    section(
        &mut out,
        style,
        "Utilization",
        &[
            ("KV cache", percent(u.avg_kv_cache_util)),
            ("FLOPS", percent(u.avg_flops_util)),
            ("Bandwidth", percent(u.avg_bandwidth_util)),
        ],
    );

    let p = &result.preemptions;
    section(
        &mut out,
        style,
        "Preemptions",
        &[
            ("Total", p.total.to_string()),
            ("Per request", format!("{:.3}", p.per_request_mean)),
        ],
    );

    let pc = &result.prefix_cache;
    section(
        &mut out,
        style,
        "Prefix cache",
        &[
            ("Hits", pc.hits.to_string()),
            ("Misses", pc.misses.to_string()),
            ("Hit rate", percent(pc.hit_rate)),
            (
                "Tokens saved",
                format!(
                    "{} ({} of prompt tokens)",
                    pc.cached_tokens,
                    percent(pc.token_hit_rate)
                ),
            ),
        ],
    );

    let r = &result.requests;
    let sim = &result.simulation;
    let mut completed = format!("{} of {}", r.completed, r.total);
    if r.rejected > 0 {
        completed.push_str(&format!(
            " ({} {})",
            r.rejected,
            style.warn("rejected: longer than max_seq_len or the KV cache")
        ));
    }
    section(
        &mut out,
        style,
        "Summary",
        &[
            ("Requests completed", completed),
            ("Simulated time", format!("{:.3} s", sim.simulated_seconds)),
            ("Engine steps", sim.steps.to_string()),
            ("Wall time", format!("{:.3} s", sim.wall_seconds)),
        ],
    );
    out
}

fn stats_row(s: &Stats) -> String {
    [s.min, s.mean, s.p50, s.p90, s.p95, s.p99, s.max]
        .iter()
        .map(|v| format!("{v:>10.2}"))
        .collect()
}

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

fn section(out: &mut String, style: Style, title: &str, rows: &[(&str, String)]) {
    let _ = writeln!(out, "\n{}", style.heading(title));
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<20}{}", style.value(value));
    }
}
