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
- It reloads only when the ``PeriodicTasks`` marker moved, plus a periodic safety reload,
  and logs how long each load took and how many entries it read; after a change, only the
  rows that changed (``loading.LoadingScheduler``, its base).
- It sends what ``core.sends`` decides (``entry.ScheduledEntry``), the timeline every
  prediction shows: each run with its slot's ``scheduled_time`` header (and keyword, and time
  limit, per the policy); the catch-up of the entries it starts scheduling (start-up, taking
  the HA lock, a row new in the loaded schedule), dropped slots recorded; no run of a tracked
  policy while the previous one is queued or running (``overlap.Overlap``), a held
  ``queue_one`` run sent as soon as the running one finishes.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from django_celery_beat.schedulers import DEFAULT_MAX_INTERVAL

from ..conf import conf
from ..core.extras import require
from ..core.policy import Policy
from ..db.lease import beat_lock
from ..db.wakeup import Listener
from ..engine.grace import DeletionGrace
from ..models import ScheduledTask
from ..pipeline import apply_options_from_settings, delete_grace, reconcile_once, schedules_dir
from .entry import ScheduledEntry
from .loading import LoadingScheduler
from .overlap import Overlap
from .stopping import DeferredStop

log = logging.getLogger("reconciler.scheduler")


STANDBY_POLL = 1.0  # seconds between a standby's attempts to take the lock


class ReconcilingScheduler(LoadingScheduler):
    """With ``RECONCILER_BEAT_HA`` (default on) only the instance holding the beat lock
    sends tasks; the others stand by and take over within a bounded time when it dies."""

    Model = ScheduledTask
    Entry = ScheduledEntry

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = beat_lock(ttl=3 * DEFAULT_MAX_INTERVAL) if conf.BEAT_HA else None
        self._active = False
        self._listener: Listener | None = None
        self._closed = False
        self._overlap = Overlap()
        self._stop = DeferredStop()
        super().__init__(*args, **kwargs)
        # Persist last_run_at (the slot served) after every send, HA or not: a replica taking
        # over, or this beat restarted, catches up from exactly what was served, and sends
        # nothing twice. The cost: one UPDATE of two columns per send.
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
        if self._lock is not None:
            if not self._lock.hold():
                if self._active:
                    log.warning("lost the beat lock: standing by")
                    self._active = False
                return min(self.max_interval, STANDBY_POLL)
            if not self._active:
                log.info("acquired the beat lock as %s: this instance schedules", self._lock.holder)
                self._active = True
                self._reload_from_database()
        try:
            self._send_pending()
            interval: float = super().tick(*args, **kwargs)
        finally:
            self._stop.release()  # a reserve whose apply_entry never ran
        wait = self._overlap.wait()
        return interval if wait is None else min(interval, wait)

    def _reload_from_database(self) -> None:
        """Forget what was loaded while standing by: the previous holder's last runs count, and
        every entry catches up from them."""
        self._initial_read = True
        self._heap = None
        self._fresh = True

    # -- sending -------------------------------------------------------------------------------

    def reserve(self, entry: Any) -> Any:
        """As the parent's, with beat's stop signals held until ``apply_entry`` has sent what
        the entry now counts as served (``stopping.DeferredStop``)."""
        self._stop.hold()
        return super().reserve(entry)

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        try:
            self._apply_entry(entry, producer)
        finally:
            self._stop.release()

    def _apply_entry(self, entry: Any, producer: Any = None) -> None:
        """Send what the entry's evaluation decided (``ScheduledEntry.decision``): each run of its
        slot, oldest first; the slots its catch-up dropped are recorded."""
        decision = getattr(entry, "decision", None)
        if decision is None:  # not one of ours (an entry of ``beat_schedule``)
            super().apply_entry(entry, producer=producer)
            return
        now = datetime.now(UTC)
        if decision.dropped is not None:
            self._overlap.skip_catchup(entry.name, decision.dropped, now)
        sent = sum(self._send(entry, send.slot, now, producer) for send in decision.sends)
        if not sent:  # the entry moved on all the same: persist its last run now too
            self._tasks_since_sync += 1
            if self.should_sync():
                self._do_sync()

    def _send(self, entry: ScheduledEntry, slot: datetime, now: datetime, producer: Any = None,
              task_id: str | None = None) -> bool:
        """Send the run of ``slot`` (a tracked policy asks the overlap lease first, unless
        ``task_id`` is the lease already claimed); whether it was sent."""
        tracked = entry.policy.tracks_runs
        if tracked and task_id is None:
            task_id = self._overlap.admit(entry.name, entry.policy, slot, now)
            if task_id is None:
                return False
        log.info("Sending due task %s (%s) for %s", entry.name, entry.task, slot.isoformat())  # Celery's words
        try:
            self.apply_async(entry.message(slot, task_id), producer=producer, advance=False)
        except Exception:
            log.exception("sending %s for %s failed", entry.name, slot.isoformat())
            if tracked and task_id is not None:
                self._overlap.send_failed(entry.name, task_id)
            return False
        return True

    def _send_pending(self) -> None:
        """The held ``queue_one`` runs whose previous run has finished."""
        entries = self._schedule or {}
        if not entries:
            return
        now = datetime.now(UTC)
        self._stop.hold()  # due_pending claims the lease of each run it returns: send them before stopping
        try:
            for name, slot, task_id in self._overlap.due_pending(now, EntryPolicies(entries)):
                entry = entries.get(name)
                if isinstance(entry, ScheduledEntry):
                    self._send(entry, slot, now, self.producer, task_id)
                else:
                    self._overlap.send_failed(name, task_id)
        finally:
            self._stop.release()

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


class EntryPolicies(Mapping[str, Policy]):
    """The policy of each loaded entry, looked up by name: beat asks at every tick, and copying
    them into a dict cost a pass over every entry (100,000 at scale) each time."""

    def __init__(self, entries: Mapping[str, Any]) -> None:
        self.entries = entries

    def __getitem__(self, name: str) -> Policy:
        entry = self.entries[name]
        if not isinstance(entry, ScheduledEntry):
            raise KeyError(name)
        return entry.policy

    def __iter__(self) -> Iterator[str]:
        return (name for name, entry in self.entries.items() if isinstance(entry, ScheduledEntry))

    def __len__(self) -> int:
        return sum(1 for _ in self)
