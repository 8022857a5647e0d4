"""The days a crontab's local time does not exist (the clocks jump forward over it) or happens
twice (they go back over it), and what beat does on each: plain values for ``lint_dst``.

What beat does is not derived from a rule but observed: the crontab is built as beat builds it
(``beat.kinds.schedule_of``) and evaluated by ``core.sends.due`` at each moment beat's entry
would evaluate it (``beat.entry.ScheduledEntry.evaluate``: when the last evaluation said the
next run is due), over a few hours around the change. Celery's crontab arithmetic across an
offset change is irregular (a time in the gap is sent one shift later, a run that lands on
another is merged with it, in Antarctica/Troll a run after the gap is lost), so the lint says
what that code does rather than what a reader would guess. Only a crontab that has a time in a
gap or in a repeat is simulated, once per (crontab, change)."""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from ..core.schedule import Crontab
from ..core.sends import due
from ..core.timing import SECOND, at_moment
from .firing import day_matches, field_values

YEAR = timedelta(days=366)
SCAN_STEP = timedelta(hours=6)  # no zone changes its offset twice within six hours
MARGIN = timedelta(hours=2)  # beat is simulated from a shift and this long before a change to as long after
EVALUATIONS = 5000  # a bound on one simulation: a minute cron over ~5 hours is ~300

DAY_FIELDS = ("day_of_month", "month_of_year", "day_of_week")

Outcome = Literal["shifted", "skipped", "first", "second", "twice", "never"]


