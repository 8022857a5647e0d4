"""A schedule's calendar, evaluated: the Celery schedule object beat runs for a row with a
``core.calendar.Calendar``. It wraps the row's own schedule object (``kinds.schedule_of``) and
answers what ``core.timing`` and ``core.sends`` ask of any schedule (``remaining_estimate``,
``is_due``, ``nowfun``, ``tz``; no ``run_every``, so its slots are walked, never counted by
arithmetic). Beat and every prediction read it the same way (docs/calendars.md):

- **Slots.** The union of the row's schedule and the calendar's other crons (``also_cron``,
  Celery's ``TzAwareCrontab`` in the row's time zone, as beat builds them: DST is theirs).
- **Exclusions** (``beat.exclusions``). A slot is not run when its date, read in the calendar's ``zone``, is a public
  holiday (the ``holidays`` library, memoised per country, subdivision and year) or in an
  excluded date or range, or when an excluded cron (Celery's own expansion of its fields, day
  of month AND day of week as Celery) matches its local minute. The search for the next slot
  jumps over an excluded day, range or hour at once, and gives up after ``SEARCH_LIMIT``
  excluded slots in a row: the schedule then has no further run.
- **End.** No slot after ``until``. ``max_runs`` is not the schedule's: the entry counts sends.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from celery import schedules
from django_celery_beat.tzcrontab import TzAwareCrontab

from ..core.calendar import NO_CALENDAR, Calendar
from ..core.schedule import CRON_FIELD_ORDER
from ..core.sends import period_of
from ..core.timing import SECOND, at_moment, slot_after
from .exclusions import Day, Exclusions

SEARCH_LIMIT = 10_000  # excluded slots in a row before the search gives up (after day/hour jumps)
NEVER = 86400.0 * 365  # seconds: ``is_due``'s next check when no slot follows

Memo = list[tuple[datetime, datetime | None] | None]  # per part: (asked after, its answer)
State = tuple[datetime, list[Any], Memo]  # a stopped clock's moment, its parts stopped there, their memo


class CalendarSchedule:
    """The row's schedule, with its calendar: see the module's docstring."""

    def __init__(self, parts: tuple[Any, ...], calendar: Calendar, zone: tzinfo) -> None:
        self.parts = parts  # the row's schedule object first, then the ``also_cron`` crontabs
        self.calendar = calendar
        self.exclusions = Exclusions.of(calendar, zone)
        self.until = calendar.end
        self.tz = getattr(parts[0], "tz", None)
        every = getattr(parts[0], "run_every", None)  # an interval's: ``core.sends.baseline`` anchors at start_time
        self.anchor_every = every if isinstance(every, timedelta) else None
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
        now = self.now().astimezone(UTC)  # in UTC: adding to a zone's time is wall-clock arithmetic
        memo: Memo = [None] * len(self.parts)
        state = (now, [at_moment(part, now) for part in self.parts], memo)
        if self._nowfun is not None:  # a stopped clock: the parts' answers hold until it moves
            self._stopped = state
        return state

    # -- what beat and ``core.timing`` ask --------------------------------------------------------

    def next_slot(self, last: datetime) -> datetime | None:
        """The first slot strictly after ``last`` that the calendar runs (UTC, whole seconds)."""
        return next(self.slots_after(last), None)

    def slots_after(self, last: datetime) -> Iterator[datetime]:
        """Every slot after ``last`` the calendar runs, in order (``core.sends.timeline`` walks
        it). Each part walks from its own cursor: past an excluded stretch a crontab resumes
        after it, an interval on its own grid (its slots stay anchored where they were, and
        follow by arithmetic, as ``core.sends`` counts a plain interval's). A local day's
        verdict on its date is kept while the walk is inside it."""
        now, frozen, memo = self._state()
        periods = [period_of(part) for part in frozen]
        answers = [self._after(now, frozen, memo, index, last) for index in range(len(frozen))]
        if len(frozen) == 1 and periods[0] is not None:
            yield from self._interval_slots(answers[0], periods[0])
            return
        exclusions, until = self.exclusions, self.until
        check = not exclusions.empty
        day = Day(last, last, None, None, ())
        excluded = 0
        while True:
            candidate = min((answer for answer in answers if answer is not None), default=None)
            if candidate is None or (until is not None and candidate > until):
                return
            resume = None
            if check:
                if not day.start <= candidate < day.end:
                    day = exclusions.day_of(candidate)
                resume = (
                    max(day.resume, candidate) if day.resume is not None else exclusions.cron_resume(candidate, day)
                )
            if resume is None:
                excluded = 0
                yield candidate
                resume = candidate
            else:
                excluded += 1
                if excluded > SEARCH_LIMIT:
                    return
            for index, answer in enumerate(answers):
                if answer is not None and answer <= resume:
                    period = periods[index]
                    answers[index] = (
                        answer + period * ((resume - answer) // period + 1) if period is not None
                        else self._after(now, frozen, memo, index, resume)
                    )

    def _interval_slots(self, first: datetime | None, period: timedelta) -> Iterator[datetime]:
        """``slots_after`` for an interval alone: its grid by arithmetic, a day that runs and
        that no cron excludes yielded at once, excluded days jumped."""
        exclusions, until, slot = self.exclusions, self.until, first
        excluded = 0
        while slot is not None and (until is None or slot <= until):
            day = exclusions.day_of(slot)
            if day.resume is None and not day.crons:
                stop = day.end if until is None else min(day.end, until + SECOND)
                while slot < stop:
                    yield slot
                    slot += period
                excluded = 0
                continue
            resume = max(day.resume, slot) if day.resume is not None else exclusions.cron_resume(slot, day)
            if resume is None:
                excluded = 0
                yield slot
                slot += period
            else:
                excluded += 1
                if excluded > SEARCH_LIMIT:
                    return
                slot += period * ((resume - slot) // period + 1)

    @staticmethod
    def _after(now: datetime, frozen: list[Any], memo: Memo, index: int, last: datetime) -> datetime | None:
        """A part's slot strictly after ``last``; its previous answer is reused while it still
        follows ``last`` (a walk asks each slot once)."""
        known = memo[index]
        if known is not None and known[0] <= last and (known[1] is None or known[1] > last):
            return known[1]
        following = slot_after(frozen[index], now, last)
        memo[index] = (last, following)
        return following

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

