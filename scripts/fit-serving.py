#!/usr/bin/env python3
"""Fits the serving parameters of hardware.calibration to the measured vLLM
load stages (tests/fixtures/vllm-h100-runs.csv, configs/validation/*.toml)
and writes configs/calibration/h100-vllm.toml.

The step-level parameters (efficiencies, per-layer overhead, eager floor)
are not refitted: they are the H200 calibration
(configs/calibration/h200-llama-3.1-8b.toml, fitted to measured step times)
carried to the H100 by its datasheet, which the configs' preset supplies.
Three serving parameters are fitted, minimising the squared relative error
of TTFT and E2E mean, p90 and p99 over every stage:

* step_overhead_per_seq, the engine's host work per running sequence and
  step: a grid, each value simulated on every stage with the real binary;
* request_overhead (the API server's seconds per request) and
  stream_lag_steps (inter-token intervals by which streamed tokens trail the
  engine): both shift a request's TTFT and E2E alike, by
  request_overhead + stream_lag_steps * its inter-token time, so for each grid
  value their best values are a linear least squares (with the stage's mean
  inter-token time; both at least 0).

The in-sample errors it reports are those of the binary run with the fitted
values; leave-one-experiment-out errors are each experiment's stages run with
the values fitted to the other experiments.

    cargo build --release && python3 scripts/fit-serving.py
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serving_stages as sv  # noqa: E402

STEP_LEVEL = "configs/calibration/h200-llama-3.1-8b.toml"
STEP_KEYS = ("compute_efficiency", "bandwidth_efficiency", "step_overhead_per_layer", "eager_floor_per_layer")


def least_squares(rows):
    """(r, lag) >= 0 minimising sum((r * a + lag * b - y)^2) over rows (a, b, y), and that sum."""
    def sse(r, lag):
        return sum((r * a + lag * b - y) ** 2 for a, b, y in rows)

    s_aa = sum(a * a for a, _, _ in rows)
    s_ab = sum(a * b for a, b, _ in rows)
    s_bb = sum(b * b for _, b, _ in rows)
    s_ay = sum(a * y for a, _, y in rows)
    s_by = sum(b * y for _, b, y in rows)
    det = s_aa * s_bb - s_ab * s_ab
    candidates = [(0.0, 0.0), (max(0.0, s_ay / s_aa), 0.0), (0.0, max(0.0, s_by / s_bb))]
    if det > 0:
        r, lag = (s_ay * s_bb - s_by * s_ab) / det, (s_aa * s_by - s_ab * s_ay) / det
        if r >= 0 and lag >= 0:
            candidates.append((r, lag))
    return min(((r, lag, sse(r, lag)) for r, lag in candidates), key=lambda c: c[2])


def fit(stages, grid, results, indices):
    """(step_overhead_per_seq, request_overhead s, stream_lag_steps, error)
    fitting the stages `indices` best over the simulated grid."""
    best = None
    for per_seq, per_stage in zip(grid, results):
        rows = []
        for i in indices:
            predicted = sv.simulated(per_stage[i])
            inter_token = per_stage[i]["latency_metrics"]["per_token_ms"]["mean"]
            for k, m in stages[i].measured.items():
                # predicted + r + lag * inter_token, relative to measured
                rows.append((1e3 / m, inter_token / m, 1.0 - predicted[k] / m))
        r, lag, err = least_squares(rows)
        if best is None or err < best[3]:
            best = (per_seq, r, lag, err)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid-us", default="0:40:1", help="step_overhead_per_seq grid in microseconds, LO:HI:STEP")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("-o", "--output", default="configs/calibration/h100-vllm.toml")
    args = p.parse_args()
    lo, hi, step = (float(x) for x in args.grid_us.split(":"))
    grid = [(lo + i * step) * 1e-6 for i in range(int(round((hi - lo) / step)) + 1)]
    base = {k: v for k, v in sv.read_calibration(STEP_LEVEL).items() if k in STEP_KEYS}
    stages = sv.stages()
    results = [sv.simulate_all(stages, dict(base, step_overhead_per_seq=g), args.jobs) for g in grid]

    def calibration(fitted):
        per_seq, r, lag, _ = fitted
        return dict(base, step_overhead_per_seq=per_seq, request_overhead=r, stream_lag_steps=lag)

    def errors_under(values, subset):
        return [sv.errors(s, sv.simulated(res)) for s, res in zip(subset, sv.simulate_all(subset, values, args.jobs))]

    fitted = calibration(fit(stages, grid, results, range(len(stages))))
    in_sample = errors_under(fitted, stages)
    held_out = {}
    loo_lines = []
    for exp in sorted({s.experiment for s in stages}):
        inside = [i for i, s in enumerate(stages) if s.experiment != exp]
        values = calibration(fit(stages, grid, results, inside))
        outside = [s for s in stages if s.experiment == exp]
        for s, e in zip(outside, errors_under(values, outside)):
            held_out[s.name] = e
        loo_lines.append(
            f"#   without {exp}: step_overhead_per_seq {values['step_overhead_per_seq'] * 1e6:.0f} us, "
            f"request_overhead {values['request_overhead'] * 1e3:.2f} ms, stream_lag_steps {values['stream_lag_steps']:.2f}")
    held_out = [held_out[s.name] for s in stages]
    lines = []
    for name, errs in (("fitted", in_sample), ("leave-one-experiment-out", held_out)):
        lines.append(f"#   {name:<25} TTFT MAPE {sv.mape(errs, 'ttft'):5.1f}%, E2E MAPE {sv.mape(errs, 'e2e'):5.1f}%")
    report = "\n".join(lines + loo_lines)
    print(report.replace("#   ", ""))
    for s, e in zip(stages, held_out):
        cells = ", ".join(f"{m.upper()} {st} {100 * e[(m, st)]:+.1f}%" for m in sv.METRICS for st in sv.STATS)
        print(f"  held out {s.label()}: {cells}")
    header = f"""# hardware.calibration for vLLM V1 on H100 SXM, written by scripts/fit-serving.py
# (docs/calibration.md, "Serving fidelity").
# Step level: the H200 calibration ({STEP_LEVEL}, fitted by
# `inference-lab calibrate` to measured H200 step times), carried to the H100 by
# the datasheet of the h100 preset (efficiencies are fractions of the datasheet,
# overheads per layer). Not refitted here.
# Serving level: step_overhead_per_seq, request_overhead and stream_lag_steps fitted
# to the {len(stages)} measured load stages of tests/fixtures/vllm-h100-runs.csv
# (configs/validation/), least squares of the relative errors of TTFT and E2E mean,
# p90 and p99; step_overhead_per_seq over a grid of {args.grid_us} us, the other two
# by linear least squares for each grid value. Errors of the binary with these values:
{report}
"""
    body = "".join(f"{k} = {fmt(k, v)}\n" for k, v in fitted.items())
    with open(args.output, "w") as f:
        f.write(header + body)
    print(f"written to {args.output}")


def fmt(key, value):
    """A value as the calibration files write it."""
    if key.endswith("efficiency") or key == "stream_lag_steps":
        return f"{value:.4f}"
    return f"{value:.4e}"


if __name__ == "__main__":
    main()
