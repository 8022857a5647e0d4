"""Helpers for the observe tests: runs stored by the real django-celery-results backend, with
the request beat's message carries (``periodic_task_name`` in its headers)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from celery import states
from celery.app.task import Context
from django_celery_results.models import TaskResult

from project.celery import app


def record_run(
    schedule: str | None, task: str, state: str, at: datetime, *, runtime: float = 1.5, worker: str = "w1@host",
    error: Exception | None = None,
) -> str:
    """Store one run through the result backend the worker uses, then date it ``at``."""
    task_id = str(uuid.uuid4())
    request = Context(
        id=task_id, task=task, periodic_task_name=schedule, hostname=worker, args=[], kwargs={},
        argsrepr="()", kwargsrepr="{}",
    )
    backend = app.backend
    backend.store_result(task_id, None, states.STARTED, request=request)
    if state == states.FAILURE:
        backend.mark_as_failure(task_id, error or ValueError("boom"), traceback="Traceback...\nValueError: boom",
                                request=request)
    elif state != states.STARTED:
        backend.store_result(task_id, "done", state, request=request)
    done = at + timedelta(seconds=runtime) if state != states.STARTED else None
    TaskResult.objects.filter(task_id=task_id).update(date_created=at, date_started=at, date_done=done or at)
    return task_id


def set_policy(name: str, **options: object) -> None:
    """The run-time policy an apply would have stored for the schedule (``ManagedTask.policy``)."""
    from reconciler.core.policy import Policy
    from reconciler.models import ManagedTask

    assert ManagedTask.objects.filter(periodic_task__name=name).update(policy=Policy(**options).to_json()) == 1


def track_run(
    name: str, sent: datetime, *, started: datetime | None = None, finished: datetime | None = None,
    outcome: str = "", slot: datetime | None = None, max_runtime: float = 600, pending: datetime | None = None,
) -> str:
    """The lease beat writes at a send, as the worker's signals leave it (``RunLease``: the contract)."""
    from reconciler.models import RunLease

    task_id = str(uuid.uuid4())
    RunLease.objects.update_or_create(name=name, defaults={
        "task_id": task_id, "scheduled_time": slot or sent, "sent_at": sent, "started_at": started,
        "finished_at": finished, "outcome": outcome, "pending_slot": pending,
        "expires_at": (started or sent) + timedelta(seconds=max_runtime),
    })
    return task_id


def record_skip(
    name: str, reason: str, slot: datetime, at: datetime, *, count: int = 1, first_slot: datetime | None = None,
    detail: str = "",
) -> None:
    """One skip decision as beat records it: the row, and its runs added to the counter."""
    from django.db.models import F

    from reconciler.models import SkippedRun, SkipTotal

    SkippedRun.objects.create(name=name, reason=reason, slot=slot, first_slot=first_slot, count=count, at=at,
                              detail=detail)
    total, _ = SkipTotal.objects.get_or_create(name=name, reason=reason)
    SkipTotal.objects.filter(pk=total.pk).update(total=F("total") + count)


def set_monitor(name: str, **options: object) -> None:
    """The monitor an apply would have stored for the schedule (``ManagedTask.monitor``)."""
    from reconciler.core.monitor import Monitor
    from reconciler.models import ManagedTask

    assert ManagedTask.objects.filter(periodic_task__name=name).update(monitor=Monitor(**options).to_json()) == 1


def set_calendar(name: str, **options: object) -> None:
    """The calendar an apply would have stored for the schedule (``ManagedTask.calendar``)."""
    from reconciler.core.calendar import Calendar
    from reconciler.models import ManagedTask

    assert ManagedTask.objects.filter(periodic_task__name=name).update(calendar=Calendar(**options).to_json()) == 1
