"""``reconcile forecast``: every run due in the next hours, by Celery's own schedule math; runs
per minute drawn as a histogram (text), a chart (svg), or listed (json)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from django.utils import timezone

from ..errors import EXIT_OK, ReconcilerError
from ..observe.chart import forecast_json, forecast_svg, forecast_text
from ..observe.forecast import read_forecast
from ..pipeline import database_errors
from .common import UsageError, add_format, failure_json

HELP = "every run due in the next hours: runs per minute and the busiest minutes (text, json, svg)"


def _hours(value: str) -> float:
    hours = float(value)
    if not 0 < hours <= 24 * 31:
        raise argparse.ArgumentTypeError("hours: more than 0, at most 744 (31 days)")
    return hours


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=_hours, default=24.0, help="length of the window (default 24)")
    add_format(parser, ["json", "svg", "text"])
    parser.add_argument("--output", type=Path, help="write to this file instead of the standard output")


def run(options: dict[str, object], out: TextIO) -> int:
    target = options.get("output")
    if isinstance(target, Path):
        writable(target)  # before the database is read: a typo costs nothing
    try:
        with database_errors():
            forecast = read_forecast(float(options["hours"]))  # type: ignore[arg-type]
    except ReconcilerError as exc:
        if options["format"] != "json":
            raise
        out.write(failure_json(exc))
        return exc.exit_code
    tz = timezone.get_current_timezone()
    fmt = options["format"]
    if fmt == "svg":
        text = forecast_svg(forecast, tz, f"Runs per minute, next {options['hours']:g} h")
    elif fmt == "json":
        text = forecast_json(forecast)
    else:
        text = forecast_text(forecast, tz)
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
