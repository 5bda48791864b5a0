#!/usr/bin/env python3
"""Reads a sweep's output with the tools users load it into (DuckDB, pandas,
pyarrow) and checks it against runs.csv: row counts, column types, values.

    python3 tests/interop/check_sweep.py OUT_DIR [--per-request]

Exits non-zero with a message on the first mismatch.
"""
import json
import math
import sys
import tomllib
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq


def fail(message):
    sys.exit(f"interop check failed: {message}")


def main():
    out = Path(sys.argv[1])
    per_request = "--per-request" in sys.argv[2:]
    runs_parquet = str(out / "runs.parquet")

    # pyarrow: the schema is typed as documented, swept keys first.
    schema = pq.read_schema(runs_parquet)
    expected_types = {
        "run_id": "string",
        "point": "int64",
        "probe": "int64",
        "scheduler.policy": "string",
        "scheduler.max_num_batched_tokens": "int64",
        "workload.seed": "int64",
        "status": "string",
        "ttft_ms_p50": "double",
        "output_tokens_per_sec": "double",
        "preemptions_total": "int64",
        "requests_completed": "int64",
    }
    for name, ty in expected_types.items():
        if name not in schema.names:
            fail(f"runs.parquet has no column {name!r}: {schema.names}")
        if str(schema.field(name).type) != ty:
            fail(f"{name}: type {schema.field(name).type}, expected {ty}")
    # The manifest's grid and zip keys, in manifest order, right after them.
    manifest = tomllib.loads(Path(json.loads((out / "sweep.json").read_text())["manifest"]).read_text())
    swept = list(manifest.get("grid", {}))
    for group in manifest.get("zip", []):
        swept.extend(group)
    if schema.names[4 : 4 + len(swept)] != swept:
        fail(f"swept keys {swept} are not first after run_id, sweep, point, probe: {schema.names[:4 + len(swept)]}")

    # pandas: Parquet and CSV hold the same rows and values.
    frame = pd.read_parquet(runs_parquet)
    csv = pd.read_csv(out / "runs.csv")
    if len(frame) != len(csv):
        fail(f"runs.parquet has {len(frame)} rows, runs.csv {len(csv)}")
    if list(frame.columns) != list(csv.columns):
        fail("runs.parquet and runs.csv have different columns")
    for column in frame.columns:
        a, b = frame[column], csv[column]
        for i, (x, y) in enumerate(zip(a, b)):
            if isinstance(x, float) or isinstance(y, float):
                if not (math.isnan(x) and math.isnan(y)) and x != y:
                    fail(f"{column}[{i}]: parquet {x!r} != csv {y!r}")
            elif pd.isna(x) and pd.isna(y):
                continue
            elif x != y:
                fail(f"{column}[{i}]: parquet {x!r} != csv {y!r}")
        if frame[column].dtype.kind in "if" and csv[column].dtype.kind not in "if":
            fail(f"{column}: numeric in parquet, {csv[column].dtype} in csv")
    if list(frame["point"]) != sorted(frame["point"]):
        fail("rows are not sorted by point")

    # DuckDB SQL, as in the README.
    con = duckdb.connect()
    rows = con.execute(
        f"""SELECT "scheduler.policy", avg(ttft_ms_p50), count(*)
            FROM '{runs_parquet}' WHERE status = 'ok' GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    expected = (
        csv[csv.status == "ok"].groupby("scheduler.policy")["ttft_ms_p50"].agg(["mean", "count"])
    )
    if len(rows) != len(expected):
        fail(f"DuckDB found {len(rows)} policies, pandas {len(expected)}")
    for policy, mean, count in rows:
        want = expected.loc[policy]
        if count != want["count"] or not math.isclose(mean, want["mean"], rel_tol=1e-12):
            fail(f"{policy}: DuckDB mean {mean} over {count}, CSV {want['mean']} over {want['count']}")
    (total,) = con.execute(f"SELECT count(*) FROM '{runs_parquet}'").fetchone()
    if total != len(csv):
        fail(f"DuckDB counts {total} rows, CSV {len(csv)}")

    # summary.parquet: one row per configuration, seeds folded out; its means
    # agree with DuckDB's own aggregation of runs.parquet.
    summary_parquet = str(out / "summary.parquet")
    keys = [k for k in schema.names[schema.names.index("probe") + 1 : schema.names.index("status")] if not k.endswith("seed")]
    quoted = ", ".join(f'"{k}"' for k in keys)
    expected_rows = con.execute(
        f"SELECT {quoted}, count(*), avg(ttft_ms_p50) FROM '{runs_parquet}' WHERE status = 'ok' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    summary_rows = con.execute(
        f"SELECT {quoted}, seeds, ttft_ms_p50_mean FROM '{summary_parquet}' ORDER BY ALL"
    ).fetchall()
    if len(summary_rows) != len(expected_rows):
        fail(f"summary.parquet has {len(summary_rows)} rows, runs.parquet {len(expected_rows)} configurations")
    for got, want in zip(summary_rows, expected_rows):
        if got[:-1] != want[:-1] or not math.isclose(got[-1], want[-1], rel_tol=1e-9):
            fail(f"summary row {got} does not match the runs' aggregate {want}")
    summary_frame = pd.read_parquet(summary_parquet)
    if str(summary_frame["seeds"].dtype) != "int64" or str(summary_frame["ttft_ms_p50_ci95"].dtype) != "float64":
        fail(f"summary.parquet column types: {summary_frame.dtypes.to_dict()}")

    if per_request:
        requests_parquet = str(out / "requests.parquet")
        (n,) = con.execute(f"SELECT count(*) FROM '{requests_parquet}'").fetchone()
        completed = int(csv.loc[csv.status == "ok", "requests_completed"].sum())
        if n != completed:
            fail(f"requests.parquet has {n} rows, the runs completed {completed} requests")
        joined = con.execute(
            f"""SELECT r.run_id, count(*) AS n, max(q.requests_completed) AS completed
                FROM '{requests_parquet}' r JOIN '{runs_parquet}' q USING (run_id)
                GROUP BY 1 HAVING n != completed"""
        ).fetchall()
        if joined:
            fail(f"per-request rows disagree with requests_completed: {joined[:3]}")
        req_schema = pq.read_schema(requests_parquet)
        for name, ty in [("request_id", "int64"), ("arrival_secs", "double"), ("output_tokens", "int64")]:
            if str(req_schema.field(name).type) != ty:
                fail(f"requests.parquet {name}: {req_schema.field(name).type}, expected {ty}")
        ttft = con.execute(
            f"SELECT min(first_token_secs - arrival_secs) FROM '{requests_parquet}'"
        ).fetchone()[0]
        if not ttft > 0:
            fail(f"a request's first token came before its arrival: {ttft}")

    print(f"interop ok: {len(csv)} runs, {len(summary_rows)} configurations" + (f", {n} requests" if per_request else ""))


if __name__ == "__main__":
    main()
