"""When a schedule fires over the next 7 days, in UTC minutes since the epoch: what the
overlap and herd lints compare, memoised per distinct schedule (and per distinct schedule and
calendar: every cron of a ``cron:`` list, less what the calendar excludes) for one lint run."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

from celery.schedules import crontab_parser

from ..beat.exclusions import Day, Exclusions
from ..core.calendar import NO_CALENDAR, Calendar
from ..core.schedule import CRON_FIELD_ORDER, CRON_FIELDS, Clocked, Crontab, Schedule, Solar
from ..core.timing import upcoming

HORIZON = timedelta(days=7)
GAP_REFERENCE = date(2024, 1, 1)  # a leap year first: the span below sees every calendar day
GAP_DAYS = 4 * 366  # days scanned for the shortest gap between two matching days


@lru_cache(maxsize=4096)
def field_values(field_name: str, spelled: str) -> frozenset[int]:
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
        self._fired: dict[tuple[Schedule, Calendar], frozenset[int]] = {}
        self._days: dict[str, list[_Day]] = {}
        self._matching: dict[tuple[str, str, str, str], tuple[list[int], list[date]]] = {}

    def minutes(self, schedule: Schedule) -> frozenset[int]:
        found = self._memo.get(schedule)
        if found is None:
            found = self._memo[schedule] = self._minutes(schedule)
        return found

    def fired(self, schedule: Schedule, calendar: Calendar) -> frozenset[int]:
        """The minutes a schedule with its calendar runs: every cron of a list, less the
        excluded days and crons, none after ``until``, at most the first ``max_runs`` (as if none
        was sent yet: the lint does not know the row's count, so it never counts fewer runs)."""
        if calendar == NO_CALENDAR:
            return self.minutes(schedule)
        found = self._fired.get((schedule, calendar))
        if found is None:
            crons = crons_of(schedule, calendar)
            union = frozenset().union(*map(self.minutes, crons)) if crons else self.minutes(schedule)
            found = self._fired[(schedule, calendar)] = _kept(union, calendar, schedule)
        return found

    def _minutes(self, schedule: Schedule) -> frozenset[int]:
        if isinstance(schedule, Crontab):
            return self._cron_minutes(schedule)
        if isinstance(schedule, Clocked):
            return frozenset([_minute(schedule.at)] if self.start <= schedule.at < self.end else [])
        if isinstance(schedule, Solar):
            # (b) not at the top: beat.kinds imports django_celery_beat's models, and declare/ must
            # import without Django set up (the schema check runs the language with no Django).
            from ..beat.kinds import celery_schedule

            moments = _solar_moments(celery_schedule(schedule, self.start), self.start, self.end)
            return frozenset(_minute(at) for at in moments)
        return frozenset()

    def _cron_minutes(self, schedule: Crontab) -> frozenset[int]:
        """Integer arithmetic on the zone's days (computed once per zone, and the days a
        day-of-week/month/year combination matches, once per combination); a day with a UTC
        offset change goes through real date-times, as Celery would."""
        steady, shifting = self._matching_days(schedule)
        times = [h * 60 + m for h in sorted(field_values("hour", schedule.hour))
                 for m in sorted(field_values("minute", schedule.minute))]
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
            weekdays, days, months = (field_values(n, getattr(schedule, n)) for n in ("day_of_week", "day_of_month",
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


def crons_of(schedule: Schedule, calendar: Calendar) -> tuple[Crontab, ...]:
    """Every cron of a ``cron:`` list: the row's crontab, then the calendar's other crons, in its
    time zone (none for another kind)."""
    if not isinstance(schedule, Crontab):
        return ()
    return (schedule, *(Crontab(timezone=schedule.timezone, **dict(zip(CRON_FIELD_ORDER, cron.split(), strict=True)))
                        for cron in calendar.also_cron))


def _kept(minutes: frozenset[int], calendar: Calendar, schedule: Schedule) -> frozenset[int]:
    """``minutes`` less what ``calendar`` takes away, judged by beat's own exclusions
    (``beat.exclusions``: one verdict per local day, excluded crons asked on the days they match)."""
    zone = ZoneInfo(calendar.zone or (schedule.timezone if isinstance(schedule, Crontab) else "UTC"))
    exclusions = Exclusions.of(calendar, zone)
    end = calendar.end.timestamp() if calendar.end is not None else None
    kept: list[int] = []
    day: Day | None = None
    for minute in sorted(minutes):
        if (end is not None and minute * 60 > end) or len(kept) == calendar.max_runs:
            break
        if not exclusions.empty:
            slot = datetime.fromtimestamp(minute * 60, UTC)
            if day is None or not day.start <= slot < day.end:
                day = exclusions.day_of(slot)
            if day.resume is not None or exclusions.cron_resume(slot, day) is not None:
                continue
        kept.append(minute)
    return frozenset(kept)


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


def day_matches(day: date, fields: dict[str, frozenset[int]]) -> bool:
    """Celery requires day of month, month and day of week to match together (0 = Sunday)."""
    return (day.day in fields["day_of_month"] and day.month in fields["month_of_year"]
            and day.isoweekday() % 7 in fields["day_of_week"])


def _solar_moments(schedule: object, start: datetime, end: datetime) -> Iterator[datetime]:
    for at in upcoming(schedule, start, start, 9):
        if at < end:
            yield at


@lru_cache(maxsize=1024)
def shortest_cron_gap(minute: str, hour: str, day_of_week: str, day_of_month: str, month_of_year: str) -> int | None:
    """The shortest time between two firings of a cron, in seconds, on a clock without
    daylight-saving changes (None when it fires at most once in four years): the smallest gap
    between two of its times of day, or from the last time of one matching day to the first
    of the next. Bounded: four years of days, once per distinct combination."""
    times = sorted(h * 60 + m for h in field_values("hour", hour) for m in field_values("minute", minute))
    fields = {name: field_values(name, spelled) for name, spelled in (
        ("day_of_week", day_of_week), ("day_of_month", day_of_month), ("month_of_year", month_of_year))}
    days = [n for n in range(GAP_DAYS) if day_matches(GAP_REFERENCE + timedelta(days=n), fields)]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    day_gaps = [later - earlier for earlier, later in pairwise(days)]
    if day_gaps and times:
        gaps.append(min(day_gaps) * 1440 - (times[-1] - times[0]))
    return min(gaps) * 60 if gaps else None
