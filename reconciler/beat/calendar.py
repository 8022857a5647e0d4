"""A schedule's calendar, evaluated: the Celery schedule object beat runs for a row with a
``core.calendar.Calendar``. It wraps the row's own schedule object (``kinds.schedule_of``) and
answers what ``core.timing`` and ``core.sends`` ask of any schedule (``remaining_estimate``,
``is_due``, ``nowfun``, ``tz``; no ``run_every``, so its slots are walked, never counted by
arithmetic). Beat and every prediction read it the same way (docs/calendars.md):

- **Slots.** The union of the row's schedule and the calendar's other crons (``also_cron``,
  Celery's ``TzAwareCrontab`` in the row's time zone, as beat builds them: DST is theirs).
- **Exclusions.** A slot is not run when its date, read in the calendar's ``zone``, is a public
  holiday (the ``holidays`` library, memoised per country, subdivision and year) or in an
  excluded date or range, or when an excluded cron (Celery's own expansion of its fields, day
  of month AND day of week as Celery) matches its local minute. The search for the next slot
  jumps over an excluded day, range or hour at once, and gives up after ``SEARCH_LIMIT``
  excluded slots in a row: the schedule then has no further run.
- **End.** No slot after ``until``. ``max_runs`` is not the schedule's: the entry counts sends.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from celery import schedules
from django_celery_beat.tzcrontab import TzAwareCrontab

from ..core.calendar import NO_CALENDAR, Calendar
from ..core.schedule import CRON_FIELD_ORDER
from ..core.timing import SECOND, at_moment, slot_after

SEARCH_LIMIT = 10_000  # excluded slots in a row before the search gives up (after day/hour jumps)
NEVER = 86400.0 * 365  # seconds: ``is_due``'s next check when no slot follows

Memo = list[tuple[datetime, datetime | None] | None]  # per part: (asked after, its answer)
State = tuple[datetime, list[Any], Memo]  # a stopped clock's moment, its parts stopped there, their memo


@lru_cache(maxsize=1024)
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays of a country (and subdivision) in a year; none for a code the
    ``holidays`` library does not know (validation refuses those)."""
    try:
        return frozenset(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))
    except (NotImplementedError, KeyError, ValueError):
        return frozenset()


@dataclass(frozen=True)
class CronMatch:
    """An excluded cron, expanded by Celery's crontab parser."""

    minute: frozenset[int]
    hour: frozenset[int]
    day_of_month: frozenset[int]
    month_of_year: frozenset[int]
    day_of_week: frozenset[int]  # 0 = Sunday, as Celery

    def matches(self, local: datetime) -> bool:
        return (
            local.minute in self.minute and local.hour in self.hour and local.day in self.day_of_month
            and local.month in self.month_of_year and local.isoweekday() % 7 in self.day_of_week
        )

    @property
    def whole_hours(self) -> bool:
        return len(self.minute) == 60

    @property
    def whole_days(self) -> bool:
        return self.whole_hours and len(self.hour) == 24


@lru_cache(maxsize=1024)
def cron_match(expression: str) -> CronMatch:
    """A 5-field cron (minute hour day-of-month month day-of-week), expanded; ``ValueError``
    (Celery's) when invalid."""
    fields = dict(zip(CRON_FIELD_ORDER, expression.split(), strict=True))
    parsed = schedules.crontab(**fields)
    return CronMatch(*(frozenset(getattr(parsed, name)) for name in CRON_FIELD_ORDER))


def date_ranges(specs: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """``"2026-12-24"`` or ``"2026-12-26..2027-01-02"`` (inclusive) as sorted, merged
    (first, last) day ordinals."""
    spans: list[tuple[int, int]] = []
    for spec in specs:
        start, _, end = spec.partition("..")
        spans.append((date.fromisoformat(start).toordinal(), date.fromisoformat(end or start).toordinal()))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


@dataclass(frozen=True)
class Exclusions:
    """What a calendar excludes, compiled once per calendar."""

    zone: tzinfo
    holidays: tuple[str, str | None] | None
    ranges: tuple[tuple[int, int], ...]
    starts: tuple[int, ...]  # each range's first ordinal, for ``bisect``
    crons: tuple[CronMatch, ...]

    @classmethod
    def of(cls, calendar: Calendar, zone: tzinfo) -> Exclusions:
        ranges = date_ranges(calendar.exclude_dates)
        crons = tuple(cron_match(expression) for expression in calendar.exclude_cron)
        return cls(zone, calendar.holiday_country, ranges, tuple(first for first, _ in ranges), crons)

    @property
    def empty(self) -> bool:
        return self.holidays is None and not self.ranges and not self.crons

    def resume_after(self, slot: datetime) -> datetime | None:
        """None when ``slot`` (UTC) runs; else the moment to look for slots strictly after:
        the end of the excluded day, range or hour (the last second before it), or the slot."""
        local = slot.astimezone(self.zone)
        day = local.date()
        ordinal = day.toordinal()
        at = bisect_right(self.starts, ordinal) - 1
        if at >= 0 and self.ranges[at][1] >= ordinal:
            return self._day_end(date.fromordinal(self.ranges[at][1]), slot)
        if self.holidays is not None and day in holiday_dates(*self.holidays, day.year):
            return self._day_end(day, slot)
        for cron in self.crons:
            if cron.matches(local):
                if cron.whole_days:
                    return self._day_end(day, slot)
                if cron.whole_hours:
                    return self._hour_end(local, slot)
                return slot
        return None

    def _day_end(self, day: date, slot: datetime) -> datetime:
        following = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)
        return max(following - SECOND, slot)

    def _hour_end(self, local: datetime, slot: datetime) -> datetime:
        wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return max(wall.replace(tzinfo=self.zone).astimezone(UTC) - SECOND, slot)


