"""Lints: warnings with stable codes for declarations that are valid but probably wrong.

Run after resolve on the validated declarations; a task silences a code with
``ignore: [code, ...]``. Everything expensive is computed once per distinct schedule (a tree
of 10,000 declarations usually has a few dozen), never once per task.
"""
from __future__ import annotations

import calendar
import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from celery.schedules import crontab_parser

from ..core.diagnostics import Diagnostic, Severity, SourceRange
from ..core.schedule import CRON_FIELDS, Clocked, Crontab, Schedule, Solar

if TYPE_CHECKING:
    from .document import ValidDeclaration

HERD_LIMIT = 50
HORIZON = timedelta(days=7)
# The fields that wrap with a fixed length, and their unit (a month's length varies: days of month are left out).
WRAPPING = {"minute": "minutes", "hour": "hours", "month_of_year": "months", "day_of_week": "days"}


def lint(declarations: Sequence[ValidDeclaration], *, now: datetime, herd_limit: int = HERD_LIMIT) -> list[Diagnostic]:
    window = Window(now)
    found = [*_per_schedule(declarations), *overlaps(declarations, window), *herd(declarations, window, herd_limit)]
    return sorted(found, key=_by_file)  # placed file by file: each file's node tree is composed once


def _by_file(d: Diagnostic) -> tuple[str, str]:
    return (d.source.file if d.source else "", d.name or "")


def _silenced(declaration: ValidDeclaration, code: str) -> bool:
    return code in declaration.ignore


def _warn(code: str, declaration: ValidDeclaration, message: str, hint: str, *, key: str | None = None) -> Diagnostic:
    """At the schedule's value (``key``) or at the task's name."""
    source = SourceRange(declaration.file) if key else declaration.source
    path = ("tasks", declaration.name, key) if key else ()
    return Diagnostic(Severity.WARNING, code, message, source, declaration.name, hint, path)


# -- every-minute, uneven-step: properties of one cron ------------------------------------

def _per_schedule(declarations: Iterable[ValidDeclaration]) -> Iterator[Diagnostic]:
    by_cron: dict[Crontab, list[ValidDeclaration]] = defaultdict(list)
    for d in declarations:
        if isinstance(d.spec.schedule, Crontab):
            by_cron[d.spec.schedule].append(d)
    for schedule, tasks in by_cron.items():
        minute, steps = every_minute(schedule), uneven_steps(schedule)
        for d in tasks if minute or steps else ():
            if minute and not _silenced(d, "every-minute"):
                yield _warn("every-minute", d, minute[0], minute[1], key="cron")
            for message, hint in steps:
                if not _silenced(d, "uneven-step"):
                    yield _warn("uneven-step", d, message, hint, key="cron")


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


# -- firing moments over the next days, per distinct schedule -----------------------------

@lru_cache(maxsize=4096)
def _values(field_name: str, spelled: str) -> frozenset[int]:
    size, first = CRON_FIELDS[field_name]
    return frozenset(crontab_parser(size, first).parse(spelled))


class Window:
    """The next 7 days from ``now``: the UTC minutes (since the epoch) at which a schedule
    fires in them, memoised per distinct schedule for one lint run. Intervals have none here:
    their phase depends on when beat last ran them."""

    def __init__(self, now: datetime) -> None:
        self.start = now.replace(second=0, microsecond=0)
        self.end = self.start + HORIZON
        self._memo: dict[Schedule, frozenset[int]] = {}
        self._days: dict[str, list[_Day]] = {}
        self._matching: dict[tuple[str, str, str, str], tuple[list[int], list[date]]] = {}

    def minutes(self, schedule: Schedule) -> frozenset[int]:
        found = self._memo.get(schedule)
        if found is None:
            found = self._memo[schedule] = self._minutes(schedule)
        return found

    def _minutes(self, schedule: Schedule) -> frozenset[int]:
        if isinstance(schedule, Crontab):
            return self._cron_minutes(schedule)
        if isinstance(schedule, Clocked):
            return frozenset([_minute(schedule.at)] if self.start <= schedule.at < self.end else [])
        if isinstance(schedule, Solar):
            # Here, not at the top: declare/ imports without Django set up (the schema check).
            from ..beat.kinds import celery_schedule

            moments = _solar_moments(celery_schedule(schedule, self.start), self.start, self.end)
            return frozenset(_minute(at) for at in moments)
        return frozenset()

    def _cron_minutes(self, schedule: Crontab) -> frozenset[int]:
        """Integer arithmetic on the zone's days (computed once per zone, and the days a
        day-of-week/month/year combination matches, once per combination); a day with a UTC
        offset change goes through real date-times, as Celery would."""
        steady, shifting = self._matching_days(schedule)
        times = [h * 60 + m for h in sorted(_values("hour", schedule.hour))
                 for m in sorted(_values("minute", schedule.minute))]
        first, last = _minute(self.start), _minute(self.end)
        found = [midnight + t for midnight in steady for t in times]
        for day in shifting:
            found.extend(_minute(at) for at in _moments_on(day, times, schedule.timezone))
        return frozenset(m for m in found if first <= m < last)

    def _matching_days(self, schedule: Crontab) -> tuple[list[int], list[date]]:
        """(local midnights in UTC minutes of the steady days, the days whose offset changes)."""
        key = (schedule.timezone, schedule.day_of_week, schedule.day_of_month, schedule.month_of_year)
        found = self._matching.get(key)
        if found is None:
            weekdays, days, months = (_values(n, getattr(schedule, n)) for n in ("day_of_week", "day_of_month",
                                                                                 "month_of_year"))
            matching = [d for d in self._zone_days(schedule.timezone)
                        if d.weekday in weekdays and d.day in days and d.month in months]
            found = self._matching[key] = (
                [d.midnight for d in matching if d.midnight is not None],
                [d.date for d in matching if d.midnight is None],
            )
        return found

    def _zone_days(self, timezone: str) -> list[_Day]:
        days = self._days.get(timezone)
        if days is None:
            days = self._days[timezone] = _days(ZoneInfo(timezone), self.start, self.end)
        return days


