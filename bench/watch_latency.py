"""Benchmark: how soon after a save the watcher has applied the change (issue 4: within a
second). Starts `manage.py reconcile watch` on a fresh SQLite database, edits the
declaration N times and polls the database for the new value.

Usage: .venv/bin/python bench/watch_latency.py [--edits 10]
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TASK = "tasks:\n  heartbeat:\n    task: project.tasks.heartbeat\n    every: {every}\n"


def interval_of(db: Path) -> int | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT i.every FROM django_celery_beat_periodictask t JOIN django_celery_beat_intervalschedule i "
            "ON i.id = t.interval_id WHERE t.name = 'heartbeat'"
        ).fetchone()
    return row[0] if row else None


def wait_for(db: Path, every: int, timeout: float = 10) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if interval_of(db) == every:
                return time.perf_counter() - start
        except sqlite3.OperationalError:
            pass
        time.sleep(0.005)
    raise SystemExit(f"the watcher did not apply every={every} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--debounce", default="0.25")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, folder = Path(tmp) / "db.sqlite3", Path(tmp) / "schedules"
        folder.mkdir()
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "RECONCILER_SCHEDULES_DIR": str(folder)}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
        (folder / "s.yaml").write_text(TASK.format(every=10))
        watcher = subprocess.Popen(
            [sys.executable, "manage.py", "reconcile", "watch", "--debounce", options.debounce],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(db, 10, timeout=30)
            latencies = []
            for i in range(options.edits):
                every = 11 + i
                (folder / "s.yaml").write_text(TASK.format(every=every))
                latencies.append(wait_for(db, every))
                time.sleep(0.3)
        finally:
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(10)
    print(f"save → applied in the database, {options.edits} edits, debounce {options.debounce} s:")
    print(f"  median {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s, min {min(latencies):.3f} s"
          " (target: within 1 s)")


if __name__ == "__main__":
    main()
