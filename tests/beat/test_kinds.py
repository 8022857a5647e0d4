"""The table of schedule kinds, on a real database: each kind's spec → row → spec round trip,
and the Celery schedule it builds for a row is the one django-celery-beat's own ``ModelEntry``
builds. Then a declaration's next runs, from that same schedule object with the clock fixed
at the plan's moment."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask

from reconciler.beat.kinds import (
    BY_FIELD,
    JOIN_COLUMNS,
    KINDS,
    celery_schedule,
    kind_of,
    next_runs,
    schedule_of,
    spec_of_join,
)
from reconciler.core.schedule import Clocked, Crontab, Interval, Schedule, Solar
from reconciler.core.specs import TaskSpec

NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Saturday; Europe/Berlin moves to summer time on Sunday

SPECS: list[tuple[str, Schedule]] = [
    ("interval", Interval(900)),
    ("crontab", Crontab("30", "7", day_of_week="1-5", timezone="Europe/Paris")),
    ("solar", Solar("sunset", Decimal("48.8566"), Decimal("2.3522"))),
    ("clocked", Clocked(datetime(2026, 4, 1, 7, 0, tzinfo=UTC))),
]


def test_the_table_has_each_kind_of_django_celery_beat_once() -> None:
    assert [kind.field for kind in KINDS] == ["interval", "crontab", "solar", "clocked"]
    assert {kind.field for kind in KINDS} == {
        f.name for f in PeriodicTask._meta.get_fields() if f.is_relation and f.name in BY_FIELD
    }
    assert all(PeriodicTask._meta.get_field(kind.field).related_model is kind.model for kind in KINDS)
    assert [kind_of(spec).field for _, spec in SPECS] == [name for name, _ in SPECS]


@pytest.mark.django_db
@pytest.mark.db_backend
@pytest.mark.parametrize("spec", [c[1] for c in SPECS], ids=[c[0] for c in SPECS])
def test_a_kind_round_trips_and_builds_what_beat_runs(spec: Schedule) -> None:
    from django_celery_beat.models import PeriodicTask as Task
    from django_celery_beat.schedulers import ModelEntry

    from reconciler.core.timing import at_moment, next_after
    from reconciler.pipeline import celery_app

    kind = kind_of(spec)
    row = kind.row_of(spec)
    row.save()
    saved = kind.model._default_manager.get(pk=row.pk)
    assert kind.spec_of_row(saved) == spec
    task = Task.objects.create(name="t", task="project.tasks.heartbeat", one_off=kind.field == "clocked",
                               **{kind.field: saved})
    joined = Task.objects.filter(pk=task.pk).values_list(*JOIN_COLUMNS).get()
    assert spec_of_join(joined) == spec, "read: the row joined with its schedule row"
    ours = schedule_of(saved)
    beats = ModelEntry(task, app=celery_app()).schedule
    assert isinstance(ours, type(beats)) and ours == beats
    moment = datetime(2026, 3, 28, 3, 11, 28, tzinfo=UTC)
    assert next_after(at_moment(ours, moment), moment, moment) == next_after(at_moment(beats, moment), moment, moment)
    assert celery_schedule(spec, moment) == beats


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


CASES: list[tuple[str, Schedule, dict[str, object], list[str]]] = [
    ("cron-utc", Crontab("0", "*/6"), {}, ["2026-03-28T18:00:00+00:00", "2026-03-29T00:00:00+00:00",
                                          "2026-03-29T06:00:00+00:00"]),
    ("cron-across-summer-time", Crontab("0", "3", timezone="Europe/Berlin"), {},
     ["2026-03-29T01:00:00+00:00", "2026-03-30T01:00:00+00:00", "2026-03-31T01:00:00+00:00"]),
    ("cron-weekdays-in-new-york", Crontab("30", "9", day_of_week="1-5", timezone="America/New_York"), {},
     ["2026-03-30T13:30:00+00:00", "2026-03-31T13:30:00+00:00", "2026-04-01T13:30:00+00:00"]),
    ("cron-first-of-month", Crontab("0", "0", day_of_month="1"), {},
     ["2026-04-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00"]),
    ("interval", Interval(900), {}, ["2026-03-28T12:15:00+00:00", "2026-03-28T12:30:00+00:00",
                                     "2026-03-28T12:45:00+00:00"]),
    ("interval-after-start-time", Interval(3600), {"start_time": at("2026-04-01T00:00:00+00:00")},
     ["2026-04-01T00:00:00+00:00", "2026-04-01T01:00:00+00:00", "2026-04-01T02:00:00+00:00"]),
    ("cron-after-start-time", Crontab("0", "12"), {"start_time": at("2026-04-01T00:00:00+00:00")},
     # the cron's first slot from the start time on (not one run at once: django-celery-beat's quirk)
     ["2026-04-01T12:00:00+00:00", "2026-04-02T12:00:00+00:00", "2026-04-03T12:00:00+00:00"]),
    ("cron-start-time-past", Crontab("0", "12"), {"start_time": at("2026-03-01T00:00:00+00:00")},
     ["2026-03-29T12:00:00+00:00", "2026-03-30T12:00:00+00:00", "2026-03-31T12:00:00+00:00"]),
    ("interval-anchored-at-a-past-start-time", Interval(3600), {"start_time": at("2026-03-01T00:20:00+00:00")},
     ["2026-03-28T12:20:00+00:00", "2026-03-28T13:20:00+00:00", "2026-03-28T14:20:00+00:00"]),
    ("one-off-ahead", Clocked(at("2026-04-01T09:00:00+02:00")), {"one_off": True}, ["2026-04-01T07:00:00+00:00"]),
    ("one-off-past", Clocked(at("2026-03-01T09:00:00+00:00")), {"one_off": True}, []),
    ("disabled", Crontab("0", "3"), {"enabled": False}, []),
]


@pytest.mark.parametrize(("schedule", "changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_next_runs(schedule: Schedule, changes: dict[str, object], expected: list[str]) -> None:
    spec = replace(TaskSpec("t", "project.tasks.heartbeat", schedule), **changes)  # type: ignore[arg-type]
    assert [r.isoformat() for r in next_runs(spec, NOW)] == expected


def test_solar_runs_once_a_day_at_the_event() -> None:
    spec = TaskSpec("t", "project.tasks.open_garden_lights", Solar("sunset", Decimal("48.8566"), Decimal("2.3522")))
    runs = next_runs(spec, NOW)
    assert [r.date().isoformat() for r in runs] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert all(18 <= r.hour <= 19 for r in runs)  # Paris sunset at the end of March, in UTC


def test_no_spec_no_runs() -> None:
    assert next_runs(None, NOW) == ()


ODD_NOW = datetime(2026, 3, 28, 3, 11, 28, 975311, tzinfo=UTC)  # a plan's "now" is rarely a whole second

EXACT: list[tuple[str, Schedule, dict[str, object], list[str]]] = [
    ("cron-07:30-paris-into-summer-time", Crontab("30", "7", timezone="Europe/Paris"), {},
     ["2026-03-28T06:30:00+00:00", "2026-03-29T05:30:00+00:00", "2026-03-30T05:30:00+00:00"]),
    ("one-off-at-02:00", Clocked(at("2026-04-02T02:00:00+02:00")), {"one_off": True}, ["2026-04-02T00:00:00+00:00"]),
    ("interval", Interval(900), {}, ["2026-03-28T03:26:29+00:00", "2026-03-28T03:41:29+00:00",
                                     "2026-03-28T03:56:29+00:00"]),
    ("solar", Solar("sunset", Decimal("48.8566"), Decimal("2.3522")), {}, []),
]


@pytest.mark.parametrize(("schedule", "changes", "expected"), [c[1:] for c in EXACT], ids=[c[0] for c in EXACT])
def test_next_runs_are_the_slots_beat_sends_at(
    schedule: Schedule, changes: dict[str, object], expected: list[str],
) -> None:
    """Whole seconds, each one the second at which the schedule's own ``is_due`` turns true."""
    from reconciler.beat.kinds import celery_schedule
    from tests.core.test_timing import assert_beat_sends_at

    spec = replace(TaskSpec("t", "project.tasks.heartbeat", schedule), **changes)  # type: ignore[arg-type]
    runs = next_runs(spec, ODD_NOW)
    if expected:
        assert [r.isoformat() for r in runs] == expected
    assert runs and all(r.microsecond == 0 for r in runs)
    if isinstance(schedule, Crontab | Solar):
        beat = celery_schedule(schedule, ODD_NOW)
        previous = ODD_NOW
        for run in runs:
            assert_beat_sends_at(beat, previous, run)
            previous = run


