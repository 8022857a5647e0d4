"""The run lease of a schedule (``RunLease``, one row per schedule name): beat claims it when it
sends a run, the worker's signals mark that run started and finished, and while it is neither
finished nor expired the schedule is busy. Every write is one statement, so that two beats (a
failover), several workers and a late signal of an older run never interleave into a wrong
state: the claim is an upsert that only takes a free lease, the worker's updates match the
run's ``task_id``. Plain SQL where the ORM cannot say it (``ON CONFLICT … WHERE … RETURNING``,
SQLite 3.35 and later too). On PostgreSQL a write made outside the caller's transaction commits
without waiting for the disk (``db.durability``): that flush was most of a tracked run's cost
(bench/overlap_lease.py).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import DurationField, ExpressionWrapper, F, Value
from django.db.models.fields import DateTimeField

from ..core.policy import Policy
from ..db.durability import relaxed_from
from ..db.wakeup import CHANNEL
from ..models import RunLease

FALLBACK_LIFETIME = 3600  # seconds: a policy that tracks runs without max_runtime (validation requires one)
UNSENT = "unsent"  # the outcome of a claim whose send failed (``release``)
_COLUMNS = ("name", "task_id", "scheduled_time", "sent_at", "started_at", "finished_at", "expires_at",
            "outcome", "pending_slot")


def lifetime(policy: Policy) -> timedelta:
    """How long a sent or started run keeps the schedule busy without news of its end."""
    return timedelta(seconds=policy.max_runtime or policy.time_limit or FALLBACK_LIFETIME)


def busy(lease: RunLease | None, now: datetime) -> bool:
    """The lease's run is queued or running: not finished and not expired."""
    return lease is not None and lease.finished_at is None and lease.expires_at > now


def claim(name: str, slot: datetime, policy: Policy, now: datetime, using: str = "default") -> str:
    """Take the lease for a run of ``slot`` sent now, whatever it held: the new run's task id."""
    task_id = _upsert(name, slot, policy, now, only_if_free=False, using=using)
    assert task_id is not None
    return task_id


def claim_if_free(name: str, slot: datetime, policy: Policy, now: datetime, using: str = "default") -> str | None:
    """Take the lease unless its run is busy (one statement: no window between the look and
    the write): the new run's task id, or None when the previous run is queued or running."""
    return _upsert(name, slot, policy, now, only_if_free=True, using=using)


def _upsert(name: str, slot: datetime, policy: Policy, now: datetime, *, only_if_free: bool,
            using: str) -> str | None:
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(RunLease._meta.db_table)
    moment = connection.ops.adapt_datetimefield_value
    task_id = str(uuid.uuid4())
    values = [name, task_id, moment(slot), moment(now), None, None, moment(now + lifetime(policy)), "", None]
    relaxed = relaxed_from(using)
    row_source = f"SELECT {', '.join(['%s'] * 9)} FROM {relaxed}" if relaxed else f"VALUES ({', '.join(['%s'] * 9)})"
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in _COLUMNS[1:])
    condition = ""
    if only_if_free:
        condition = f" WHERE {table}.{quote('finished_at')} IS NOT NULL OR {table}.{quote('expires_at')} <= %s"
        values.append(moment(now))
    sql = (f"INSERT INTO {table} ({', '.join(quote(c) for c in _COLUMNS)}) {row_source} "
           f"ON CONFLICT ({quote('name')}) DO UPDATE SET {updates}{condition} RETURNING {quote('task_id')}")
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return str(row[0]) if row else None


def hold(name: str, slot: datetime, using: str = "default") -> bool:
    """``overlap: queue_one``: keep ``slot`` as the one run waiting behind the busy one. False
    when one is already waiting (the caller records a skip)."""
    return bool(RunLease.objects.using(using).filter(name=name, pending_slot__isnull=True)
                .update(pending_slot=slot))


def started(task_id: str, name: str, now: datetime, using: str = "default") -> bool:
    """The worker began the run: the lease now expires one lifetime after the start (the
    lifetime the claim gave it: ``expires_at - sent_at``). False: not the lease's run."""
    connection = connections[using]
    relaxed = relaxed_from(using)
    if relaxed is None:
        lifetime_given = ExpressionWrapper(F("expires_at") - F("sent_at"), output_field=DurationField())
        expires = ExpressionWrapper(Value(now, output_field=DateTimeField()) + lifetime_given,
                                    output_field=DateTimeField())
        return bool(_current(name, task_id, using).update(started_at=now, expires_at=expires))
    quote = connection.ops.quote_name
    started_at, expires_at, sent_at = quote("started_at"), quote("expires_at"), quote("sent_at")
    sql = (f"UPDATE {quote(RunLease._meta.db_table)} SET {started_at} = %s, "
           f"{expires_at} = %s + ({expires_at} - {sent_at}) FROM {relaxed} WHERE {_current_sql(quote)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, name, task_id])
        return bool(cursor.rowcount)


def finished(task_id: str, name: str, outcome: str, now: datetime, using: str = "default") -> bool:
    """The run ended (``success``, ``failure``, ``revoked``): the schedule is free. Only the
    lease's own run, and only its first end (a failure is signalled twice: failure, postrun).
    On PostgreSQL, when a ``queue_one`` run waits behind it, the same statement sends the
    ``NOTIFY`` that wakes beat to send it at once. False: not the lease's run, or ended already."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return bool(_current(name, task_id, using).update(finished_at=now, outcome=outcome))
    quote = connection.ops.quote_name
    relaxed = relaxed_from(using)
    source = f"FROM {relaxed} " if relaxed else ""
    sql = (f"WITH done AS (UPDATE {quote(RunLease._meta.db_table)} SET {quote('finished_at')} = %s, "
           f"{quote('outcome')} = %s {source}WHERE {_current_sql(quote)} RETURNING {quote('pending_slot')}) "
           f"SELECT count(*), count(pg_notify(%s, %s)) FILTER (WHERE {quote('pending_slot')} IS NOT NULL) FROM done")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, outcome, name, task_id, CHANNEL, f"run-finished:{name}"])
        row = cursor.fetchone()
    return bool(row and row[0])


def release(name: str, task_id: str, now: datetime, using: str = "default") -> bool:
    """A claim whose send failed: no run will report, so the schedule must not stay busy."""
    return finished(task_id, name, UNSENT, now, using)


def ready_pending(now: datetime, using: str = "default") -> list[tuple[str, datetime]]:
    """The ``queue_one`` runs that may go now: their lease finished or expired."""
    return [(name, slot) for name, slot, ready in pending(now, using) if ready]


def pending(now: datetime, using: str = "default") -> list[tuple[str, datetime, bool]]:
    """Every held ``queue_one`` run: (name, slot, whether it may go now), by name."""
    rows = RunLease.objects.using(using).filter(pending_slot__isnull=False)
    return sorted((name, slot, finished_at is not None or expires_at <= now) for name, slot, finished_at, expires_at
                  in rows.values_list("name", "pending_slot", "finished_at", "expires_at"))


def _current_sql(quote: Any) -> str:
    """The lease's own run, unfinished: ``name`` and ``task_id`` as parameters."""
    return f"{quote('name')} = %s AND {quote('task_id')} = %s AND {quote('finished_at')} IS NULL"


def _current(name: str, task_id: str, using: str) -> Any:
    return RunLease.objects.using(using).filter(name=name, task_id=task_id, finished_at__isnull=True)
