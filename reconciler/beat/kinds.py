"""The four schedule kinds of django-celery-beat, in one table: for each, its model, the
``PeriodicTask`` foreign key that points at it, the spec type it is declared as, and the three
conversions every phase needs: a row's values → spec (``read``, ``apply``), spec → unsaved row
(``apply``), row → the Celery schedule object beat runs (the scheduler, health, predictions).

A new kind is one more ``Kind`` here; read, apply, the row digest and the scheduler follow.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Model, QuerySet
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, SolarSchedule
from django_celery_beat.tzcrontab import TzAwareCrontab

from ..core.calendar import NO_CALENDAR, Calendar
from ..core.policy import Policy
from ..core.schedule import CRON_FIELD_ORDER, Clocked, Crontab, Interval, NoSchedule, Schedule, Solar
from ..core.sends import Send, baseline, timeline
from ..core.specs import TaskSpec
from ..core.timing import at_moment, whole_second
from ..models import ManagedTask
from .calendar import calendar_schedule

if TYPE_CHECKING:
    from django_celery_beat.models import PeriodicTask

PERIOD_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 1e-6}


@dataclass(frozen=True)
class Kind:
    field: str  # PeriodicTask's foreign key to the schedule row
    model: type[Model]
    spec: type  # its ``core.specs`` type
    columns: tuple[str, ...]  # what the spec is read from, in the order ``spec_of`` takes them
    key: str  # a NOT NULL column of ``columns``: set in a join exactly when the row is there
    spec_of: Callable[[tuple[Any, ...]], Schedule]  # values of ``columns`` → spec (``NoSchedule``: unreadable)
    values_of: Callable[[Any], tuple[Any, ...]]  # spec → values of ``columns`` (what apply writes)

    def spec_of_row(self, row: Model) -> Schedule:
        return self.spec_of(tuple(getattr(row, column) for column in self.columns))

    def row_of(self, spec: Any) -> Model:
        """The spec as an unsaved row."""
        return self.model(**dict(zip(self.columns, self.values_of(spec), strict=True)))


def _interval(values: tuple[Any, ...]) -> Schedule:
    every, period = values
    seconds = every * PERIOD_SECONDS.get(period, 1)
    return Interval(int(seconds)) if seconds == int(seconds) else NoSchedule()


def _crontab(values: tuple[Any, ...]) -> Schedule:
    """A crontab Celery cannot parse keeps its raw fields: unequal to any declaration."""
    zone, *fields = values
    timezone = str(zone or "UTC")  # a ZoneInfo from the field: its key
    named = dict(zip(CRON_FIELD_ORDER, fields, strict=True))
    try:
        return Crontab.canonical(timezone, **named)
    except ValueError:
        return Crontab(timezone=timezone, **named)


KINDS: tuple[Kind, ...] = (  # django-celery-beat's order (``PeriodicTask.scheduler``): the first set wins
    Kind(
        "interval", IntervalSchedule, Interval, ("every", "period"), "every", _interval,
        lambda s: (s.seconds, IntervalSchedule.SECONDS),
    ),
    Kind(
        "crontab", CrontabSchedule, Crontab, ("timezone", *CRON_FIELD_ORDER), "minute", _crontab,
        lambda s: (s.timezone, *(getattr(s, n) for n in CRON_FIELD_ORDER)),
    ),
    Kind(
        "solar", SolarSchedule, Solar, ("event", "latitude", "longitude"), "event", lambda v: Solar(*v),
        lambda s: (s.event, s.latitude, s.longitude),
    ),
    Kind(
        "clocked", ClockedSchedule, Clocked, ("clocked_time",), "clocked_time", lambda v: Clocked(v[0]),
        lambda s: (s.at,),
    ),
)
BY_FIELD = {kind.field: kind for kind in KINDS}
FIELDS = tuple(BY_FIELD)
_BY_SPEC: dict[type, Kind] = {kind.spec: kind for kind in KINDS}


def kind_of(schedule: Schedule) -> Kind:
    """The kind of a declared schedule (``KeyError`` for ``NoSchedule``)."""
    return _BY_SPEC[type(schedule)]


# -- a PeriodicTask row joined with its schedule rows, as values ------------------------------

JOIN_COLUMNS = tuple(f"{kind.field}__{column}" for kind in KINDS for column in kind.columns)


def _span(kind: Kind) -> tuple[Kind, int, int, int]:
    """(kind, where its columns start and end in ``JOIN_COLUMNS``, where its key is)."""
    start = JOIN_COLUMNS.index(f"{kind.field}__{kind.columns[0]}")
    return kind, start, start + len(kind.columns), JOIN_COLUMNS.index(f"{kind.field}__{kind.key}")


_SPANS = tuple(_span(kind) for kind in KINDS)


@lru_cache(maxsize=65536)
def spec_of_join(values: tuple[Any, ...]) -> Schedule:
    """The spec of the values of ``JOIN_COLUMNS``; memoised by them: rows share schedule rows."""
    for kind, start, end, key in _SPANS:
        if values[key] is not None:
            return kind.spec_of(values[start:end])
    return NoSchedule()


# -- row → what beat runs ----------------------------------------------------------------------

class MemoCrontab(TzAwareCrontab):
    """django-celery-beat's TzAwareCrontab, with each field's expansion memoised: tens of
    thousands of rows spell their fields with a few dozen distinct strings."""

    @staticmethod
    def _expand_cronspec(cronspec: Any, max_: int, min_: int = 0) -> set[Any]:
        if isinstance(cronspec, str):
            return set(_expand(cronspec, max_, min_))
        return TzAwareCrontab._expand_cronspec(cronspec, max_, min_)


@lru_cache(maxsize=4096)
def _expand(cronspec: str, max_: int, min_: int) -> frozenset[int]:
    return frozenset(TzAwareCrontab._expand_cronspec(cronspec, max_, min_))


def schedule_of(row: Any) -> Any:
    """What ``row.schedule`` returns, built once per row (and, for a crontab, parsed once
    instead of twice: the model's property builds a naive crontab it then discards)."""
    if isinstance(row, CrontabSchedule) and getattr(settings, "DJANGO_CELERY_BEAT_TZ_AWARE", True):
        return MemoCrontab(
            minute=row.minute, hour=row.hour, day_of_week=row.day_of_week,
            day_of_month=row.day_of_month, month_of_year=row.month_of_year, tz=row.timezone,
        )
    return row.schedule


def load_enabled(model: type[PeriodicTask]) -> list[Any]:
    """Every enabled task with its schedule row, run-time policy and calendar, in 1 + 4 + 1
    queries: the schedule rows of each kind come from a sub-select (constant-size SQL), each
    schedule object is built once and kept as the task's ``prebuilt_schedule``
    (``models.ScheduledTask``); its policy (``ManagedTask.policy``) is the task's ``run_policy``,
    its calendar (``ManagedTask.calendar``) its ``run_calendar`` (the defaults when none), and a
    calendar wraps the prebuilt schedule (``calendar.calendar_schedule``)."""
    # Not ``.enabled()``: it prefetches the schedules with an IN list per kind, which SQLite
    # refuses past ~1,000 distinct rows (Django #36116).
    return load_rows(model.objects.filter(enabled=True))


def load_rows(rows: QuerySet[Any]) -> list[Any]:
    """The tasks of ``rows`` (enabled or not) loaded as ``load_enabled`` loads them: the schedule
    rows of each kind from a sub-select of ``rows``, policies and calendars attached. Beat's
    incremental reload reads the rows changed since its last load with it (``beat.reload``)."""
    tasks = list(rows.order_by())
    for kind in KINDS:
        _attach(tasks, kind, rows)
    attach_policies(tasks, rows)
    return tasks


POLICY_BATCH = 500  # tasks asked by primary key in one query (SQLite's variable limit)


def attach_policies(tasks: list[Any], rows: QuerySet[Any] | None = None) -> None:
    """Set each task's ``run_policy`` and ``run_calendar`` from its ownership row (the defaults
    without one), and wrap its prebuilt schedule in its calendar: one query for the options of
    ``rows`` (the tasks' query; the enabled tasks when not given), or by primary key when the
    tasks are at most ``POLICY_BATCH``."""
    query = ManagedTask.objects.exclude(policy="", calendar="").values_list("periodic_task_id", "policy", "calendar")
    if len(tasks) > POLICY_BATCH:
        owners = query.filter(periodic_task__enabled=True) if rows is None else query.filter(
            periodic_task_id__in=rows.values("pk"))
        stored = {pk: options for pk, *options in owners}
    else:
        stored = {pk: options for pk, *options in query.filter(periodic_task_id__in=[task.pk for task in tasks])}
    wrapped: dict[tuple[int, str], Any] = {}  # (the schedule object's id, the calendar's JSON) -> wrapper
    for task in tasks:
        policy, calendar = stored.get(task.pk, ("", ""))
        task.run_policy = Policy.from_json(policy)
        task.run_calendar = Calendar.from_json(calendar)
        prebuilt = task.__dict__.get("prebuilt_schedule") if calendar else None
        if calendar and prebuilt is None:  # loaded without ``load_enabled``: its own schedule object
            try:
                prebuilt = task.schedule
            except Exception:  # no schedule row: ModelEntry disables it
                prebuilt = None
        if prebuilt is not None:
            key = (id(prebuilt), calendar)
            if key not in wrapped:
                wrapped[key] = calendar_schedule(prebuilt, task.run_calendar, MemoCrontab)
            task.__dict__["prebuilt_schedule"] = wrapped[key]


def _attach(tasks: list[Any], kind: Kind, rows: QuerySet[Any]) -> None:
    column = f"{kind.field}_id"
    if not any(getattr(task, column) is not None for task in tasks):
        return
    ids = {getattr(task, column) for task in tasks} - {None}  # a few: by id, not by a pass over ``rows``
    used: Any = ids if len(ids) <= POLICY_BATCH else rows.filter(**{f"{column}__isnull": False}).values(column)
    rows = {row.pk: row for row in kind.model._default_manager.filter(pk__in=used)}
    built: dict[int, Any] = {}
    for task in tasks:
        row_id = getattr(task, column)
        if row_id is None or row_id not in rows:
            continue
        task._state.fields_cache[kind.field] = rows[row_id]
        if row_id not in built:
            built[row_id] = schedule_of(rows[row_id])
        task.__dict__["prebuilt_schedule"] = built[row_id]


# -- a declaration's next runs: its row as apply writes it, its schedule as beat builds it ----

def celery_schedule(schedule: Schedule, moment: datetime, calendar: Calendar = NO_CALENDAR) -> Any:
    """The Celery schedule object beat would run for this declared schedule (and its calendar),
    its clock stopped at ``moment``."""
    built = schedule_of(kind_of(schedule).row_of(schedule))
    return at_moment(calendar_schedule(built, calendar, MemoCrontab), moment)


COUNT = 3


def timeline_of(spec: TaskSpec | None, now: datetime) -> Iterator[Send]:
    """Every send of ``spec`` as a row written at ``now`` (never run yet): ``core.sends``'s
    timeline from the row's baseline, with its policy (jitter) and calendar (at most
    ``max_runs``). A disabled task, a deleted one
    and a past one-off have none."""
    if spec is None or not spec.enabled or isinstance(spec.schedule, NoSchedule):
        return iter(())
    schedule = spec.schedule
    if isinstance(schedule, Clocked) and schedule.at <= now:
        return iter(())  # a past one-off is written disabled
    frozen = celery_schedule(schedule, now, spec.calendar)
    start = baseline(frozen, now, spec.start_time)
    return timeline(frozen, start, now, spec.policy, spec.name, frozen, spec.calendar.remaining(0))


def next_runs(spec: TaskSpec | None, now: datetime, count: int = COUNT) -> tuple[datetime, ...]:
    """The next ``count`` sends of ``spec`` as a row written at ``now`` (``timeline_of``): whole
    seconds (UTC); ``()`` when none."""
    return tuple(whole_second(send.at) for send in islice(timeline_of(spec, now), max(count, 0)))
