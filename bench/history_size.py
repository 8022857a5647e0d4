"""Benchmark: the apply history's record of a first import (issue 21: at most 1 MB at 100,000).

Usage: .venv/bin/python bench/history_size.py [--count 100000] [--backends sqlite,postgres]

Per backend, in a fresh database, in one child process: ``bench/generate.py``'s tree, its
first apply through the pipeline (whole: load, validate, plan, write, the history record);
then the stored record's size (the JSON the database holds, and the column's own size:
``pg_column_size`` of the jsonb, ``length`` of SQLite's text) beside the plan JSON that format 1
stored; and the cost: writing the record in format 2 and in format 1 (the same ``record`` call,
packing or not, alternated, the best of three), ``pack`` and ``unpack`` alone (what the admin's
history page pays to read it).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import parse_or_run_child, run_child, setup_child

LIMIT = 1_000_000  # bytes: the target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    options = parse_or_run_child(parser, measure)
    if options is None:
        return
    for backend in options.backends.split(","):
        report(backend, options.count, run_child(__file__, backend, options.count))


def report(backend: str, count: int, m: dict[str, Any]) -> None:
    print(f"\n{backend}, {count:,} declarations: first apply {m['apply_s']:.2f} s (whole pipeline, format 2 record)")
    verdict = "ok" if m["stored"] <= LIMIT else "OVER"
    print(f"  record, format 2: {m['stored']:>12,} bytes of JSON ({m['column']:,} in the column)"
          f"  target <= {LIMIT:,}: {verdict}")
    print(f"  record, format 1: {m['format1']:>12,} bytes of JSON ({m['format1'] / m['stored']:.0f}x larger)")
    print(f"  writing the record: format 2 {m['record2_s'] * 1000:7.1f} ms, format 1 {m['record1_s'] * 1000:7.1f} ms"
          f"  (difference {(m['record2_s'] - m['record1_s']) / m['apply_s']:+.1%} of the apply)")
    print(f"  pack alone {m['pack_s'] * 1000:.1f} ms; unpack (reading it back) {m['unpack_s'] * 1000:.1f} ms")


def measure(count: int) -> dict[str, Any]:
    setup_child()
    from django.db import connection

    from bench.apply import apply_folder
    from bench.generate import write_tree
    from reconciler.core import plan_record
    from reconciler.engine import history
    from reconciler.models import ApplyRecord

    folder = Path(os.environ["BENCH_DIR"]) / "schedules"
    write_tree(folder, count)
    start = time.perf_counter()
    plan = apply_folder(folder).plan
    result: dict[str, Any] = {"apply_s": time.perf_counter() - start}
    record = ApplyRecord.objects.get()
    result["stored"] = len(json.dumps(record.plan))
    size = "pg_column_size(plan)" if connection.vendor == "postgresql" else "length(plan)"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {size} FROM {ApplyRecord._meta.db_table} WHERE id = %s", [record.pk])
        result["column"] = cursor.fetchone()[0]
    payload = plan.to_json(created_fields_limit=history.HISTORY_CREATED_FIELDS)
    result["format1"] = len(json.dumps(payload))
    result["pack_s"] = seconds(lambda: plan_record.pack(payload))
    result["unpack_s"] = seconds(lambda: plan_record.unpack(record.plan))

    def write() -> None:
        history.record("default", started_at=record.started_at, seconds=1, django_user="", revision="bench",
                       plan=plan, outcome=ApplyRecord.Outcome.APPLIED)

    packed = history.pack
    times: dict[str, list[float]] = {"record2_s": [], "record1_s": []}
    for _ in range(3):  # alternated, the best of three: the shared machine's noise falls on both
        history.pack = packed  # type: ignore[assignment]
        times["record2_s"].append(seconds(write))
        history.pack = lambda payload: payload  # type: ignore[assignment]  # format 1: the plan JSON as it is
        times["record1_s"].append(seconds(write))
    return {**result, **{key: min(values) for key, values in times.items()}}


def seconds(fn: Any) -> float:
    gc.collect()  # no collection owed by an earlier step falls on this one
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
