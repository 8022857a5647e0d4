"""PeriodicTask rows as health and forecasts need them, in two queries whatever their number:
one join of the tasks with their schedule rows (read as values), one read of ownership (with
suspensions). Each schedule object is built once per schedule row
(``reconciler.scheduler.schedule_of``, as beat builds it)."""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from ..models import ManagedTask, ScheduledTask
from ..scheduler import SCHEDULE_KINDS, schedule_of
from .health import Row

NAME_BATCH = 500  # names per IN list when asked for some schedules (SQLite's variable limit)


TASK_FIELDS = ("pk", "name", "task", "queue", "enabled", "last_run_at", "date_changed", "start_time", "expires")
KIND_FIELDS = {kind: tuple(f.attname for f in model._meta.concrete_fields) for kind, model in SCHEDULE_KINDS}
MODELS = dict(SCHEDULE_KINDS)


BUILT_SIZE = 100_000  # schedule objects kept between reads: emptied when full
_built: dict[tuple[Any, ...], tuple[int, Any]] = {}  # a schedule row's values -> (serial, schedule object)
_serials = itertools.count()  # never reused: a serial names one schedule row's values for ever


def read_rows(names: Sequence[str] | None = None, enabled_only: bool = False) -> list[Row]:
    """Rows sorted by name; all of them, or the ``names`` asked for. Plain values, not model
    instances (at 10,000 rows building 20,000 instances was most of a scrape): a schedule
    row becomes a schedule object once, for ``schedule_of``, and is kept (by its values and the
    settings in force) for the next read, however many tasks share it."""
    tasks = _tasks(names, enabled_only)
    applied = _applied([t["pk"] for t in tasks] if names is not None else None)
    if len(_built) >= BUILT_SIZE:
        _built.clear()
    return [_row(task, *applied.get(task["pk"], (None, None))) for task in tasks]


def _applied(pks: list[int] | None) -> dict[int, tuple[Any, Any]]:
    """Ownership by PeriodicTask id: (applied_at, suspended_at)."""
    rows = ManagedTask.objects.values_list("periodic_task_id", "applied_at", "suspended_at")
    if pks is None:
        return {pk: (applied, suspended) for pk, applied, suspended in rows}
    found: dict[int, tuple[Any, Any]] = {}
    for start in range(0, len(pks), NAME_BATCH):
        batch = rows.filter(periodic_task_id__in=pks[start:start + NAME_BATCH])
        found.update({pk: (applied, suspended) for pk, applied, suspended in batch})
    return found


def _tasks(names: Sequence[str] | None, enabled_only: bool) -> list[dict[str, Any]]:
    """One join of the tasks with their schedule rows, as values."""
    columns = (*TASK_FIELDS, *(f"{kind}__{name}" for kind, fields in KIND_FIELDS.items() for name in fields))
    query = ScheduledTask.objects.order_by("name").values(*columns)
    if enabled_only:
        query = query.filter(enabled=True)
    if names is None:
        return list(query)
    found: list[dict[str, Any]] = []
    unique = sorted(set(names))
    for start in range(0, len(unique), NAME_BATCH):
        found.extend(query.filter(name__in=unique[start:start + NAME_BATCH]))
    return sorted(found, key=lambda t: t["name"])


def _row(task: dict[str, Any], applied_at: Any, suspended_at: Any) -> Row:
    serial, schedule = _schedule(task)
    return Row(
        name=task["name"], task=task["task"], queue=task["queue"] or "", enabled=task["enabled"],
        schedule=schedule, last_sent_at=task["last_run_at"], changed_at=task["date_changed"], applied_at=applied_at,
        start_time=task["start_time"], expires=task["expires"], suspended_at=suspended_at, schedule_key=serial,
    )


def _schedule(task: dict[str, Any]) -> tuple[int | None, Any]:
    """(serial, schedule object) of the task's schedule row, built once per distinct values of
    that row and settings in force (``schedule_of`` reads them); (None, None) without one."""
    for kind, fields in KIND_FIELDS.items():
        if task[f"{kind}__id"] is None:
            continue
        key = (kind, id(getattr(settings, "_wrapped", settings)), *(task[f"{kind}__{name}"] for name in fields))
        found = _built.get(key)
        if found is None:
            try:
                built = schedule_of(MODELS[kind](**{name: task[f"{kind}__{name}"] for name in fields}))
            except (ValueError, TypeError):  # unreadable row: shown with no expected run
                built = None
            found = _built[key] = (next(_serials), built)
        return found
    return None, None
