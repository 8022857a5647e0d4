"""Beat's stop signals wait for the send in progress.

Celery's beat handles SIGTERM and SIGINT by saving the schedule (our scheduler's ``close``) and
raising ``SystemExit`` wherever the main thread is. Between ``reserve`` (the entry's
``last_run_at`` becomes the slot it serves) and the broker taking the message, that loses the
run: the slot is saved as served, its message was never sent, and the next beat does not catch
it up. A deploy stops beat with SIGTERM, so a schedule due at that second lost its run (seen in
CI). While a send is held, a stop signal is kept and handled as soon as the send is done.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, FrameType | None], Any]


class DeferredStop:
    """``hold()`` before marking a slot served, ``release()`` once its message is sent (or its
    send failed). Only beat's main thread receives Python's signal handlers, so a hold taken
    on another thread (beat embedded in a worker) changes nothing."""

    def __init__(self) -> None:
        self.holding = False
        self._pending: tuple[Handler, int, FrameType | None] | None = None

    def hold(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in STOP_SIGNALS:
            current = signal.getsignal(signum)
            if isinstance(current, _Deferring):
                current.stop = self  # installed by an earlier scheduler of this process
            elif callable(current):
                signal.signal(signum, _Deferring(self, current))
        self.holding = True

    def release(self) -> None:
        """End the hold; a stop signal kept meanwhile is handled now (Celery's handler raises
        ``SystemExit`` from here)."""
        self.holding = False
        pending, self._pending = self._pending, None
        if pending is not None:
            handler, signum, frame = pending
            handler(signum, frame)

    def keep(self, handler: Handler, signum: int, frame: FrameType | None) -> None:
        if self._pending is None:
            self._pending = (handler, signum, frame)


class _Deferring:
    """The handler installed in place of beat's own: it calls it, unless a send is held."""

    def __init__(self, stop: DeferredStop, handler: Handler) -> None:
        self.stop = stop
        self.handler = handler

    def __call__(self, signum: int, frame: FrameType | None) -> Any:
        if self.stop.holding:
            self.stop.keep(self.handler, signum, frame)
            return None
        return self.handler(signum, frame)
