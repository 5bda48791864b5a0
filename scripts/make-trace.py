#!/usr/bin/env python3
"""Writes a synthetic request trace in the plain CSV format of workload.trace
(arrival_secs,input_tokens,output_tokens,prefix_id): bursty gamma gaps,
lognormal lengths, and half of the prompts keyed to one of a few shared
prefixes. Deterministic for a given --seed.

    python3 scripts/make-trace.py --lines 200 -o examples/trace.csv     # the shipped example
    python3 scripts/make-trace.py --lines 1000000 -o /tmp/trace-1m.csv  # the benchmark's trace
"""
import argparse
import random


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=200, help="requests to write (default 200)")
    p.add_argument("--rate", type=float, default=4.0, help="mean requests per second (default 4)")
    p.add_argument("--cv", type=float, default=2.0, help="coefficient of variation of the gaps (default 2)")
    p.add_argument("--prefixes", type=int, default=8, help="distinct shared prefixes (default 8)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    rng = random.Random(args.seed)
    shape = 1.0 / (args.cv * args.cv)
    scale = 1.0 / (args.rate * shape)
    t = 0.0
    with open(args.output, "w") as out:
        out.write("arrival_secs,input_tokens,output_tokens,prefix_id\n")
        for i in range(args.lines):
            if i > 0:
                t += rng.gammavariate(shape, scale)
            prompt = max(1, round(rng.lognormvariate(6.5, 0.7)))
            output = max(1, round(rng.lognormvariate(5.0, 0.8)))
            prefix = f"system-{rng.randrange(args.prefixes)}" if rng.random() < 0.5 else ""
            out.write(f"{t:.6f},{prompt},{output},{prefix}\n")


if __name__ == "__main__":
    main()
