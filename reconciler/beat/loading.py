"""How our beat scheduler loads the schedule: django-celery-beat's ``DatabaseScheduler``, with
each load bounded, and after a change only what changed read and merged (issue 21).

- A full load reads every enabled row in a bounded number of queries (``kinds.load_enabled``)
  and builds each entry with its policy; an entry catches up when the scheduler starts
  scheduling (``_fresh``) or when its name is new in the loaded schedule.
- When the ``PeriodicTasks`` marker moves, only the rows changed since the last load are read
  (``reload.Reloader``: by their change stamps and the enabled count, ~60 ms at 100,000 rows
  instead of ~10 s), their entries replaced and pushed on Celery's heap (``_requeue``); what the
  stamps cannot explain loads everything.
- Every ``RECONCILER_BEAT_SAFETY_RELOAD`` seconds a thread reads every row and compares it with
  its entry (``safety.BackgroundLoad``); the entries that differ are rebuilt here, between two
  ticks, beat sending meanwhile.
- ``RECONCILER_BEAT_INCREMENTAL = False``: django-celery-beat's own reloads (every entry at
  every change and every 5 minutes; Celery's comparison of the whole schedule at every tick).
"""
from __future__ import annotations

import heapq
import logging
import time
from datetime import datetime
from typing import Any

from celery.beat import event_t
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry
from django_celery_beat.utils import NEVER_CHECK_TIMEOUT

from ..conf import conf
from .entry import ScheduledEntry
from .kinds import load_enabled
from .reload import Changes, MergeResult, Reloader, Stamps
from .safety import BackgroundLoad, Verdict

log = logging.getLogger("reconciler.scheduler")

HEAP_PRIORITY = 5  # what Celery's ``populate_heap`` gives every event
STALE_MINIMUM, STALE_FRACTION = 1000, 0.1  # past both, the stale events leave the heap


class LoadingScheduler(DatabaseScheduler):
    """The loading half of ``ReconcilingScheduler`` (its ``Model`` and ``Entry`` are ours)."""

    _heap: list[Any] | None  # Celery's, of ``event_t``: None until populated
    _schedule: Any  # django-celery-beat's: name → entry, None until the first read
    _last_full_sync: Any  # django-celery-beat's: a naive local datetime

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._fresh = True  # the next load starts scheduling: every entry catches up
        self._stale = 0  # events of replaced entries left on the heap
        self._reloader = Reloader(self.Model)
        self._safety = BackgroundLoad(self.Model)
        super().__init__(*args, **kwargs)

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
            log.info("the change marker moved: loading every entry (many rows changed, or a change the stamps "
                     "do not explain)")
        return done

    def _build(self, model: Any, catching_up: bool) -> ScheduledEntry:
        return self.Entry(model, app=self.app, catching_up=catching_up)

    def _requeue(self, replaced: list[Any], added: list[Any]) -> None:
        """Fix beat's heap for a merge: each replaced entry's events go stale (``is_due`` skips
        them, and they sink to the bottom), each added entry is pushed as ``populate_heap``
        would. Rebuilding the heap instead evaluates every entry: ~4 s at 100,000; finding the
        old events in it, ~30 ms: done only once the stale events are many (``_compact``)."""
        for entry in replaced:
            entry.model.superseded = True
        heap = self._heap
        if heap is None or self._heap_invalidated:
            return  # the next tick populates it from the schedule
        self._stale += len(replaced)
        if self._stale > max(STALE_MINIMUM, len(heap) * STALE_FRACTION):
            self._compact(heap)
        for entry in added:
            try:
                due, delay = entry.is_due()
            except Exception:
                due, delay = self._is_due_failed(entry)
            heapq.heappush(heap, event_t(self._when(entry, 0 if due else delay) or 0, HEAP_PRIORITY, entry))

    def _compact(self, heap: list[Any]) -> None:
        """Drop the stale events from the heap (in place: Celery's ``tick`` reads it again)."""
        heap[:] = [event for event in heap if not getattr(event[2].model, "superseded", False)]
        heapq.heapify(heap)
        self._stale = 0

    def populate_heap(self, *args: Any, **kwargs: Any) -> None:
        """The parent's (every entry evaluated: seconds at 100,000 entries, and beat sends
        nothing meanwhile), timed in the log."""
        started = time.perf_counter()
        self._stale = 0
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
