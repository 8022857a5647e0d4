"""``reconcile forecast``: every run due in the next hours, by Celery's own schedule math; runs
per minute drawn as a histogram (text), a chart (svg), or listed (json).

From the database (what beat will send), or with ``--from-files`` from the declarations (no
database: what the rows would be once applied), or with ``--against REF`` the load a change
adds: the declarations at a git ref against the working tree's."""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from django.utils import timezone

from ..core.errors import EXIT_ERROR, EXIT_OK, DatabaseUnavailable, NotMigrated, ReconcilerError
from ..core.specs import TaskSpec
from ..engine.diff import desired_spec
from ..observe.chart import forecast_json, forecast_svg, forecast_text
from ..observe.forecast import BusyMinute, Forecast, LoadChange, declared_forecast, read_forecast
from ..pipeline import ValidationResult, database_errors, validate_paths
from ..render.words import count, iso
from .common import UsageError, add_format, add_path, failure_json, render_invalid

HELP = "every run due in the next hours: runs per minute and the busiest minutes (text, json, svg)"
NO_DATABASE_HINT = "`reconcile forecast --from-files` forecasts the declarations without a database"


def _hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of hours") from None
    if not 0 < hours <= 24 * 31:
        raise argparse.ArgumentTypeError("hours: more than 0, at most 744 (31 days)")
    return hours


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=_hours, default=24.0, help="length of the window (default 24)")
    add_format(parser, ["json", "svg", "text"])
    parser.add_argument("--output", type=Path, help="write to this file instead of the standard output")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--from-files", action="store_true",
        help="forecast the declarations (the schedules folder), not the database: needs no database",
    )
    source.add_argument(
        "--against", metavar="REF",
        help="the load a change adds: the declarations at this git ref against the working tree's (no database)",
    )
    add_path(parser)


def run(options: dict[str, object], out: TextIO) -> int:
    fmt = str(options["format"])
    hours = float(options["hours"])  # type: ignore[arg-type]
    target = options.get("output")
    if isinstance(target, Path):
        writable(target)  # before the database is read: a typo costs nothing
    try:
        if options.get("against"):
            return _against(options, str(options["against"]), hours, out)
        if options.get("from_files"):
            validation = validate_paths(
                options.get("path"), env=options.get("env"), require_env=True,  # type: ignore[arg-type]
                use_cache=not options.get("no_cache"), lints=False,
            )
            if not validation.valid:
                out.write(render_invalid(validation, fmt if fmt != "svg" else "text"))
                return EXIT_ERROR
            now = datetime.now(UTC)
            forecast = declared_forecast(_as_applied(validation, now), now, hours)
        else:
            forecast = _from_database(hours)
    except ReconcilerError as exc:
        if fmt != "json":
            raise
        out.write(failure_json(exc))
        return exc.exit_code
    title = f"Runs per minute, next {hours:g} h" + (" (declarations)" if options.get("from_files") else "")
    return _write(_render(forecast, fmt, title), options, out)


def _from_database(hours: float) -> Forecast:
    try:
        with database_errors():
            return read_forecast(hours)
    except NotMigrated as exc:
        raise NotMigrated(f"{exc}; {NO_DATABASE_HINT}") from exc
    except DatabaseUnavailable as exc:
        raise DatabaseUnavailable(f"{exc}; {NO_DATABASE_HINT}") from exc


def _as_applied(validation: ValidationResult, now: datetime) -> list[TaskSpec]:
    """The declarations as apply would write them as new rows (a past one-off is not armed)."""
    return [desired_spec(t.spec, None, now) for t in validation.declared.tasks]


def _against(options: dict[str, object], ref: str, hours: float, out: TextIO) -> int:
    # Start-up, not (a)/(b)/(c): every `manage.py reconcile` subcommand imports this module to build
    # its parser, and the review package (git, an HTTP client) adds ~20 ms that only --against needs.
    from ..review.against import plan_against

    fmt = str(options["format"])
    review = plan_against(
        ref, options.get("path"), now=datetime.now(UTC), env=options.get("env"),  # type: ignore[arg-type]
        load_hours=hours,
    )
    if review.plan is None or review.load is None:
        out.write(render_invalid(review.validation, fmt if fmt != "svg" else "text"))
        return EXIT_ERROR
    load, label = review.load, f"{review.ref} ({review.commit[:12]})"
    if fmt == "json":
        payload = {
            "format_version": 1, "against": {"ref": review.ref, "commit": review.commit}, **load.to_json(),
            "before": load.before.to_json(), "after": load.after.to_json(),
        }
        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "svg":
        text = _render(load.after, fmt, f"Runs per minute, next {hours:g} h, with this change (against {label})")
    else:
        text = _render(load.after, fmt, "") + "\n" + compared(load, label)
    return _write(text, options, out)


def compared(load: LoadChange, label: str) -> str:
    """What the change adds to the load, in words."""
    before, after = load.before.total, load.after.total
    lines = [f"against {label}: {before:,} → {after:,} runs in the next {load.hours:g} h ({after - before:+,})"]

    def busy(b: BusyMinute | None) -> str:
        return f"{iso(b.minute)} with {count(b.runs, 'run')}" if b else "none"

    was, now = busy(load.busiest_before), busy(load.busiest_after)
    lines.append(f"busiest minute: {was} → {now}" if load.busiest_changed else f"busiest minute unchanged: {now}")
    return "\n".join(lines) + "\n"


def _render(forecast: Forecast, fmt: str, title: str) -> str:
    tz = timezone.get_current_timezone()
    if fmt == "svg":
        return forecast_svg(forecast, tz, title)
    if fmt == "json":
        return forecast_json(forecast)
    return forecast_text(forecast, tz)


def _write(text: str, options: dict[str, object], out: TextIO) -> int:
    target = options.get("output")
    if isinstance(target, Path):
        write_output(target, text)
        out.write(f"wrote {target}\n")
    else:
        out.write(text)
    return EXIT_OK


def writable(target: Path) -> None:
    """``--output`` names a file in a folder that exists; anything else is a usage error (exit 2)."""
    if target.is_dir():
        raise UsageError(f"--output {target} is a folder: name a file in it, e.g. {target / 'forecast.txt'}")
    if not target.parent.is_dir():
        raise UsageError(f"--output {target}: the folder {target.parent} does not exist; create it first")


def write_output(target: Path, text: str) -> None:
    """A refused write (permissions, a full disk) is a clear error (exit 2), not a traceback."""
    writable(target)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {target}: cannot write it ({exc.strerror or exc}); nothing was written") from None
