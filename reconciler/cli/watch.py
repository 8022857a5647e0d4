"""``reconcile watch``: apply once, then on every change of the schedules folder."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from typing import TextIO

from django.db import connections

from ..apply import ApplyOptions
from ..errors import EXIT_OK, DatabaseUnavailable, LockTimeout, RefusedApply
from ..pipeline import apply_paths, schedules_dir
from ..render.diagnostics import render_text as render_diagnostics
from ..watch import WatchOptions, watch
from .common import add_path, add_plan_options

HELP = "apply now, then re-apply on every change of the schedules folder (Ctrl-C to stop)"
log = logging.getLogger("reconciler.watch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser)
    add_plan_options(parser)
    parser.add_argument("--debounce", type=float, default=0.25, help="seconds of quiet before applying a burst")


def run(options: dict[str, object], out: TextIO) -> int:
    paths: list[Path] = options.get("path") or [schedules_dir()]  # type: ignore[assignment]
    apply_options = ApplyOptions(prune=not options["no_prune"], adopt=bool(options["adopt"]))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def say(line: str) -> None:
        out.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        out.flush()

    def reconcile() -> None:
        reconcile_once(paths, apply_options, say)

    say(f"watching {', '.join(str(p) for p in paths)}")
    watch(paths, reconcile, stop=stop, options=WatchOptions(debounce=float(options["debounce"])))  # type: ignore[arg-type]
    say("stopped")
    return EXIT_OK


def reconcile_once(paths: list[Path], options: ApplyOptions, say) -> None:  # type: ignore[no-untyped-def]
    """One reconcile, logged in one line. Invalid files and refusals keep the last good state;
    an unreachable database is raised for the watcher to retry with backoff."""
    started = time.perf_counter()
    try:
        outcome = apply_paths(paths, options=options)
    except (DatabaseUnavailable, LockTimeout):
        connections.close_all()  # a restarted server needs a new connection
        raise
    except RefusedApply as exc:
        say(f"refused: {exc}")
        return
    if outcome.result is None:
        validation = outcome.validation
        errors = sum(d.is_error for d in validation.diagnostics)
        say(f"invalid: {errors} error(s); the database keeps its last good state")
        say(render_diagnostics(validation.diagnostics, checked=validation.checked).rstrip())
        return
    s = outcome.result.plan.summary()
    seconds = time.perf_counter() - started
    if outcome.result.written:
        say(f"applied: +{s['create']} ~{s['update']} -{s['delete']} ({s['unchanged']} unchanged) in {seconds:.3f} s")
    else:
        say(f"in sync: no changes ({s['unchanged']} tasks) in {seconds:.3f} s")
