"""What a calendar excludes, compiled once per calendar and asked of each slot a walk finds
(``beat.calendar``): a slot's local date in the calendar's zone against public holidays (the
``holidays`` library, memoised per country, subdivision and year) and excluded dates and ranges;
its local minute against excluded crons (Celery's own expansion of their fields; day of month
AND day of week, as Celery). A walk keeps one local day's verdict while it stays inside it, and
jumps over an excluded day, range or hour at once."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from celery import schedules

from ..core.calendar import Calendar
from ..core.schedule import CRON_FIELD_ORDER
from ..core.timing import SECOND


@lru_cache(maxsize=1024)
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays of a country (and subdivision) in a year; none for a code the
    ``holidays`` library does not know (validation refuses those). The library is imported here,
    on the first ask (about 20 ms of every command's start-up otherwise, as ``core.regions``)."""
    import holidays as holidays_lib

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
        return local.minute in self.minute and local.hour in self.hour and self.matches_day(local)

    def matches_day(self, day: date) -> bool:
        return (
            day.day in self.day_of_month and day.month in self.month_of_year
            and day.isoweekday() % 7 in self.day_of_week
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
class Day:
    """A local day, as the exclusions see it."""

    start: datetime  # its UTC bounds [start, end)
    end: datetime
    resume: datetime | None  # its date is excluded: where a search resumes (the end of the day or range)
    offset: timedelta | None  # its UTC offset, when the same all day (no DST change)
    crons: tuple[CronMatch, ...]  # the excluded crons whose day fields match it


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
        day = self.day_of(slot)
        return max(day.resume, slot) if day.resume is not None else self.cron_resume(slot, day)

    def day_of(self, slot: datetime) -> Day:
        """What the exclusions say of ``slot``'s local day (kept while a walk is inside it)."""
        day = slot.astimezone(self.zone).date()
        start = min(datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC), slot)
        end = self._day_end(day, slot) + SECOND
        offsets = {start.astimezone(self.zone).utcoffset(), (end - SECOND).astimezone(self.zone).utcoffset()}
        offset = offsets.pop() if len(offsets) == 1 else None
        crons = tuple(cron for cron in self.crons if cron.matches_day(day))
        ordinal = day.toordinal()
        at = bisect_right(self.starts, ordinal) - 1
        if at >= 0 and self.ranges[at][1] >= ordinal:
            return Day(start, end, self._day_end(date.fromordinal(self.ranges[at][1]), slot), offset, ())
        if (self.holidays is not None and day in holiday_dates(*self.holidays, day.year)) or any(
            cron.whole_days for cron in crons
        ):
            return Day(start, end, end - SECOND, offset, ())
        return Day(start, end, None, offset, crons)

    def cron_resume(self, slot: datetime, day: Day) -> datetime | None:
        """Where a search resumes when one of the crons that match ``slot``'s local day matches
        its local minute."""
        if not day.crons:
            return None
        local = slot.replace(tzinfo=None) + day.offset if day.offset is not None else slot.astimezone(self.zone)
        for cron in day.crons:
            if cron.matches(local):
                return self._hour_end(local, slot) if cron.whole_hours else slot
        return None

    def _day_end(self, day: date, slot: datetime) -> datetime:
        following = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)
        return max(following - SECOND, slot)

    def _hour_end(self, local: datetime, slot: datetime) -> datetime:
        wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return max(wall.replace(tzinfo=self.zone).astimezone(UTC) - SECOND, slot)