class CalendarSchedule:
    """The row's schedule, with its calendar: see the module's docstring."""

    def __init__(self, parts: tuple[Any, ...], calendar: Calendar, zone: tzinfo) -> None:
        self.parts = parts  # the row's schedule object first, then the ``also_cron`` crontabs
        self.calendar = calendar
        self.exclusions = Exclusions.of(calendar, zone)
        self.until = datetime.fromisoformat(calendar.until).astimezone(UTC) if calendar.until else None
        self.tz = getattr(parts[0], "tz", None)
        self._nowfun: Callable[[], datetime] | None = None
        self._stopped: State | None = None

    # -- the clock: ``core.timing.at_moment`` copies the object and sets ``nowfun`` ------------

    @property
    def nowfun(self) -> Callable[[], datetime] | None:
        return self._nowfun

    @nowfun.setter
    def nowfun(self, function: Callable[[], datetime] | None) -> None:
        self._nowfun = function
        self._stopped = None  # a copy's parts and memo are its own, built at the first question

    def now(self) -> datetime:
        return self._nowfun() if self._nowfun is not None else datetime.now(UTC)

    def _state(self) -> State:
        if self._stopped is not None:
            return self._stopped
        now = self.now()
        memo: Memo = [None] * len(self.parts)
        state = (now, [at_moment(part, now) for part in self.parts], memo)
        if self._nowfun is not None:  # a stopped clock: the parts' answers hold until it moves
            self._stopped = state
        return state

    # -- what beat and ``core.timing`` ask --------------------------------------------------------

    def next_slot(self, last: datetime) -> datetime | None:
        """The first slot strictly after ``last`` that the calendar runs (UTC, whole seconds)."""
        now, frozen, memo = self._state()
        cursor = last
        for _ in range(SEARCH_LIMIT):
            candidate = self._union_after(now, frozen, memo, cursor)
            if candidate is None or (self.until is not None and candidate > self.until):
                return None
            resume = self.exclusions.resume_after(candidate) if not self.exclusions.empty else None
            if resume is None:
                return candidate
            cursor = resume
        return None

    @staticmethod
    def _union_after(
        now: datetime, frozen: list[Any], memo: Memo, last: datetime) -> datetime | None:
        """The earliest slot of any part strictly after ``last``; each part's previous answer is
        reused while it still follows ``last`` (a walk asks each slot once)."""
        best: datetime | None = None
        for index, part in enumerate(frozen):
            known = memo[index]
            if known is not None and known[0] <= last and (known[1] is None or known[1] > last):
                following = known[1]
            else:
                following = slot_after(part, now, last)
                memo[index] = (last, following)
            if following is not None and (best is None or following < best):
                best = following
        return best

    def remaining_estimate(self, last_run_at: datetime) -> timedelta | None:
        following = self.next_slot(last_run_at)
        return None if following is None else following - self.now()

    def is_due(self, last_run_at: datetime) -> schedules.schedstate:
        remaining = self.remaining_estimate(last_run_at)
        if remaining is None:
            return schedules.schedstate(False, NEVER)
        if remaining > timedelta(0):
            return schedules.schedstate(False, remaining.total_seconds())
        following = self.remaining_estimate(self.now())
        return schedules.schedstate(True, NEVER if following is None else max(following.total_seconds(), 0.0))

    def __repr__(self) -> str:
        return f"<calendar {self.parts!r} {self.calendar!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CalendarSchedule):
            return NotImplemented
        return self.parts == other.parts and self.calendar == other.calendar

    __hash__ = None  # type: ignore[assignment]


def zone_of(schedule: Any, calendar: Calendar) -> tzinfo:
    """Where dates and excluded crons are read: the calendar's zone, else the crontab's, else UTC."""
    if calendar.zone:
        return ZoneInfo(calendar.zone)
    tz = getattr(schedule, "tz", None) if isinstance(schedule, schedules.crontab) else None
    return tz if isinstance(tz, tzinfo) else UTC


def calendar_schedule(schedule: Any, calendar: Calendar, crontab: Callable[..., Any] = TzAwareCrontab) -> Any:
    """The schedule object beat runs for a row with ``calendar``: ``schedule`` itself without one
    (or for a clocked moment, its own one-off); ``crontab(tz=..., **fields)`` builds the
    ``also_cron`` crontabs (``kinds.schedule_of``'s, as beat builds them)."""
    if schedule is None or calendar == NO_CALENDAR or hasattr(schedule, "clocked_time"):
        return schedule
    zone = zone_of(schedule, calendar)
    tz = getattr(schedule, "tz", None) if isinstance(schedule, schedules.crontab) else zone
    parts = (schedule, *(crontab(tz=tz, **dict(zip(CRON_FIELD_ORDER, cron.split(), strict=True)))
                         for cron in calendar.also_cron))
    return CalendarSchedule(parts, calendar, zone)

