"""Shared by scripts/check-serving.py and scripts/fit-serving.py: the measured
vLLM load stages (tests/fixtures/vllm-h100-runs.csv), their configs
(configs/validation/, written by scripts/make-validation-configs.py), running
the real binary on them, and the relative errors of what it predicts.

Errors are relative: predicted / measured - 1, on TTFT and E2E mean, p90 and
p99 of every stage; a MAPE is the mean absolute relative error over them.
"""
import csv
import json
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

MEASURED = "tests/fixtures/vllm-h100-runs.csv"
CONFIGS = "configs/validation"
BINARY = "target/release/inference-lab"
METRICS = ("ttft", "e2e")
STATS = ("mean", "p90", "p99")


class Stage:
    """One measured load stage: its config and what the client measured (ms)."""

    def __init__(self, row):
        self.experiment = row["experiment"]
        self.name = f"{row['experiment']}-s{row['stage']}"
        self.config = os.path.join(CONFIGS, self.name + ".toml")
        self.model = row["model"].split("/")[-1]
        self.tp = int(row["tensor_parallel_size"])
        self.rate = float(row["rate_rps"])
        self.gpu_kv_blocks = int(row["gpu_kv_blocks"]) if row["gpu_kv_blocks"] else None
        self.measured = {(m, s): float(row[f"{m}_{s}_ms"]) for m in METRICS for s in STATS}
        # The harness's data set, as the experiment's name says (general, codegen, roleplay).
        found = re.search(r"-(general|codegen|roleplay)", self.experiment)
        self.workload = found.group(1) if found else "?"

    def short(self):
        return f"{self.model} TP{self.tp} {self.workload} {self.rate:g} rps"

    def label(self):
        return f"{self.short()} ({self.name})"


def stages():
    """Every measured stage, in the CSV's order."""
    with open(MEASURED, newline="") as f:
        return [Stage(row) for row in csv.DictReader(f)]


def read_calibration(path):
    """The `key = value` lines of a calibration file, as floats."""
    values = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                values[key] = float(value)
    return values


def inline(calibration):
    """A calibration as a TOML inline table, for --set."""
    return "{" + ", ".join(f"{k} = {v!r}" for k, v in calibration.items()) + "}"


def simulate(stage, calibration, requests=None):
    """The binary's result JSON for `stage` under `calibration` (a dict);
    `requests` shortens the stage to its first N requests."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [BINARY, "-q", "-c", stage.config, "-o", out,
               "--set", f"hardware.calibration={inline(calibration)}"]
        if requests:
            cmd += ["--set", f"workload.num_requests={requests}"]
        subprocess.run(cmd, check=True)
        with open(out) as f:
            return json.load(f)


def simulated(result):
    """The (metric, stat) -> ms of a result."""
    lat = result["latency_metrics"]
    return {(m, s): lat[f"{m}_ms"][s] for m in METRICS for s in STATS}


def simulate_all(stage_list, calibration, jobs=2):
    """`simulated` of every stage, run `jobs` at a time."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda s: simulate(s, calibration), stage_list))


def errors(stage, predicted):
    """(metric, stat) -> relative error of `predicted` against the stage."""
    return {k: predicted[k] / stage.measured[k] - 1.0 for k in stage.measured}


def mape(error_dicts, metric):
    """Mean absolute relative error of `metric` over stages and stats, in %."""
    values = [abs(e[(metric, s)]) for e in error_dicts for s in STATS]
    return 100.0 * sum(values) / len(values)
