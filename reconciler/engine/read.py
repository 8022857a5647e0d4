"""The database → the actual state: every PeriodicTask as a canonical TaskSpec, with its
ownership. Two queries whatever the number of rows (one join, one ownership read).

Rows are normalised exactly like declarations (``specs``; a schedule by ``beat.kinds``), so
that ``00`` equals ``0`` and a ``1 hours`` interval equals ``3600 seconds``. A row that cannot
be normalised (invalid JSON arguments, an unparsable cron field, no schedule) keeps its raw
values: it compares unequal to any declaration and the next apply rewrites it.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any

from django_celery_beat.models import PeriodicTask

from ..beat.kinds import JOIN_COLUMNS, spec_of_join
from ..core.calendar import Calendar
from ..core.monitor import Monitor
from ..core.options import OptionSet
from ..core.policy import Policy
from ..core.schedule import Schedule
from ..core.specs import ActualState, ActualTask, Ownership, Suspension, TaskSpec, canonical_json
from ..db import rowdigest
from ..db.rowdigest import ROW_FIELDS
from ..models import ManagedTask

_FIELDS = ("pk", *ROW_FIELDS, "last_run_at", "total_run_count")
FULL_READ_SHARE = 0.3  # past this share of rows to read in full, one query for all is cheaper


def read_actual(using: str = "default", declared: Mapping[str, TaskSpec] | None = None) -> ActualState:
    """Every row, ordered by name. With ``declared`` (name → the spec a plan compares the row
    with), a row proven to be what that very spec wrote (``rowdigest``) is not read in full:
    the spec stands for it. Every other row is read and canonicalised."""
    if not declared or not rowdigest.supported(using):
        return _read_all(using)
    heads = rowdigest.read_heads(using)
    known, unknown = _sort_heads(heads, declared, rowdigest.datetimes(using))
    if len(unknown) > FULL_READ_SHARE * len(heads):
        return _read_all(using)
    read = {task.pk: task for task in _read_rows(using, unknown)}
    tasks = (known.get(pk) or read.get(pk) for pk, *_ in heads)  # a row deleted meanwhile: gone
    return ActualState(tuple(task for task in tasks if task is not None))


def read_planned(
    using: str, declared: Mapping[str, TaskSpec], sources: Sequence[str], names: Collection[str] | None = None,
) -> ActualState:
    """The rows a plan of one schedules source compares, ordered by name: those ``sources``
    own (what it may update, rename or prune) and, of every other row, only those whose
    name a declaration takes (a conflict, an adoption), found by name alone. A plan never
    reads the rest (other sources' rows, rows made outside git) in full: at 100,000 rows
    of another source, a plan of an empty folder reads none. Where row digests are not
    supported, every row is read and the diff leaves the others alone. ``names``: of the
    rows ``sources`` own, only those (the in-sync memo vouches for the others)."""
    if not rowdigest.supported(using):
        return _read_all(using)
    heads = rowdigest.read_heads(using, sources, names)
    known, unknown = _sort_heads(heads, declared, rowdigest.datetimes(using))
    if unknown and len(unknown) > FULL_READ_SHARE * len(heads) and names is None:
        tasks = _read_owned_by(using, sources)
    else:
        read = {task.pk: task for task in _read_rows(using, unknown)}
        found = (known.get(pk) or read.get(pk) for pk, *_ in heads)  # a row deleted meanwhile: gone
        tasks = [task for task in found if task is not None]
    taken: list[int] = []
    if declared:  # with ``names``, only the rows a declaration takes are looked for
        only = None if names is None else declared.keys()
        taken = [pk for pk, name in rowdigest.names_outside(using, sources, only) if name in declared]
    if taken:
        tasks = sorted((*tasks, *_read_rows(using, _owners(using, taken))), key=attrgetter("name"))
    return ActualState(tuple(tasks))


def _sort_heads(
    heads: list[tuple[Any, ...]], declared: Mapping[str, TaskSpec], as_datetime: Callable[[Any], Any],
) -> tuple[dict[int, ActualTask], dict[int, Ownership | None]]:
    """The heads split into the rows the declarations stand for and the rows to read in full
    (with their ownership, already known)."""
    known: dict[int, ActualTask] = {}
    unknown: dict[int, Ownership | None] = {}
    for head in heads:
        owned = _head_ownership(head, as_datetime)
        task = _pristine(head, owned, declared, as_datetime)
        if task is None:
            unknown[head[0]] = owned
        else:
            known[task.pk] = task
    return known, unknown


def _head_ownership(head: tuple[Any, ...], as_datetime: Callable[[Any], Any]) -> Ownership | None:
    """The ownership columns of a head (``rowdigest.heads_query``), None for a row not owned."""
    if head[4] is None:
        return None
    owned = dict(zip(rowdigest.OWNERSHIP_FIELDS, head[4:-2], strict=True))
    owned["suspended_at"] = as_datetime(owned["suspended_at"])
    return _ownership(owned)


def _pristine(
    head: tuple[Any, ...], owned: Ownership | None, declared: Mapping[str, TaskSpec],
    as_datetime: Callable[[Any], Any],
) -> ActualTask | None:
    """The row as the declared spec, when the row is provably what that spec wrote."""
    pk, name, last_run_at, total_run_count, *_, stored, current = head
    spec = declared.get(name)
    if owned is None or not stored or stored != current or spec is None or spec.digest() != owned.spec_hash:
        return None
    return ActualTask(pk, spec, as_datetime(last_run_at), total_run_count, owned)


def _read_all(using: str) -> ActualState:
    owned = {
        row["periodic_task_id"]: _ownership(row)
        for row in ManagedTask.objects.using(using).values(*_OWNERSHIP_FIELDS)
    }
    rows = PeriodicTask.objects.using(using).order_by("name").values(*_FIELDS)
    return ActualState(tuple(_actual(row, owned.get(row["pk"])) for row in rows))


def _read_rows(using: str, owners: dict[int, Ownership | None]) -> list[ActualTask]:
    """The rows of ``owners`` in full; their ownership is already known (from the heads)."""
    pks = list(owners)
    tasks: list[ActualTask] = []
    for start in range(0, len(pks), rowdigest.BATCH):
        rows = PeriodicTask.objects.using(using).filter(pk__in=pks[start:start + rowdigest.BATCH]).values(*_FIELDS)
        tasks.extend(_actual(row, owners[row["pk"]]) for row in rows)
    return tasks


def _read_owned_by(using: str, sources: Sequence[str]) -> list[ActualTask]:
    """Every row ``sources`` own, in full, in one query (cheaper than by id past a share)."""
    owned = {
        row["periodic_task_id"]: _ownership(row)
        for row in ManagedTask.objects.using(using).filter(source__in=sources).values(*_OWNERSHIP_FIELDS)
    }
    rows = PeriodicTask.objects.using(using).filter(managed_by__source__in=sources).order_by("name").values(*_FIELDS)
    return [_actual(row, owned.get(row["pk"])) for row in rows]


def _owners(using: str, pks: list[int]) -> dict[int, Ownership | None]:
    """The ownership of the rows ``pks`` (None: not owned)."""
    owners: dict[int, Ownership | None] = dict.fromkeys(pks)
    for start in range(0, len(pks), rowdigest.BATCH):
        batch = pks[start:start + rowdigest.BATCH]
        for row in ManagedTask.objects.using(using).filter(periodic_task_id__in=batch).values(*_OWNERSHIP_FIELDS):
            owners[row["periodic_task_id"]] = _ownership(row)
    return owners


def read_moved_owned(using: str = "default") -> list[ActualTask] | None:
    """The owned rows whose digest moved since apply stored it (or was never stored), read in
    full: the only rows that may have drifted. One query (the heads) while none did. None
    where row digests are not supported (then ``read_actual`` must be read whole)."""
    if not rowdigest.supported(using):
        return None
    as_datetime = rowdigest.datetimes(using)
    moved: dict[int, Ownership | None] = {}
    for head in rowdigest.read_heads(using):
        stored, current = head[-2:]
        owned = _head_ownership(head, as_datetime)
        if owned is not None and (not stored or stored != current):
            moved[head[0]] = owned
    return _read_rows(using, moved)


def read_one(name: str, using: str = "default") -> ActualTask | None:
    """One row by name, as ``read_actual`` reads it (for operations on a single schedule)."""
    row = PeriodicTask.objects.using(using).filter(name=name).values(*_FIELDS).first()
    if row is None:
        return None
    owned = ManagedTask.objects.using(using).filter(periodic_task_id=row["pk"]).values(*_OWNERSHIP_FIELDS).first()
    return _actual(row, _ownership(owned) if owned else None)


_OWNERSHIP_FIELDS = rowdigest.OWNERSHIP_FIELDS


def _ownership(row: dict[str, Any]) -> Ownership:
    return Ownership(
        row["spec_hash"], row["source_file"], row["source_line"], row["source"], suspension=_suspension(row),
        policy=_options(Policy, row["policy"]), calendar=_options(Calendar, row["calendar"]),
        monitor=_options(Monitor, row["monitor"]),
    )


@lru_cache(maxsize=4096)
def _options(kind: type[OptionSet], stored: str | None) -> Any:
    """Memoised: a tree repeats a few policies, calendars and monitors (most rows: none)."""
    return kind.from_json(stored)


def _suspension(row: dict[str, Any]) -> Suspension | None:
    if row["suspended_at"] is None:
        return None
    return Suspension(row["suspended_at"], row["suspended_by"], row["suspend_reason"])


def _actual(row: dict[str, Any], owned: Ownership | None) -> ActualTask:
    """The row's spec; its policy, calendar and monitor are not in the row but in ownership (a
    row not owned: none)."""
    spec = spec_from_row(row)
    if owned is not None and not (owned.policy.is_default and owned.calendar.is_default and owned.monitor.is_default):
        spec = replace(spec, policy=owned.policy, calendar=owned.calendar, monitor=owned.monitor)
    return ActualTask(row["pk"], spec, row["last_run_at"], row["total_run_count"], owned)


def spec_from_row(row: dict[str, Any]) -> TaskSpec:
    return TaskSpec(
        name=row["name"],
        task=row["task"],
        schedule=_schedule(row),
        args=_json_text(row["args"], "[]"),
        kwargs=_json_text(row["kwargs"], "{}"),
        enabled=row["enabled"],
        one_off=row["one_off"],
        description=row["description"] or "",
        queue=row["queue"] or None,
        exchange=row["exchange"] or None,
        routing_key=row["routing_key"] or None,
        priority=row["priority"],
        headers=_json_text(row["headers"], "{}"),
        expire_seconds=row["expire_seconds"],
        expires_at=row["expires"],
        start_time=row["start_time"],
    )


@lru_cache(maxsize=65536)
def _json_text(raw: str | None, empty: str) -> str:
    """Memoised: tens of thousands of rows repeat a few argument texts (``{}``, ``[]`` …)."""
    if not raw:
        return empty
    try:
        return canonical_json(json.loads(raw))
    except ValueError:
        return raw


_schedule_values = itemgetter(*JOIN_COLUMNS)


def _schedule(row: dict[str, Any]) -> Schedule:
    return spec_of_join(_schedule_values(row))
