"""Reconcile on every change: watch the schedules folder and re-apply, debounced.

Editors write a burst of events per save (temp file, rename, chmod); the burst becomes one
reconcile once the folder has been quiet for ``debounce`` seconds. A failing reconcile
(invalid files, a rule that crashes) keeps the last good state in the database and the
watcher running; an unreachable database is retried with exponential backoff. A folder that
is removed is waited for, and followed again when it is recreated. The reconcile itself is
injected, so this module knows nothing of Django; it may return a number of seconds after
which it wants to run again (a deletion held back for its grace period).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from ..core.errors import DatabaseUnavailable
from .files import SUFFIXES

log = logging.getLogger("reconciler.watch")
FOLDER_CHECK = 0.5  # seconds between checks that a watched folder is still the same folder


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
        if folder_moved or any(p.lower().endswith(SUFFIXES) for p in paths):
            self.fire()

    def fire(self) -> None:
        self.last_event = time.monotonic()
        self.changed.set()


class _Folders:
    """The watched folders, scheduled again on the observer when one is removed and
    recreated (inotify stops reporting for a folder once it is deleted)."""

    def __init__(self, paths: Sequence[Path], observer: BaseObserver, trigger: _Trigger) -> None:
        self.folders = [path if path.is_dir() else path.parent for path in paths]
        self.observer, self.trigger = observer, trigger
        self.watches: dict[Path, tuple[tuple[int, int] | None, ObservedWatch | None]] = {}
        for folder in self.folders:
            self.watches[folder] = self._schedule(folder)

    def _schedule(self, folder: Path) -> tuple[tuple[int, int] | None, ObservedWatch | None]:
        identity = _identity(folder)
        if identity is None:
            return None, None
        return identity, self.observer.schedule(self.trigger, str(folder), recursive=True)

    def missing(self) -> list[Path]:
        return [folder for folder in self.folders if _identity(folder) is None]

    def follow(self) -> None:
        """Re-schedule each folder whose identity changed; a change is a reason to reconcile."""
        for folder, (identity, watch) in list(self.watches.items()):
            now = _identity(folder)
            if now == identity:
                continue
            if watch is not None:
                self.observer.unschedule(watch)
            self.watches[folder] = self._schedule(folder)
            log.warning("schedules folder %s %s", folder, "is gone: waiting for it" if now is None else "is back")
            self.trigger.fire()


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(folder)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


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
    folders = _Folders(paths, observer, trigger)
    observer.start()
    try:
        again_at = _run(reconcile, stop, options, folders)
        if on_ready:
            on_ready()
        last_check = time.monotonic()
        while not stop.is_set():
            changed = trigger.changed.wait(timeout=0.2)
            if time.monotonic() - last_check >= FOLDER_CHECK:
                folders.follow()
                last_check = time.monotonic()
            due = again_at is not None and time.monotonic() >= again_at
            if not (changed or trigger.changed.is_set() or due):
                continue
            _wait_until_quiet(trigger, stop, options.debounce)
            trigger.changed.clear()
            if not stop.is_set():
                again_at = _run(reconcile, stop, options, folders)
    finally:
        observer.stop()
        observer.join(timeout=5)


def _run(
    reconcile: Callable[[], object], stop: threading.Event, options: WatchOptions, folders: _Folders,
) -> float | None:
    """One reconcile (unless a folder is missing); the monotonic time to run again, if any."""
    missing = folders.missing()
    if missing:
        log.warning("not reconciling: %s missing; the database keeps its last good state",
                    ", ".join(str(m) for m in missing))
        return None
    again = _reconcile_with_retry(reconcile, stop, options)
    return time.monotonic() + again if isinstance(again, int | float) else None


def _wait_until_quiet(trigger: _Trigger, stop: threading.Event, debounce: float) -> None:
    while not stop.is_set():
        quiet_for = time.monotonic() - trigger.last_event
        if quiet_for >= debounce:
            return
        stop.wait(debounce - quiet_for)


def _reconcile_with_retry(reconcile: Callable[[], object], stop: threading.Event, options: WatchOptions) -> object:
    """Never lets an exception out: the watcher outlives any one reconcile."""
    delay = options.backoff_initial
    while not stop.is_set():
        try:
            return reconcile()
        except DatabaseUnavailable as exc:
            log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
        except Exception:
            log.exception("this reconcile failed; the database keeps its last good state, watching on")
            return None
        stop.wait(delay)
        delay = min(delay * 2, options.backoff_max)
    return None
