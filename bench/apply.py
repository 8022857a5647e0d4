"""Benchmark the reconcile engine against django-celery-beat's own ``update_from_dict``
(what beat does with ``CELERY_BEAT_SCHEDULE`` at every start), on SQLite and PostgreSQL.

Usage: .venv/bin/python bench/apply.py [--sizes 1000,10000] [--backends sqlite,postgres]

For each backend and size, in a fresh database: our first apply into an empty database
(whole pipeline: load, validate, plan, write; and its database phase alone), a no-op apply,
an apply that changes one declaration — each with its query and write counts — then
``update_from_dict`` on the same entries (first and again), and a lower bound: a plain
``bulk_create`` of the same PeriodicTask rows into an empty table. Peak memory of the first
apply is measured in a separate run under tracemalloc (which slows what it measures).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import parse_or_run_child, peak_mb, run_child, setup_child, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    options = parse_or_run_child(parser, measure)
    if options is None:
        return
    for backend in options.backends.split(","):
        for size in (int(s) for s in options.sizes.split(",")):
            report(backend, size, run_child(__file__, backend, size))


def report(backend: str, size: int, m: dict[str, Any]) -> None:
    def row(label: str, key: str, versus: str | None = None, note: str = "") -> None:
        r = m[key]
        ratio = f"  {m[versus]['seconds'] / r['seconds']:6.1f}x faster than update_from_dict" if versus else ""
        print(f"  {label:<34} {r['seconds']:8.3f} s  {r['queries']:>7} queries  {r['writes']:>7} writes{ratio}{note}")

    print(f"\n{backend}, {size:,} declarations")
    row("ours: first apply (whole command)", "first", "dcb_first")
    db = m["first"]["db_seconds"]
    print(f"  {'ours: first apply, database phase':<34} {db:8.3f} s  = {db / m['bulk']['seconds']:.2f}x the bulk_create"
          " lower bound (target <= 2x)")
    row("ours: no-op apply", "noop", "dcb_noop")
    row("ours: one declaration changed", "one", note=f"  ({m['one']['task_rows_written']} PeriodicTask row written)")
    row("update_from_dict: first", "dcb_first")
    row("update_from_dict: same entries again", "dcb_noop")
    row("lower bound: plain bulk_create", "bulk")
    per = m["peak_mb"] * 1024 / size
    print(f"  peak memory of our first apply: {m['peak_mb']:.1f} MB ({per:.1f} KB per declaration)")
    speedup = m["dcb_first"]["seconds"] / m["first"]["seconds"]
    print(f"  target: first apply >= 15x faster than update_from_dict: {speedup:.1f}x")


# -- the child: one backend, one size, a fresh database ------------------------------------

def measure(size: int) -> dict[str, Any]:
    setup_child()
    from bench.generate import write_tree

    folder = Path(os.environ["BENCH_DIR"]) / "schedules"
    files = write_tree(folder, size)
    result: dict[str, Any] = {}
    result["first"] = timed(lambda: apply_folder(folder))
    result["first"]["db_seconds"] = result["first"].pop("value").duration
    result["noop"] = strip(timed(lambda: apply_folder(folder)))
    text = files[0].read_text()
    files[0].write_text(text.replace("batch_size: 200\n", "batch_size: 201\n", 1))
    one = timed(lambda: apply_folder(folder))
    task_update = 'UPDATE "django_celery_beat_periodictask"'  # not the digest's UPDATE, which reads the table
    one["task_rows_written"] = sum(1 for q in one.pop("sql") if q.startswith(task_update))
    result["one"] = strip(one)
    wipe()
    result["peak_mb"] = peak_mb(lambda: apply_folder(folder))
    wipe()
    entries = beat_entries(folder)
    from django_celery_beat.schedulers import DatabaseScheduler

    from project.celery import app

    scheduler = DatabaseScheduler(app=app, lazy=True)
    result["dcb_first"] = strip(timed(lambda: scheduler.update_from_dict(entries)))
    result["dcb_noop"] = strip(timed(lambda: scheduler.update_from_dict(entries)))
    result["bulk"] = strip(timed(bulk_create_lower_bound(folder)))
    return result


def strip(measured: dict[str, Any]) -> dict[str, Any]:
    measured.pop("value", None)
    measured.pop("sql", None)
    return measured


def apply_folder(folder: Path):  # type: ignore[no-untyped-def]
    from reconciler.engine.apply import ApplyOptions
    from reconciler.pipeline import apply_paths

    outcome = apply_paths([folder], options=ApplyOptions(revision="bench"))
    assert outcome.result is not None, outcome.validation.diagnostics[:3]
    return outcome.result


def wipe() -> None:
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        PeriodicTasks,
        SolarSchedule,
    )

    from reconciler.models import ApplyRecord, ManagedTask

    for model in (ManagedTask, ApplyRecord, PeriodicTask, IntervalSchedule, CrontabSchedule, ClockedSchedule,
                  SolarSchedule, PeriodicTasks):
        model.objects.all()._raw_delete(model.objects.db)


def beat_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """The same declarations as a CELERY_BEAT_SCHEDULE dict, as beat would receive them."""
    from datetime import timedelta

    from celery.schedules import crontab, solar
    from django_celery_beat.clockedschedule import clocked

    from reconciler.core.schedule import Clocked, Crontab, Interval
    from reconciler.pipeline import validate_paths

    entries = {}
    for item in validate_paths([folder]).declared.tasks:
        spec = item.spec
        s = spec.schedule
        if isinstance(s, Interval):
            schedule: Any = timedelta(seconds=s.seconds)
        elif isinstance(s, Crontab):
            from zoneinfo import ZoneInfo

            schedule = crontab(s.minute, s.hour, s.day_of_week, s.day_of_month, s.month_of_year)
            schedule.tz = ZoneInfo(s.timezone)
        elif isinstance(s, Clocked):
            schedule = clocked(s.at)
        else:
            schedule = solar(s.event, float(s.latitude), float(s.longitude))
        options = {k: getattr(spec, k) for k in ("queue", "priority") if getattr(spec, k) is not None}
        if spec.expire_seconds:
            options["expires"] = spec.expire_seconds
        entries[spec.name] = {
            "task": spec.task, "schedule": schedule, "args": json.loads(spec.args),
            "kwargs": json.loads(spec.kwargs), "options": options,
        }
    return entries


def bulk_create_lower_bound(folder: Path):  # type: ignore[no-untyped-def]
    """A plain bulk_create of the same PeriodicTask rows into an empty table (schedule rows
    already there, left by update_from_dict): the floor for writing these rows at all."""
    from django_celery_beat.models import PeriodicTask

    from reconciler.engine.write import TASK_COLUMNS, ensure_schedules, task_row
    from reconciler.pipeline import validate_paths

    specs = [t.spec for t in validate_paths([folder]).declared.tasks]
    PeriodicTask.objects.all()._raw_delete(PeriodicTask.objects.db)
    ids = ensure_schedules([s.schedule for s in specs], "default")
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [PeriodicTask(**dict(zip(TASK_COLUMNS, task_row(spec, ids, now), strict=True))) for spec in specs]
    return lambda: PeriodicTask.objects.bulk_create(rows, batch_size=500)


if __name__ == "__main__":
    main()
