"""Benchmark: what the run-time policies cost (issue 19, docs/policies.md), against the issue's targets.

- The overlap lease, per sent run: beat's ``Overlap.admit`` (the claim, one upsert) and the
  worker's ``lease.started`` and ``lease.finished``, measured by ``bench/overlap_lease.py`` (its
  one home; run here in its own child process). Target: under 2 ms per sent run on PostgreSQL.
- Beat's load (``ReconcilingScheduler.all_as_schedule``, as ``bench/beat_load.py`` measures it)
  at 10,000 owned schedules, with a policy on every one of them against none. Target: not worse
  by more than 10%. The two are measured alternately on the same database, median of the repeats.

Usage: .venv/bin/python bench/policies.py [--runs 2000] [--size 10000] [--repeat 5] [--backends postgres,sqlite]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import overlap_lease
from bench.harness import fresh_database, run_child, setup_child

LEASE_TARGET_MS = 2.0
LOAD_TARGET = 1.10  # with policies / without
POLICY = '{"catchup":"all","catchup_max":3,"max_runtime":600,"overlap":"skip","scheduled_time_kwarg":"as_of"}'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure_load(options)))
        return
    for backend in options.backends.split(","):
        print(f"\n{backend}")
        lease = run_child(str(Path(overlap_lease.__file__)), backend, options.runs)
        verdict = "met" if lease["run_ms"] < LEASE_TARGET_MS else "NOT met"
        target = f"   (target < {LEASE_TARGET_MS:g} ms: {verdict})" if backend == "postgres" else ""
        print(f"  overlap lease per sent run, {options.runs:,} runs: admit {lease['admit_ms']:.3f}"
              f" + started {lease['started_ms']:.3f} + finished {lease['finished_ms']:.3f}"
              f" = {lease['run_ms']:.3f} ms{target}; a run not sent (recorded): {lease['skip_ms']:.3f} ms")
        load = child(backend, options)
        ratio = load["with"] / load["without"]
        verdict = "met" if ratio <= LOAD_TARGET else "NOT met"
        print(f"  beat's load of {options.size:,} schedules: without policies {load['without']:.3f} s,"
              f" with a policy on each {load['with']:.3f} s ({load['entries']:,} entries, {load['queries']} queries)"
              f" -> x{ratio:.3f}   (target <= x{LOAD_TARGET:.2f}: {verdict})")


def child(backend: str, options: argparse.Namespace) -> dict[str, Any]:
    """The load's measurement in a process of its own (Django's settings are per process), on a fresh database."""
    with fresh_database(backend) as (url, tmp):
        env = {**os.environ, "DATABASE_URL": url, "BENCH_DIR": tmp, "PROJECT_VAR_DIR": tmp,
               "DJANGO_SETTINGS_MODULE": "project.settings"}
        args = [sys.executable, __file__, "--child", "--size", str(options.size), "--repeat", str(options.repeat)]
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent.parent)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_load(options: argparse.Namespace) -> dict[str, Any]:
    setup_child()
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from bench.beat_load import populate, timed_load
    from project.celery import app
    from reconciler.beat.scheduler import ReconcilingScheduler
    from reconciler.models import ManagedTask

    populate(options.size)
    now = timezone.now()
    ManagedTask.objects.bulk_create(
        [ManagedTask(periodic_task_id=pk, spec_hash="bench", applied_at=now, source_file="bench.yaml")
         for pk in PeriodicTask.objects.values_list("pk", flat=True)],
        batch_size=2000,
    )
    seconds: dict[str, list[float]] = {"without": [], "with": []}
    measured: dict[str, Any] = {}
    for _ in range(options.repeat):
        for label, policy in (("without", ""), ("with", POLICY)):
            ManagedTask.objects.update(policy=policy)
            measured = timed_load(ReconcilingScheduler(app=app, lazy=True))
            seconds[label].append(measured["seconds"])
    return {"without": statistics.median(seconds["without"]), "with": statistics.median(seconds["with"]),
            "entries": measured["entries"], "queries": measured["queries"]}


if __name__ == "__main__":
    main()
