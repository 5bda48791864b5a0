#!/usr/bin/env python3
"""Fits the serving overheads of hardware.calibration to the measured vLLM
load stages (tests/fixtures/vllm-h100-runs.csv, configs/validation/*.toml)
and writes configs/calibration/h100-vllm.toml.

The step-level parameters (efficiencies, per-layer overhead, eager floor)
are not refitted: they are the H200 calibration
(configs/calibration/h200-llama-3.1-8b.toml, fitted to measured step times)
carried to the H100 by its datasheet, which the configs' preset supplies.
Two serving parameters are fitted, minimising the squared relative error of
TTFT and E2E mean, p90 and p99 over every stage:

* step_overhead_per_seq, the engine's host work per running sequence and
  step: a grid, each value simulated on every stage with the real binary;
* request_overhead, the API server's time per request: it shifts every
  request's TTFT and E2E alike, so for each grid value its best value is
  closed-form (the weighted mean of measured - simulated, weights 1/measured^2).

It then reports leave-one-experiment-out errors: each experiment's stages
predicted with the parameters fitted to the other experiments (from the same
grid of simulations).

    cargo build --release && python3 scripts/fit-serving.py
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serving_stages as sv  # noqa: E402

STEP_LEVEL = "configs/calibration/h200-llama-3.1-8b.toml"
STEP_KEYS = ("compute_efficiency", "bandwidth_efficiency", "step_overhead_per_layer", "eager_floor_per_layer")


def best_request_overhead(pairs):
    """The request overhead (s, at least 0) minimising sum(((sim + r) / meas - 1)^2)
    over (simulated ms, measured ms) pairs."""
    num = sum((m - s) / (m * m) for s, m in pairs)
    den = sum(1.0 / (m * m) for _, m in pairs)
    return max(0.0, num / den) / 1e3


def shifted(predicted, overhead):
    """A stage's predictions with `overhead` seconds added to every request."""
    return {k: v + overhead * 1e3 for k, v in predicted.items()}


def fit(stages, grid, predictions, indices):
    """The (per-seq overhead, request overhead, squared error, grid index)
    that fits the stages `indices` best, over the simulated grid."""
    best = None
    for g, per_seq in enumerate(grid):
        pairs = [(predictions[g][i][k], stages[i].measured[k]) for i in indices for k in stages[i].measured]
        r = best_request_overhead(pairs)
        err = sum(((s + r * 1e3) / m - 1.0) ** 2 for s, m in pairs)
        if best is None or err < best[2]:
            best = (per_seq, r, err, g)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid-us", default="0:40:2", help="per-seq overhead grid in microseconds, LO:HI:STEP")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("-o", "--output", default="configs/calibration/h100-vllm.toml")
    args = p.parse_args()
    lo, hi, step = (float(x) for x in args.grid_us.split(":"))
    grid = []
    x = lo
    while x <= hi + 1e-9:
        grid.append(x * 1e-6)
        x += step
    base = {k: v for k, v in sv.read_calibration(STEP_LEVEL).items() if k in STEP_KEYS}
    stages = sv.stages()
    predictions = []
    for per_seq in grid:
        calibration = dict(base, step_overhead_per_seq=per_seq)
        results = sv.simulate_all(stages, calibration, args.jobs)
        predictions.append([sv.simulated(r) for r in results])
        print(f"simulated step_overhead_per_seq = {per_seq * 1e6:.1f} us", file=sys.stderr)
    everything = list(range(len(stages)))
    per_seq, request, _, g = fit(stages, grid, predictions, everything)
    fitted = [sv.errors(s, shifted(predictions[g][i], request)) for i, s in enumerate(stages)]
    experiments = sorted({s.experiment for s in stages})
    held_out = [None] * len(stages)
    loo_lines = []
    for exp in experiments:
        inside = [i for i, s in enumerate(stages) if s.experiment != exp]
        ps, r, _, gi = fit(stages, grid, predictions, inside)
        for i, s in enumerate(stages):
            if s.experiment == exp:
                held_out[i] = sv.errors(s, shifted(predictions[gi][i], r))
        loo_lines.append(f"#   without {exp}: step_overhead_per_seq {ps * 1e6:.1f} us, request_overhead {r * 1e3:.2f} ms")
    lines = []
    for name, errs in (("fitted", fitted), ("leave-one-experiment-out", held_out)):
        lines.append(f"#   {name:<25} TTFT MAPE {sv.mape(errs, 'ttft'):5.1f}%, E2E MAPE {sv.mape(errs, 'e2e'):5.1f}%")
    report = "\n".join(lines + loo_lines)
    print(report.replace("#   ", ""))
    for s, e in zip(stages, held_out):
        cells = ", ".join(f"{m.upper()} {st} {100 * e[(m, st)]:+.1f}%" for m in sv.METRICS for st in sv.STATS)
        print(f"  held out {s.label()}: {cells}")
    header = f"""# hardware.calibration for vLLM V1 on H100 SXM, written by scripts/fit-serving.py.
# Step level: the H200 calibration ({STEP_LEVEL}, fitted by
# `inference-lab calibrate` to measured H200 step times), carried to the H100 by
# the datasheet of the h100 preset: efficiencies are fractions of the datasheet,
# overheads are per layer. Not refitted here.
# Serving level: step_overhead_per_seq and request_overhead fitted to the
# {len(stages)} measured load stages of tests/fixtures/vllm-h100-runs.csv (configs/validation/),
# least squares of the relative errors of TTFT and E2E mean, p90 and p99;
# step_overhead_per_seq over a grid of {args.grid_us} us, request_overhead in closed form.
{report}
"""
    values = dict(base, step_overhead_per_seq=per_seq, request_overhead=request)
    body = "".join(f"{k} = {fmt(k, v)}\n" for k, v in values.items())
    with open(args.output, "w") as f:
        f.write(header + body)
    print(f"written to {args.output}")


def fmt(key, value):
    """A value as the calibration files write it."""
    return f"{value:.4f}" if key.endswith("efficiency") else f"{value:.4e}"


if __name__ == "__main__":
    main()
