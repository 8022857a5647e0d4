"""The overlap lint: the same call (task, args, kwargs) twice at the same moment."""
from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..core.diagnostics import Diagnostic
from ..core.schedule import CRON_FIELDS, Clocked, Crontab, Schedule
from .firing import Window, day_matches, field_values
from .lint_finding import silenced, warn

if TYPE_CHECKING:
    from .shapes import ValidDeclaration


def overlaps(declarations: Iterable[ValidDeclaration], window: Window) -> Iterator[Diagnostic]:
    """Compared per distinct schedule inside each (task, args, kwargs) group; one warning per
    declaration, naming the others."""
    groups: dict[tuple[str, str, str], dict[Schedule, list[ValidDeclaration]]] = defaultdict(lambda: defaultdict(list))
    for d in declarations:
        if d.spec.enabled:
            groups[(d.spec.task, d.spec.args, d.spec.kwargs)][d.spec.schedule].append(d)
    for group in groups.values():
        if sum(len(tasks) for tasks in group.values()) < 2:
            continue
        met: dict[str, set[str]] = defaultdict(set)
        moments: dict[str, str] = {}
        by_name = {d.name: d for tasks in group.values() for d in tasks}
        for schedule, tasks in group.items():
            if len(tasks) > 1 and fires(schedule, window):
                _meet(met, moments, tasks, tasks, _example(schedule, schedule, window))
        for a, b in sorted(_candidates(list(group), window), key=str):
            if coincide(a, b, window):
                _meet(met, moments, group[a], group[b], _example(a, b, window))
        for name in sorted(met):
            here = by_name[name]
            if silenced(here, "overlap"):
                continue
            others = sorted(met[name])
            yield warn(
                "overlap", here,
                f"{name!r} and {', '.join(map(repr, others[:3]))}{' …' if len(others) > 3 else ''} "
                f"call {here.spec.task} with the same arguments and fire at the same moment{moments[name]}: "
                "the task runs twice",
                "merge the declarations, change a schedule, or say it is meant with ignore: [overlap]",
            )


SHOWN = 5  # others kept per declaration: the message names three, then "…" when there are more


def _meet(
    met: dict[str, set[str]], moments: dict[str, str], left: list[ValidDeclaration],
    right: list[ValidDeclaration], example: str,
) -> None:
    """Record that every declaration of ``left`` meets every one of ``right`` (a group of
    thousands of identical declarations is common: linear, not one entry per pair). Only the
    smallest names are kept, which is all the message shows."""
    first_left = sorted(d.name for d in left)[:SHOWN]
    first_right = first_left if right is left else sorted(d.name for d in right)[:SHOWN]
    sides = ((left, first_right),) if right is left else ((left, first_right), (right, first_left))
    for mine, theirs in sides:
        shown = set(theirs)
        for declaration in mine:
            name = declaration.name
            others = theirs if name not in shown else [other for other in theirs if other != name]
            if others:
                met[name].update(others)
                moments.setdefault(name, example)


def _candidates(schedules: list[Schedule], window: Window) -> set[tuple[Schedule, Schedule]]:
    """Pairs that may coincide, found through buckets instead of every pair: the same UTC
    minute within the window, or (crons and one-offs, beyond it) the same minute of the day
    in a cron's time zone."""
    buckets: dict[object, list[Schedule]] = defaultdict(list)
    zones = sorted({s.timezone for s in schedules if isinstance(s, Crontab)})
    for schedule in schedules:
        for minute in window.minutes(schedule):
            buckets[minute].append(schedule)
        if isinstance(schedule, Crontab):
            for moment in _day_minutes(schedule):
                buckets[(schedule.timezone, moment)].append(schedule)
        elif isinstance(schedule, Clocked):
            for zone in zones:
                local = schedule.at.astimezone(ZoneInfo(zone))
                buckets[(zone, local.hour * 60 + local.minute)].append(schedule)
    pairs: set[tuple[Schedule, Schedule]] = set()
    for together in buckets.values():
        if len(together) > 1:
            pairs.update(combinations(dict.fromkeys(together), 2))
    return pairs


@lru_cache(maxsize=65536)
def _day_minutes(schedule: Crontab) -> frozenset[int]:
    hours, minutes = field_values("hour", schedule.hour), field_values("minute", schedule.minute)
    return frozenset(h * 60 + m for h in hours for m in minutes)


def fires(schedule: Schedule, window: Window) -> bool:
    """Two declarations with the same schedule fire together (beat loads both at once)."""
    return not isinstance(schedule, Clocked) or schedule.at >= window.start


def coincide(a: Schedule, b: Schedule, window: Window) -> bool:
    if isinstance(a, Crontab) and isinstance(b, Crontab) and a.timezone == b.timezone:
        return _crons_meet(a, b)
    if isinstance(a, Clocked) and isinstance(b, Clocked):
        return a.at == b.at
    if isinstance(a, Clocked) and isinstance(b, Crontab):
        return _cron_fires_at(b, a.at)
    if isinstance(b, Clocked) and isinstance(a, Crontab):
        return _cron_fires_at(a, b.at)
    return bool(window.minutes(a) & window.minutes(b))


def _crons_meet(a: Crontab, b: Crontab) -> bool:
    """Exact, with no horizon: a common minute, hour, month, day and weekday, on a real date
    (every weekday falls on every real date within 28 years)."""
    if not _day_minutes(a) & _day_minutes(b):
        return False
    common = {name: field_values(name, getattr(a, name)) & field_values(name, getattr(b, name)) for name in CRON_FIELDS}
    if not all(common.values()):
        return False
    return any(day <= calendar.monthrange(2024, month)[1] for month in common["month_of_year"]
               for day in common["day_of_month"])


def _cron_fires_at(schedule: Crontab, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(schedule.timezone))
    fields = {name: field_values(name, getattr(schedule, name)) for name in CRON_FIELDS}
    return (local.second == 0 and local.minute in fields["minute"] and local.hour in fields["hour"]
            and day_matches(local.date(), fields))


def _example(a: Schedule, b: Schedule, window: Window) -> str:
    common = window.minutes(a) & window.minutes(b)
    if not common:
        return ""
    first = datetime.fromtimestamp(min(common) * 60, UTC)
    return f" (next at {first:%Y-%m-%d %H:%M} UTC)"
