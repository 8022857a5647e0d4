"""The cost of the overlap lease per sent run (issue 19's target: under 2 ms on PostgreSQL):
what beat does before a send (``Overlap.admit``: one upsert that only takes a free lease) plus
what the worker's signals do (``lease.started``, ``lease.finished``: one UPDATE each), for runs
spread over many schedules; and the busy path (a run not sent: ``overlap: skip`` records it).

Usage: .venv/bin/python bench/overlap_lease.py [--runs 2000] [--backends sqlite,postgres]

Each backend in a fresh database, in a child process; the database on this machine (a local
socket: the figure is the statements' cost, not a network's round trips).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import parse_or_run_child, run_child, setup_child

SCHEDULES = 100
TARGET_MS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    options = parse_or_run_child(parser, measure)
    if options is None:
        return
    for backend in options.backends.split(","):
        m = run_child(__file__, backend, options.runs)
        verdict = "" if backend != "postgres" else (
            f" (target < {TARGET_MS} ms: {'ok' if m['run_ms'] < TARGET_MS else 'OVER'})")
        print(f"{backend:<9} {options.runs:,} runs over {SCHEDULES} schedules: "
              f"admit {m['admit_ms']:.3f} + started {m['started_ms']:.3f} + finished {m['finished_ms']:.3f} "
              f"= {m['run_ms']:.3f} ms per run{verdict}; "
              f"a run not sent (overlap skip, recorded): {m['skip_ms']:.3f} ms")


def measure(runs: int) -> dict[str, Any]:
    setup_child()
    from reconciler.beat.overlap import Overlap
    from reconciler.core.policy import Policy
    from reconciler.runtime import lease

    beat, policy = Overlap(), Policy(overlap="skip", max_runtime=600)
    names = [f"schedule-{k:03d}" for k in range(SCHEDULES)]
    start = datetime.now(UTC)
    spent = {"admit": 0.0, "started": 0.0, "finished": 0.0, "skip": 0.0}
    for k in range(runs):
        name, now = names[k % SCHEDULES], start + timedelta(seconds=k)
        task_id = _timed(spent, "admit", beat.admit, name, policy, now, now)
        assert task_id is not None
        _timed(spent, "started", lease.started, task_id, name, now)
        assert _timed(spent, "skip", beat.admit, name, policy, now, now) is None  # busy: recorded
        _timed(spent, "finished", lease.finished, task_id, name, "success", now)
    per_run = {key: seconds * 1000 / runs for key, seconds in spent.items()}
    return {f"{key}_ms": value for key, value in per_run.items()} | {
        "run_ms": per_run["admit"] + per_run["started"] + per_run["finished"],
    }


def _timed(spent: dict[str, float], key: str, call: Any, *args: Any) -> Any:
    begin = time.perf_counter()
    value = call(*args)
    spent[key] += time.perf_counter() - begin
    return value


if __name__ == "__main__":
    main()