@dataclass(frozen=True)
class Change:
    """A change of a zone's UTC offset at ``at`` (UTC)."""

    timezone: str
    at: datetime
    before: timedelta
    after: timedelta

    @property
    def forward(self) -> bool:
        """The clocks jump forward: local times in ``span`` do not exist; else they happen twice."""
        return self.after > self.before

    @property
    def wall_before(self) -> datetime:
        """What local clocks read at the change, by the old offset (naive)."""
        return (self.at + self.before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        return (self.at + self.after).replace(tzinfo=None)

    @property
    def span(self) -> tuple[datetime, datetime]:
        """The local times (naive, [start, end)) skipped or repeated."""
        return (self.wall_before, self.wall_after) if self.forward else (self.wall_after, self.wall_before)


@dataclass(frozen=True)
class Fate:
    """What beat does with one local time written in the cron, on the day of a change."""

    written: datetime  # naive local
    outcome: Outcome
    sent_at: datetime | None = None  # "shifted": when beat sends it (local, aware)


@dataclass(frozen=True)
class Account:
    """A crontab on the day of a change: its times in the span and their fates, and the cron's
    other runs near the change that beat does not send (``lost``) or sends unasked (``extra``)."""

    change: Change
    fates: tuple[Fate, ...]
    lost: tuple[datetime, ...] = ()  # local, aware
    extra: tuple[datetime, ...] = ()


def accounts(schedule: Crontab, now: datetime) -> tuple[Account, ...]:
    """The changes of the next year whose span holds one of the cron's times, and what beat does."""
    if schedule.timezone == "UTC":
        return ()
    found = []
    for change in changes(schedule.timezone, now.astimezone(UTC).date()):
        if change.at >= now and times_in_span(schedule, change):
            found.append(account(schedule, change))
    return tuple(found)


@lru_cache(maxsize=1024)
def changes(timezone: str, start: date) -> tuple[Change, ...]:
    """Every offset change of ``timezone`` in the year from ``start`` (UTC midnight), to the second."""
    zone = ZoneInfo(timezone)
    moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
    end = moment + YEAR + SCAN_STEP
    offset = _offset(zone, moment)
    found = []
    while moment < end:
        following = moment + SCAN_STEP
        if _offset(zone, following) != offset:
            at = _first_at(zone, moment, following, offset)
            found.append(Change(timezone, at, offset, _offset(zone, at)))
            offset = _offset(zone, following)
        moment = following
    return tuple(found)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _first_at(zone: ZoneInfo, low: datetime, high: datetime, offset: timedelta) -> datetime:
    """The first second in (low, high] whose offset is not ``offset``."""
    while high - low > SECOND:
        middle = low + SECOND * ((high - low) // SECOND // 2)  # whole seconds: zones change on one
        low, high = (middle, high) if _offset(zone, middle) == offset else (low, middle)
    return high


@lru_cache(maxsize=65536)
def times_in_span(schedule: Crontab, change: Change) -> tuple[datetime, ...]:
    """The cron's local times (naive) that fall in the change's span, as the cron matches days."""
    start, end = change.span
    days = _day_fields(schedule)
    minutes = _minutes_of_day(schedule.minute, schedule.hour)
    found: list[datetime] = []
    day = start.date()
    while day <= end.date():
        if day_matches(day, days):
            midnight = datetime(day.year, day.month, day.day)
            low = max(0, int((start - midnight).total_seconds() + 59) // 60)
            found.extend(midnight + timedelta(minutes=m) for m in minutes[bisect_left(minutes, low):]
                         if midnight + timedelta(minutes=m) < end)
        day += timedelta(days=1)
    return tuple(found)


def _day_fields(schedule: Crontab) -> dict[str, frozenset[int]]:
    return {name: field_values(name, getattr(schedule, name)) for name in DAY_FIELDS}


@lru_cache(maxsize=4096)
def _minutes_of_day(minute: str, hour: str) -> tuple[int, ...]:
    return tuple(sorted(h * 60 + m for h in field_values("hour", hour) for m in field_values("minute", minute)))


@lru_cache(maxsize=4096)
def account(schedule: Crontab, change: Change) -> Account:
    """What beat does around ``change`` with the cron's runs, against what the cron says."""
    zone = ZoneInfo(schedule.timezone)
    reach = abs(change.after - change.before) + MARGIN  # a repeated time first happens one shift before
    start, end = change.at - reach, change.at + reach
    sent = set(beat_sends(schedule, start, end))
    written = {at for at in _written(schedule, zone, start, end) if start < at < end}
    fates = tuple(_fate(at, zone, change, sent, written) for at in times_in_span(schedule, change))
    explained = written | {f.sent_at.astimezone(UTC) for f in fates if f.sent_at is not None}
    repeated = {_instant(f.written, zone, fold) for f in fates for fold in (0, 1)}
    return Account(
        change, fates,
        lost=tuple(at.astimezone(zone) for at in sorted(written - sent - repeated)),
        extra=tuple(at.astimezone(zone) for at in sorted(sent - explained)),
    )


def _fate(written: datetime, zone: ZoneInfo, change: Change, sent: set[datetime], others: set[datetime]) -> Fate:
    first, second = _instant(written, zone, 0), _instant(written, zone, 1)
    if change.forward:  # fold 0 reads a time in the gap by the old offset: one shift later on the new clock
        if first in sent and first not in others:
            return Fate(written, "shifted", first.astimezone(zone))
        return Fate(written, "skipped")
    outcomes: dict[tuple[bool, bool], Outcome] = {
        (True, False): "first", (False, True): "second", (True, True): "twice", (False, False): "never",
    }
    return Fate(written, outcomes[(first in sent, second in sent)])


def _instant(wall: datetime, zone: ZoneInfo, fold: int) -> datetime:
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _written(schedule: Crontab, zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every existing moment (UTC) the cron names between the local days of ``start`` and ``end``:
    a repeated local time twice, a time in a gap not at all."""
    days = _day_fields(schedule)
    minutes = _minutes_of_day(schedule.minute, schedule.hour)
    day = start.astimezone(zone).date()
    while day <= end.astimezone(zone).date():
        if day_matches(day, days):
            for m in minutes:
                wall = datetime(day.year, day.month, day.day) + timedelta(minutes=m)
                for fold in (0, 1):
                    at = _instant(wall, zone, fold)
                    if at.astimezone(zone).replace(tzinfo=None) == wall:
                        yield at
        day += timedelta(days=1)


def beat_sends(schedule: Crontab, start: datetime, end: datetime) -> tuple[datetime, ...]:
    """When beat sends the cron's runs in (start, end) (UTC), for an entry whose last run is
    ``start``: ``core.sends.due`` on the Celery schedule beat builds, evaluated when each
    evaluation says the next run is due, as beat's entry is (no catch-up: beat is running)."""
    # Not at the top: beat.kinds imports django_celery_beat's models, and declare/ must import
    # without Django set up (firing.py does the same for solar schedules).
    from ..beat.kinds import kind_of, schedule_of

    built = schedule_of(kind_of(schedule).row_of(schedule))
    last = now = start
    sent: list[datetime] = []
    for _ in range(EVALUATIONS):
        decision = due(at_moment(built, now), last, now)
        sent.extend(send.at.astimezone(UTC) for send in decision.sends)
        last = decision.last
        if decision.next_at is None or decision.next_at >= end:
            break
        now = max(decision.next_at, now + SECOND)
    return tuple(sent)
