#!/usr/bin/env python3
"""Simulates every measured vLLM load stage (configs/validation/*.toml) with
the real binary and prints simulated against measured TTFT and E2E (mean,
p90, p99, ms) with relative errors, then the MAPEs. Run from the repository
root after `cargo build --release`:

    python3 scripts/check-serving.py                          # the shipped calibration
    python3 scripts/check-serving.py --calibration FILE.toml  # another one
    python3 scripts/check-serving.py --markdown               # the table of docs/calibration.md
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serving_stages as sv  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calibration", default="configs/calibration/h100-vllm.toml")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--jobs", type=int, default=2, help="simulations at a time (default 2)")
    args = p.parse_args()
    calibration = sv.read_calibration(args.calibration)
    stages = sv.stages()
    results = sv.simulate_all(stages, calibration, args.jobs)
    all_errors = []
    keys = [(m, s) for m in sv.METRICS for s in sv.STATS]
    if args.markdown:
        print("| stage | " + " | ".join(f"{m.upper()} {s}" for m, s in keys) + " |")
        print("|---|" + "---|" * len(keys))
    for stage, result in zip(stages, results):
        predicted = sv.simulated(result)
        e = sv.errors(stage, predicted)
        all_errors.append(e)
        cells = [f"{predicted[k]:.0f} / {stage.measured[k]:.0f} ({100 * e[k]:+.1f}%)" for k in keys]
        if args.markdown:
            print(f"| {stage.short()} | " + " | ".join(cells) + " |")
        else:
            print(stage.label())
            for k, cell in zip(keys, cells):
                print(f"  {k[0].upper():>4} {k[1]:<4} simulated / measured ms: {cell}")
    print()
    for m in sv.METRICS:
        print(f"{m.upper()} MAPE {sv.mape(all_errors, m):.1f}% (mean, p90, p99 of {len(stages)} stages)")


if __name__ == "__main__":
    main()
