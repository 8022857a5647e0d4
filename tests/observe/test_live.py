"""Observe with real processes: Redis, a `celery worker`, `celery beat` with our scheduler and
`manage.py runserver` on the database of the current pass. A task that raises makes its
schedule failing; a queue no worker consumes and a stopped beat make schedules late; two
schedules of one task keep their own runs; a schedule's declared monitor (owner, severity)
labels its metrics and filters `status`; /metrics is scraped over HTTP and parsed with
prometheus-client's own parser."""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import REPO, Stack, live_stack, wait_for
from tests.support.tcp_proxy import _free_port

# Health's and the metrics' SQL run on both backends in-process (test_health.py, test_metrics.py); here
# real processes on SQLite, where the worker's result rows and beat's bookkeeping share one file's writer.
pytestmark = [pytest.mark.db_backend, pytest.mark.services, pytest.mark.only_backend("sqlite")]

GRACE = 2  # seconds (RECONCILER_HEALTH_GRACE)
TOKEN = "scrape-me"
SCHEDULES = """tasks:
  flaky:
    task: project.tasks.flaky
    every: 1s
    monitor: {owner: team-billing, severity: page}
  twin-a:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {label: from-a}
  twin-b:
    task: project.tasks.heartbeat
    every: 2s
    kwargs: {label: from-b}
  stuck:
    task: project.tasks.heartbeat
    every: 1s
    queue: nobody-consumes-this
"""


def status(stack: Stack, *args: str) -> tuple[int, dict[str, Any]]:
    result = stack.manage("reconcile", "status", "--format", "json", *args)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def healths(stack: Stack) -> dict[str, str]:
    """Ours: beat also adds its own ``celery.backend_cleanup`` row (result_expires)."""
    return {s["name"]: s["health"] for s in status(stack)[1]["schedules"] if s["managed"]}


def results(stack: Stack) -> list[tuple[str, str, str]]:
    """(periodic_task_name, task_kwargs, status) of every stored run, read by a separate process."""
    code = (
        "import django, json; django.setup();"
        "from django_celery_results.models import TaskResult as T;"
        "print(json.dumps(list(T.objects.values_list('periodic_task_name', 'task_kwargs', 'status'))))"
    )
    out = stack.manage("shell", "-c", code)
    assert out.returncode == 0, out.stderr[-2000:]
    return [tuple(row) for row in json.loads(out.stdout.strip().splitlines()[-1])]


def scrape(port: int, token: str | None = None) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if v != ""))  # empty: no label
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def forbidden(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code == 403
    return False


def test_failing_late_linked_runs_and_metrics_with_real_processes(tmp_path: Path, redis_broker: str) -> None:
    extra = {
        "RECONCILER_HEALTH_GRACE": str(GRACE),
        "RECONCILER_METRICS_TOKEN": TOKEN,
        "RECONCILER_METRICS_ALLOWED_NETWORKS": "10.99.0.0/16",  # not loopback: the token is needed
    }
    with live_stack(tmp_path, redis_broker, **extra) as stack:
        (stack.schedules / "live.yaml").write_text(SCHEDULES)
        applied = stack.manage("reconcile", "apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        stack.start_worker()
        stack.start_beat()
        port = _free_port()
        stack.start("web", sys.executable, str(REPO / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload")

        def settled() -> bool:
            names = [row[0] for row in results(stack) if row[2] in ("SUCCESS", "FAILURE")]
            return all(names.count(n) >= 2 for n in ("flaky", "twin-a", "twin-b"))

        assert wait_for(settled, timeout=60, interval=0.5), stack.log("worker").read_text()[-3000:]

        rows = results(stack)
        assert {r[0] for r in rows} == {"flaky", "twin-a", "twin-b"}  # nothing ran from the unconsumed queue
        assert all("from-a" in r[1] for r in rows if r[0] == "twin-a")  # one task, two schedules, own runs
        assert all("from-b" in r[1] for r in rows if r[0] == "twin-b")
        assert {r[2] for r in rows if r[0] == "flaky"} <= {"STARTED", "FAILURE"}

        now = healths(stack)
        assert now == {"flaky": "failing", "twin-a": "ok", "twin-b": "ok", "stuck": "late"}, now
        code, one = status(stack, "flaky", "--fail-on", "failing")
        failed = [run for run in one["runs"] if run["state"] == "FAILURE"]  # the newest may be running (STARTED)
        assert code == 1 and failed and failed[0]["exception"].startswith("RuntimeError: flaky failed on purpose")

        assert wait_for(lambda: _listening(port), timeout=30), stack.log("web").read_text()[-2000:]
        assert forbidden(port)  # neither an allowed network nor the token
        metrics = scrape(port, TOKEN)
        assert metrics["reconciler_schedule_late"][(("name", "stuck"),)] == 1
        assert metrics["reconciler_schedule_late"][(("name", "twin-a"),)] == 0
        billing = (("name", "flaky"), ("owner", "team-billing"), ("severity", "page"))  # its monitor's labels
        assert metrics["reconciler_schedule_failing"][billing] == 1
        assert (("name", "flaky"),) not in metrics["reconciler_schedule_failing"]
        assert metrics["reconciler_schedule_runs_total"][(("name", "twin-a"), ("state", "SUCCESS"))] >= 2
        assert (("name", "stuck"), ("task", "project.tasks.heartbeat")) in metrics[
            "reconciler_schedule_next_run_timestamp_seconds"]
        assert (("name", "stuck"), ("task", "project.tasks.heartbeat")) not in metrics[
            "reconciler_schedule_last_run_timestamp_seconds"]
        assert metrics["reconciler_applies_total"][(("outcome", "applied"),)] >= 1

        code, billed = status(stack, "--owner", "team-billing", "--fail-on", "failing")
        assert code == 1 and [s["name"] for s in billed["schedules"]] == ["flaky"], billed
        assert status(stack, "--owner", "team-ops", "--fail-on", "failing,late")[0] == 0

        stack.stop("beat")
        time.sleep(2 + GRACE + 1)  # the longest period (twin-b, 2 s), the grace, a margin
        stopped = healths(stack)
        assert stopped["twin-a"] == "late" and stopped["twin-b"] == "late", stopped
        assert status(stack, "--fail-on", "late")[0] == 1
        assert scrape(port, TOKEN)["reconciler_schedule_late"][(("name", "twin-b"),)] == 1


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
