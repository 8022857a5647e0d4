"""The canonical, frozen shape of a periodic task, shared by resolve, read and diff.

Both sides of a comparison are normalised into these types and compared with ``==``:
the YAML side (``resolve``) and the database side (``read``). Normalising *both* sides
is what makes ``1h`` equal ``3600`` and ``00`` equal ``0`` (or ``mon`` equal ``1``), so that
drift clears and schedule rows are shared instead of piling up. A spec's schedule is one of
``core.schedule``'s values.

Nothing here imports Django or pydantic.
"""
from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from sys import intern
from typing import Any

from .calendar import NO_CALENDAR, Calendar
from .diagnostics import SourceRange
from .monitor import NO_MONITOR, Monitor
from .options import value_of
from .policy import DEFAULT_POLICY, Policy
from .schedule import Schedule, schedule_fields

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_C_ENCODE = (  # what ``_CANONICAL.encode`` builds at every call, built once (the C encoder)
    _MAKE_ENCODER(None, _CANONICAL.default, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if _MAKE_ENCODER is not None else None
)


_EMPTY = {dict: intern("{}"), list: intern("[]"), tuple: intern("[]")}


def canonical_json(value: Any) -> str:
    """One spelling for one JSON value: sorted keys, no insignificant white space. One
    encoder for every call (``json.dumps`` with options builds one per call, and
    ``JSONEncoder.encode`` its C encoder: a first apply encodes 400,000 values); short texts
    interned, as the loader does (thousands of declarations repeat a few)."""
    if not value and value.__class__ in _EMPTY:  # most declarations' headers, many kwargs
        return _EMPTY[value.__class__]
    text = "".join(_C_ENCODE(value, 0)) if _C_ENCODE is not None else _CANONICAL.encode(value)
    return intern(text) if len(text) <= 100 else text


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
    policy: Policy = DEFAULT_POLICY  # run-time options (``core.policy``); kept in ownership, not the row
    calendar: Calendar = NO_CALENDAR  # more crons, exclusions, an end (``core.calendar``); in ownership too
    monitor: Monitor = NO_MONITOR  # grace, thresholds, owner (``core.monitor``); in ownership too

    def fields(self) -> dict[str, Any]:
        """Field name → a plain, JSON-able value; the unit of field-by-field diffs.
        Computed once per spec (the diff, the renderers and the digest all ask), and kept in
        the instance's ``__dict__`` as ``functools.cached_property`` would, without the lock
        it takes on Python 3.11 (each spec's first ask: 300,000 at a first apply of 100,000)."""
        found = self.__dict__.get("_fields")
        if found is None:
            found = self.__dict__["_fields"] = self._field_values()
        return found

    def _field_values(self) -> dict[str, Any]:
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
            **self.policy.fields(),  # only options that differ from their default (``core.options``)
            **self.calendar.fields(),
            **self.monitor.fields(),
        }

    def digest(self) -> str:
        """A stable hash of the managed fields (stored as ownership's ``spec_hash``); kept as
        ``fields`` is."""
        found = self.__dict__.get("_digest")
        if found is None:
            payload = canonical_json({"name": self.name, **self.fields()})
            found = self.__dict__["_digest"] = hashlib.sha256(payload.encode()).hexdigest()
        return found

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (validation cache, worker processes) with its digest once computed, not
        with the fields it is computed from (rebuilt on demand, and bulkier to load)."""
        state = dict(self.__dict__)
        state.pop("_fields", None)
        return state


OPTION_DEFAULTS = {**Policy.defaults(), **Calendar.defaults(), **Monitor.defaults()}


def field_value(field_values: dict[str, Any], name: str) -> Any:
    """A spec's field (``TaskSpec.fields``), an option left out being its default."""
    return value_of(field_values, name, OPTION_DEFAULTS)


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
    policy: Policy = DEFAULT_POLICY  # the run-time policy last applied (``ManagedTask.policy``): the row lacks it
    calendar: Calendar = NO_CALENDAR  # ``ManagedTask.calendar``
    monitor: Monitor = NO_MONITOR  # ``ManagedTask.monitor``


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

