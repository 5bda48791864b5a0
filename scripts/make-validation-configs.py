#!/usr/bin/env python3
"""Writes one config per measured vLLM load stage (configs/validation/*.toml)
from /work/shared/data/serving/vllm-h100-runs.csv (its README describes the
columns). Each config states only what its row states: the model, the H100
preset with vLLM's memory profile and the row's gpu_memory_utilization, the
tensor parallelism, vLLM's scheduler knobs, and the harness's shared_prefix
workload at the row's Poisson rate; the serving overheads come from one
calibration file for every row (configs/calibration/h100-vllm.toml, fitted by
scripts/fit-serving.py). Measured latencies are not copied: scripts/check-serving.py
and tests/serving.rs read them from the CSV's copy, tests/fixtures/vllm-h100-runs.csv.

    python3 scripts/make-validation-configs.py                       # the shipped configs
    python3 scripts/make-validation-configs.py --csv runs.csv -o DIR # other stages
"""
import argparse
import csv
import os
import re

# Hugging Face model id -> preset under configs/models/.
MODELS = {
    "meta-llama/Llama-2-7b-hf": "llama-2-7b",
    "meta-llama/Llama-2-70b-hf": "llama-2-70b",
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
}
# The rows' GPU -> hardware preset.
GPUS = {"H100-SXM-80GB": "h100"}


def stage_name(row):
    """A file name for the row: the experiment's id and the stage."""
    return f"{row['experiment']}-s{row['stage']}"


def config_text(row):
    """The TOML of one load stage."""
    model = MODELS[row["model"]]
    gpu = GPUS[row["gpu"]]
    if row["arrival"] != "poisson":
        raise SystemExit(f"{stage_name(row)}: arrival {row['arrival']!r}: only poisson stages are known")
    rate = float(row["rate_rps"])
    return f"""#:schema ../../schemas/config.schema.json
# Measured vLLM load stage {row['experiment']} stage {row['stage']}
# ({row['model']} on {row['gpu']}, TP {row['tensor_parallel_size']}, vLLM {row['engine_version']}),
# written by scripts/make-validation-configs.py from the row's knobs only.
# Measured latencies: tests/fixtures/vllm-h100-runs.csv; compare with
#   python3 scripts/check-serving.py

[deployment]
tensor_parallel_size = {int(row['tensor_parallel_size'])}

[hardware]
preset = "{gpu}"
gpu_memory_utilization = {float(row['gpu_memory_utilization'])}
memory_profile = "vllm"             # the KV blocks vLLM reports at start-up
calibration = "../calibration/h100-vllm.toml"

[model]
preset = "{model}"
max_seq_len = {int(row['max_model_len'])}

[scheduler]
max_num_batched_tokens = {int(row['max_num_batched_tokens'])}
max_num_seqs = {int(row['max_num_seqs'])}
policy = "fcfs"
enable_chunked_prefill = true       # always on in vLLM V1
enable_prefix_caching = true        # the V1 default
block_size = 16

[workload]
arrival_pattern = "poisson"
arrival_rate = {rate}
num_requests = {int(row['requests'])}
seed = 42

[workload.shared_prefix]            # the harness's 10 groups x 10 prompts, cycled
num_groups = 10
prompts_per_group = 10
order = "cycle"
system_prompt_len = {int(row['system_prompt_len'])}
question_len = {int(row['question_len'])}

[workload.output_len_dist]          # ignore_eos: exactly this many
type = "fixed"
value = {int(row['output_len'])}
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", default="tests/fixtures/vllm-h100-runs.csv", help="the measured stages")
    p.add_argument("-o", "--output", default="configs/validation", help="folder to write into")
    args = p.parse_args()
    os.makedirs(args.output, exist_ok=True)
    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        name = stage_name(row)
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise SystemExit(f"{name!r}: not a safe file name")
        with open(os.path.join(args.output, name + ".toml"), "w") as out:
            out.write(config_text(row))
    print(f"wrote {len(rows)} configs to {args.output}")


if __name__ == "__main__":
    main()
