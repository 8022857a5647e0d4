"""Benchmark: how late beat's sends are while the schedule changes, at 100,000 schedules, with
beat's full reload at each change (before: ``full``, ``RECONCILER_BEAT_INCREMENTAL = False``)
and with the incremental reload (after: ``incremental``, the default), and with the safety
reload every 20 s instead of 5 minutes (``safety``: the full read it does, in a thread), on
SQLite and PostgreSQL (issue 21).

Per backend and mode, on a fresh database: 100,000 unmanaged rows (a third each interval,
crontab, clocked, each on its own schedule row, all with one change stamp as a first apply
writes them; none due during the run, as a large real schedule mostly is), then real
processes: ``celery beat`` with our scheduler and a worker (solo pool) on Redis DB 9. Beat
applies a small source folder at start: ``pulse``, a task every second, and ``edited``, an
hourly task. After a warm-up, every ``--gap`` seconds one row changes: ``edited``'s kwargs in
the folder's one file, applied with ``manage.py reconcile apply`` (a plan reads only its own
source's rows: one UPDATE of one row, then the marker; on PostgreSQL its NOTIFY wakes beat, on
SQLite beat sees the marker at its next tick).

What is measured is what a user sees: how late each of the ``pulse``'s slots is served, from
the first change to the end: the start of its run on the worker (the worker's clock, the task
is handed the slot as its ``slot`` keyword, ``scheduled_time_kwarg``) minus the slot; a slot
that had no run of its own (beat was stalled past it, and its catch-up sent only the latest)
counts as served by the next run. The worst, p99 and p50. Beat sends nothing while it
reloads, so a reload's stall shows up as lateness of the every-second task. Also reported, from
beat's log: each full load's seconds and the heap's rebuild (every entry evaluated again after
a full load), each incremental reload's, and each safety reload's (in the thread, then applied
by beat). The broker and the worker add a few milliseconds to every run, whatever the mode.

Usage: .venv/bin/python bench/beat_reload.py [--backends sqlite,postgres] [--modes full,incremental,safety]
           [--size 100000] [--changes 8] [--gap 10]

Figures (2 cores, shared with another checkout's tests; 100,000 schedules, 8 one-row changes
10 s apart; lateness of the pulse's 87-88 slots):

    SQLITE
    full         worst 20639 ms  p99 19639 ms  p50 7491 ms  (81 slots with no run of their own)
                 8 full loads: p50 6573 ms, max 7963 ms; heap rebuilds: p50 5126 ms, max 6001 ms
    incremental  worst    58 ms  p99    50 ms  p50    8 ms  (0)
                 8 incremental reloads: p50 44 ms, max 54 ms
    safety       worst   448 ms  p99   446 ms  p50   10 ms  (0)
                 8 incremental reloads: p50 46 ms, max 91 ms; 5 safety reloads: 3.6 s in the thread, 0 ms applied
    POSTGRESQL
    full         worst 15767 ms  p99 14767 ms  p50 6051 ms  (79 slots with no run of their own)
                 8 full loads: p50 5788 ms, max 6748 ms; heap rebuilds: p50 5628 ms, max 11157 ms
    incremental  worst    48 ms  p99    44 ms  p50   29 ms  (0)
                 8 incremental reloads: p50 40 ms, max 56 ms
    safety       worst    91 ms  p99    87 ms  p50   28 ms  (0)
                 8 incremental reloads: p50 50 ms, max 79 ms; 5 safety reloads: 3.6 s in the thread, 0 ms applied

Before, each change stalled beat ~12 s (the full load, then Celery evaluating every entry for
its heap): with a change every 10 s beat never caught up. In-process, without the apply
competing for the 2 cores, a one-row incremental reload takes ~55 ms (SQLite) and ~60 ms
(PostgreSQL): two passes over the task table (one aggregate, the rows stamped since). The
safety reload, a blocking full load before (the ``full`` figures: ~12 s), now reads in a
thread; before that thread paused the collector, a full collection over the loaded schedule
and the rows read stopped every thread for ~0.9 s (worst 1.1-1.2 s), and before it read in
ranges, SQLite's read lock held beat's write after a send for the whole read (worst 0.75 s).
On SQLite a send can still wait ~0.45 s for a range being read.
"""
from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import REPO, fresh_database, setup_child

