"""Runs beat did not send, and why (``SkippedRun``), with the never-shrinking totals that
Prometheus reads (``SkipTotal``). One decision is one row, however many slots it drops: a beat
back after a day's outage that drops 96 missed slots writes one row with ``count`` 96."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connections, transaction

from ..models import SkippedRun, SkipTotal


def record(name: str, reason: str, slots: Sequence[datetime], at: datetime, detail: str = "",
           using: str = "default") -> SkippedRun | None:
    """One row for the slots not sent (``slot`` the latest, ``first_slot`` the earliest when
    several) and the schedule's total for the reason moved by as many; nothing for no slot."""
    if not slots:
        return None
    return record_span(name, reason, min(slots), max(slots), len(slots), at, detail, using)


def record_span(name: str, reason: str, first: datetime, last: datetime, count: int, at: datetime,
                detail: str = "", using: str = "default") -> SkippedRun | None:
    """``record`` for ``count`` slots known by their ends only (a catch-up after a month down
    drops millions of an every-second schedule's slots: none is listed)."""
    if count < 1:
        return None
    with transaction.atomic(using=using):
        skipped = SkippedRun.objects.using(using).create(
            name=name, reason=reason, slot=last, first_slot=first if count > 1 else None,
            count=count, at=at, detail=detail,
        )
        _add_to_total(name, reason, count, using)
    return skipped


def _add_to_total(name: str, reason: str, count: int, using: str) -> None:
    """An upsert that adds in the database (``total + excluded.total``): two writers never
    lose one another's count, and the first skip of a schedule needs no row made beforehand."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(SkipTotal._meta.db_table)
    total = quote("total")
    sql = (f"INSERT INTO {table} ({quote('name')}, {quote('reason')}, {total}) VALUES (%s, %s, %s) "
           f"ON CONFLICT ({quote('name')}, {quote('reason')}) "
           f"DO UPDATE SET {total} = {table}.{total} + excluded.{total}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [name, reason, count])


def prune(before: datetime, using: str = "default") -> int:
    """Forget the rows decided before ``before`` (``RECONCILER_SKIP_RETENTION``); the totals stay."""
    deleted, _ = SkippedRun.objects.using(using).filter(at__lt=before).delete()
    return deleted
