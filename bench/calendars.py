"""Benchmark: the forecast (``observe.forecast.read_forecast``, the next 24 hours of every
enabled schedule, what the admin's forecast page and the API show) at 10,000 schedules with
calendars, against the same schedules without them (issue 20: target < 2x).

The schedules are ``bench/generate.py``'s declarations, applied; then every row but the clocked
ones gets a calendar (``ManagedTask.calendar``, as apply stores it) from a pool: public holidays
of a country (FR, DE-BY, US-NY, JP), excluded dates and ranges, an excluded cron (no run on the
first of a month, or none on Sunday), and for the crontab rows a second cron (a ``cron:`` list:
more runs to forecast, which the ratio includes). Seconds: best of REPEAT, warm (the rows' memo
and each schedule object built once, as in a serving process); the first computation too.

Usage: .venv/bin/python bench/calendars.py [--sizes 10000] [--backends sqlite] [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import run_child, setup_child

TARGET = 2.0  # with calendars / without, at 10,000 schedules
HOLIDAYS = ("FR", "DE-BY", "US-NY", "JP")
DATES = (("2026-12-24", "2026-12-26..2027-01-02"), ("2026-08-01..2026-08-31",), ())
CRONS = (("* * 1 * *",), ("* * * * 0",), ())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(int(options.child), int(os.environ["BENCH_REPEAT"]))))
        return
    os.environ["BENCH_REPEAT"] = str(options.repeat)
    for backend in options.backends.split(","):
        print(f"\n{backend} (forecast of the next 24 hours, best of {options.repeat})")
        for size in (int(s) for s in options.sizes.split(",")):
            m = run_child(__file__, backend, size)
            ratio = m["with"]["seconds"] / m["without"]["seconds"]
            verdict = ("met" if ratio < TARGET else "NOT met") if size >= 10_000 else ""
            for key in ("without", "with"):
                print(f"  {size:>7,} schedules  {key + ' calendars':<18} {m[key]['seconds'] * 1000:8.1f} ms"
                      f"  (first {m[key]['first'] * 1000:8.1f} ms, {m[key]['runs']:,} runs forecast)")
            print(f"  ratio {ratio:.2f}x   target < {TARGET:.0f}x at 10,000: {verdict}")


def calendars(rows: list[tuple[int, bool]]) -> dict[int, str]:
    """Each row's calendar (JSON, as apply stores it), from the pool; a second cron for crontabs."""
    from reconciler.core.calendar import Calendar

    found = {}
    for index, (pk, crontab) in enumerate(rows):
        calendar = Calendar(
            also_cron=("30 14 * * 1-5",) if crontab and index % 2 else (),
            holidays=HOLIDAYS[index % len(HOLIDAYS)],
            exclude_dates=DATES[index % len(DATES)],
            exclude_cron=CRONS[index % len(CRONS)],
        )
        found[pk] = calendar.to_json()
    return found


def measure(size: int, repeat: int) -> dict[str, Any]:
    tree = Path(tempfile.mkdtemp()) / "schedules"
    os.environ["RECONCILER_SCHEDULES_DIR"] = str(tree)
    setup_child()
    from django.db import transaction

    from bench.generate import write_tree
    from reconciler.engine.apply import ApplyOptions
    from reconciler.models import ManagedTask
    from reconciler.observe.forecast import read_forecast
    from reconciler.pipeline import apply_paths

    write_tree(tree, size)
    outcome = apply_paths([tree], options=ApplyOptions(revision="bench"))
    assert outcome.result is not None, outcome.validation.diagnostics[:3]

    without = best(repeat, lambda: read_forecast(hours=24))
    rows = list(ManagedTask.objects.filter(periodic_task__clocked__isnull=True)
                .values_list("pk", "periodic_task__crontab_id"))
    with transaction.atomic():
        for pk, json_text in calendars([(pk, cron is not None) for pk, cron in rows]).items():
            ManagedTask.objects.filter(pk=pk).update(calendar=json_text)
    with_calendars = best(repeat, lambda: read_forecast(hours=24))
    return {"without": without, "with": with_calendars}


def best(repeat: int, fn: Callable[[], Any]) -> dict[str, Any]:
    start = time.process_time()
    value = fn()
    first = time.process_time() - start
    seconds = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        seconds.append(time.process_time() - start)
    return {"seconds": min(seconds), "first": first, "runs": runs_of(value)}


def runs_of(forecast: Any) -> int:
    """How many runs the forecast counted."""
    return int(forecast.total)


if __name__ == "__main__":
    main()