CELERY = str(Path(sys.executable).with_name("celery"))
BROKER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
TIMEZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
MODES = {  # the settings of each mode
    "full": {"RECONCILER_BEAT_INCREMENTAL": "0"},
    "incremental": {"RECONCILER_BEAT_INCREMENTAL": "1"},
    "safety": {"RECONCILER_BEAT_INCREMENTAL": "1", "RECONCILER_BEAT_SAFETY_RELOAD": "20"},
}
FOLDER = """tasks:
  pulse:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {{label: pulse}}
    scheduled_time_kwarg: slot
  edited:
    task: project.tasks.heartbeat
    every: 1h
    kwargs: {{label: edit-{i}}}
"""
LOADED = re.compile(r"loaded (\d+) schedule entries in ([\d.]+) s")
HEAP = re.compile(r"evaluated (\d+) schedule entries for beat's heap in ([\d.]+) s")
RELOADED = re.compile(r"reloaded (\d+) changed schedule entries .* in ([\d.]+) s")
SAFETY = re.compile(r"safety reload: read and compared every row in ([\d.]+) s .* in ([\d.]+) s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--modes", default="full,incremental,safety")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=8)
    parser.add_argument("--gap", type=float, default=10.0, help="seconds between two changes")
    parser.add_argument("--populate", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.populate:
        setup_child()
        populate(options.populate)
        return
    print(f"{options.size:,} schedules, {options.changes} one-row changes {options.gap:g} s apart; "
          "lateness of the every-second task's runs on the worker")
    for backend in options.backends.split(","):
        print(f"\n{backend}")
        for mode in options.modes.split(","):
            report(mode, run(backend, mode, options.size, options.changes, options.gap))


def report(mode: str, m: dict[str, Any]) -> None:
    late = sorted(m["lateness"])
    full, heap, incremental = m["full_loads"], m["heaps"], m["reloads"]
    print(f"  {mode:<12} {len(late):3d} slots: worst {late[-1] * 1000:6.0f} ms   p99 {pct(late, 99) * 1000:6.0f} ms"
          f"   p50 {pct(late, 50) * 1000:4.0f} ms   (slots with no run of their own: {m['dropped']})")
    if full:
        print(f"  {'':<12} full loads after start {len(full)}: {fmt(full)}; heap rebuilds {len(heap)}: {fmt(heap)}")
    if incremental:
        print(f"  {'':<12} incremental reloads {len(incremental)}: {fmt(incremental)}")
    if m["safety"]:
        background, applied = zip(*m["safety"], strict=True)
        print(f"  {'':<12} safety reloads {len(background)}: in the background {fmt(list(background))},"
              f" applied {fmt(list(applied))}")
    print(f"  {'':<12} start-up load {m['startup']:.2f} s; apply command {statistics.median(m['applies']):.2f} s (p50)")


def fmt(seconds: list[float]) -> str:
    return f"p50 {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run(backend: str, mode: str, size: int, changes: int, gap: float) -> dict[str, Any]:
    with fresh_database(backend) as (url, tmp):
        root = Path(tmp)
        folder, task_log = root / "schedules", root / "runs.log"
        folder.mkdir()
        env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": BROKER, "DEMO_TASK_LOG": str(task_log),
               "RECONCILER_SCHEDULES_DIR": str(folder), "PROJECT_VAR_DIR": str(root / "var"),
               "RECONCILER_SOURCE_NAME": "bench", **MODES[mode], "DJANGO_SETTINGS_MODULE": "project.settings"}
        subprocess.run([sys.executable, __file__, "--populate", str(size)], env=env, cwd=REPO, check=True)
        (folder / "bench.yaml").write_text(FOLDER.format(i=0))
        subprocess.run([sys.executable, "-c", f"import redis; redis.Redis.from_url({BROKER!r}).flushdb()"], check=True)
        beat_log = root / "beat.log"
        processes = [
            start([CELERY, "-A", "project", "worker", "--pool", "solo", "-l", "warning", "--without-heartbeat",
                   "--without-gossip", "--without-mingle"], env, root / "worker.log"),
            start([CELERY, "-A", "project", "beat", "-S", "reconciler.scheduler:ReconcilingScheduler", "--pidfile=",
                   f"--schedule={root / 'beat-schedule'}", "-l", "info"], env, beat_log),
        ]
        try:
            wait(lambda: len(pulse_runs(task_log)) >= 3, 300, beat_log)
            time.sleep(gap)
            begin = len(beat_log.read_text().splitlines())
            first = time.time()
            applies = []
            for i in range(1, changes + 1):
                (folder / "bench.yaml").write_text(FOLDER.format(i=i))
                started = time.time()
                subprocess.run([sys.executable, str(REPO / "manage.py"), "reconcile", "apply", "--format", "json"],
                               env=env, cwd=REPO, check=True, capture_output=True)
                applies.append(time.time() - started)
                time.sleep(max(0.0, gap - applies[-1]))
            time.sleep(gap)
            end = time.time()
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                process.wait(30)
        lines = beat_log.read_text().splitlines()
        lateness, dropped = slot_lateness(pulse_runs(task_log), first, end - 2)
        return {
            "lateness": lateness, "dropped": dropped,
            "startup": float(LOADED.findall("\n".join(lines[:begin]))[0][1]),
            "full_loads": floats(LOADED, lines[begin:]), "heaps": floats(HEAP, lines[begin:]),
            "reloads": floats(RELOADED, lines[begin:]), "applies": applies,
            "safety": [tuple(map(float, match)) for line in lines[begin:] for match in SAFETY.findall(line)],
        }


