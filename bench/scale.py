"""Benchmark: the engine at 100,000 declarations (issue 13), against the bare parse.

Usage: .venv/bin/python bench/scale.py [--count 100000] [--backends sqlite,postgres]
       .venv/bin/python bench/scale.py --trigger-cost 3 [--count 20000]

``--trigger-cost N``: on PostgreSQL, only the first apply, N times with the wake-up triggers
(migration 0008) and N times without (dropped after migrating), alternated, so that the
shared machine's noise falls on both: the triggers' cost (target: at most 5% slower).

Generates ``bench/generate.py``'s tree (100 declarations a file), then, per backend, in a
fresh database and a fresh validation cache, in one child process: the bare PyYAML C-loader
parse of the same files (the baseline), the first apply (cold cache), a no-op apply, an
apply after one file changed, ``validate`` cold (no cache) and warm; the peak resident
memory of the child after the first apply. Prints absolute times and the ratios, each with
its target.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.generate import write_tree
from bench.harness import fresh_database

TARGETS = {  # ratio to the bare parse, at most
    "noop": 0.5, "one_file": 1.0, "first": 3.0, "validate_cold": 1.5,
}
LABELS = {
    "first": "first apply (empty database, cold cache)", "noop": "no-op apply",
    "one_file": "apply after one file changed",
    "validate_cold": "validate, cold (--no-cache)", "validate_warm": "validate, warm cache",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--trigger-cost", type=int, default=0, metavar="N")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(Path(options.child))))
        return
    if options.trigger_cost:
        trigger_cost(options.count, options.trigger_cost)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "schedules"
        files = write_tree(tree, options.count)
        size = sum(f.stat().st_size for f in files)
        print(f"{options.count:,} declarations in {len(files):,} files ({size / 1e6:.1f} MB); "
              f"{os.cpu_count()} core(s)")
        for backend in options.backends.split(","):
            report(backend, run(backend, tree))


def run(backend: str, tree: Path) -> dict[str, Any]:
    import subprocess

    with fresh_database(backend) as (url, tmp):
        env = {**os.environ, "DATABASE_URL": url, "PROJECT_VAR_DIR": tmp, "DJANGO_SETTINGS_MODULE": "project.settings"}
        proc = subprocess.run([sys.executable, __file__, "--child", str(tree)], env=env, capture_output=True,
                              text=True, check=False, cwd=Path(__file__).resolve().parent.parent)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def trigger_cost(count: int, rounds: int) -> None:
    import statistics

    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "schedules"
        write_tree(tree, count)
        seconds: dict[bool, list[float]] = {True: [], False: []}
        inside: list[float] = []
        for i in range(rounds):
            for with_triggers in (True, False) if i % 2 == 0 else (False, True):
                os.environ["BENCH_FIRST_ONLY"] = "1"
                os.environ["BENCH_WITHOUT_TRIGGERS"] = "" if with_triggers else "1"
                m = run("postgres", tree)
                seconds[with_triggers].append(m["first"])
                if with_triggers:
                    inside.append(m["in_triggers"][0] / m["first"] * 100)
                calls = f" ({m['in_triggers'][0] * 1000:.1f} ms in {m['in_triggers'][1]} trigger calls)" \
                    if with_triggers else ""
                print(f"  round {i + 1}: {'with' if with_triggers else 'without'} the triggers: "
                      f"{m['first']:.2f} s{calls}", flush=True)
    with_, without = statistics.median(seconds[True]), statistics.median(seconds[False])
    extra = (with_ / without - 1) * 100
    print(f"PostgreSQL, first apply of {count:,} declarations, median of {rounds}: with the wake-up triggers "
          f"{with_:.2f} s, without {without:.2f} s: {extra:+.1f}% (target: at most +5%: "
          f"{'met' if extra <= 5 else 'NOT met'}); time inside the trigger functions: "
          f"{statistics.median(inside):.2f}% of the apply (PostgreSQL's own count, immune to the machine's noise)")


def report(backend: str, m: dict[str, Any]) -> None:
    parse = m["parse"]
    print(f"\n{backend}: bare C-loader parse {parse:.2f} s (the baseline)")
    for key, label in LABELS.items():
        ratio = m[key] / parse
        target = TARGETS.get(key)
        verdict = f"target <= {target}x: {'met' if ratio <= target else 'NOT met'}" if target else ""
        print(f"  {label:<44} {m[key]:8.2f} s  {ratio:5.2f}x the parse   {verdict}")
    print(f"  peak resident memory after the first apply: {m['peak_mb']:.0f} MB (target < 1024 MB: "
          f"{'met' if m['peak_mb'] < 1024 else 'NOT met'})")


def measure(tree: Path) -> dict[str, Any]:
    import django

    django.setup()
    import yaml
    from django.core.management import call_command
    from django.db import connection

    from reconciler.engine.apply import ApplyOptions
    from reconciler.pipeline import apply_paths, default_registry, validate_paths

    call_command("migrate", verbosity=0)
    if os.environ.get("BENCH_WITHOUT_TRIGGERS"):
        drop_wakeup_triggers()
    registry = default_registry()
    files = sorted(tree.glob("*.yaml"))

    def parse() -> None:
        for path in files:
            yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    def apply() -> Any:
        outcome = apply_paths([tree], options=ApplyOptions(revision="bench"), registry=registry)
        assert outcome.result is not None, outcome.validation.diagnostics[:3]
        return outcome

    m: dict[str, Any] = {"parse": timed(parse)}
    track = os.environ.get("BENCH_FIRST_ONLY") and connection.vendor == "postgresql"
    if track:
        with connection.cursor() as cursor:
            cursor.execute("SET track_functions = 'pl'")
    m["first"] = timed(apply)
    if os.environ.get("BENCH_FIRST_ONLY"):
        m["in_triggers"] = triggers_time() if track else (0.0, 0)
        return m
    m["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m["noop"] = timed(apply)
    changed = files[len(files) // 2]
    changed.write_text(changed.read_text().replace("every: 30s", "every: 31s").replace("every: 45\n", "every: 46\n"))
    m["one_file"] = timed(apply)
    m["validate_cold"] = timed(lambda: validate_paths([tree], registry=registry, use_cache=False))
    m["validate_warm"] = timed(lambda: validate_paths([tree], registry=registry))
    return m


def triggers_time() -> tuple[float, int]:
    """Seconds spent in the wake-up trigger functions by this session, and their calls
    (PostgreSQL's function statistics, flushed when the session goes idle)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(1.5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(total_time), 0), coalesce(sum(calls), 0) FROM pg_stat_user_functions "
                       "WHERE funcname LIKE 'reconciler_wakeup%%'")
        total_ms, calls = cursor.fetchone()
    return float(total_ms) / 1000, int(calls)


def drop_wakeup_triggers() -> None:
    from importlib import import_module

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(import_module("reconciler.migrations.0008_wakeup_trigger").REMOVE)


def timed(fn: Any) -> float:
    import gc

    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
