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
