"""``reconcile status [NAME]``: the health of every schedule, with its last and next run; with
NAME, that schedule's last runs too. ``--fail-on late,failing`` exits 1 when any schedule is
in one of those states: a Kubernetes probe or a monitoring cron."""
from __future__ import annotations

import argparse
from collections import Counter
from typing import TextIO

from django.utils import timezone

from ..errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from ..observe.health import Health, ScheduleHealth, read_health
from ..observe.render import render_status_json, render_status_text
from ..observe.runs import last_runs
from ..pipeline import database_errors
from .common import add_format, failure_json

HELP = "health of every schedule (ok, late, failing, never-run, suspended, disabled) with its last and next run"
RUNS_SHOWN = 10


class UnknownSchedule(ReconcilerError):
    """``status NAME`` for a name with no PeriodicTask row."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="one schedule: its health and its last runs")
    add_format(parser, ["json", "text"])
    parser.add_argument(
        "--fail-on", type=_healths, default=(), metavar="HEALTH[,HEALTH]",
        help="exit 1 when any schedule has one of these healths, e.g. late,failing",
    )


def _healths(value: str) -> tuple[Health, ...]:
    """At least one health: an empty list would make a probe that can never fail."""
    choices = ", ".join(h.value for h in Health)
    try:
        healths = tuple(Health(part.strip()) for part in value.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: healths are {choices}") from None
    if not healths:
        raise argparse.ArgumentTypeError(f"{value!r} names no health (a probe that could never fail): use {choices}")
    return healths


def run(options: dict[str, object], out: TextIO) -> int:
    try:
        return _run(options, out)
    except ReconcilerError as exc:
        if options["format"] != "json":
            raise
        out.write(failure_json(exc))
        return exc.exit_code


def _run(options: dict[str, object], out: TextIO) -> int:
    name = options.get("name")
    now = timezone.now()
    with database_errors():
        schedules = read_health([str(name)] if name else None, now)
        if name and not schedules:
            raise UnknownSchedule(f"no schedule named {name!r}: `reconcile status` lists them all")
        runs = last_runs(str(name), RUNS_SHOWN) if name else None
    render = render_status_json if options["format"] == "json" else render_status_text
    out.write(render(schedules, now, runs))
    return EXIT_ERROR if failing(schedules, tuple(options.get("fail_on") or ())) else EXIT_OK  # type: ignore[arg-type]


def failing(schedules: tuple[ScheduleHealth, ...], fail_on: tuple[Health, ...]) -> bool:
    found = Counter(s.health for s in schedules)
    return any(found[h] for h in fail_on)
