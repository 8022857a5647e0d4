"""Beat woken by the database: on PostgreSQL, triggers (migration ``0008_wakeup_trigger``) send
a ``NOTIFY`` on ``CHANNEL`` whenever a statement changes the tables beat reads — an apply, an
admin edit of an unmanaged row, a raw SQL fix, another tool — delivered at commit, one per
transaction; a raw change also moves django-celery-beat's change marker, so that beat reloads.
Beat's own bookkeeping after a send (``last_run_at``, ``total_run_count``) wakes nobody. The
scheduler ``LISTEN``s on a connection of its own, so that a change is acted on at once instead
of at the next marker poll.

The notification carries nothing beat trusts: it only wakes beat, which then reads the
change marker and reloads exactly as it would at its next poll. A lost notification (a
listener reconnecting, another database) is covered by that poll, which stays; on SQLite
there is no notification and the poll is all there is.
"""
from __future__ import annotations

import logging
import threading

from django.db import connections

from .lease import conninfo

log = logging.getLogger("reconciler.beat")
CHANNEL = "reconciler_schedules"  # also frozen in migration 0008's triggers


class Listener:
    """A daemon thread that ``LISTEN``s on its own psycopg connection and sets ``woken`` at
    every notification, reconnecting with backoff when the connection is lost."""

    def __init__(self, using: str = "default", backoff_max: float = 30.0) -> None:
        self.using = using
        self.woken = threading.Event()
        self.healthy = threading.Event()
        self._stop = threading.Event()
        self._backoff_max = backoff_max
        self._thread = threading.Thread(target=self._run, name="reconciler-listen", daemon=True)

    @staticmethod
    def available(using: str = "default") -> bool:
        return connections[using].vendor == "postgresql"

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._listen()
                delay = 0.5
            except Exception as exc:  # a lost connection, a server restart: listen again later
                self.healthy.clear()
                log.warning("database wake-up unavailable (%s); the marker poll goes on; retrying in %.1f s",
                            exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff_max)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(conninfo(self.using), autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.healthy.set()
            self.woken.set()  # (re)connected: a change may have been missed meanwhile
            log.info("listening for schedule changes (PostgreSQL channel %s)", CHANNEL)
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    self.woken.set()