class _Day(NamedTuple):
    date: date
    day: int
    month: int
    weekday: int  # 0 = Sunday, as cron counts
    midnight: int | None  # its local midnight in UTC minutes; None when its offset changes


def _days(zone: ZoneInfo, start: datetime, end: datetime) -> list[_Day]:
    day = start.astimezone(zone).date() - timedelta(days=1)
    found = []
    while day <= end.astimezone(zone).date():
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        steady = midnight.utcoffset() == datetime(day.year, day.month, day.day, 23, 59, tzinfo=zone).utcoffset()
        found.append(_Day(day, day.day, day.month, day.isoweekday() % 7, _minute(midnight) if steady else None))
        day += timedelta(days=1)
    return found


def _minute(at: datetime) -> int:
    return int(at.timestamp()) // 60


def _moments_on(day: date, times: list[int], timezone: str) -> Iterator[datetime]:
    zone = ZoneInfo(timezone)
    for t in times:
        yield datetime(day.year, day.month, day.day, t // 60, t % 60, tzinfo=zone).astimezone(UTC)


def _day_matches(day: date, fields: dict[str, frozenset[int]]) -> bool:
    """Celery requires day of month, month and day of week to match together (0 = Sunday)."""
    return (day.day in fields["day_of_month"] and day.month in fields["month_of_year"]
            and day.isoweekday() % 7 in fields["day_of_week"])


def _solar_moments(schedule: object, start: datetime, end: datetime) -> Iterator[datetime]:
    from ..core.timing import upcoming

    for at in upcoming(schedule, start, start, 9):
        if at < end:
            yield at


# -- overlap: the same call twice at the same moment --------------------------------------

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
            if _silenced(here, "overlap"):
                continue
            others = sorted(met[name])
            yield _warn(
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
    return frozenset(h * 60 + m for h in _values("hour", schedule.hour) for m in _values("minute", schedule.minute))


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
    common = {name: _values(name, getattr(a, name)) & _values(name, getattr(b, name)) for name in CRON_FIELDS}
    if not all(common.values()):
        return False
    return any(day <= calendar.monthrange(2024, month)[1] for month in common["month_of_year"]
               for day in common["day_of_month"])


def _cron_fires_at(schedule: Crontab, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(schedule.timezone))
    fields = {name: _values(name, getattr(schedule, name)) for name in CRON_FIELDS}
    return (local.second == 0 and local.minute in fields["minute"] and local.hour in fields["hour"]
            and _day_matches(local.date(), fields))


def _example(a: Schedule, b: Schedule, window: Window) -> str:
    common = window.minutes(a) & window.minutes(b)
    if not common:
        return ""
    first = datetime.fromtimestamp(min(common) * 60, UTC)
    return f" (next at {first:%Y-%m-%d %H:%M} UTC)"


# -- herd: too many tasks due in the same minute ------------------------------------------

def herd(declarations: Sequence[ValidDeclaration], window: Window, limit: int) -> list[Diagnostic]:
    by_schedule: dict[Schedule, list[ValidDeclaration]] = defaultdict(list)
    for d in declarations:
        if d.spec.enabled and not _silenced(d, "herd"):
            by_schedule[d.spec.schedule].append(d)
    due: Counter[int] = Counter()
    for schedule, tasks in by_schedule.items():
        for minute in window.minutes(schedule):
            due[minute] += len(tasks)
    crowded = [minute for minute, count in due.items() if count > limit]
    if not crowded:
        return []
    peak = min(crowded, key=lambda m: (-due[m], m))
    there = heapq.nsmallest(
        3, (d for s, tasks in by_schedule.items() if peak in window.minutes(s) for d in tasks),
        key=lambda d: (d.file, d.source.line or 0, d.name),
    )
    at = datetime.fromtimestamp(peak * 60, UTC)
    others = f"; {len(crowded) - 1} other minute(s) of the next 7 days are over it too" if len(crowded) > 1 else ""
    return [_warn(
        "herd", there[0],
        f"{due[peak]} tasks are due in the same minute, {at:%Y-%m-%d %H:%M} UTC (more than "
        f"RECONCILER_HERD_LIMIT={limit}){others}; among them {', '.join(repr(d.name) for d in there[:3])}",
        "spread the schedules over several minutes, raise RECONCILER_HERD_LIMIT, "
        "or leave a task out of the count with ignore: [herd]",
    )]

