"""The canonical, frozen shape of a periodic task, shared by resolve, read and diff.

Both sides of a comparison are normalised into these types and compared with ``==``:
the YAML side (``resolve``) and the database side (``read``). Normalising *both* sides
is what makes ``1h`` equal ``3600`` and ``00`` equal ``0`` (or ``mon`` equal ``1``), so that
drift clears and schedule rows are shared instead of piling up.

Nothing here imports Django or pydantic.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import cached_property, lru_cache
from sys import intern
from typing import Any

from celery.schedules import crontab_parser

from .diagnostics import SourceRange

# (number of values, first value) of each cron field, as Celery's crontab parses them.
CRON_FIELDS: dict[str, tuple[int, int]] = {
    "minute": (60, 0),
    "hour": (24, 0),
    "day_of_month": (31, 1),
    "month_of_year": (12, 1),
    "day_of_week": (7, 0),
}
CRON_FIELD_ORDER = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
SOLAR_EVENTS = (
    "dawn_astronomical",
    "dawn_civil",
    "dawn_nautical",
    "dusk_astronomical",
    "dusk_civil",
    "dusk_nautical",
    "solar_noon",
    "sunrise",
    "sunset",
)
SOLAR_PRECISION = Decimal("0.000001")  # SolarSchedule stores DecimalField(decimal_places=6)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """One spelling for one JSON value: sorted keys, no insignificant white space. One
    encoder for every call (``json.dumps`` with options builds one per call); short texts
    interned, as the loader does (thousands of declarations repeat a few)."""
    text = _CANONICAL.encode(value)
    return intern(text) if len(text) <= 100 else text


@lru_cache(maxsize=4096)
def canonical_cron_field(field_name: str, raw: str) -> str:
    """The canonical spelling of one cron field, from the set of values it fires on.

    ``*`` when it covers every value, ``*/n`` for a full-range step, otherwise a sorted
    list of values and ranges (``1-5,10``). Raises ``ValueError`` (Celery's) when invalid.
    """
    size, first = CRON_FIELDS[field_name]
    values = sorted(crontab_parser(size, first).parse(str(raw).strip()))
    last = first + size - 1
    if values == list(range(first, last + 1)):
        return "*"
    if len(values) > 2 and values[0] == first:
        step = values[1] - values[0]
        if values == list(range(first, last + 1, step)):
            return f"*/{step}"
    return ",".join(_ranges(values))


def _ranges(values: list[int]) -> list[str]:
    parts: list[str] = []
    start = prev = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    return parts


@dataclass(frozen=True)
class Interval:
    """Every N seconds (written as ``IntervalSchedule(every=N, period='seconds')``)."""

    seconds: int
    kind = "interval"

    def describe(self) -> str:
        return describe(self)


@dataclass(frozen=True)
class Crontab:
    minute: str = "*"
    hour: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"
    day_of_week: str = "*"
    timezone: str = "UTC"
    kind = "cron"

    @classmethod
    def canonical(cls, timezone: str, **fields: str) -> Crontab:
        """Raises ``ValueError`` with Celery's message when a field is invalid."""
        normalised = {
            name: canonical_cron_field(name, fields.get(name, "*")) for name in CRON_FIELD_ORDER
        }
        return cls(timezone=timezone, **normalised)

    @property
    def expression(self) -> str:
        return " ".join(getattr(self, name) for name in CRON_FIELD_ORDER)

    def describe(self) -> str:
        return describe(self)


@dataclass(frozen=True)
class Clocked:
    """A one-off moment, always held in UTC."""

    at: datetime
    # The offset it was declared with, to show it as written; not compared, not digested.
    shown_in: tzinfo | None = field(default=None, compare=False, repr=False)
    kind = "at"

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Clocked.at must be timezone-aware")
        if self.shown_in is None and self.at.utcoffset():
            object.__setattr__(self, "shown_in", self.at.tzinfo)
        object.__setattr__(self, "at", self.at.astimezone(UTC))

    def describe(self) -> str:
        return describe(self)


@dataclass(frozen=True)
class Solar:
    event: str
    latitude: Decimal
    longitude: Decimal
    kind = "solar"

    def __post_init__(self) -> None:
        object.__setattr__(self, "latitude", _solar_decimal(self.latitude))
        object.__setattr__(self, "longitude", _solar_decimal(self.longitude))

    def describe(self) -> str:
        return describe(self)


def _solar_decimal(value: Decimal | float | str) -> Decimal:
    return Decimal(str(value)).quantize(SOLAR_PRECISION)


@dataclass(frozen=True)
class NoSchedule:
    """A database row with no (or a dangling) schedule: never declared, always a change."""

    kind = "none"

    def describe(self) -> str:
        return describe(self)


Schedule = Interval | Crontab | Clocked | Solar | NoSchedule


@dataclass(frozen=True)
class TaskSpec:
    """Everything the reconciler manages about one ``PeriodicTask`` row.

    ``args``, ``kwargs`` and ``headers`` are canonical JSON strings. ``expires`` is declared
    either as a duration (``expire_seconds``) or as a date-time (``expires_at``, the row's
    ``expires``); the other one is None, as ``PeriodicTask.save()`` requires.
    Beat-owned fields (``last_run_at``, ``total_run_count``) are deliberately absent.
    """

    name: str
    task: str
    schedule: Schedule
    args: str = "[]"
    kwargs: str = "{}"
    enabled: bool = True
    one_off: bool = False
    description: str = ""
    queue: str | None = None
    exchange: str | None = None
    routing_key: str | None = None
    priority: int | None = None
    headers: str = "{}"
    expire_seconds: int | None = None
    expires_at: datetime | None = None
    start_time: datetime | None = None

    def fields(self) -> dict[str, Any]:
        """Field name → a plain, JSON-able value; the unit of field-by-field diffs.
        Computed once per spec (the diff, the renderers and the digest all ask)."""
        return self._fields

    @cached_property
    def _fields(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "schedule": schedule_fields(self.schedule),
            "args": self.args,
            "kwargs": self.kwargs,
            "enabled": self.enabled,
            "one_off": self.one_off,
            "description": self.description,
            "queue": self.queue,
            "exchange": self.exchange,
            "routing_key": self.routing_key,
            "priority": self.priority,
            "headers": self.headers,
            "expire_seconds": self.expire_seconds,
            "expires": _iso(self.expires_at),
            "start_time": _iso(self.start_time),
        }

    def digest(self) -> str:
        """A stable hash of the managed fields (stored as ownership's ``spec_hash``)."""
        return self._digest

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (validation cache, worker processes) with its digest once computed, not
        with the fields it is computed from (rebuilt on demand, and bulkier to load)."""
        state = dict(self.__dict__)
        state.pop("_fields", None)
        return state

    @cached_property
    def _digest(self) -> str:
        payload = canonical_json({"name": self.name, **self.fields()})
        return hashlib.sha256(payload.encode()).hexdigest()


def describe(schedule: Schedule) -> str:
    """A schedule in our notation (``cron "0 8 * * *" (Europe/Paris)``): ``render.words`` is its one home."""
    from ..render.words import show_schedule

    return show_schedule(schedule)


def schedule_fields(schedule: Schedule) -> dict[str, Any]:
    if isinstance(schedule, Interval):
        return {"kind": "interval", "every": schedule.seconds}
    if isinstance(schedule, Crontab):
        return {"kind": "cron", "expression": schedule.expression, "timezone": schedule.timezone}
    if isinstance(schedule, Clocked):
        return {"kind": "at", "at": schedule.at.isoformat()}
    if isinstance(schedule, NoSchedule):
        return {"kind": "none"}
    return {
        "kind": "solar",
        "event": schedule.event,
        "latitude": str(schedule.latitude),
        "longitude": str(schedule.longitude),
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


@dataclass(frozen=True)
class DeclaredTask:
    """A resolved declaration: its spec plus where it came from."""

    spec: TaskSpec
    source: SourceRange | None = None
    renamed_from: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class DeclaredState:
    """The whole declared side, sorted by name."""

    tasks: tuple[DeclaredTask, ...] = ()
    beat_schedule_names: frozenset[str] = field(default_factory=frozenset)

    def specs(self) -> dict[str, TaskSpec]:
        """Name → spec: what ``read`` compares the rows with."""
        return {task.name: task.spec for task in self.tasks}


@dataclass(frozen=True)
class Suspension:
    """An operator paused this row (``reconcile suspend``): who, when and why."""

    at: datetime
    by: str
    reason: str

    def describe(self) -> str:
        by = f" by {self.by}" if self.by else ""
        return f"suspended{by} at {self.at.astimezone(UTC).replace(microsecond=0).isoformat()}: {self.reason}"


@dataclass(frozen=True)
class Ownership:
    spec_hash: str
    source_file: str
    source_line: int | None
    source: str = ""  # the schedules source (folder) that owns the row; "" before sources existed
    suspension: Suspension | None = None


@dataclass(frozen=True)
class ActualTask:
    pk: int
    spec: TaskSpec
    last_run_at: datetime | None
    total_run_count: int
    owned: Ownership | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def drifted(self) -> bool:
        """Changed outside git since the reconciler last wrote it."""
        return self.owned is not None and self.spec.digest() != self.owned.spec_hash


@dataclass(frozen=True)
class ActualState:
    tasks: tuple[ActualTask, ...] = ()

    def by_name(self) -> Mapping[str, ActualTask]:
        return {task.name: task for task in self.tasks}


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(seconds: int) -> str:
    """3600 → ``1h``; 5400 → ``90m``; the largest unit that divides exactly."""
    for suffix, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"
