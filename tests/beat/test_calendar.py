"""``beat.calendar``: a row's schedule with its calendar, held against Celery's own crontab for
plain crons (no regression) and, for calendars, against an independent evaluation written here
with plain date arithmetic over two years (local dates and wall-clock times turned into instants
by ``zoneinfo``), across the DST changes of Europe/Paris, America/New_York and
Australia/Lord_Howe (a 30-minute change). The local times chosen are outside the changes' gaps
and repeats: what Celery does inside them is the ``dst-gap``/``dst-repeat`` lints' subject."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice, product
from zoneinfo import ZoneInfo

import holidays
import pytest

from reconciler.beat.calendar import CalendarSchedule
from reconciler.beat.exclusions import Exclusions, date_ranges
from reconciler.beat.kinds import celery_schedule, next_runs
from reconciler.core.calendar import NO_CALENDAR, Calendar
from reconciler.core.schedule import Crontab, Interval
from reconciler.core.sends import Send, due, timeline
from reconciler.core.specs import TaskSpec
from reconciler.core.timing import upcoming

START = datetime(2026, 1, 1, tzinfo=UTC)
YEARS = 2


def cron(expression: str, zone: str) -> Crontab:
    minute, hour, dom, month, dow = expression.split()
    return Crontab.canonical(zone, minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow)


def slots(schedule: Crontab, calendar: Calendar, start: datetime, end: datetime) -> list[datetime]:
    frozen = celery_schedule(schedule, start, calendar)
    found, current = [], start
    while True:
        [following] = upcoming(frozen, current, start, 1, frozen=frozen) or [None]
        if following is None or following >= end:
            return found
        found.append(following)
        current = following


# -- no regression: Celery's crontab alone -------------------------------------------------------

PLAIN = [
    ("0 9 * * 1-5", "Europe/Paris"), ("*/15 * * * *", "UTC"), ("30 2 * * *", "America/New_York"),
    ("0 0 1 * *", "Australia/Lord_Howe"), ("45 23 * * 0", "Europe/Paris"), ("0 9 29 2 *", "UTC"),
]


@pytest.mark.parametrize(("expression", "zone"), PLAIN, ids=[f"{c} {z}" for c, z in PLAIN])
def test_without_a_calendar_the_schedule_is_celerys_crontab(expression: str, zone: str) -> None:
    schedule = cron(expression, zone)
    assert not isinstance(celery_schedule(schedule, START, NO_CALENDAR), CalendarSchedule)
    end = START + timedelta(days=10 if "*/15" in expression else 800)
    plain = slots(schedule, NO_CALENDAR, START, end)
    far = Calendar(until="2999-01-01T00:00:00+00:00")  # a calendar that excludes nothing: the wrapper
    assert isinstance(celery_schedule(schedule, START, far), CalendarSchedule)
    assert slots(schedule, far, START, end) == plain and plain


# -- calendars against plain date arithmetic ----------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    crons: tuple[str, ...]
    zone: str
    calendar: Calendar
    local_times: Callable[[date], list[time]]  # the wall-clock times of a day the crons fire at
    excluded: Callable[[date, time], bool]  # the independent reading of the exclusions
    until: datetime | None = None


def days(first: date, count: int) -> Iterator[date]:
    return (first + timedelta(days=n) for n in range(count))


def expected(case: Case, start: datetime, end: datetime) -> list[datetime]:
    zone = ZoneInfo(case.zone)
    moments = []
    for day in days(start.astimezone(zone).date() - timedelta(days=1), (end - start).days + 3):
        for wall in case.local_times(day):
            moment = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
            if start < moment < end and not case.excluded(day, wall) and (case.until is None or moment <= case.until):
                moments.append(moment)
    return sorted(moments)


FR = holidays.country_holidays("FR", years=range(2025, 2029))
US_NY = holidays.country_holidays("US", subdiv="NY", years=range(2025, 2029))
AU_NSW = holidays.country_holidays("AU", subdiv="NSW", years=range(2025, 2029))
CHRISTMAS = (date(2026, 12, 24), *days(date(2026, 12, 26), 8))  # 2026-12-26..2027-01-02


def weekday(day: date) -> int:
    return day.isoweekday() % 7  # 0 = Sunday, as cron


CASES = [
    Case(  # the example
        "paris-weekdays-twice", ("0 9 * * 1-5", "30 14 * * 1-5"), "Europe/Paris",
        Calendar(also_cron=("30 14 * * 1-5",), holidays="FR", exclude_dates=("2026-12-24", "2026-12-26..2027-01-02"),
                 exclude_cron=("* * 1 * *",), until="2027-03-31T21:59:59+00:00"),
        lambda d: [time(9), time(14, 30)] if 1 <= weekday(d) <= 5 else [],
        lambda d, t: d in FR or d in CHRISTMAS or d.day == 1,
        datetime(2027, 3, 31, 21, 59, 59, tzinfo=UTC),
    ),
    Case(
        "new-york-monday-friday", ("0 8 * * 1", "0 17 * * 5"), "America/New_York",
        Calendar(also_cron=("0 17 * * 5",), holidays="US-NY", exclude_cron=("* * * 7 *", "0 17 13 * *")),
        lambda d: [time(8)] * (weekday(d) == 1) + [time(17)] * (weekday(d) == 5),
        lambda d, t: d in US_NY or d.month == 7 or (d.day == 13 and t == time(17)),
    ),
    Case(  # a 30-minute DST change: 09:00 local is 22:00 or 22:30 UTC
        "lord-howe-daily-and-weekends", ("0 9 * * *", "15 21 * * 0,6"), "Australia/Lord_Howe",
        Calendar(also_cron=("15 21 * * 0,6",), holidays="AU-NSW", exclude_cron=("* 21 * * 0",),
                 exclude_dates=("2027-06-01..2027-06-30",)),
        lambda d: [time(9)] + [time(21, 15)] * (weekday(d) in (0, 6)),
        lambda d, t: d in AU_NSW or (weekday(d) == 0 and t.hour == 21) or (d.year, d.month) == (2027, 6),
    ),
    Case(  # the exclusions read in another zone than the cron's
        "utc-cron-paris-dates", ("0 23 * * *",), "UTC",
        Calendar(holidays="FR", zone="Europe/Paris"),
        lambda d: [time(23)],
        lambda d, t: (datetime.combine(d, t, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris")).date()) in FR,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_calendar_runs_what_plain_date_arithmetic_says_over_two_years(case: Case) -> None:
    end = START + timedelta(days=365 * YEARS + 1)
    got = slots(cron(case.crons[0], case.zone), case.calendar, START, end)
    want = expected(case, START, end)
    assert got == want and len(want) > 100


def test_lord_howe_moves_by_thirty_minutes() -> None:
    runs = slots(cron("0 9 * * *", "Australia/Lord_Howe"), Calendar(until="2999-01-01T00:00:00+00:00"),
                 datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC))
    assert {(r.hour, r.minute) for r in runs} == {(22, 0), (22, 30)}


# -- the pieces --------------------------------------------------------------------------------

def test_date_ranges_merge_and_sort() -> None:
    assert date_ranges(("2027-01-03", "2026-12-26..2027-01-02", "2026-12-24", "2026-12-20..2026-12-24")) == (
        (date(2026, 12, 20).toordinal(), date(2026, 12, 24).toordinal()),
        (date(2026, 12, 26).toordinal(), date(2027, 1, 3).toordinal()),
    )


PARIS = ZoneInfo("Europe/Paris")
RESUME = [  # (calendar, slot in Paris, where the search resumes in Paris; None: the slot runs)
    (Calendar(exclude_dates=("2026-03-28..2026-03-29",)), datetime(2026, 3, 28, 9), datetime(2026, 3, 29, 23, 59, 59)),
    (Calendar(holidays="FR"), datetime(2026, 5, 1, 9), datetime(2026, 5, 1, 23, 59, 59)),
    (Calendar(exclude_cron=("* 9 * * *",)), datetime(2026, 3, 29, 9, 10), datetime(2026, 3, 29, 9, 59, 59)),
    (Calendar(exclude_cron=("0 9 * * *",)), datetime(2026, 3, 29, 9), datetime(2026, 3, 29, 9)),
    (Calendar(exclude_cron=("0 9 * * 1",)), datetime(2026, 3, 29, 9), None),  # a Sunday
]


@pytest.mark.parametrize(("calendar", "local", "resume"), RESUME, ids=["range", "holiday", "hour", "minute", "runs"])
def test_the_search_jumps_over_an_excluded_day_range_or_hour(
    calendar: Calendar, local: datetime, resume: datetime | None,
) -> None:
    found = Exclusions.of(calendar, PARIS).resume_after(local.replace(tzinfo=PARIS).astimezone(UTC))
    assert found == (None if resume is None else resume.replace(tzinfo=PARIS).astimezone(UTC))


def test_an_interval_with_a_calendar_keeps_its_slots_and_skips_excluded_dates() -> None:
    calendar = Calendar(exclude_dates=("2026-01-02",), zone="UTC")
    frozen = celery_schedule(Interval(6 * 3600), START, calendar)
    runs = upcoming(frozen, START, START, 8, frozen=frozen)
    assert [r.isoformat() for r in runs] == [
        "2026-01-01T06:00:00+00:00", "2026-01-01T12:00:00+00:00", "2026-01-01T18:00:00+00:00",
        "2026-01-03T00:00:00+00:00", "2026-01-03T06:00:00+00:00", "2026-01-03T12:00:00+00:00",
        "2026-01-03T18:00:00+00:00", "2026-01-04T00:00:00+00:00",
    ]


def test_until_ends_the_schedule() -> None:
    frozen = celery_schedule(cron("0 * * * *", "UTC"), START, Calendar(until="2026-01-01T03:00:00+00:00"))
    assert len(upcoming(frozen, START, START, 10, frozen=frozen)) == 3
    assert frozen.remaining_estimate(datetime(2026, 1, 1, 3, tzinfo=UTC)) is None
    assert frozen.is_due(datetime(2026, 1, 1, 3, tzinfo=UTC)).is_due is False


def test_an_all_excluded_calendar_gives_up_within_its_bound() -> None:
    frozen = celery_schedule(cron("0 9 * * *", "UTC"), START, Calendar(exclude_cron=("0 9 * * *",)))
    assert upcoming(frozen, START, START, 1, frozen=frozen) == ()


# -- max_runs: the remaining runs in the one timeline --------------------------------------------

def test_the_timeline_and_an_evaluation_send_no_more_than_the_runs_left() -> None:
    frozen = celery_schedule(cron("* * * * *", "UTC"), START, NO_CALENDAR)
    sends = list(islice(timeline(frozen, START - timedelta(hours=1), START, remaining=2), 10))
    assert len(sends) == 2 and sends[0] == Send(START, START)
    assert due(frozen, START - timedelta(hours=1), START, remaining=0).sends == ()
    assert due(frozen, START - timedelta(hours=1), START, remaining=0).next_at is None


def test_a_declarations_next_runs_stop_at_max_runs_and_until() -> None:
    base = TaskSpec(name="t", task="x", schedule=cron("0 9 * * *", "UTC"))
    assert len(next_runs(base, START, 5)) == 5
    assert len(next_runs(TaskSpec(**{**base.__dict__, "calendar": Calendar(max_runs=2)}), START, 5)) == 2
    ended = Calendar(until="2026-01-02T09:00:00+00:00")
    assert len(next_runs(TaskSpec(**{**base.__dict__, "calendar": ended}), START, 5)) == 2


@pytest.mark.parametrize(("zone", "hour"), list(product(["Europe/Paris", "America/New_York"], [0, 12])))
def test_a_date_is_read_in_the_calendars_zone(zone: str, hour: int) -> None:
    """A date excluded in ``zone``: no slot whose local date there is that date."""
    calendar = Calendar(exclude_dates=("2026-07-14",), zone=zone)
    frozen = celery_schedule(cron(f"0 {hour} * * *", "UTC"), START, calendar)
    start = datetime(2026, 7, 12, tzinfo=UTC)
    runs = upcoming(frozen, start, start, 5, frozen=frozen)
    assert all(r.astimezone(ZoneInfo(zone)).date() != date(2026, 7, 14) for r in runs)
    assert len(runs) == 5


def test_an_interval_with_a_calendar_is_anchored_at_its_start_time() -> None:
    calendar = Calendar(exclude_dates=("2026-01-05",), zone="UTC")
    start_time = datetime(2026, 1, 3, 0, 30, tzinfo=UTC)
    spec = TaskSpec(name="t", task="x", schedule=Interval(3600), start_time=start_time, calendar=calendar)
    runs = next_runs(spec, START, 3)
    assert runs == (start_time, start_time + timedelta(hours=1), start_time + timedelta(hours=2))
