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
- It reloads only when the ``PeriodicTasks`` marker moved, plus a periodic safety reload
  (every 5 minutes), and logs how long each load took and how many entries it read. After a
  change it reads only the rows changed since its last load (``reload.Reloader``: by their
  change stamps, ~60 ms at 100,000 rows instead of ~10 s), replaces their entries and pushes
  them on beat's heap; the full load stays for what the stamps cannot explain, and the safety
  reload reads every row in a thread, beat sending meanwhile (``safety.BackgroundLoad``).
  ``RECONCILER_BEAT_INCREMENTAL = False``: django-celery-beat's full reloads.
- It sends what ``core.sends`` decides (``entry.ScheduledEntry``), the timeline every
  prediction shows: each run with its slot's ``scheduled_time`` header (and keyword, and time
  limit, per the policy); the catch-up of the entries it starts scheduling (start-up, taking
  the HA lock, a row new in the loaded schedule), dropped slots recorded; no run of a tracked
  policy while the previous one is queued or running (``overlap.Overlap``), a held
  ``queue_one`` run sent as soon as the running one finishes.
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from celery.beat import event_t
from django_celery_beat.schedulers import (
    DEFAULT_MAX_INTERVAL,
    DatabaseScheduler,
    ModelEntry,
)
from django_celery_beat.utils import NEVER_CHECK_TIMEOUT

from ..conf import conf
from ..core.extras import require
from ..core.policy import Policy
from ..db.lease import beat_lock
from ..db.wakeup import Listener
from ..engine.grace import DeletionGrace
from ..models import ScheduledTask
from ..pipeline import apply_options_from_settings, delete_grace, reconcile_once, schedules_dir
from .entry import ScheduledEntry
from .kinds import load_enabled
from .overlap import Overlap
from .reload import Changes, MergeResult, Reloader, Stamps
from .safety import BackgroundLoad, Verdict
from .stopping import DeferredStop

log = logging.getLogger("reconciler.scheduler")


STANDBY_POLL = 1.0  # seconds between a standby's attempts to take the lock
HEAP_PRIORITY = 5  # what Celery's ``populate_heap`` gives every event


