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
from .common import add_format, failure_json

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
    target = options.get("output")
    if isinstance(target, Path):
        target.write_text(text, encoding="utf-8")
        out.write(f"wrote {target}\n")
    else:
        out.write(text)
    return EXIT_OK
