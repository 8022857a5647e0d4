"""Reconcile on every change: watch the schedules folder and re-apply, debounced.

Editors write a burst of events per save (temp file, rename, chmod); the burst becomes one
reconcile once the folder has been quiet for ``debounce`` seconds. A failing reconcile
(invalid files) keeps the last good state in the database and the watcher running; an
unreachable database is retried with exponential backoff. The reconcile itself is injected,
so this module knows nothing of Django.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .errors import DatabaseUnavailable
from .load import SUFFIXES

log = logging.getLogger("reconciler.watch")


@dataclass(frozen=True)
class WatchOptions:
    debounce: float = 0.25
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


class _Trigger(FileSystemEventHandler):
    """Remembers that something relevant changed, and when it last did."""

    def __init__(self) -> None:
        self.changed = threading.Event()
        self.last_event = 0.0

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        # A directory's own "modified" event accompanies any change inside it: not a change.
        folder_moved = event.is_directory and event.event_type in ("created", "deleted", "moved")
        if folder_moved or any(p.endswith(SUFFIXES) for p in paths):
            self.last_event = time.monotonic()
            self.changed.set()


def watch(
    paths: Sequence[Path],
    reconcile: Callable[[], object],
    *,
    stop: threading.Event,
    options: WatchOptions = WatchOptions(),
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Reconcile once, then after every (debounced) change, until ``stop`` is set."""
    trigger = _Trigger()
    observer = Observer()
    for path in paths:
        observer.schedule(trigger, str(path if path.is_dir() else path.parent), recursive=True)
    observer.start()
    try:
        _reconcile_with_retry(reconcile, stop, options)
        if on_ready:
            on_ready()
        while not stop.is_set():
            if not trigger.changed.wait(timeout=0.2):
                continue
            _wait_until_quiet(trigger, stop, options.debounce)
            trigger.changed.clear()
            if not stop.is_set():
                _reconcile_with_retry(reconcile, stop, options)
    finally:
        observer.stop()
        observer.join(timeout=5)


def _wait_until_quiet(trigger: _Trigger, stop: threading.Event, debounce: float) -> None:
    while not stop.is_set():
        quiet_for = time.monotonic() - trigger.last_event
        if quiet_for >= debounce:
            return
        stop.wait(debounce - quiet_for)


def _reconcile_with_retry(reconcile: Callable[[], object], stop: threading.Event, options: WatchOptions) -> None:
    delay = options.backoff_initial
    while not stop.is_set():
        try:
            reconcile()
            return
        except DatabaseUnavailable as exc:
            log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
        stop.wait(delay)
        delay = min(delay * 2, options.backoff_max)
