"""Beat's periodic safety reload without the stall: the full load read in a thread, and the
loaded schedule fixed only where it differs from it.

The safety reload (every ``RECONCILER_BEAT_SAFETY_RELOAD`` seconds, 5 minutes by default) is
what catches the changes the incremental reload cannot see (docs/deploy.md, "Beat's reload").
Done as a plain full load it stalls beat for the load and for Celery's heap rebuild (~10 s at
100,000 entries). Here a thread reads every enabled row as the full load does
(``kinds.load_enabled``, in batches) and compares each with the entry beat has for it (``same_row``: what
an entry is built from; beat's own columns are not compared). The scheduler then rebuilds the
few that differ and drops those no longer enabled (``Reloader.verify``), on its own thread,
between two ticks: beat keeps sending meanwhile, slowed only by sharing the interpreter
(``SWITCH_INTERVAL``).
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection

from ..core.allocation import paused_gc
from .kinds import KINDS, load_rows
from .reload import Stamps

log = logging.getLogger("reconciler.scheduler")

# While the thread reads, beat's own thread waits for the interpreter each time it comes back
# from the database or the broker: up to Python's switch interval (5 ms) each time, which made
# a 50 ms incremental reload take a second. A shorter interval while the thread runs hands the
# interpreter back sooner, at the cost of more switches.
SWITCH_INTERVAL = 0.0005
BATCH = 2000  # rows read by one query of the safety reload

ROW_FIELDS = (  # what an entry is built from, besides its schedule row, policy and calendar
    "name", "task", "args", "kwargs", "queue", "exchange", "routing_key", "priority", "headers",
    "expire_seconds", "expires", "start_time", "one_off", "enabled", *(f"{kind.field}_id" for kind in KINDS),
)


def same_row(loaded: Any, row: Any) -> bool:
    """Whether ``row`` (just read) would build the entry ``loaded`` (the model of an entry) was
    built from: its columns, its schedule row's, its policy and calendar."""
    if any(getattr(loaded, name) != getattr(row, name) for name in ROW_FIELDS):
        return False
    if getattr(loaded, "run_policy", None) != getattr(row, "run_policy", None):
        return False
    if getattr(loaded, "run_calendar", None) != getattr(row, "run_calendar", None):
        return False
    for kind in KINDS:
        before, now = loaded._state.fields_cache.get(kind.field), row._state.fields_cache.get(kind.field)
        if (before is None) != (now is None):
            return False
        if before is not None and kind.spec_of_row(before) != kind.spec_of_row(now):
            return False
    return True


def read_enabled(model: type[Any]) -> list[Any]:
    """What ``kinds.load_enabled`` reads, in primary-key ranges of ``BATCH`` rows: on SQLite
    (journal mode ``delete``) a read holds a lock that beat's write after each send waits for,
    and one query over 100,000 rows held it for the whole read (sends 0.7 s late)."""
    enabled = model.objects.filter(enabled=True)
    ids = list(enabled.order_by("pk").values_list("pk", flat=True))
    return [row for start in range(0, len(ids), BATCH)
            for row in load_rows(enabled.filter(pk__gte=ids[start], pk__lte=ids[min(start + BATCH, len(ids)) - 1]))]


@dataclass
class Verdict:
    """What the thread found: the rows whose entry differs (or that have none), the ids of the
    entries whose row is no longer enabled, and the latest stamp when it read."""

    differing: list[Any]
    missing: set[int]
    stamps: Stamps
    seconds: float


class BackgroundLoad:
    """One safety reload at a time, in a thread of its own (with its own database connection)."""

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self.thread: threading.Thread | None = None
        self.verdict: Verdict | None = None
        self.generation = 0  # a full load made meanwhile makes the verdict moot

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, entries: Callable[[], Mapping[int, Any]]) -> None:
        """Read and compare in a thread; ``entries``: each loaded entry's model by row id (called
        in the thread, once the rows are read)."""
        if self.running:
            return
        self.verdict = None
        generation = self.generation

        def run() -> None:
            started = time.perf_counter()
            switch = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
            try:
                with paused_gc():  # a full collection over the schedule and the rows read: ~1 s, every thread stopped
                    stamps = Stamps.current(self.model)
                    rows = read_enabled(self.model)
                    models = entries()
                    differing = [row for row in rows if row.pk not in models or not same_row(models[row.pk], row)]
                    missing = models.keys() - {row.pk for row in rows}
                    del rows
                if generation == self.generation:
                    self.verdict = Verdict(differing, set(missing), stamps, time.perf_counter() - started)
            except Exception:
                log.exception("the safety reload failed: beat goes on with what it has loaded")
            finally:
                sys.setswitchinterval(switch)
                connection.close()  # this thread's own

        self.thread = threading.Thread(target=run, name="reconciler-safety-reload", daemon=True)
        self.thread.start()

    def take(self) -> Verdict | None:
        """The verdict, once (None while the thread runs, or when it found nothing to give)."""
        verdict, self.verdict = self.verdict, None
        return verdict

    def cancel(self) -> None:
        """A full load replaced what the running thread compares with: its verdict is dropped."""
        self.generation += 1
        self.verdict = None
