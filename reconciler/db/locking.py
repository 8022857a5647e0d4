"""The reconcile lock: concurrent applies (every app instance runs one on deploy) take
turns instead of racing into IntegrityErrors or lost updates.

Called inside the apply's transaction, so the lock lasts exactly as long as it:
- PostgreSQL: a transaction-level advisory lock, waited for at most ``timeout`` seconds;
- SQLite: the database's write lock, taken before the first read (a deferred transaction
  that upgrades later could deadlock against another one), waited for by SQLite's busy
  timeout (``OPTIONS["timeout"]``).
"""
from __future__ import annotations

from django.db import OperationalError, connections

from ..core.errors import LockTimeout

ADVISORY_KEY = 0x5C4ED01E  # "schedules" — any constant shared by all instances


def acquire(using: str, timeout: float) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        _postgresql(connection, timeout)
    elif connection.vendor == "sqlite":
        _sqlite(connection)


def _postgresql(connection, timeout: float) -> None:  # type: ignore[no-untyped-def]
    from psycopg import errors

    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        try:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_KEY])
        except OperationalError as exc:
            if isinstance(exc.__cause__, errors.LockNotAvailable):
                raise LockTimeout(
                    f"another apply held the reconcile lock for more than {timeout:g} s; nothing was changed. "
                    "Try again, or raise --lock-timeout."
                ) from exc
            raise
        cursor.execute("SET LOCAL lock_timeout = 0")


def _sqlite(connection) -> None:  # type: ignore[no-untyped-def]
    from django_celery_beat.models import PeriodicTasks

    table = connection.ops.quote_name(PeriodicTasks._meta.db_table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET ident = ident WHERE 0 = 1")  # takes the write lock
    except OperationalError as exc:
        if "locked" in str(exc):
            raise LockTimeout(
                "another process held the SQLite database's write lock for longer than its busy timeout; "
                "nothing was changed. Try again."
            ) from exc
        raise
