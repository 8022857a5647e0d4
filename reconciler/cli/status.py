"""``reconcile status [NAME]``: the health of every schedule, with its last and next run; with
NAME, that schedule's last runs, its tracked run and its last skipped runs too. Schedules whose
runs beat skipped in the last 24 hours (overlap, catch-up) get a line each under the table.
``--fail-on late,failing,running-long`` exits 1 when any schedule is in one of those states: a
Kubernetes probe or a monitoring cron. ``--owner`` and ``--severity`` keep the schedules whose
monitor names them (``monitor: owner``), for the table and for ``--fail-on``: a team's probe.

Without django-celery-results no run is recorded: status still shows what the rows say (enabled,
disabled or suspended, when beat last sent each task, its next run) and says in one line that run
health needs the ``[results]`` extra; ``--fail-on`` a run health is then an error, not a pass.
``running-long`` is not a run health: beat's own record of the run in flight tells it."""
from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from django.utils import timezone

from ..core.errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from ..core.extras import install_hint
from ..observe.health import Health, ScheduleHealth, configured_grace, health_of_row, read_health
from ..observe.leases import read_runs
from ..observe.render import FORMAT_VERSION, render_status_json, render_status_text, run_line, skip_lines, when
from ..observe.rows import read_rows
from ..observe.runs import ResultsNotConfigured, RunSummary, last_runs, results_available
from ..observe.skips import SkipSummary, last_skips, recent_skips
from ..pipeline import database_errors
from .common import add_format, failure_json

HELP = (
    "health of every schedule (ok, late, failing, running-long, never-run, suspended, complete, disabled) with its "
    "last and next run, and the runs beat skipped"
)
RUNS_SHOWN = 10
SKIPS_SHOWN = 10
KNOWN_WITHOUT_RUNS = (  # what the rows and leases tell
    Health.SUSPENDED, Health.COMPLETE, Health.DISABLED, Health.RUNNING_LONG,
)
NO_RUNS = (
    "run health (ok, late, failing, never-run) needs recorded runs: "
    f"{install_hint('results')}, add 'django_celery_results' to INSTALLED_APPS and set "
    "CELERY_RESULT_BACKEND = 'django-db', CELERY_RESULT_EXTENDED = True"
)


class UnknownSchedule(ReconcilerError):
    """``status NAME`` for a name with no PeriodicTask row."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="one schedule: its health and its last runs")
    add_format(parser, ["json", "text"])
    parser.add_argument(
        "--fail-on", type=_healths, default=(), metavar="HEALTH[,HEALTH]",
        help="exit 1 when any schedule has one of these healths, e.g. late,failing,running-long",
    )
    parser.add_argument("--owner", help="only the schedules whose monitor names this owner (monitor: owner)")
    parser.add_argument("--severity", help="only the schedules whose monitor has this severity")


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
    if not results_available():
        return _run_without_runs(options, now, out)
    with database_errors():
        schedules = read_health([str(name)] if name else None, now)
        if name and not schedules:
            raise UnknownSchedule(f"no schedule named {name!r}: `reconcile status` lists them all")
        schedules = of_monitor(schedules, options)
        runs = last_runs(str(name), RUNS_SHOWN) if name else None
        skips = recent_skips([str(name)] if name else None, now)
        skipped = last_skips(str(name), SKIPS_SHOWN) if name else None
    render = render_status_json if options["format"] == "json" else render_status_text
    out.write(render(schedules, now, runs, skips, skipped))
    return EXIT_ERROR if failing(schedules, tuple(options.get("fail_on") or ())) else EXIT_OK  # type: ignore[arg-type]


def of_monitor(schedules: tuple[ScheduleHealth, ...], options: dict[str, object]) -> tuple[ScheduleHealth, ...]:
    """The schedules of ``--owner`` and ``--severity`` (both when both are given)."""
    owner, severity = options.get("owner"), options.get("severity")
    return tuple(
        s for s in schedules if (owner is None or s.owner == owner) and (severity is None or s.severity == severity)
    )


def failing(schedules: tuple[ScheduleHealth, ...], fail_on: tuple[Health, ...]) -> bool:
    found = Counter(s.health for s in schedules)
    return any(found[h] for h in fail_on)


def _run_without_runs(options: dict[str, object], now: datetime, out: TextIO) -> int:
    """No result store: the rows' own facts, and one line on what is missing."""
    fail_on: tuple[Health, ...] = tuple(options.get("fail_on") or ())  # type: ignore[arg-type]
    needing_runs = [str(h) for h in fail_on if h not in KNOWN_WITHOUT_RUNS]
    if needing_runs:
        raise ResultsNotConfigured(f"--fail-on {','.join(needing_runs)}: {NO_RUNS}")
    name = options.get("name")
    with database_errors():
        rows = read_rows([str(name)] if name else None)
        if name and not rows:
            raise UnknownSchedule(f"no schedule named {name!r}: `reconcile status` lists them all")
        fixed = configured_grace()
        tracked = read_runs([str(name)] if name else None, now)
        schedules = tuple(health_of_row(row, RunSummary(), now, fixed, run=tracked.get(row.name)) for row in rows)
        schedules = of_monitor(schedules, options)
        sent = {row.name: row.last_sent_at for row in rows}
        skips = recent_skips([str(name)] if name else None, now)
    render = render_rows_json if options["format"] == "json" else render_rows_text
    out.write(render(schedules, sent, now, skips))
    return EXIT_ERROR if failing(schedules, fail_on) else EXIT_OK


