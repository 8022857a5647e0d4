"""``upcoming``, a schedule's slots: exact, in whole seconds, each one the first second at
which Celery's own ``is_due`` turns true (what beat sends for them: tests/core/test_sends.py)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import schedule as every
from celery.schedules import solar
from django_celery_beat.clockedschedule import clocked
from django_celery_beat.tzcrontab import TzAwareCrontab

from reconciler.core.timing import at_moment, runs_between, upcoming

SECOND = timedelta(seconds=1)
PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def cron(minute: str, hour: str, zone: str = "UTC", **fields: str) -> Any:
    return TzAwareCrontab(minute=minute, hour=hour, tz=ZoneInfo(zone), **fields)


def assert_beat_sends_at(schedule: Any, last: datetime, slot: datetime) -> None:
    """The oracle: beat's own ``is_due`` is false a second before the slot and true at it."""
    assert at_moment(schedule, slot - SECOND).is_due(last)[0] is False, f"due before {slot}"
    assert at_moment(schedule, slot).is_due(last)[0] is True, f"not due at {slot}"


# (id, schedule, last run, now, expected runs or None to rely on the oracle alone)
CASES: list[tuple[str, Any, datetime, datetime, list[str] | None]] = [
    ("cron-07:30-paris", cron("30", "7", "Europe/Paris"), at("2026-12-02T03:11:28.975311+00:00"),
     at("2026-12-02T03:11:28.975311+00:00"),
     ["2026-12-02T06:30:00+00:00", "2026-12-03T06:30:00+00:00", "2026-12-04T06:30:00+00:00"]),
    ("cron-paris-into-summer-time", cron("30", "7", "Europe/Paris"), at("2026-03-28T12:00:00.5+00:00"),
     at("2026-03-28T12:00:00.5+00:00"),
     ["2026-03-29T05:30:00+00:00", "2026-03-30T05:30:00+00:00", "2026-03-31T05:30:00+00:00"]),
    ("cron-paris-into-winter-time", cron("30", "7", "Europe/Paris"), at("2026-10-24T12:00:00.5+00:00"),
     at("2026-10-24T12:00:00.5+00:00"),
     ["2026-10-25T06:30:00+00:00", "2026-10-26T06:30:00+00:00", "2026-10-27T06:30:00+00:00"]),
    ("cron-berlin-03:00-on-the-switch", cron("0", "3", "Europe/Berlin"), at("2026-03-28T12:00:00+00:00"),
     at("2026-03-28T12:00:00.000001+00:00"),
     ["2026-03-29T01:00:00+00:00", "2026-03-30T01:00:00+00:00", "2026-03-31T01:00:00+00:00"]),
    ("cron-02:30-paris-twice-on-fall-back", cron("30", "2", "Europe/Paris"), at("2026-10-24T12:00:00+00:00"),
     at("2026-10-24T12:00:00.3+00:00"),  # once, at the first 02:30 (summer time)
     ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00", "2026-10-27T01:30:00+00:00"]),
    ("cron-02:30-paris-missing-on-spring-forward", cron("30", "2", "Europe/Paris"), at("2026-03-28T12:00:00+00:00"),
     at("2026-03-28T12:00:00.3+00:00"),  # 02:30 does not exist: 03:30 summer time
     ["2026-03-29T01:30:00+00:00", "2026-03-30T00:30:00+00:00", "2026-03-31T00:30:00+00:00"]),
    ("one-off-at-02:00", clocked(at("2027-01-15T02:00:00+01:00")), at("2027-01-10T09:00:00.123+00:00"),
     at("2027-01-10T09:00:00.456+00:00"), ["2027-01-15T01:00:00+00:00"]),
    ("interval-15m", every(timedelta(minutes=15)), at("2026-11-24T12:00:00+00:00"),
     at("2026-11-24T12:03:07.25+00:00"),
     ["2026-11-24T12:15:00+00:00", "2026-11-24T12:30:00+00:00", "2026-11-24T12:45:00+00:00"]),
    ("interval-from-a-fraction", every(timedelta(minutes=15)), at("2026-11-24T12:00:00.5+00:00"),
     at("2026-11-24T12:00:00.5+00:00"),
     ["2026-11-24T12:15:01+00:00", "2026-11-24T12:30:01+00:00", "2026-11-24T12:45:01+00:00"]),
    ("solar-sunset-paris", solar("sunset", 48.8566, 2.3522), at("2026-03-28T12:00:00.5+00:00"),
     at("2026-03-28T12:00:00.5+00:00"), None),
]


@pytest.mark.parametrize(("schedule", "last", "now", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_upcoming_gives_the_exact_slots_beat_sends_at(
    schedule: Any, last: datetime, now: datetime, expected: list[str] | None,
) -> None:
    runs = upcoming(schedule, last, now, 3)
    if expected is not None:
        assert [r.isoformat() for r in runs] == expected
    assert runs and all(r.microsecond == 0 and r.utcoffset() == timedelta(0) for r in runs)
    previous = last
    for run in runs:
        assert_beat_sends_at(schedule, previous, run)
        previous = run


def test_solar_runs_fall_on_their_day_in_whole_seconds() -> None:
    runs = upcoming(solar("sunset", 48.8566, 2.3522), at("2026-03-28T12:00:00+00:00"), at("2026-03-28T12:00:00+00:00"))
    assert [r.date().isoformat() for r in runs] == ["2026-03-28", "2026-03-29", "2026-03-30"]


def test_the_slots_after_a_past_last_run_are_the_past_ones_first() -> None:
    """Slots, not sends: what beat does with the missed ones is ``core.sends``'s catch-up."""
    now = at("2026-12-02T08:00:00.25+00:00")
    runs = upcoming(cron("30", "7", "Europe/Paris"), at("2026-12-01T06:30:00+00:00"), now, 2)
    assert [r.isoformat() for r in runs] == ["2026-12-02T06:30:00+00:00", "2026-12-03T06:30:00+00:00"]


def test_a_one_off_has_one_slot_after_a_moment_before_it_and_none_after() -> None:
    moment = clocked(at("2027-01-15T02:00:00+01:00"))
    before, after = at("2027-01-14T00:00:00+00:00"), at("2027-01-15T03:00:00+00:00")
    assert upcoming(moment, before, after, 3) == (at("2027-01-15T01:00:00+00:00"),)
    assert upcoming(moment, after, after, 3) == ()


def test_the_forecast_walks_the_same_slots() -> None:
    schedule = cron("30", "7", "Europe/Paris")
    first = upcoming(schedule, at("2026-12-02T03:11:28.975311+00:00"), at("2026-12-02T03:11:28.975311+00:00"), 3)
    walked = list(runs_between(schedule, first[0], first[0] + timedelta(days=2, seconds=1), 10))
    assert tuple(walked) == first