class ReconcilingScheduler(DatabaseScheduler):
    """With ``RECONCILER_BEAT_HA`` (default on) only the instance holding the beat lock
    sends tasks; the others stand by and take over within a bounded time when it dies."""

    Model = ScheduledTask
    Entry = ScheduledEntry
    _heap: list[Any] | None  # Celery's, of ``event_t``: None until populated
    _schedule: Any  # django-celery-beat's: name → entry, None until the first read
    _last_full_sync: Any  # django-celery-beat's: a naive local datetime

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = beat_lock(ttl=3 * DEFAULT_MAX_INTERVAL) if conf.BEAT_HA else None
        self._active = False
        self._listener: Listener | None = None
        self._closed = False
        self._fresh = True  # the next load starts scheduling: every entry catches up
        self._overlap = Overlap()
        self._stop = DeferredStop()
        self._reloader = Reloader(self.Model)
        self._safety = BackgroundLoad(self.Model)
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

    # -- loading -------------------------------------------------------------------------------

    @property
    def schedule(self) -> dict[str, ModelEntry]:
        """The parent's, but a moved marker is read incrementally (``reload.Reloader``): only the
        changed rows' entries are replaced, and pushed on the heap (``_requeue``). The parent's
        full load stays for the first read and a change the stamps cannot explain. The safety
        reload, every ``RECONCILER_BEAT_SAFETY_RELOAD`` seconds (counted from the last full
        or safety load, not from the last change), reads every row in a thread
        (``safety.BackgroundLoad``); its verdict is applied here, at a later tick."""
        if self._initial_read or not conf.BEAT_INCREMENTAL:
            schedule: dict[str, ModelEntry] = DatabaseScheduler.schedule.fget(self)  # type: ignore[attr-defined]
            return schedule
        now = datetime.now()  # naive, as the parent's ``_last_full_sync``
        verdict = self._safety.take()
        if verdict is not None:
            self._verify(verdict)
        if self.schedule_changed():
            self.sync()  # beat's last runs first, as the parent: the rows read carry them
            if self._reload_incrementally():
                return self._schedule
            self._full_load(now)
        elif (now - self._last_full_sync).total_seconds() >= conf.BEAT_SAFETY_RELOAD:
            self._last_full_sync = now
            self.sync()
            self._safety.start(self._entry_models)
        return self._schedule

    def _entry_models(self) -> dict[int, Any]:
        """Each loaded entry's model by row id (the safety reload's thread calls it)."""
        return {entry.model.pk: entry.model for entry in list((self._schedule or {}).values())
                if isinstance(entry, ScheduledEntry)}

    def _verify(self, verdict: Verdict) -> None:
        started = time.perf_counter()
        result = self._reloader.verify(self._schedule, verdict.differing, verdict.missing, verdict.stamps.high,
                                       self._build)
        self._requeue(result.replaced, result.added)
        log.info("safety reload: read and compared every row in %.3f s in the background; %d entries rebuilt, "
                 "%d replaced or dropped, in %.3f s", verdict.seconds, len(result.added), len(result.replaced),
                 time.perf_counter() - started)

    def _full_load(self, now: datetime) -> None:
        """What the parent's ``schedule`` does on a change: every entry again, the heap rebuilt
        at the next tick."""
        self._last_full_sync = now
        self.sync()
        self._schedule = self.all_as_schedule()
        self._heap = []
        self._heap_invalidated = True

    def _reload_incrementally(self) -> bool:
        """Merge what changed since the last load; False when a full load is due instead."""
        started = time.perf_counter()
        merged = [0, 0]

        def merge(changes: Changes) -> MergeResult:
            result = self._reloader.merge(self._schedule, changes, self._build)
            self._requeue(result.replaced, result.added)
            merged[0] += len(result.replaced)
            merged[1] += len(result.added)
            return result

        try:
            done = self._reloader.read(merge)
        except Exception:
            log.exception("the incremental reload failed: loading every entry")
            return False
        if done:
            log.info("reloaded %d changed schedule entries (%d replaced or dropped) in %.3f s",
                     merged[1], merged[0], time.perf_counter() - started)
        else:
            log.info("the change marker moved: loading every entry (%s)",
                     "the stamped rows explain nothing" if not any(merged) else "many rows changed")
        return done

    def _build(self, model: Any, catching_up: bool) -> ScheduledEntry:
        return self.Entry(model, app=self.app, catching_up=catching_up)

    def _requeue(self, replaced: list[Any], added: list[Any]) -> None:
        """Fix beat's heap for a merge: each replaced entry's events go stale (``is_due`` skips
        them, and they sink to the bottom until the next full load rebuilds the heap), each
        added entry is pushed as ``populate_heap`` would. Rebuilding the heap instead evaluates
        every entry: ~4 s at 100,000; finding the old events in it, ~30 ms."""
        for entry in replaced:
            entry.model.superseded = True
        heap = self._heap
        if heap is None or self._heap_invalidated:
            return  # the next tick populates it from the schedule
        for entry in added:
            try:
                due, delay = entry.is_due()
            except Exception:
                due, delay = self._is_due_failed(entry)
            heapq.heappush(heap, event_t(self._when(entry, 0 if due else delay) or 0, HEAP_PRIORITY, entry))

    def populate_heap(self, *args: Any, **kwargs: Any) -> None:
        """The parent's (every entry evaluated: seconds at 100,000 entries, and beat sends
        nothing meanwhile), timed in the log."""
        started = time.perf_counter()
        super().populate_heap(*args, **kwargs)
        log.info("evaluated %d schedule entries for beat's heap in %.3f s", len(self._heap or ()),
                 time.perf_counter() - started)

    def is_due(self, entry: Any) -> Any:
        """As the parent's, but an event of an entry a reload replaced is never due again."""
        if getattr(entry.model, "superseded", False):
            return False, NEVER_CHECK_TIMEOUT
        return entry.is_due()

    def schedules_equal(self, *args: Any, **kwargs: Any) -> bool:
        """Whether the heap still matches the schedule. Celery compares every entry of the two at
        every tick (~0.17 s at 100,000 entries); here the loads say it: a full load invalidates
        the heap (the parent's ``_heap_invalidated``), an incremental one requeues what it
        changed. ``RECONCILER_BEAT_INCREMENTAL = False`` keeps Celery's comparison."""
        if not conf.BEAT_INCREMENTAL:
            equal: bool = super().schedules_equal(*args, **kwargs)
            return equal
        if self._heap_invalidated:
            self._heap_invalidated = False
            return False
        return True

    def all_as_schedule(self) -> dict[str, ModelEntry]:
        """Every enabled row's entry, with its policy; an entry catches up when this instance
        starts scheduling, or when its name is new in the loaded schedule (a new row, a resume):
        names loaded before keep what their entries were doing."""
        started = time.perf_counter()
        self._safety.cancel()
        previous: dict[str, Any] = {} if self._fresh else dict(self._schedule or {})
        self._fresh = False
        stamps = Stamps.current(self.Model)  # before the rows: what commits meanwhile is read again
        models = load_enabled(self.Model)
        entries: dict[str, ModelEntry] = {}
        for model in models:
            before = previous.get(model.name)
            catching_up = before.catching_up if isinstance(before, ScheduledEntry) else True
            try:
                entries[model.name] = self.Entry(model, app=self.app, catching_up=catching_up)
            except ValueError:
                log.warning("skipping %s: its schedule or arguments cannot be read", model.name)
        self._reloader.full(stamps, models)
        log.info("loaded %d schedule entries in %.3f s", len(entries), time.perf_counter() - started)
        return entries


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
