"""Plan → rows, inside apply's transaction: the schedule rows (shared, never modified), the
``PeriodicTask`` rows, their ownership, the row digests, and beat's change marker.

Only the fields the reconciler manages are written; beat's own (``last_run_at``,
``total_run_count``) never. Bulk statements throughout: a whole tree is a few dozen queries.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from django.db.models import DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from ..beat.kinds import FIELDS, KINDS, Kind
from ..core.options import OptionSet
from ..core.plan import Action, Change, Plan
from ..core.schedule import Clocked, NoSchedule, Schedule
from ..core.specs import TaskSpec
from ..db import rowdigest, rowtext
from ..db.bulk import allocate_ids, insert_returning_pks, insert_rows, update_rows
from ..db.marker import row_triggers_set_aside
from ..models import ManagedTask

BATCH = 500  # rows per bulk statement: under SQLite's variable limit with every column
EXACT_LOOKUP_LIMIT = 1_000  # schedules an apply needs: up to this, looked up by their values first
EXACT_LOOKUP_BATCH = 100  # specs per lookup: six columns each, under SQLite's variable limit


def write(plan: Plan, *, using: str, now: datetime, revision: str = "", source: str = "") -> None:
    """Write a plan inside the caller's transaction: schedules, tasks, ownership, marker.

    An adopted row whose fields already equal the declaration gets its ownership row only:
    its ``date_changed`` must not move (beat takes it as the last run of a task that never
    ran, so touching it would postpone the first run of an interval task)."""
    writes = plan.of(Action.CREATE, Action.UPDATE, Action.RENAME, Action.ADOPT)
    rewrites = [c for c in writes if c.action is not Action.CREATE and (c.fields or c.action is not Action.ADOPT)]
    deleted = [c.pk for c in plan.of(Action.DELETE) if c.pk is not None]
    ownership = _Ownership(now, revision, source)
    with row_triggers_set_aside(using, len(writes) + len(deleted)):  # the marker moves once, below
        schedule_ids = ensure_schedules([c.desired.schedule for c in writes if c.desired], using)
        created, digested = _create_tasks(plan.of(Action.CREATE), schedule_ids, using, now, ownership)
        _update_tasks(rewrites, schedule_ids, using, now)
        _delete_tasks(deleted, using)
    _own([c for c in writes if c.action is not Action.CREATE], created, digested, ownership, using)
    if created or rewrites or plan.of(Action.DELETE):
        mark_changed(using, now)


def mark_changed(using: str, now: datetime) -> None:
    """Tell every running beat to reload: django-celery-beat's change marker (what its poll
    reads; on PostgreSQL moving it also wakes ours at once: the triggers in ``wakeup``). It only
    moves forward: ``now`` is the apply's start, and a change committed while this apply waited
    for the lock may have moved it later (beat reloads only on a marker newer than it saw)."""
    markers = PeriodicTasks.objects.using(using)
    later = Greatest(Value(now, output_field=DateTimeField()), F("last_update") + timedelta(microseconds=1))
    if not markers.filter(ident=1).update(last_update=later):
        markers.create(ident=1, last_update=now)


# -- schedules ---------------------------------------------------------------------------

ScheduleIds = dict[Schedule, tuple[str, int]]


def ensure_schedules(schedules: Iterable[Schedule], using: str) -> ScheduleIds:
    """Reuse identical schedule rows (shared, never modified); create the missing in bulk."""
    wanted = set(schedules)
    ids: ScheduleIds = {}
    for kind in KINDS:
        needed = {s for s in wanted if isinstance(s, kind.spec)}
        if needed:
            ids.update(_ensure_kind(kind, needed, using))
    return ids


def _ensure_kind(kind: Kind, needed: set[Any], using: str) -> ScheduleIds:
    """The rows already there for ``needed``: first those written as we write them, found by
    their values (a few specs of many rows: an apply of a few changes); if any is missing,
    every row of the kind, each read as a spec (a row spelled otherwise, ``00`` for ``0``, is
    identical too). Then the missing ones are created."""
    existing = _written_as_we_write(kind, needed, using) if len(needed) <= EXACT_LOOKUP_LIMIT else {}
    if needed - existing.keys():
        existing = _identical(kind, kind.model._default_manager.using(using).all(), needed)
    missing = sorted(needed - existing.keys(), key=repr)
    pks = insert_returning_pks(kind.model, kind.columns, [kind.values_of(spec) for spec in missing], using)
    existing.update({spec: (kind.field, pk) for spec, pk in zip(missing, pks, strict=True)})
    return existing


def _written_as_we_write(kind: Kind, needed: set[Any], using: str) -> ScheduleIds:
    found: ScheduleIds = {}
    specs = sorted(needed, key=repr)
    for start in range(0, len(specs), EXACT_LOOKUP_BATCH):
        rows = [kind.row_of(spec) for spec in specs[start:start + EXACT_LOOKUP_BATCH]]
        query = reduce(operator.or_, (Q(**{c: getattr(row, c) for c in kind.columns}) for row in rows))
        found.update(_identical(kind, kind.model._default_manager.using(using).filter(query), needed))
    return found


def _identical(kind: Kind, rows: QuerySet[Any], needed: set[Any]) -> ScheduleIds:
    """The rows of ``rows`` identical to a spec of ``needed``: the lowest pk wins among them."""
    found: ScheduleIds = {}
    for pk, *values in rows.order_by("-pk").values_list("pk", *kind.columns):
        spec = kind.spec_of(tuple(values))
        if spec in needed:
            found[spec] = (kind.field, pk)
    return found


# -- periodic tasks ----------------------------------------------------------------------

TASK_COLUMNS = (
    "name", "task", *(f"{name}_id" for name in FIELDS), "args", "kwargs", "queue", "exchange", "routing_key",
    "headers", "priority", "expires", "expire_seconds", "one_off", "start_time", "enabled", "description",
    "date_changed",
)


def task_row(spec: TaskSpec, schedule_ids: ScheduleIds, now: datetime) -> tuple[Any, ...]:
    """The managed columns of a PeriodicTask (``TASK_COLUMNS``), with PeriodicTask.save()'s
    invariants: exactly one schedule, clocked only with one_off, never both expires and
    expire_seconds, empty routing fields as NULL. A tuple: a first apply builds 100,000."""
    schedule = spec.schedule
    if isinstance(schedule, NoSchedule):
        raise ValueError(f"{spec.name}: a declared task always has a schedule")
    field_name, schedule_id = schedule_ids[schedule]
    return (
        spec.name, spec.task, *[schedule_id if name == field_name else None for name in FIELDS],
        spec.args, spec.kwargs, spec.queue or None, spec.exchange or None, spec.routing_key or None, spec.headers,
        spec.priority, spec.expires_at, spec.expire_seconds, spec.one_off or isinstance(schedule, Clocked),
        spec.start_time, spec.enabled, spec.description, now,
    )


def _create_tasks(
    changes: Sequence[Change], ids: ScheduleIds, using: str, now: datetime, ownership: _Ownership,
) -> tuple[list[tuple[Any, ...]], bool]:
    """The new rows, each with a key allocated first; returns their ownership values, built
    as the rows stream to the database: on PostgreSQL the server takes them meanwhile (a
    ``COPY``), where building all the rows first, then all the ownership values, left it idle
    for both (at 100,000 rows, 0.6 s and 0.7 s). And whether those values end with each row's
    digest (``rowtext``: PostgreSQL), or the database is to compute it (``rowdigest``)."""
    created = [c for c in changes if c.desired]
    if not created:
        return [], False
    keys = allocate_ids(PeriodicTask, len(created), using)
    owned: list[tuple[Any, ...]] = []
    digests = _row_digests(created, ids, using)

    def rows() -> Iterator[tuple[Any, ...]]:
        for key, change in zip(keys, created, strict=True):
            assert change.desired is not None
            row = (key, *task_row(change.desired, ids, now), None, 0)
            yield row
            values = ownership.values(change, key)
            owned.append(values if digests is None else (*values, digests.of(row)))

    insert_rows(PeriodicTask, CREATED_COLUMNS, rows(), using)
    return owned, digests is not None


CREATED_COLUMNS = ("id", *TASK_COLUMNS, "last_run_at", "total_run_count")


def _row_digests(created: Sequence[Change], ids: ScheduleIds, using: str) -> rowtext.RowDigests | None:
    """The new rows' digests computed as they stream (``rowtext``), where that is exact."""
    if not rowtext.supported(using):
        return None
    used: dict[str, set[int]] = {}
    for field, pk in ids.values():
        used.setdefault(field, set()).add(pk)
    moments = {m for c in created if c.desired for m in (c.desired.expires_at, c.desired.start_time)}
    return rowtext.RowDigests(using, CREATED_COLUMNS, used, moments)