@pytest.mark.parametrize(
    ("schedule", "start"),
    [(Crontab("0", "12"), "2026-04-01T00:00:00+00:00"), (Interval(3600), "2026-04-01T00:00:00+00:00"),
     (Crontab("30", "7", timezone="Europe/Paris"), "2026-03-27T00:00:00+00:00"),
     (Interval(3600), "2026-03-27T00:20:00+00:00")],
    ids=["cron-start-ahead", "interval-start-ahead", "cron-start-past", "interval-start-past"],
)
def test_a_start_time_is_what_our_beat_entry_does(
    schedule: Schedule, start: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our beat's entry of a row written at NOW (never run), its clock stopped: not due a second
    before each predicted run, due at it; then its own ``next`` records the slot. A start time in
    the past sends nothing at once (django-celery-beat's ``ModelEntry`` did: thirty years back)."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    from reconciler.beat.entry import ScheduledEntry
    from reconciler.pipeline import celery_app

    spec = replace(TaskSpec("t", "project.tasks.heartbeat", schedule), start_time=at(start))
    runs = next_runs(spec, NOW)
    clock = [NOW]
    monkeypatch.setattr(ScheduledEntry, "now", lambda self: clock[0])
    if isinstance(schedule, Crontab):
        from zoneinfo import ZoneInfo

        kind = {"crontab": CrontabSchedule(minute=schedule.minute, hour=schedule.hour,
                                           timezone=ZoneInfo(schedule.timezone))}
    else:
        kind = {"interval": IntervalSchedule(every=3600, period="seconds")}
    model = PeriodicTask(name="t", task="x", start_time=at(start), date_changed=NOW, enabled=True, **kind)
    entry = ScheduledEntry(model, app=celery_app())
    assert len(runs) == 3 and all(run > NOW for run in runs)
    for run in runs:
        for moment, due in ((run - timedelta(seconds=1), False), (run, True)):
            clock[0] = moment
            assert entry.is_due()[0] is due, (moment, due)
        entry = next(entry)
        assert entry.last_run_at == run  # the slot served
