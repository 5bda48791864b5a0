#!/usr/bin/env python3
"""Validates every shipped config and sweep manifest against the committed
JSON Schemas (schemas/), as an editor's TOML language server would, and
checks that the schemas refuse what the parser refuses (unknown fields,
unknown names, values out of bounds).

    python3 tests/interop/check_schemas.py

Needs the jsonschema package. Exits non-zero with a message on the first
mismatch.
"""
import json
import sys
import tomllib
from pathlib import Path

from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]


def fail(message):
    sys.exit(f"schema check failed: {message}")


def validator(name):
    schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def errors(v, doc):
    return [f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message[:200]}" for e in v.iter_errors(doc)]


def main():
    config = validator("config")
    sweep = validator("sweep")
    # Every complete config (presets under configs/hardware and configs/models
    # are section fragments, not configs) and every manifest.
    configs = sorted(p for p in (ROOT / "configs").rglob("*.toml")
                     if p.parent.name not in ("hardware", "models", "calibration"))
    for path in configs:
        found = errors(config, tomllib.loads(path.read_text()))
        if found:
            fail(f"{path.relative_to(ROOT)} does not validate: {found[:3]}")
    manifests = sorted((ROOT / "sweeps").glob("*.toml"))
    for path in manifests:
        found = errors(sweep, tomllib.loads(path.read_text()))
        if found:
            fail(f"{path.relative_to(ROOT)} does not validate: {found[:3]}")

    # What the parser refuses, the schema refuses.
    quick = tomllib.loads((ROOT / "configs" / "quick.toml").read_text())
    bad = [
        ("an unknown field", lambda d: d["scheduler"].update(polcy="fcfs")),
        ("an unknown policy", lambda d: d["scheduler"].update(policy="fifo")),
        ("a zero budget", lambda d: d["scheduler"].update(max_num_batched_tokens=0)),
        ("an unknown section", lambda d: d.update(extra={})),
        ("a distribution with a wrong field", lambda d: d["workload"].update(input_len_dist={"type": "fixed", "mean": 3})),
        ("a utilisation above 1", lambda d: d["hardware"].update(gpu_memory_utilization=1.5) if isinstance(d["hardware"], dict) else d.update(hardware={"preset": "h100", "gpu_memory_utilization": 1.5})),
        ("an unknown preset", lambda d: d.update(model="llama-9")),
    ]
    for what, mutate in bad:
        doc = json.loads(json.dumps(quick))
        mutate(doc)
        if not errors(config, doc):
            fail(f"the config schema accepts {what}")
    policies = tomllib.loads((ROOT / "sweeps" / "policies.toml").read_text())
    for what, mutate in [
        ("an unknown grid key", lambda d: d["grid"].update({"scheduler.polcy": ["fcfs"]})),
        ("a grid value of the wrong type", lambda d: d["grid"].update({"scheduler.max_num_seqs": ["many"]})),
        ("an empty list", lambda d: d["grid"].update({"workload.seed": []})),
    ]:
        doc = json.loads(json.dumps(policies))
        mutate(doc)
        if not errors(sweep, doc):
            fail(f"the sweep schema accepts {what}")
    print(f"schemas ok: {len(configs)} configs and {len(manifests)} manifests validate; {len(bad) + 3} bad inputs refused")


if __name__ == "__main__":
    main()
