"""Benchmark: one SQL statement over every task row, on the tables beat reads, with the
reconciler's change-marker triggers installed (migrations 0008/0013 on PostgreSQL, 0012 on
SQLite): beat's bookkeeping over every row (the triggers must see no change), then a real
change of every row, and an apply-sized batch of 500 rows. Each timed in a fresh database of
COUNT tasks; ``--size`` (default 100,000).

Usage: .venv/bin/python bench/mass_update.py [--size 100000] [--backends sqlite,postgres]

Migration 0008's first trigger joined a statement's new and old rows in a nested loop: an
UPDATE of n rows cost n² comparisons (20,000 rows: 76 s, 100,000: about half an hour, the
table locked meanwhile). 0013 asks the same with a hashed EXCEPT.

Measured on 2026-12-02, 2 cores, 100,000 rows, another benchmark running beside:
sqlite    bookkeeping, every row 0.13 s; every row changed 0.33 s; one 500-row batch 0.00 s
postgres  bookkeeping, every row 2.01 s; every row changed 2.44 s; one 500-row batch 0.02 s
(with 0008's trigger, the same PostgreSQL statements over 20,000 rows took 76 s)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import parse_or_run_child, run_child, setup_child


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    options = parse_or_run_child(parser, measure)
    if options is None:
        return
    for backend in options.backends.split(","):
        m = run_child(__file__, backend, options.size)
        figures = "; ".join(f"{label} {seconds:.2f} s" for label, seconds in m.items())
        print(f"{backend:<9} {options.size:,} rows: {figures}")


def measure(size: int) -> dict[str, Any]:
    setup_child()
    from django.db import connection
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=10, period="seconds")
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=f"t{i}", task="project.tasks.heartbeat", interval=every) for i in range(size)],
        batch_size=2000,
    )
    table = PeriodicTask._meta.db_table
    statements = {
        "bookkeeping, every row": f"UPDATE {table} SET last_run_at = CURRENT_TIMESTAMP, "
                                  "total_run_count = total_run_count + 1, date_changed = CURRENT_TIMESTAMP",
        "every row changed": f"UPDATE {table} SET description = 'changed'",
        "one 500-row batch": f"UPDATE {table} SET description = 'again' "
                             f"WHERE id <= (SELECT MIN(id) + 499 FROM {table})",
    }
    seconds: dict[str, float] = {}
    for label, sql in statements.items():
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(sql)
            seconds[label] = time.perf_counter() - start
    return seconds


if __name__ == "__main__":
    main()
