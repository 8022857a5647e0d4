"""Benchmark: what the run-time policies cost (issue 19, docs/policies.md).

- The overlap lease, per sent run: beat's ``Overlap.admit`` (the claim of the lease, one upsert),
  then the worker's ``task_prerun`` and ``task_postrun`` handlers (``runtime.signals``: started,
  finished), each in its own transaction as in beat and in the worker; and a skip (``admit``
  while the run is busy: the refused claim, a ``SkippedRun`` and its ``SkipTotal``). Target: under
  2 ms per sent run on PostgreSQL.
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
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import fresh_database, setup_child

LEASE_TARGET_MS = 2.0
LOAD_TARGET = 1.10  # with policies / without
SCHEDULES = 100  # the lease bench's schedules: its runs go round them, as beat's sends do
POLICY = '{"catchup":"all","catchup_max":3,"max_runtime":600,"overlap":"skip","scheduled_time_kwarg":"as_of"}'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--child", choices=("lease", "load"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        measure = measure_lease if options.child == "lease" else measure_load
        print(json.dumps(measure(options)))
        return
    for backend in options.backends.split(","):
        print(f"\n{backend}")
        lease = child(backend, "lease", options)
        verdict = "met" if lease["run_ms"]["mean"] < LEASE_TARGET_MS else "NOT met"
        target = f"   (target < {LEASE_TARGET_MS:g} ms: {verdict})" if backend == "postgres" else ""
        print(f"  overlap lease per sent run (admit + started + finished), {options.runs:,} runs:"
              f" {timing(lease['run_ms'])}{target}")
        print("    " + "; ".join(f"{step} {ms['mean']:.3f} ms" for step, ms in lease["steps_ms"].items())
              + f" (each its own transaction; {lease['commit']})")
        print(f"  a skipped run (admit while busy: refused claim + SkippedRun + SkipTotal):"
              f" {timing(lease['skip_ms'])}")
        load = child(backend, "load", options)
        ratio = load["with"] / load["without"]
        verdict = "met" if ratio <= LOAD_TARGET else "NOT met"
        print(f"  beat's load of {options.size:,} schedules: without policies {load['without']:.3f} s,"
              f" with a policy on each {load['with']:.3f} s ({load['entries']:,} entries, {load['queries']} queries)"
              f" -> x{ratio:.3f}   (target <= x{LOAD_TARGET:.2f}: {verdict})")


def timing(ms: dict[str, float]) -> str:
    return f"mean {ms['mean']:.3f} ms, p50 {ms['p50']:.3f} ms, p95 {ms['p95']:.3f} ms"


def child(backend: str, mode: str, options: argparse.Namespace) -> dict[str, Any]:
    """One measurement in a process of its own (Django's settings are per process), on a fresh database."""
    with fresh_database(backend) as (url, tmp):
        env = {**os.environ, "DATABASE_URL": url, "BENCH_DIR": tmp, "PROJECT_VAR_DIR": tmp,
               "DJANGO_SETTINGS_MODULE": "project.settings"}
        args = [sys.executable, __file__, "--child", mode, "--runs", str(options.runs), "--size", str(options.size),
                "--repeat", str(options.repeat)]
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent.parent)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"mean": statistics.fmean(ms), "p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))]}


def measure_lease(options: argparse.Namespace) -> dict[str, Any]:
    setup_child()
    from django.utils import timezone

    from reconciler.beat.overlap import Overlap
    from reconciler.core.policy import Policy
    from reconciler.runtime import signals

    overlap, policy = Overlap(), Policy(overlap="skip", max_runtime=600)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def worker_task(name: str, slot: datetime) -> SimpleNamespace:
        """What the worker's handlers read: the headers our beat sends, on the task's request."""
        return SimpleNamespace(request=SimpleNamespace(
            headers={"scheduled_time": slot.isoformat(), "periodic_task_name": name}))

    steps: dict[str, list[float]] = {"admit": [], "started": [], "finished": []}

    def one_run(i: int) -> float:
        name, slot = f"bench-{i % SCHEDULES}", start + timedelta(minutes=i)
        task = worker_task(name, slot)
        began = time.perf_counter()
        task_id = overlap.admit(name, policy, slot, timezone.now())
        admitted = time.perf_counter()
        assert task_id is not None, "the previous run of the schedule was not finished"
        signals.on_prerun(task_id=task_id, task=task)
        started = time.perf_counter()
        signals.on_postrun(task_id=task_id, task=task, state="SUCCESS")
        ended = time.perf_counter()
        for step, seconds in zip(steps, (admitted - began, started - admitted, ended - started), strict=True):
            steps[step].append(seconds)
        return ended - began

    for i in range(SCHEDULES):  # the leases exist, as after beat's first sends
        one_run(i)
    for values in steps.values():
        values.clear()
    runs = [one_run(SCHEDULES + i) for i in range(options.runs)]

    busy = [(f"busy-{i % SCHEDULES}", start + timedelta(minutes=i)) for i in range(options.runs)]
    for name, slot in busy[:SCHEDULES]:
        overlap.admit(name, policy, slot, timezone.now())  # a run in flight on each schedule
    skipped = []
    for name, slot in busy:
        began = time.perf_counter()
        assert overlap.admit(name, policy, slot + timedelta(days=1), timezone.now()) is None
        skipped.append(time.perf_counter() - began)
    return {"run_ms": summary(runs), "skip_ms": summary(skipped),
            "steps_ms": {step: summary(values) for step, values in steps.items()}, "commit": commit_setting()}


def commit_setting() -> str:
    """What a commit waits for (PostgreSQL: ``synchronous_commit``, the fsync of each of the three)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return f"synchronous_commit={cursor.fetchone()[0]}"


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
