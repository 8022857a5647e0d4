"""A command-line run ends without taking its heap apart object by object.

At 100,000 declarations the validated tree and the plan are millions of small objects. Freeing
them when the subcommand returns, then again when the interpreter finalizes its modules, took
0.9 s of a 15 s first apply: time spent handing back memory the operating system takes back
at once when the process ends. So a run from the command line (``manage.py reconcile …``,
``skipped``) keeps its results (``keep``), flushes its output, runs the exit functions (logging
flushes its handlers, a measured subprocess saves its coverage), and ends with ``os._exit``.
Instagram's ``atexit.register(os._exit, 0)`` is the same idea, without those exit functions.

Everything else returns as usual: ``call_command`` (tests, the watcher, beat start-up) never
arms it, so nothing is kept across calls; a run that ends with a traceback or a message, or
while another thread still runs (a normal exit joins it), finalizes the normal way.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_kept: list[object] = []
_armed = False


def keep(*objects: object) -> None:
    """Hold ``objects`` until the process ends, in a command-line run only (``skipped``)."""
    if _armed:
        _kept.extend(objects)


@contextmanager
def skipped() -> Iterator[None]:
    """Around a whole command-line run: once it returns or exits with a code, end the process."""
    global _armed
    _armed = True
    try:
        yield
    except SystemExit as exc:
        if exc.code is not None and not (isinstance(exc.code, int) and 0 <= exc.code <= 255):
            raise  # a message to print, or a code out of a status's range: the interpreter's own exit
        code = exc.code or 0
    else:
        code = 0
    finally:
        _armed = False
    if threading.active_count() > 1:
        _kept.clear()
        raise SystemExit(code)
    end(code)


def end(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)
