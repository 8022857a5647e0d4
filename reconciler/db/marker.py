"""Beat's and the reconciler's change markers, read in one query: what moves when anything a
plan can show changes (the status pages' plan memo, the apply's in-sync memo)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connections, transaction
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from ..models import ApplyRecord, ManagedTask, OperationRecord, ScheduleSource


class Marker(NamedTuple):
    beat: datetime | None  # django-celery-beat's change marker
    tasks: int
    newest_task: int | None
    owned: int
    newest_applied: datetime | None
    suspended: int
    newest_suspension: datetime | None
    sources: int
    newest_source: datetime | None
    newest_apply: int | None
    newest_operation: int | None


def database_marker(using: str = "default") -> Marker:
    """One query of aggregates that move with every change a plan can show: beat's change
    marker (every apply, admin save and model signal; on PostgreSQL any SQL, by migration
    0008's trigger), the task rows' count and newest id, ownership and suspensions, the
    sources, and the newest apply and operation records. Not beat's bookkeeping (``last_run_at``,
    ``total_run_count``, ``date_changed``, written after every send): a busy beat would end the
    memo at every request; the pages read their own rows' bookkeeping fresh
    (``status.with_bookkeeping``)."""
    connection = connections[using]
    q = connection.ops.quote_name

    def table(model: object) -> str:
        return q(model._meta.db_table)  # type: ignore[attr-defined]

    parts = (  # one scan per table, each giving its aggregates in Marker's order
        f"SELECT MAX(last_update) FROM {table(PeriodicTasks)}",
        f"SELECT COUNT(*), MAX(id) FROM {table(PeriodicTask)}",
        f"SELECT COUNT(*), MAX(applied_at), COUNT(suspended_at), MAX(suspended_at) FROM {table(ManagedTask)}",
        f"SELECT COUNT(*), MAX(recorded_at) FROM {table(ScheduleSource)}",
        f"SELECT MAX(id) FROM {table(ApplyRecord)}",
        f"SELECT MAX(id) FROM {table(OperationRecord)}",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM " + ", ".join(f"({part}) AS part{i}" for i, part in enumerate(parts)))
        return Marker(*cursor.fetchone())


def marker_unmoved(using: str, before: Marker) -> bool:
    """Inside an apply about to write: whether beat's change marker is still what ``before``
    (``database_marker``, read under the apply's lock before the rows were read) saw. On
    PostgreSQL the marker row is locked from here to the commit: a concurrent change (an admin
    edit, a raw SQL fix: migration 0008's trigger) moves the marker in its own transaction and
    so waits for ours, and cannot slip in unseen between this check and the marker read after
    the write. The lock order is unchanged: the apply's first write statement took that lock
    already (0008's triggers move the marker). SQLite's apply holds the database's write lock."""
    connection = connections[using]
    table = connection.ops.quote_name(PeriodicTasks._meta.db_table)
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(last_update) FROM (SELECT last_update FROM {table}{lock}) AS marker")
        row = cursor.fetchone()
    return (row[0] if row else None) == before.beat


def plain(marker: Marker) -> list[Any]:
    """The marker as JSON stores it (date-times as ISO text): what a memo keeps and compares."""
    return [value.isoformat() if isinstance(value, datetime) else value for value in marker]


ROW_TRIGGERS = "reconciler_marker_%"  # migration 0012's triggers on SQLite (one per table and event)
QUIET_FROM_ROWS = 1_000  # rows written: from here, the row triggers are set aside for the write


@contextmanager
def row_triggers_set_aside(using: str, rows: int) -> Iterator[None]:
    """On SQLite, for a write of ``rows`` rows (at least ``QUIET_FROM_ROWS``): migration 0012's
    row triggers are dropped for the write and created again, exactly as they were (their
    ``CREATE`` text is read back from ``sqlite_master``), inside the caller's transaction.

    Those triggers move beat's change marker with two statements per row written: 200,000
    statements in a first apply of 100,000 tasks, a third of its write. The caller moves the
    marker once itself (``engine.write.mark_changed``). Nobody else sees the triggers gone:
    SQLite's DDL is transactional, and the write holds the database's only write lock from
    the first drop to the commit. On an error the savepoint rolls the drops back with the rows.
    Elsewhere (PostgreSQL's triggers are per statement) and for smaller writes: nothing."""
    connection = connections[using]
    if connection.vendor != "sqlite" or rows < QUIET_FROM_ROWS:
        yield
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [ROW_TRIGGERS])
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
        yield
        for _, create in triggers:
            cursor.execute(create)
