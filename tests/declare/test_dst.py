"""What beat does on the days the clocks change (``declare.dst``), observed on beat's own entry.

Each case drives a real ``ScheduledEntry`` (the row as our scheduler loads it, its crontab built
by ``beat.kinds.schedule_of``) under a stopped clock moved one minute at a time over the night
of a change, and records what it sends; the lint's own simulation (``dst.beat_sends``, which
evaluates only when the entry says the next run is due) must see exactly the same."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from project.celery import app
from reconciler.beat.entry import ScheduledEntry
from reconciler.beat.kinds import kind_of, schedule_of
from reconciler.core.schedule import CRON_FIELD_ORDER, Crontab
from reconciler.declare import dst
from reconciler.models import ScheduledTask

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# (id, zone, cron, the local day of the change, what beat sends from 00:30 to 04:30 that night)
NIGHTS = [
    ("paris-gap", "Europe/Paris", "30 2 * * *", date(2027, 3, 28), ["03:30+02:00"]),  # an hour late
    ("paris-repeat", "Europe/Paris", "30 2 * * *", date(2027, 10, 31), ["02:30+02:00"]),  # once, the first
    ("paris-hourly-gap", "Europe/Paris", "0 * * * *", date(2027, 3, 28), ["01:00+01:00", "03:00+02:00", "04:00+02:00"]),
    ("paris-hourly-repeat", "Europe/Paris", "0 * * * *", date(2027, 10, 31),
     ["01:00+02:00", "02:00+02:00", "03:00+01:00", "04:00+01:00"]),
    ("paris-every-20-in-the-gap", "Europe/Paris", "*/20 2 * * *", date(2027, 3, 28), ["03:00+02:00"]),
    ("new-york-gap", "America/New_York", "30 2 * * *", date(2027, 3, 14), ["03:30-04:00"]),
    ("new-york-repeat", "America/New_York", "30 1 * * *", date(2027, 11, 7), ["01:30-04:00"]),
    ("lord-howe-gap", "Australia/Lord_Howe", "15 2 * * *", date(2027, 10, 3), ["02:45+11:00"]),  # 30 minutes late
    ("lord-howe-repeat", "Australia/Lord_Howe", "45 1 * * *", date(2027, 4, 4), ["01:45+11:00"]),
    ("utc", "UTC", "30 2 * * *", date(2027, 3, 28), ["02:30+00:00"]),
]


def crontab(zone: str, expression: str) -> Crontab:
    return Crontab.canonical(zone, **dict(zip(CRON_FIELD_ORDER, expression.split(), strict=True)))


def night(zone: str, day: date) -> tuple[datetime, datetime]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    start, end = midnight + timedelta(minutes=30), midnight + timedelta(hours=4, minutes=30)
    return start.astimezone(UTC), end.astimezone(UTC)


def shown(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes")[11:]


def entry_sends(schedule: Crontab, start: datetime, end: datetime, monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """When a running beat's entry sends: its clock moved a minute at a time, each due
    evaluation sent and followed by the next entry, as the scheduler does."""
    clock = [start]
    monkeypatch.setattr(ScheduledEntry, "now", lambda entry: clock[0])
    row = kind_of(schedule).row_of(schedule)
    task = ScheduledTask(name="job", task="project.tasks.heartbeat", crontab=row, enabled=True,
                         last_run_at=start, date_changed=start)
    task.__dict__["prebuilt_schedule"] = schedule_of(row)
    entry = ScheduledEntry(task, app=app, catching_up=False)
    sent: list[datetime] = []
    while clock[0] < end:
        clock[0] += MINUTE
        if entry.is_due()[0]:
            assert entry.decision is not None
            sent.extend(send.at for send in entry.decision.sends)
            entry = next(entry)
    return sent


@pytest.mark.parametrize(("zone", "expression", "day", "expected"), [c[1:] for c in NIGHTS], ids=[c[0] for c in NIGHTS])
def test_what_beat_sends_on_the_night_of_a_change(
    zone: str, expression: str, day: date, expected: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    schedule = crontab(zone, expression)
    start, end = night(zone, day)
    assert [shown(at, zone) for at in entry_sends(schedule, start, end, monkeypatch)] == expected
    assert [shown(at, zone) for at in dst.beat_sends(schedule, start, end)] == expected


# (id, zone, cron, the fates of its times on the day of the change, the cron's runs not sent besides)
ACCOUNTS = [
    ("paris-gap-shifted", "Europe/Paris", "30 2 * * *", date(2027, 3, 28), [("02:30", "shifted", "03:30")], []),
    ("paris-repeat-first", "Europe/Paris", "30 2 * * *", date(2027, 10, 31), [("02:30", "first", None)], []),
    ("paris-hourly-gap-skipped", "Europe/Paris", "0 * * * *", date(2027, 3, 28), [("02:00", "skipped", None)], []),
    (
        "paris-every-20-shifted-then-skipped", "Europe/Paris", "*/20 2 * * *", date(2027, 3, 28),
        [("02:00", "shifted", "03:00"), ("02:20", "skipped", None), ("02:40", "skipped", None)], [],
    ),
    ("lord-howe-gap", "Australia/Lord_Howe", "15 2 * * *", date(2027, 10, 3), [("02:15", "shifted", "02:45")], []),
    ("lord-howe-hourly", "Australia/Lord_Howe", "0 * * * *", date(2027, 10, 3), [("02:00", "shifted", "02:30")], []),
    ("troll-loses-a-run-after-the-gap", "Antarctica/Troll", "5 2,3 * * *", date(2027, 3, 28),
     [("02:05", "shifted", "04:05")], ["03:05"]),
]


@pytest.mark.parametrize(
    ("zone", "expression", "day", "fates", "lost"), [c[1:] for c in ACCOUNTS], ids=[c[0] for c in ACCOUNTS],
)
def test_the_account_of_a_day(
    zone: str, expression: str, day: date, fates: list[tuple[str, str, str | None]], lost: list[str],
) -> None:
    (found,) = [a for a in dst.accounts(crontab(zone, expression), NOW) if a.fates[0].written.date() == day]
    assert [(f"{f.written:%H:%M}", f.outcome, f.sent_at and f"{f.sent_at:%H:%M}") for f in found.fates] == fates
    assert [f"{at:%H:%M}" for at in found.lost] == lost and found.extra == ()


def test_changes_are_found_to_the_second_in_the_year_ahead() -> None:
    found = dst.changes("Australia/Lord_Howe", NOW.date())
    assert [(c.at, c.wall_before, c.wall_after) for c in found] == [
        (datetime(2027, 4, 3, 15, 0, tzinfo=UTC), datetime(2027, 4, 4, 2, 0), datetime(2027, 4, 4, 1, 30)),
        (datetime(2027, 10, 2, 15, 30, tzinfo=UTC), datetime(2027, 10, 3, 2, 0), datetime(2027, 10, 3, 2, 30)),
    ]
    assert dst.changes("UTC", NOW.date()) == () and dst.changes("Asia/Tokyo", NOW.date()) == ()
