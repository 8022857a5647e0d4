"""The worker's signal handlers (runtime.signals) called as Celery calls them, with a real task
whose request carries (or not) our beat's headers, on the database of the pass. The live
worker: test_signals_live.py."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from celery import signals as celery_signals
from celery.app.task import Context
from django.db import connection
from django.test.utils import CaptureQueriesContext

from project.tasks import heartbeat
from reconciler.core.policy import Policy
from reconciler.models import RunLease
from reconciler.runtime import lease, signals

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OURS = {"periodic_task_name": "sync", "scheduled_time": T0.isoformat()}

SCHEDULE_CASES = [
    ("our beat's send", OURS, "sync"),
    ("django-celery-beat's stock scheduler: no scheduled time", {"periodic_task_name": "sync"}, None),
    ("a scheduled time without a schedule", {"scheduled_time": T0.isoformat()}, None),
    ("other headers", {"x-trace": "1"}, None),
    ("no header at all", None, None),
]


@pytest.mark.parametrize(("headers", "name"), [c[1:] for c in SCHEDULE_CASES], ids=[c[0] for c in SCHEDULE_CASES])
def test_schedule_of_reads_our_beats_headers(headers: dict[str, str] | None, name: str | None) -> None:
    assert signals.schedule_of(Context(headers=headers)) == name


@pytest.fixture
def running() -> Iterator[Any]:
    """``heartbeat`` while a run sent by our beat executes (its request as the worker builds it)."""
    heartbeat.push_request(id="run-1", headers=OURS, **OURS)
    yield heartbeat
    heartbeat.pop_request()


def claimed() -> None:
    RunLease.objects.create(name="sync", task_id="run-1", scheduled_time=T0, sent_at=T0,
                            expires_at=T0 + lease.lifetime(Policy(overlap="skip", max_runtime=60)))


POSTRUN_CASES = [
    ("SUCCESS", "success"), ("FAILURE", "failure"), ("REVOKED", "revoked"), ("IGNORED", "failure"), ("RETRY", ""),
]


@pytest.mark.django_db
@pytest.mark.db_backend
@pytest.mark.parametrize(("state", "outcome"), POSTRUN_CASES, ids=[c[0] for c in POSTRUN_CASES])
def test_postrun_ends_the_run_by_its_state(running: Any, state: str, outcome: str) -> None:
    claimed()
    celery_signals.task_prerun.send(sender=running, task_id="run-1", task=running, args=(), kwargs={})
    celery_signals.task_postrun.send(sender=running, task_id="run-1", task=running, args=(), kwargs={},
                                     retval=None, state=state)
    got = RunLease.objects.get()
    assert got.started_at is not None
    assert (got.outcome, got.finished_at is not None) == (outcome, bool(outcome))


@pytest.mark.django_db
@pytest.mark.db_backend
def test_failure_and_revoked_end_the_run(running: Any) -> None:
    claimed()
    celery_signals.task_failure.send(sender=running, task_id="run-1", exception=RuntimeError("x"))
    assert RunLease.objects.get().outcome == "failure"
    RunLease.objects.update(task_id="run-2", finished_at=None, outcome="")
    celery_signals.task_revoked.send(sender=running, request=Context(id="run-2", headers=OURS), terminated=False,
                                     signum=None, expired=False)
    assert RunLease.objects.get().outcome == "revoked"


@pytest.mark.django_db
def test_a_run_without_our_headers_costs_no_query() -> None:
    heartbeat.push_request(id="run-1", headers=None)
    try:
        with CaptureQueriesContext(connection) as queries:
            celery_signals.task_prerun.send(sender=heartbeat, task_id="run-1", task=heartbeat, args=(), kwargs={})
            celery_signals.task_postrun.send(sender=heartbeat, task_id="run-1", task=heartbeat, args=(),
                                             kwargs={}, retval=None, state="SUCCESS")
    finally:
        heartbeat.pop_request()
    assert len(queries) == 0


SIGNALS = [celery_signals.task_prerun, celery_signals.task_postrun, celery_signals.task_failure,
           celery_signals.task_revoked]


@pytest.mark.parametrize("signal", SIGNALS, ids=[s.name for s in SIGNALS])
def test_each_handler_is_connected_once(signal: Any) -> None:
    signals.connect()  # again: apps.ready() did it already
    ours = [key for key, _ in signal.receivers if str(key[0]).startswith(signals.DISPATCH)]
    assert len(ours) == 1
