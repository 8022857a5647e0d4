"""The worker's side of run tracking: Celery's signals mark the run our beat sent started and
finished in its schedule's lease (``runtime.lease``). A signal cannot veto a task, and these do
not try: overlap is enforced where the run is sent, by beat; the worker only reports.

Our runs are recognised by the message headers our beat sets on every send: ``scheduled_time``
and ``periodic_task_name``. Celery 5.7 hands a message's custom headers to the task as
``request.headers`` (a dict; ``None`` without any) — in ``task_prerun``, ``task_postrun`` and
``task_failure`` through ``task.request``, in ``task_revoked`` through the ``request`` argument
(tests/runtime/test_signals_live.py proves it with a real worker). A task without them costs a
dict lookup and no query; one with them updates its schedule's lease only where the lease is
this very run (``task_id``), so a late signal of an older run never clobbers a newer lease.
A failing update is logged, never raised: the run itself must not suffer from its bookkeeping.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import signals
from django.utils import timezone

from . import lease

log = logging.getLogger("reconciler.runtime")
DISPATCH = "reconciler.runtime.signals"  # the dispatch_uid prefix: connected once per process
SUCCESS, FAILURE, REVOKED = "success", "failure", "revoked"
_NOT_AN_END = frozenset({"RETRY"})  # a run that retries runs again: same task id, same headers
_OUTCOMES = {"SUCCESS": SUCCESS, "REVOKED": REVOKED}  # any other end state is a failure


def schedule_of(request: Any) -> str | None:
    """The schedule that sent this run, when our beat sent it; else None."""
    headers = getattr(request, "headers", None)
    if not headers or "scheduled_time" not in headers:
        return None
    name = headers.get("periodic_task_name")
    return str(name) if name else None


def on_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
    name = schedule_of(getattr(task, "request", None))
    if name and task_id:
        _safely(lease.started, task_id, name, timezone.now())


def on_postrun(sender: Any = None, task_id: str | None = None, task: Any = None, state: str | None = None,
               **_: Any) -> None:
    name = schedule_of(getattr(task, "request", None))
    if name and task_id and state not in _NOT_AN_END:
        _safely(lease.finished, task_id, name, _OUTCOMES.get(state or "", FAILURE), timezone.now())


def on_failure(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
    name = schedule_of(getattr(sender, "request", None))
    if name and task_id:
        _safely(lease.finished, task_id, name, FAILURE, timezone.now())


def on_revoked(sender: Any = None, request: Any = None, **_: Any) -> None:
    name = schedule_of(request)
    task_id = getattr(request, "id", None)
    if name and task_id:
        _safely(lease.finished, task_id, name, REVOKED, timezone.now())


def _safely(update: Any, *args: Any) -> None:
    try:
        update(*args)
    except Exception:  # the database is down, a table is missing: the run goes on regardless
        log.warning("could not record %s of run %s in the lease of %s", update.__name__, args[0], args[1],
                    exc_info=True)


def connect() -> None:
    """Connect the handlers (``ReconcilerConfig.ready``); again is a no-op."""
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid=f"{DISPATCH}.prerun")
    signals.task_postrun.connect(on_postrun, weak=False, dispatch_uid=f"{DISPATCH}.postrun")
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid=f"{DISPATCH}.failure")
    signals.task_revoked.connect(on_revoked, weak=False, dispatch_uid=f"{DISPATCH}.revoked")
