"""One active beat among several replicas: a lock in the database.

- PostgreSQL: a session-level advisory lock on a dedicated connection (not Django's, which
  beat closes between ticks). The server releases it the moment the holder's connection
  dies — a killed beat is replaced at the standby's next poll.
- Other databases (SQLite): a lease row with a heartbeat. The holder renews it; a standby
  takes it over once it has expired (``ttl``, a few times beat's max interval).
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any, Protocol

from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import BeatLease

log = logging.getLogger("reconciler.beat")
ADVISORY_KEY = 0x5C4ED0BE  # differs from the apply lock's key
LEASE_NAME = "beat"


class BeatLock(Protocol):
    holder: str

    def hold(self) -> bool:
        """Take or keep the lock; True while this instance holds it. Never raises."""

    def release(self) -> None: ...


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def beat_lock(using: str = "default", ttl: float = 15.0) -> BeatLock:
    if connections[using].vendor == "postgresql":
        return AdvisoryLock(using)
    return LeaseLock(using, ttl)


class AdvisoryLock:
    def __init__(self, using: str) -> None:
        self.using = using
        self.holder = holder_id()
        self._conn: Any = None  # a psycopg connection of our own
        self._held = False

    def hold(self) -> bool:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn, self._held = psycopg.connect(conninfo(self.using), autocommit=True), False
            if self._held:
                self._conn.execute("SELECT 1")  # still connected means still holding
                return True
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY]).fetchone()
            self._held = bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("beat lock: %s", exc)
            self.release()
        return self._held

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._held = None, False


def conninfo(using: str) -> str:
    """A psycopg connection string for a connection of our own to Django's database."""
    from psycopg.conninfo import make_conninfo

    s = connections[using].settings_dict
    parts = {"dbname": s["NAME"], "user": s["USER"], "password": s["PASSWORD"], "host": s["HOST"], "port": s["PORT"]}
    return make_conninfo(**{k: str(v) for k, v in parts.items() if v})


class LeaseLock:
    def __init__(self, using: str, ttl: float) -> None:
        self.using = using
        self.ttl = ttl
        self.holder = holder_id()
        self._renewed = 0.0
        self._held = False

    def hold(self) -> bool:
        if self._held and time.monotonic() - self._renewed < self.ttl / 3:
            return True
        try:
            self._held = self._take_or_renew()
        except DatabaseError as exc:
            log.warning("beat lease: %s", exc)
            self._held = False
        if self._held:
            self._renewed = time.monotonic()
        return self._held

    def _take_or_renew(self) -> bool:
        now = timezone.now()
        until = now + timedelta(seconds=self.ttl)
        leases = BeatLease.objects.using(self.using)
        with transaction.atomic(using=self.using):
            mine_or_expired = Q(holder=self.holder) | Q(expires_at__lt=now)
            if leases.filter(mine_or_expired, name=LEASE_NAME).update(holder=self.holder, expires_at=until):
                return True
            _, created = leases.get_or_create(name=LEASE_NAME, defaults={"holder": self.holder, "expires_at": until})
            return created

    def release(self) -> None:
        with contextlib.suppress(DatabaseError):
            BeatLease.objects.using(self.using).filter(name=LEASE_NAME, holder=self.holder).delete()
        self._held = False
