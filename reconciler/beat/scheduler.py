"""The beat scheduler shipped with the reconciler: django-celery-beat's ``DatabaseScheduler``,
plus what a schedules-as-code team needs from beat.

    celery -A project beat -S reconciler.scheduler:ReconcilingScheduler

- At start-up it applies the declarations (``RECONCILER_APPLY_ON_BEAT_START``, default on):
  the declarative replacement for the one-way ``CELERY_BEAT_SCHEDULE`` copy. With
  ``RECONCILER_BEAT_WATCH`` it also watches the folder and applies every change.
- It loads the schedule in a bounded number of queries, whatever its size (one query for
  the tasks, one per schedule kind: ``kinds.load_enabled``), builds each schedule object once
  per schedule row, and
  skips no due task: no "hour window" pre-filter (django-celery-beat #875, #894, #916, #956),
  no expression that grows with the number of rows (Django #36116 on SQLite).
- It reloads only when the ``PeriodicTasks`` marker moved, plus the parent's periodic
  safety reload, and logs how long each load took and how many entries it read.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django_celery_beat.schedulers import DEFAULT_MAX_INTERVAL, DatabaseScheduler, ModelEntry

from ..conf import conf
from ..core.extras import require
from ..db.lease import beat_lock
from ..db.wakeup import Listener
from ..engine.grace import DeletionGrace
from ..models import ScheduledTask
from ..pipeline import apply_options_from_settings, delete_grace, reconcile_once, schedules_dir
from .entry import ScheduledEntry
from .kinds import load_enabled

log = logging.getLogger("reconciler.scheduler")


STANDBY_POLL = 1.0  # seconds between a standby's attempts to take the lock


class ReconcilingScheduler(DatabaseScheduler):
    """With ``RECONCILER_BEAT_HA`` (default on) only the instance holding the beat lock
    sends tasks; the others stand by and take over within a bounded time when it dies."""

    Model = ScheduledTask
    Entry = ScheduledEntry

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = beat_lock(ttl=3 * DEFAULT_MAX_INTERVAL) if conf.BEAT_HA else None
        self._active = False
        self._listener: Listener | None = None
        self._closed = False
        super().__init__(*args, **kwargs)
        if self._lock is not None:
            # Persist last_run_at after every send, so that a replica taking over does not
            # send again what the dead one already sent.
            self.sync_every_tasks = 1

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """As the parent's tick; with the database wake-up, the wait until the next due task
        happens here, cut short by a notification (beat's own loop then sleeps 0).

        Once closed, it stops beat instead. Beat's SIGTERM handler closes the scheduler and
        raises ``SystemExit`` wherever beat is. Inside a database call, django-celery-beat's
        ``sync()`` has just closed the connection, so the call fails on the way out, and the
        ``ProgrammingError`` replaces the ``SystemExit``. Beat logs it as a message error and
        would go on scheduling with a released lock. Seen in CI: the demo's beat outlived
        its SIGTERM."""
        if self._closed:
            raise SystemExit("beat was asked to stop (its scheduler is closed)")
        listener = self._listener
        if listener is not None:
            listener.woken.clear()  # what arrives from now on wakes the wait below
        interval = self._tick(*args, **kwargs)
        if listener is None or not listener.healthy.is_set() or not interval or interval <= 0:
            return interval
        if listener.woken.wait(interval):
            log.info("woken by the database: reading the change marker now")
        if self.should_sync():
            self._do_sync()
        return 0.0

    def _tick(self, *args: Any, **kwargs: Any) -> float:
        if self._lock is None:
            return super().tick(*args, **kwargs)
        if not self._lock.hold():
            if self._active:
                log.warning("lost the beat lock: standing by")
                self._active = False
            return min(self.max_interval, STANDBY_POLL)
        if not self._active:
            log.info("acquired the beat lock as %s: this instance schedules", self._lock.holder)
            self._active = True
            self._reload_from_database()
        return super().tick(*args, **kwargs)

    def _reload_from_database(self) -> None:
        """Forget what was loaded while standing by: the previous holder's last runs count."""
        self._initial_read = True
        self._heap = None

    def setup_schedule(self) -> None:
        if conf.APPLY_ON_BEAT_START:
            self.apply_declarations_on_start()
        super().setup_schedule()
        if conf.BEAT_LISTEN and Listener.available():
            self._listener = Listener().start()
        if conf.BEAT_WATCH:
            self._start_watcher()

    def apply_declarations_on_start(self) -> None:
        """Apply the schedules folder; on any problem beat still starts, on the last good state."""
        try:
            reconcile_once([schedules_dir()], apply_options_from_settings(), lambda line: log.info("%s", line))
        except Exception:
            log.exception("applying the declarations at beat start failed; running on the database as it is")

    def _start_watcher(self) -> None:
        require("watch", "RECONCILER_BEAT_WATCH")
        from ..declare.watch import watch  # (a) watchdog: the [watch] extra, checked just above

        paths = [schedules_dir()]
        stop = threading.Event()
        self._watch_stop = stop
        grace = DeletionGrace(delete_grace())

        def reconcile() -> float | None:
            return reconcile_once(paths, apply_options_from_settings(), lambda line: log.info("%s", line), grace)

        thread = threading.Thread(
            target=watch, args=(paths, reconcile), kwargs={"stop": stop}, name="reconciler-watch", daemon=True,
        )
        thread.start()

    def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.stop()
        stop = getattr(self, "_watch_stop", None)
        if stop is not None:
            stop.set()
        super().close()
        if self._lock is not None:
            self._lock.release()

    def all_as_schedule(self) -> dict[str, ModelEntry]:
        started = time.perf_counter()
        entries: dict[str, ModelEntry] = {}
        for model in load_enabled(self.Model):
            try:
                entries[model.name] = self.Entry(model, app=self.app)
            except ValueError:
                log.warning("skipping %s: its schedule or arguments cannot be read", model.name)
        log.info("loaded %d schedule entries in %.3f s", len(entries), time.perf_counter() - started)
        return entries