def known_state(schedule: ScheduleHealth) -> str:
    """suspended, disabled, running-long or enabled: what a row and its tracked run say without its runs."""
    return str(schedule.health) if schedule.health in KNOWN_WITHOUT_RUNS else "enabled"


def render_rows_text(
    schedules: Sequence[ScheduleHealth], sent: dict[str, datetime | None], now: datetime,
    skips: dict[str, SkipSummary] | None = None,
) -> str:
    header = ("NAME", "STATE", "LAST SENT", "NEXT RUN", "QUEUE", "TASK")
    rows = [
        (s.name, known_state(s), when(sent.get(s.name)), when(s.next_run_at), s.queue or "-", s.task)
        for s in schedules
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in (header, *rows)]
    found = Counter(known_state(s) for s in schedules)
    counts = ", ".join(
        f"{found[k]} {k}" for k in ("enabled", "running-long", "suspended", "complete", "disabled") if found[k]
    )
    lines.append(f"{len(schedules)} schedule{'s' if len(schedules) != 1 else ''}: {counts or 'none'}")
    lines.extend(skip_lines(schedules, skips or {}, now))
    lines.extend(f"suspended since {when(s.suspended_at)}: `reconcile resume {s.name}` ends it"
                 for s in schedules if s.suspended_at is not None and len(schedules) == 1)
    lines.extend(run_line(s.run, now) for s in schedules if s.run is not None and len(schedules) == 1)
    lines.append(NO_RUNS)
    return "\n".join(lines) + "\n"


def render_rows_json(
    schedules: Sequence[ScheduleHealth], sent: dict[str, datetime | None], now: datetime,
    skips: dict[str, SkipSummary] | None = None,
) -> str:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    entries: list[dict[str, Any]] = [
        {
            "name": s.name, "task": s.task, "queue": s.queue, "enabled": s.enabled, "managed": s.managed,
            "health": str(s.health) if s.health in KNOWN_WITHOUT_RUNS else None,
            "last_sent_at": iso(sent.get(s.name)), "next_run_at": iso(s.next_run_at),
            "suspended_at": iso(s.suspended_at), "run": s.run.to_json() if s.run else None,
            "recent_skips": skips[s.name].to_json() if skips and s.name in skips else None,
        }
        for s in schedules
    ]
    payload = {
        "format_version": FORMAT_VERSION, "now": now.isoformat(), "runs_recorded": False, "note": NO_RUNS,
        "counts": dict(sorted(Counter(known_state(s) for s in schedules).items())), "schedules": entries,
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
