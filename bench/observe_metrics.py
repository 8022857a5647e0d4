"""Benchmark: one ``/metrics`` scrape (and ``reconcile status``'s read of every schedule's
health) at 1,000 and 10,000 schedules with RUNS stored runs each, SQLite and PostgreSQL: seconds,
queries (constant: the bounded set), peak memory.

Usage: .venv/bin/python bench/observe_metrics.py [--sizes 1000,10000] [--backends sqlite,postgres] [--runs 10]
Target (issue 12): a scrape at 10,000 schedules is one bounded set of queries and well under a
Prometheus scrape timeout (10 s by default): aim for under 2 s.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import peak_mb, run_child, setup_child, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(int(options.child), int(os.environ.get("BENCH_RUNS", "10")))))
        return
    os.environ["BENCH_RUNS"] = str(options.runs)
    for backend in options.backends.split(","):
        print(f"\n{backend} ({options.runs} stored runs per schedule)")
        for size in (int(s) for s in options.sizes.split(",")):
            m = run_child(__file__, backend, size)
            print(
                f"  {size:>7,} schedules, {m['results']:>9,} runs: scrape {m['scrape']['seconds']:6.3f} s"
                f" ({m['scrape']['queries']} queries, {m['bytes'] / 1e6:.1f} MB of text, peak {m['peak_mb']:.0f} MB)"
                f" | status {m['status']['seconds']:6.3f} s ({m['status']['queries']} queries)"
            )


def measure(size: int, runs: int) -> dict[str, Any]:
    setup_child()
    from bench.beat_load import populate

    populate(size)
    results = populate_runs(runs)
    from reconciler.observe.health import read_health
    from reconciler.observe.metrics import render_latest

    scrape = timed(render_latest)
    status = timed(read_health)
    return {
        "results": results, "bytes": len(scrape["value"][0]), "peak_mb": peak_mb(render_latest),
        "scrape": {"seconds": scrape["seconds"], "queries": scrape["queries"]},
        "status": {"seconds": status["seconds"], "queries": status["queries"]},
    }


def populate_runs(runs: int) -> int:
    """``runs`` stored results per schedule (every tenth a failure), as the worker writes them."""
    from django_celery_beat.models import PeriodicTask
    from django_celery_results.models import TaskResult

    start = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        TaskResult(
            task_id=str(uuid.uuid4()), periodic_task_name=name, task_name=task, worker="bench@host",
            status="FAILURE" if i % 10 == 9 else "SUCCESS", date_started=start + timedelta(seconds=i),
            result='{"exc_type": "ValueError", "exc_message": ["x"]}' if i % 10 == 9 else '"ok"',
        )
        for name, task in PeriodicTask.objects.values_list("name", "task")
        for i in range(runs)
    ]
    TaskResult.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


if __name__ == "__main__":
    main()
