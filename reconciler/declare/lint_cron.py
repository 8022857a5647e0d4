"""Lints of one cron, computed once per distinct cron: every-minute, uneven-step. Every cron
of a ``cron:`` list is judged (each warning names its cron)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from ..core.diagnostics import Diagnostic
from ..core.schedule import CRON_FIELDS, Crontab
from .firing import crons_of
from .lint_finding import silenced, warn

if TYPE_CHECKING:
    from .shapes import ValidDeclaration

# The fields that wrap with a fixed length, and their unit (a month's length varies: days of month are left out).
WRAPPING = {"minute": "minutes", "hour": "hours", "month_of_year": "months", "day_of_week": "days"}


def per_schedule(declarations: Iterable[ValidDeclaration]) -> Iterator[Diagnostic]:
    by_cron: dict[Crontab, list[ValidDeclaration]] = defaultdict(list)
    for d in declarations:
        for cron in crons_of(d.spec.schedule, d.spec.calendar):
            by_cron[cron].append(d)
    for schedule, tasks in by_cron.items():
        minute, steps = every_minute(schedule), uneven_steps(schedule)
        for d in tasks if minute or steps else ():
            if minute and not silenced(d, "every-minute"):
                yield warn("every-minute", d, minute[0], minute[1], key="cron")
            for message, hint in steps:
                if not silenced(d, "uneven-step"):
                    yield warn("uneven-step", d, message, hint, key="cron")


@lru_cache(maxsize=65536)  # per distinct cron: a tree of 100,000 declarations has ~20,000
def every_minute(schedule: Crontab) -> tuple[str, str] | None:
    if schedule.minute != "*":
        return None
    expression = schedule.expression
    if expression == "* * * * *":
        return (
            f'cron "{expression}" fires every minute, 1,440 times a day',
            'once an hour is "0 * * * *"; if every minute is meant, say it with ignore: [every-minute]',
        )
    at_zero = " ".join(["0", *expression.split()[1:]])
    return (
        f'cron "{expression}" fires every minute of the hours it matches (the minute field is "*")',
        f'did you mean "{at_zero}"? If every minute is meant, say it with ignore: [every-minute]',
    )


@lru_cache(maxsize=65536)
def uneven_steps(schedule: Crontab) -> tuple[tuple[str, str], ...]:
    found = []
    for name, unit in WRAPPING.items():
        spelled = getattr(schedule, name)
        if not spelled.startswith("*/"):
            continue
        step = int(spelled[2:])
        size, first = CRON_FIELDS[name]
        if size % step == 0:
            continue
        last = first + ((size - 1) // step) * step
        wrap = first + size - last
        divisors = ", ".join(str(n) for n in range(1, size) if size % n == 0)
        found.append((
            f'{name.replace("_", " ")} "{spelled}" does not divide {size}: it fires at {first}, {first + step}, … '
            f"{last}, then again at {first} after only {wrap} {unit}",
            f"use a step that divides {size} ({divisors}) or list the values",
        ))
    return tuple(found)