def slot_lateness(runs: list[tuple[float, float]], first: float, last: float) -> tuple[list[float], int]:
    """For each of the pulse's slots (whole seconds) in [first, last]: seconds from the slot to
    the start of the first run that served it (its own, or the later run of a catch-up that
    dropped it: beat's default catch-up sends only the latest missed slot); and how many slots
    had no run of their own."""
    runs = sorted(runs)
    slots = [float(second) for second in range(math.ceil(first), math.floor(last) + 1)]
    starts = [slot for slot, _ in runs]
    lateness = []
    for slot in slots:
        index = bisect.bisect_left(starts, slot)
        if index < len(runs):
            lateness.append(runs[index][1] - slot)
    return lateness, len(set(slots) - set(starts))


def floats(pattern: re.Pattern[str], lines: list[str]) -> list[float]:
    return [float(match[1]) for line in lines for match in pattern.findall(line)]


def pulse_runs(task_log: Path) -> list[tuple[float, float]]:
    """(slot, start on the worker) of each pulse run, epoch seconds."""
    if not task_log.exists():
        return []
    runs = []
    for line in task_log.read_text().splitlines():
        run = json.loads(line)
        if run.get("label") == "pulse" and "slot" in run.get("extra", {}):
            runs.append((datetime.fromisoformat(run["extra"]["slot"]).timestamp(),
                         datetime.fromisoformat(run["at"]).timestamp()))
    return runs


def wait(predicate: Any, timeout: float, log: Path) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise SystemExit(f"beat sent nothing within {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def populate(size: int) -> None:
    """size unmanaged enabled tasks on distinct schedule rows, none due while the bench runs: a
    third each daily-or-longer intervals, crontabs of next month (several time zones), one-offs
    a day ahead. A row that never ran counts from its ``date_changed`` (now), so nothing is late."""
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

    third = size // 3
    intervals = IntervalSchedule.objects.bulk_create(
        [IntervalSchedule(every=86_400 + i, period="seconds") for i in range(third)], batch_size=2000)
    now = datetime.now(UTC)
    crontabs = CrontabSchedule.objects.bulk_create([
        CrontabSchedule(minute=str(i % 60), hour=str((i // 60) % 24), day_of_month=str(1 + (i // 1440) % 28),
                        month_of_year=str(now.month % 12 + 1), timezone=TIMEZONES[i % len(TIMEZONES)])
        for i in range(third)
    ], batch_size=2000)
    clockeds = ClockedSchedule.objects.bulk_create(
        [ClockedSchedule(clocked_time=now + timedelta(days=1, seconds=i)) for i in range(size - 2 * third)],
        batch_size=2000)
    PeriodicTask.objects.bulk_create([
        PeriodicTask(name=f"{kind}-{i:06d}", task="project.tasks.heartbeat", kwargs=json.dumps({"n": i}),
                     one_off=kind == "clocked", **{kind: row})
        for kind, rows in (("interval", intervals), ("crontab", crontabs), ("clocked", clockeds))
        for i, row in enumerate(rows)
    ], batch_size=2000)
    ids = list(PeriodicTask.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 500):  # one stamp, as a first apply writes (bulk_create stamps each row)
        PeriodicTask.objects.filter(pk__in=ids[start:start + 500]).update(date_changed=now)  # in batches, as it does


if __name__ == "__main__":
    main()
