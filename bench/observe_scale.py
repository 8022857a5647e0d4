"""Benchmark: what users see at 10,000 schedules (issue 17), SQLite and PostgreSQL — a page of
50 of ``GET /api/schedules/``, a ``/metrics`` scrape, a page of the admin's PeriodicTask list
(with its health column): seconds (best of REPEAT, the server side of a request through
Django's test client, warm caches; each scrape follows beat sending, and a worker running,
``BEAT_RAN`` rows), the serving process's CPU seconds (steadier than the wall
clock on a shared machine; on SQLite it includes the database's work) and queries, each with
its target; and the first request's seconds, before the process's memos are filled (the plan
behind the API's and the admin's statuses, each row's schedule math behind a scrape: in
production the plan memo lasts until the files or the rows change, at most
``RECONCILER_PLAN_MEMO_SECONDS``, and a scrape computes again only the rows beat has run since).

The schedules are ``bench/generate.py``'s declarations, applied, with RUNS stored runs each.

Usage: .venv/bin/python bench/observe_scale.py [--sizes 1000,10000] [--backends sqlite,postgres]
       [--runs 5] [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import run_child, setup_child

TARGETS = {"api_page": 0.1, "metrics": 0.5, "admin_page": 0.3}  # seconds, at 10,000 schedules
LABELS = {"api_page": "API page of 50", "metrics": "/metrics scrape", "admin_page": "admin list page (100)"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(int(options.child), int(os.environ["BENCH_RUNS"]), int(os.environ["BENCH_REPEAT"]))))
        return
    os.environ.update(BENCH_RUNS=str(options.runs), BENCH_REPEAT=str(options.repeat))
    for backend in options.backends.split(","):
        print(f"\n{backend} ({options.runs} stored runs per schedule, best of {options.repeat})")
        for size in (int(s) for s in options.sizes.split(",")):
            m = run_child(__file__, backend, size)
            for key, label in LABELS.items():
                target = f"target < {TARGETS[key] * 1000:.0f} ms at 10,000: " + (
                    "met" if m[key]["seconds"] < TARGETS[key] else "NOT met")
                print(f"  {size:>7,} schedules  {label:<22} {m[key]['seconds'] * 1000:8.1f} ms"
                      f" ({m[key]['cpu'] * 1000:6.1f} ms CPU, first {m[key]['first'] * 1000:6.1f} ms)"
                      f"  {m[key]['queries']:>3} queries   {target if size >= 10_000 else ''}")


def measure(size: int, runs: int, repeat: int) -> dict[str, Any]:
    tree = Path(tempfile.mkdtemp()) / "schedules"
    os.environ["RECONCILER_SCHEDULES_DIR"] = str(tree)
    setup_child()
    from bench.generate import write_tree
    from bench.observe_metrics import populate_runs
    from reconciler.engine.apply import ApplyOptions
    from reconciler.pipeline import apply_paths

    write_tree(tree, size)
    outcome = apply_paths([tree], options=ApplyOptions(revision="bench"))
    assert outcome.result is not None, outcome.validation.diagnostics[:3]
    populate_runs(runs)
    api, admin = clients()
    return {
        "api_page": best(repeat, lambda: api.get("/api/schedules/?page=2")),
        "metrics": best(repeat, lambda: api.get("/metrics", REMOTE_ADDR="127.0.0.1"), between=beat_ran(BEAT_RAN)),
        "admin_page": best(repeat, lambda: admin.get("/admin/django_celery_beat/periodictask/?p=2")),
    }


def clients() -> tuple[Any, Any]:
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, "testserver", allowed
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    admin = Client()
    admin.force_login(user)
    return api, admin


BEAT_RAN = 10  # rows beat sends (and the worker runs) between two scrapes, as between two real scrapes


def beat_ran(count: int) -> Any:
    """What beat and a worker write between two scrapes: ``count`` rows sent (``last_run_at``,
    ``total_run_count``), each with one stored run; other rows each time."""
    import itertools
    import uuid

    from django.db.models import F
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask
    from django_celery_results.models import TaskResult

    rounds = itertools.count()

    def run() -> None:
        now, start = timezone.now(), next(rounds) * count
        rows = list(PeriodicTask.objects.order_by("name").values_list("pk", "name", "task")[start:start + count])
        PeriodicTask.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
            last_run_at=now, total_run_count=F("total_run_count") + 1)
        TaskResult.objects.bulk_create([
            TaskResult(task_id=str(uuid.uuid4()), periodic_task_name=name, task_name=task, worker="bench@host",
                       status="SUCCESS", date_started=now, result='"ok"')
            for _, name, task in rows
        ])

    return run


def best(repeat: int, request: Any, between: Any = None) -> dict[str, Any]:
    """The fastest of ``repeat`` requests (each must answer 200) and its number of queries;
    ``between`` runs before each request, untimed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    found: dict[str, Any] = {"seconds": float("inf"), "queries": 0, "cpu": float("inf"), "first": None}
    for _ in range(repeat):
        if between is not None:
            between()
        with CaptureQueriesContext(connection) as queries:
            started, cpu = time.perf_counter(), time.process_time()
            response = request()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert response.status_code == 200, (response.status_code, response.content[:300])
        first = found["first"] if found["first"] is not None else seconds
        if seconds < found["seconds"]:
            found = {"seconds": seconds, "queries": len(queries), "cpu": min(cpu, found["cpu"])}
        found["first"] = first
    return found


if __name__ == "__main__":
    main()
