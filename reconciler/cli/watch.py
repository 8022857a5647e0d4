"""``reconcile watch``: apply once, then on every change of the schedules folder."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from typing import TextIO

from ..core.errors import EXIT_OK
from ..core.extras import require
from ..declare.files import require_exists
from ..engine.apply import ApplyOptions
from ..engine.grace import DeletionGrace
from ..pipeline import delete_grace, environments_for, reconcile_once, schedules_dir
from .common import add_path, add_plan_options

HELP = "apply now, then re-apply on every change of the schedules folder (Ctrl-C to stop)"
log = logging.getLogger("reconciler.watch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser)
    add_plan_options(parser)
    parser.add_argument("--debounce", type=float, default=0.25, help="seconds of quiet before applying a burst")
    parser.add_argument(
        "--delete-grace", type=float, default=None, metavar="SECONDS",
        help="delete a task only once its declaration has been missing this long, so that a file caught "
        "half-written never costs a row (default: settings.RECONCILER_WATCH_DELETE_GRACE, 10)",
    )


def run(options: dict[str, object], out: TextIO) -> int:
    require("watch", "reconcile watch")
    from ..declare.watch import WatchOptions, watch  # (a) watchdog: the [watch] extra, checked just above

    paths: list[Path] = options.get("path") or [schedules_dir()]  # type: ignore[assignment]
    for path in paths:
        require_exists(path)
    env = environments_for(options.get("env"), need_active=True).active  # type: ignore[arg-type]
    apply_options = ApplyOptions(prune=not options["no_prune"], adopt=bool(options["adopt"]))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def say(line: str) -> None:
        out.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        out.flush()

    grace = DeletionGrace(delete_grace(options.get("delete_grace")))  # type: ignore[arg-type]

    def reconcile() -> float | None:
        return reconcile_once(paths, apply_options, say, grace, env)

    say(f"watching {', '.join(str(p) for p in paths)}")
    watch(paths, reconcile, stop=stop, options=WatchOptions(debounce=float(options["debounce"])))  # type: ignore[arg-type]
    say("stopped")
    return EXIT_OK
