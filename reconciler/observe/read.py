"""PeriodicTask rows as health and forecasts need them, in one query whatever their number: a
join of the tasks with their schedule rows and their ownership (with suspensions), read as
values. Each schedule object is built once per schedule row's values
(``reconciler.scheduler.schedule_of``, as beat builds it) and kept for the next read."""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from ..models import ScheduledTask
from ..scheduler import SCHEDULE_KINDS, schedule_of
from .health import Row

NAME_BATCH = 500  # names per IN list when asked for some schedules (SQLite's variable limit)


TASK_FIELDS = ("pk", "name", "task", "queue", "enabled", "last_run_at", "date_changed", "start_time", "expires",
               "managed_by__applied_at", "managed_by__suspended_at")
KIND_FIELDS = {kind: tuple(f.attname for f in model._meta.concrete_fields) for kind, model in SCHEDULE_KINDS}
KIND_COLUMNS = {  # kind -> (its id column, its columns) in the join
    kind: (f"{kind}__id", tuple(f"{kind}__{name}" for name in fields)) for kind, fields in KIND_FIELDS.items()
}
MODELS = dict(SCHEDULE_KINDS)
COLUMNS = (*TASK_FIELDS, *(column for _, columns in KIND_COLUMNS.values() for column in columns))
KIND_SPANS = {  # kind -> where its id and its columns are in a row of ``COLUMNS``
    kind: (COLUMNS.index(id_column), COLUMNS.index(columns[0]), COLUMNS.index(columns[0]) + len(columns))
    for kind, (id_column, columns) in KIND_COLUMNS.items()
}


BUILT_SIZE = 100_000  # schedule objects kept between reads: emptied when full
_built: dict[tuple[Any, ...], tuple[int, Any]] = {}  # a schedule row's values -> (serial, schedule object)
_serials = itertools.count()  # never reused: a serial names one schedule row's values for ever


def read_rows(names: Sequence[str] | None = None, enabled_only: bool = False) -> list[Row]:
    """Rows sorted by name; all of them, or the ``names`` asked for. Plain values, not model
    instances (at 10,000 rows building 20,000 instances was most of a scrape): a schedule
    row becomes a schedule object once, for ``schedule_of``, and is kept (by its values and the
    settings in force) for the next read, however many tasks share it."""
    tasks = _tasks(names, enabled_only)
    if len(_built) >= BUILT_SIZE:
        _built.clear()
    return [_row(task) for task in tasks]


def _tasks(names: Sequence[str] | None, enabled_only: bool) -> list[tuple[Any, ...]]:
    """One join of the tasks with their schedule rows and ownership, as tuples of ``COLUMNS``."""
    query = ScheduledTask.objects.order_by("name").values_list(*COLUMNS)
    if enabled_only:
        query = query.filter(enabled=True)
    if names is None:
        return list(query)
    found: list[tuple[Any, ...]] = []
    unique = sorted(set(names))
    for start in range(0, len(unique), NAME_BATCH):
        found.extend(query.filter(name__in=unique[start:start + NAME_BATCH]))
    return sorted(found, key=lambda t: t[1])


def _row(task: tuple[Any, ...]) -> Row:
    _, name, task_name, queue, enabled, last_run_at, date_changed, start_time, expires, applied_at, suspended_at = (
        task[:len(TASK_FIELDS)]
    )
    serial, schedule = _schedule(task)
    return Row(
        name=name, task=task_name, queue=queue or "", enabled=enabled, schedule=schedule, last_sent_at=last_run_at,
        changed_at=date_changed, applied_at=applied_at, start_time=start_time, expires=expires,
        suspended_at=suspended_at, schedule_key=serial,
    )


def _schedule(task: tuple[Any, ...]) -> tuple[int | None, Any]:
    """(serial, schedule object) of the task's schedule row, built once per distinct values of
    that row and settings in force (``schedule_of`` reads them); (None, None) without one."""
    for kind, (at_id, start, end) in KIND_SPANS.items():
        if task[at_id] is None:
            continue
        key = (kind, id(getattr(settings, "_wrapped", settings)), *task[start:end])
        found = _built.get(key)
        if found is None:
            try:
                built = schedule_of(MODELS[kind](**dict(zip(KIND_FIELDS[kind], task[start:end], strict=True))))
            except (ValueError, TypeError):  # unreadable row: shown with no expected run
                built = None
            found = _built[key] = (next(_serials), built)
        return found
    return None, None
