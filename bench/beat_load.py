"""Benchmark: a full schedule load by beat — our ReconcilingScheduler against
django-celery-beat's DatabaseScheduler — at 1,000, 10,000 and 100,000 enabled tasks on
distinct interval, crontab (several time zones) and clocked rows, SQLite and PostgreSQL.

Usage: .venv/bin/python bench/beat_load.py [--sizes 1000,10000,100000] [--backends sqlite,postgres]
Targets (issue 5): 10,000 tasks load in under 0.5 s on both backends; 100,000 in under 5 s.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import parse_or_run_child, peak_mb, run_child, setup_child, timed

STOCK_LIMIT = 10_000  # above this the stock scheduler takes minutes per load on PostgreSQL
TIMEZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    options = parse_or_run_child(parser, measure)
    if options is None:
        return
    for backend in options.backends.split(","):
        print(f"\n{backend}")
        for size in (int(s) for s in options.sizes.split(",")):
            report(size, run_child(__file__, backend, size))


def report(size: int, m: dict[str, Any]) -> None:
    ours = m["ours"]
    stock = m["stock"]
    if "seconds" in stock:
        ratio = stock["seconds"] / ours["seconds"]
        versus = f"stock {stock['seconds']:7.3f} s ({stock['entries']:,} entries) -> ours {ratio:6.1f}x faster"
    else:
        versus = f"stock: {stock['status']}"
    print(
        f"  {size:>7,} tasks: ours {ours['seconds']:7.3f} s ({ours['entries']:,} entries, {ours['queries']} queries,"
        f" peak {m['peak_mb']:.0f} MB)  |  {versus}"
    )


def measure(size: int) -> dict[str, Any]:
    setup_child()
    populate(size)
    from django.db import connection
    from django_celery_beat.schedulers import DatabaseScheduler

    from project.celery import app
    from reconciler.beat.scheduler import ReconcilingScheduler

    result: dict[str, Any] = {"ours": timed_load(ReconcilingScheduler(app=app, lazy=True))}
    result["peak_mb"] = peak_mb(lambda: ReconcilingScheduler(app=app, lazy=True).all_as_schedule())
    if connection.vendor == "postgresql" and size > STOCK_LIMIT:
        result["stock"] = {"status": f"not run above {STOCK_LIMIT:,} tasks (minutes per load)"}
    else:
        try:
            result["stock"] = timed_load(DatabaseScheduler(app=app, lazy=True))
        except Exception as exc:
            result["stock"] = {"status": f"crashed: {type(exc).__name__}: {str(exc)[:80]}"}
    return result


def timed_load(scheduler: Any) -> dict[str, Any]:
    measured = timed(scheduler.all_as_schedule)
    return {"seconds": measured["seconds"], "entries": len(measured["value"]), "queries": measured["queries"]}


def populate(size: int) -> None:
    """size enabled tasks on distinct schedule rows: a third each interval, crontab, clocked."""
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

    third = size // 3
    intervals = IntervalSchedule.objects.bulk_create(
        [IntervalSchedule(every=i + 1, period="seconds") for i in range(third)], batch_size=2000
    )
    crontabs = CrontabSchedule.objects.bulk_create(
        [
            CrontabSchedule(
                minute=str(i % 60),
                hour=str((i // 60) % 24),
                day_of_month=str(1 + (i // 1440) % 28),
                timezone=TIMEZONES[i % len(TIMEZONES)],
            )
            for i in range(third)
        ],
        batch_size=2000,
    )
    start = datetime.now(UTC) + timedelta(days=1)
    clockeds = ClockedSchedule.objects.bulk_create(
        [ClockedSchedule(clocked_time=start + timedelta(seconds=i)) for i in range(size - 2 * third)], batch_size=2000
    )
    tasks = [
        PeriodicTask(
            name=f"{kind}-{i:06d}",
            task="project.tasks.heartbeat",
            kwargs=json.dumps({"n": i}),
            one_off=kind == "clocked",
            **{kind: row},
        )
        for kind, rows in (("interval", intervals), ("crontab", crontabs), ("clocked", clockeds))
        for i, row in enumerate(rows)
    ]
    PeriodicTask.objects.bulk_create(tasks, batch_size=2000)


if __name__ == "__main__":
    main()
