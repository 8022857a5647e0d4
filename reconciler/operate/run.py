"""Run now: a schedule's task sent exactly as beat sends it, or any registered task once.

``beat_message`` mirrors ``django_celery_beat.schedulers.ModelEntry`` (arguments, routing
options, expiry, headers with ``periodic_task_name``) and the send mirrors
``celery.beat.Scheduler.apply_async`` (the registered task's ``apply_async``, else
``send_task``), without ModelEntry's side effect of disabling a row it cannot read. Every
send carries the ``scheduled_time`` header our beat's sends carry (``core.sends``): the moment
the run was asked for (and, for a schedule with ``scheduled_time_kwarg``, that keyword too).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django_celery_beat.models import PeriodicTask

from ..core.errors import OperationRefused, UnknownName
from ..core.policy import Policy
from ..core.sends import SCHEDULED_TIME, scheduled_time
from ..models import ManagedTask, OperationRecord

if TYPE_CHECKING:
    from ..declare.resolve import Registry

ROUTING_OPTIONS = ("queue", "exchange", "routing_key", "priority")


@dataclass(frozen=True)
class Message:
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    scheduled_time_kwarg: str | None = None  # the policy's: the run's scheduled time as this keyword


def beat_message(row: PeriodicTask) -> Message:
    """What beat would send for this row (with its policy's time limit and scheduled-time
    keyword); refused when its stored JSON cannot be read."""
    args = _json(row, "args", "[]", list)
    kwargs = _json(row, "kwargs", "{}", dict)
    headers = _json(row, "headers", "{}", dict)
    options: dict[str, Any] = {k: getattr(row, k) for k in ROUTING_OPTIONS if getattr(row, k) is not None}
    expires = row.expires or row.expire_seconds
    if expires:
        options["expires"] = expires
    options["headers"] = {**headers, "periodic_task_name": row.name}
    policy = Policy.from_json(ManagedTask.objects.using(row._state.db or "default").filter(pk=row.pk)
                              .values_list("policy", flat=True).first())
    if policy.time_limit:
        options["time_limit"] = policy.time_limit
    return Message(row.task, args, kwargs, options, policy.scheduled_time_kwarg)


def _json(row: PeriodicTask, column: str, empty: str, kind: type) -> Any:
    raw = getattr(row, column) or empty
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise OperationRefused(
            f"{row.name}: its stored {column} is not valid JSON ({exc}); beat cannot send it either. "
            "Fix the declaration (or the row, if unmanaged)"
        ) from exc
    if not isinstance(value, kind):
        raise OperationRefused(f"{row.name}: its stored {column} is JSON but not a {kind.__name__}: {raw[:80]}")
    return value


def send(app: Any, message: Message, moment: datetime | None = None, **extra: Any) -> str:
    """Send as beat does, for ``moment`` (default: now) as its scheduled time; returns the
    Celery task id."""
    stamp = scheduled_time(moment or datetime.now(UTC))
    task = app.tasks.get(message.task)
    options = {**message.options, **extra}
    options["headers"] = {**options.get("headers", {}), SCHEDULED_TIME: stamp}
    kwargs = message.kwargs
    if message.scheduled_time_kwarg:
        kwargs = {**kwargs, message.scheduled_time_kwarg: stamp}
    if task is not None:
        return str(task.apply_async(message.args, kwargs, **options).id)
    return str(app.send_task(message.task, message.args, kwargs, **options).id)


def run_schedule(name: str, *, by: str = "", app: Any = None, using: str = "default") -> str:
    """Send one schedule's task now; returns the Celery task id (logged with who asked)."""
    row = PeriodicTask.objects.using(using).filter(name=name).first()
    if row is None:
        raise UnknownName(f"no schedule named {name!r}")
    message = beat_message(row)
    task_id = send(app or _app(), message)
    _log(using, OperationRecord.Action.RUN, name, message.task, by, task_id)
    return task_id


@dataclass(frozen=True)
class AdHocRun:
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    eta: datetime | None = None


def argument_problem(run: AdHocRun, registry: Registry) -> str | None:
    """The ``bad-arguments`` text validate would give these arguments (they bind, and fit the
    task's type hints: the same check, ``arguments.argument_problem``), or None."""
    from ..declare.arguments import argument_problem as check  # start-up: docs/architecture.md, "The import rules"
    if run.task not in registry.signatures:
        raise UnknownName(f"no task named {run.task!r} is registered in the Celery app")
    signature = registry.signatures[run.task]
    if signature is None:
        return None
    return check(run.task, signature, registry.hints.get(run.task, {}), run.args, run.kwargs)


def eta_problem(eta: datetime | None) -> str | None:
    """A naive ``eta`` is refused: which zone it meant cannot be guessed (not even UTC)."""
    if eta is not None and (eta.tzinfo is None or eta.utcoffset() is None):
        return "eta must carry a time zone offset (ISO-8601, e.g. 2026-01-01T08:00:00+00:00)"
    return None


def run_task(run: AdHocRun, *, by: str = "", app: Any = None, using: str = "default") -> str:
    """Send a registered task once (the caller has bound its arguments); returns its id."""
    problem = eta_problem(run.eta)
    if problem:
        raise OperationRefused(problem)
    extra = {"eta": run.eta} if run.eta is not None else {}
    task_id = send(app or _app(), Message(run.task, run.args, run.kwargs), run.eta, **extra)
    _log(using, OperationRecord.Action.RUN, "", run.task, by, task_id)
    return task_id


def _app() -> Any:
    from ..pipeline import celery_app  # start-up: docs/architecture.md, "The import rules"

    return celery_app()


def _log(using: str, action: str, name: str, task: str, by: str, task_id: str) -> None:
    OperationRecord.objects.using(using).create(
        at=datetime.now(UTC), action=action, name=name, task=task, user=by, celery_id=task_id,
    )
