"""PeriodicTask rows as health and forecasts need them, in one query whatever their number: a
join of the tasks with their schedule rows and their ownership (with suspensions), read as
values. Each schedule object is built once per schedule row's values
(``beat.kinds.schedule_of``, as beat builds it) and kept for the next read."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from ..beat.kinds import KINDS, schedule_of
from ..core.calendar import NO_CALENDAR, Calendar
from ..core.monitor import NO_MONITOR, Monitor
from ..core.policy import DEFAULT_POLICY, Policy
from ..models import ManagedTask, ScheduledTask

NAME_BATCH = 500  # names per IN list when asked for some schedules (SQLite's variable limit)


@dataclass(frozen=True)
class Row:
    """What health and the forecast need of one PeriodicTask row."""

    name: str
    task: str
    queue: str
    enabled: bool
    schedule: Any  # Celery's schedule object, or None when the row has none
    last_sent_at: datetime | None  # beat's PeriodicTask.last_run_at: when it last sent the task
    changed_at: datetime | None
    applied_at: datetime | None  # ManagedTask.applied_at, when the reconciler owns the row
    start_time: datetime | None
    expires: datetime | None
    suspended_at: datetime | None = None  # ManagedTask.suspended_at: an operator paused it
    schedule_key: int | None = None  # names what ``schedule`` was built from, for ``row_math``'s memo; None: no memo
    policy: Policy = DEFAULT_POLICY  # ManagedTask.policy: what beat does with catch-up, jitter, overlap
    monitor: Monitor = NO_MONITOR  # ManagedTask.monitor: its grace, thresholds, owner and severity
    calendar: Calendar = NO_CALENDAR  # ManagedTask.calendar: its end (until, max_runs) tells health it is complete
    total_run_count: int = 0  # beat's count of its sends (PeriodicTask.total_run_count)


TASK_FIELDS = ("pk", "name", "task", "queue", "enabled", "last_run_at", "date_changed", "start_time", "expires",
               "managed_by__applied_at", "managed_by__suspended_at", "managed_by__policy", "managed_by__monitor",
               "managed_by__calendar", "total_run_count")
KIND_FIELDS = {kind.field: tuple(f.attname for f in kind.model._meta.concrete_fields) for kind in KINDS}
KIND_COLUMNS = {  # kind -> (its id column, its columns) in the join
    kind: (f"{kind}__id", tuple(f"{kind}__{name}" for name in fields)) for kind, fields in KIND_FIELDS.items()
}
MODELS = {kind.field: kind.model for kind in KINDS}
COLUMNS = (*TASK_FIELDS, *(column for _, columns in KIND_COLUMNS.values() for column in columns))
KIND_SPANS = {  # kind -> where its id and its columns are in a row of ``COLUMNS``
    kind: (COLUMNS.index(id_column), COLUMNS.index(columns[0]), COLUMNS.index(columns[0]) + len(columns))
    for kind, (id_column, columns) in KIND_COLUMNS.items()
}


BUILT_SIZE = 100_000  # schedule objects kept between reads: emptied when full
_built: dict[tuple[Any, ...], tuple[int, Any]] = {}  # a schedule row's values -> (serial, schedule object)
_serials = itertools.count()  # never reused: a serial names one schedule row's values for ever


ROWS_SIZE = 200_000  # rows kept between reads, by their values as the database sent them: emptied when full
_rows: dict[tuple[Any, ...], Row] = {}  # (settings in force, raw values of a join's row) -> its Row


def read_rows(names: Sequence[str] | None = None, enabled_only: bool = False) -> list[Row]:
    """Rows sorted by name; all of them, or the ``names`` asked for. Plain values, not model
    instances (at 10,000 rows building 20,000 instances was most of a scrape): a schedule
    row becomes a schedule object once, for ``schedule_of``, and is kept (by its values and the
    settings in force) for the next read, however many tasks share it. A row's ``Row`` is kept
    too, by the values the database sent (before Django's converters parse them): a read after
    beat ran a few rows converts only those."""
    if len(_built) >= BUILT_SIZE:
        _built.clear()
    if len(_rows) >= ROWS_SIZE:
        _rows.clear()
    context = id(getattr(settings, "_wrapped", settings))
    found: list[tuple[int, Row]] = []
    for query in _queries(names, enabled_only):
        raw, convert = raw_rows(query)
        for values in raw:
            key = (context, query.db, *values)
            row = _rows.get(key)
            if row is None:
                row = _rows[key] = _row(convert(values))
            found.append((len(found), row))
    if names is not None:
        found.sort(key=lambda item: item[1].name)
    return [row for _, row in found]


def read_monitors(names: Sequence[str] | None = None) -> dict[str, Monitor]:
    """The monitor of every owned schedule that has one (``ManagedTask.monitor``), by name: one
    query (one per ``NAME_BATCH`` names asked for)."""
    query = ManagedTask.objects.exclude(monitor="").values_list("periodic_task__name", "monitor")
    if names is None:
        return {name: Monitor.from_json(stored) for name, stored in query}
    unique = sorted(set(names))
    return {
        name: Monitor.from_json(stored) for start in range(0, len(unique), NAME_BATCH)
        for name, stored in query.filter(periodic_task__name__in=unique[start:start + NAME_BATCH])
    }


def _queries(names: Sequence[str] | None, enabled_only: bool) -> list[Any]:
    """One join of the tasks with their schedule rows and ownership, as tuples of ``COLUMNS``
    (one per ``NAME_BATCH`` names asked for)."""
    query = ScheduledTask.objects.order_by("name").values_list(*COLUMNS)
    if enabled_only:
        query = query.filter(enabled=True)
    if names is None:
        return [query]
    unique = sorted(set(names))
    return [query.filter(name__in=unique[start:start + NAME_BATCH]) for start in range(0, len(unique), NAME_BATCH)]


def raw_rows(query: Any) -> tuple[list[tuple[Any, ...]], Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
    """A ``values_list`` query's rows as the database sent them, and the function that turns one
    into what the query would have yielded (Django's converters: dates parsed, booleans, time
    zones...). Converting is most of reading 10,000 rows: callers convert only what they have not
    seen, keyed on the raw values."""
    from django.db.models.sql.constants import MULTI

    compiler = query.query.get_compiler(using=query.db)
    raw = [tuple(values) for chunk in compiler.execute_sql(MULTI) for values in chunk]
    if not raw:
        return raw, tuple
    converters = compiler.get_converters([s[0] for s in compiler.select[:compiler.col_count]])

    def convert(values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(next(compiler.apply_converters([values], converters))) if converters else values

    return raw, convert


def _row(task: tuple[Any, ...]) -> Row:
    (_, name, task_name, queue, enabled, last_run_at, date_changed, start_time, expires, applied_at, suspended_at,
     policy, monitor, calendar, total_run_count) = task[:len(TASK_FIELDS)]
    serial, schedule = _schedule(task)
    return Row(
        name=name, task=task_name, queue=queue or "", enabled=enabled, schedule=schedule, last_sent_at=last_run_at,
        changed_at=date_changed, applied_at=applied_at, start_time=start_time, expires=expires,
        suspended_at=suspended_at, schedule_key=serial, policy=Policy.from_json(policy),
        monitor=Monitor.from_json(monitor), calendar=Calendar.from_json(calendar), total_run_count=total_run_count or 0,
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