def _update_tasks(changes: Sequence[Change], ids: ScheduleIds, using: str, now: datetime) -> None:
    rows = [(*task_row(c.desired, ids, now), c.pk) for c in changes if c.desired]
    if rows:
        update_rows(PeriodicTask, "id", TASK_COLUMNS, rows, using)


def _delete_tasks(pks: list[int], using: str) -> None:
    """Raw deletes: ``QuerySet.delete()`` would load every row and send a post_delete signal
    per row, each bumping the beat marker. Ownership rows go first (they reference the task)."""
    for start in range(0, len(pks), BATCH):
        batch = pks[start:start + BATCH]
        ManagedTask.objects.using(using).filter(periodic_task_id__in=batch)._raw_delete(using)
        PeriodicTask.objects.using(using).filter(pk__in=batch)._raw_delete(using)


OWNERSHIP_COLUMNS = (  # and ``row_digest``, which the database computes (``rowdigest``, ``rowtext``)
    "periodic_task_id", "source_file", "source_line", "spec_hash", "applied_at", "applied_revision", "source",
    "policy", "calendar", "monitor",
)


class _Ownership:
    """The values of ownership rows (``OWNERSHIP_COLUMNS``) for one apply."""

    def __init__(self, now: datetime, revision: str, owner: str) -> None:
        self.now, self.revision, self.owner = now, revision, owner
        self.stored: dict[int, str] = {}  # option sets' JSON by identity: 100,000 specs share a few objects

    def values(self, change: Change, pk: int) -> tuple[Any, ...]:
        desired, source = change.desired, change.source
        assert desired is not None
        return (
            pk, source.file if source else "", source.line if source else None, desired.digest(), self.now,
            self.revision, self.owner, self._json(desired.policy), self._json(desired.calendar),
            self._json(desired.monitor),
        )

    def _json(self, options: OptionSet) -> str:
        """``options.to_json()``, once per object (the objects outlive the apply: no id is reused)."""
        found = self.stored.get(id(options))
        if found is None:
            found = self.stored[id(options)] = options.to_json()
        return found


def _own(
    changes: Sequence[Change], created: list[tuple[Any, ...]], digested: bool, ownership: _Ownership, using: str,
) -> None:
    """Ownership rows: ``created`` (the values of the rows just created, ``digested`` or not) and
    those of the other ``changes``: new for an adopted row, rewritten for an updated or renamed one."""
    fresh = [] if digested else list(created)
    known: list[tuple[Any, ...]] = []
    for change in changes:
        assert change.pk is not None
        values = ownership.values(change, change.pk)
        (known if change.action in (Action.UPDATE, Action.RENAME) else fresh).append(values)
    if digested:
        insert_rows(ManagedTask, [*OWNERSHIP_COLUMNS, "row_digest"], created, using)
    rowdigest.insert_owned(OWNERSHIP_COLUMNS, fresh, using)
    if known:
        update_rows(ManagedTask, "periodic_task_id", (*OWNERSHIP_COLUMNS[1:], "row_digest"),
                    [(*v[1:], rowdigest.PENDING, v[0]) for v in known], using)
        rowdigest.record(using)
