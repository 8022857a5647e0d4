"""``Window.fired``: the minutes the herd lint counts for a schedule with its calendar, held
against what beat would send (``beat.kinds.next_runs``: the calendar schedule beat runs, for a
row written at ``now``) over the same seven days."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.beat.kinds import next_runs
from reconciler.core.calendar import NO_CALENDAR, Calendar
from reconciler.core.schedule import CRON_FIELD_ORDER, Crontab, Interval
from reconciler.core.specs import TaskSpec
from reconciler.declare.firing import HORIZON, Window, crons_of

# Tuesday; Thursday 2026-11-26 is Thanksgiving (US). No case fires in now's minute: the window
# starts at the whole minute, beat after now.
NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
FALL_BACK = datetime(2026, 10, 22, 8, 0, 30, tzinfo=UTC)  # Europe/Paris goes back on Sunday 2026-10-25


def cron(expression: str, timezone: str) -> Crontab:
    return Crontab.canonical(timezone, **dict(zip(CRON_FIELD_ORDER, expression.split(), strict=True)))


# (id, now, the list's first cron, its time zone, the calendar)
CASES = [
    ("a-list-and-french-holidays", NOW, "30 */3 * * *", "Europe/Paris",
     Calendar(also_cron=("15 9 * * 1-5",), holidays="FR", exclude_dates=("2026-11-27",))),
    ("thanksgiving-and-a-range", NOW, "0 2 * * *", "America/New_York",
     Calendar(also_cron=("45 23 * * *",), holidays="US", exclude_dates=("2026-11-29..2026-11-30",))),
    ("an-excluded-hour", NOW, "0 2 * * *", "UTC", Calendar(also_cron=("0 3 * * *",), exclude_cron=("* 2 * * *",))),
    ("an-excluded-minute-in-a-zone", NOW, "*/20 * * * *", "Asia/Kolkata",
     Calendar(exclude_cron=("40 * * * 3",), zone="Asia/Kolkata")),
    ("until", NOW, "7-59/10 * * * *", "UTC", Calendar(until="2026-11-26T08:07:00+00:00")),
    ("max-runs", NOW, "7-59/10 * * * *", "UTC", Calendar(also_cron=("5 * * * *",), max_runs=7)),
    ("a-list-over-a-fall-back", FALL_BACK, "30 2 * * *", "Europe/Paris",
     Calendar(also_cron=("0 9 * * *",), exclude_dates=("2026-10-23",))),
]


@pytest.mark.parametrize(("now", "first", "timezone", "calendar"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fired_minutes_are_what_beat_sends(now: datetime, first: str, timezone: str, calendar: Calendar) -> None:
    spec = TaskSpec(name="", task="", schedule=cron(first, timezone), calendar=calendar)
    end = now.replace(second=0) + HORIZON
    sent = frozenset(int(at.timestamp()) // 60 for at in next_runs(spec, now, 5000) if at < end)
    assert sent  # the case is not empty
    assert Window(now).fired(spec.schedule, calendar) == sent


def test_without_a_calendar_fired_is_the_schedule_s_own_minutes() -> None:
    window, daily = Window(NOW), cron("0 2 * * *", "UTC")
    assert window.fired(daily, NO_CALENDAR) is window.minutes(daily)


def test_crons_of_a_list_share_the_first_s_time_zone_and_an_interval_has_none() -> None:
    paris = cron("0 9 * * 1-5", "Europe/Paris")
    assert crons_of(paris, Calendar(also_cron=("30 14 * * 1-5",))) == (paris, cron("30 14 * * 1-5", "Europe/Paris"))
    assert crons_of(Interval(60), Calendar(exclude_dates=("2026-12-24",))) == ()
