"""The shipped beat scheduler: loads large schedules in a bounded number of queries, builds
the same entries as django-celery-beat's DatabaseScheduler, skips no due task."""
from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery import beat
from celery.apps.beat import Beat
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)
from django_celery_beat.schedulers import DatabaseScheduler
from django_celery_beat.tzcrontab import TzAwareCrontab

from project.celery import app
from reconciler.beat.scheduler import ReconcilingScheduler
from reconciler.core.policy import Policy

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]
TIMEZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo")


def populate(per_kind: int) -> None:
    """per_kind tasks on distinct interval, crontab and clocked rows (the shape that breaks
    the stock scheduler on SQLite)."""
    intervals = IntervalSchedule.objects.bulk_create(
        [IntervalSchedule(every=i + 1, period="seconds") for i in range(per_kind)]
    )
    crontabs = CrontabSchedule.objects.bulk_create([
        CrontabSchedule(minute=str(i % 60), hour=str((i // 60) % 24), day_of_month=str(1 + (i // 1440) % 28),
                        timezone=TIMEZONES[i % len(TIMEZONES)])
        for i in range(per_kind)
    ])
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clockeds = ClockedSchedule.objects.bulk_create(
        [ClockedSchedule(clocked_time=start + timedelta(minutes=i)) for i in range(per_kind)]
    )
    tasks = []
    for kind, rows in (("interval", intervals), ("crontab", crontabs), ("clocked", clockeds)):
        for i, row in enumerate(rows):
            tasks.append(PeriodicTask(
                name=f"{kind}-{i:05d}", task="project.tasks.heartbeat", kwargs=json.dumps({"label": f"{kind}{i}"}),
                one_off=kind == "clocked", **{kind: row},
            ))
    PeriodicTask.objects.bulk_create(tasks, batch_size=500)


def ours() -> ReconcilingScheduler:
    return ReconcilingScheduler(app=app, lazy=True)


def test_loads_3000_tasks_on_distinct_rows_in_a_bounded_number_of_queries() -> None:
    populate(1000)
    with CaptureQueriesContext(connection) as queries:
        entries = ours().all_as_schedule()
    assert len(entries) == 3000
    assert len(queries) <= 6  # the change stamps (beat.reload), the tasks, one per schedule kind in use, policies
    assert all(len(q["sql"]) < 2000 for q in queries.captured_queries)  # no SQL that grows with the rows


@pytest.mark.only_backend("sqlite")  # the stock scheduler's OR chain only breaks SQLite's expression depth limit
def test_stock_scheduler_fails_on_sqlite_where_ours_loads() -> None:
    populate(1100)
    with pytest.raises(OperationalError, match="too large"):
        DatabaseScheduler(app=app, lazy=True).all_as_schedule()
    assert len(ours().all_as_schedule()) == 3300


def build_mixed_schedule() -> None:
    paris = CrontabSchedule.objects.create(minute="30", hour="7", day_of_week="1-5", timezone="Europe/Paris")
    tokyo = CrontabSchedule.objects.create(minute="0", hour="*/6", timezone="Asia/Tokyo")
    interval = IntervalSchedule.objects.create(every=90, period="seconds")
    hours = IntervalSchedule.objects.create(every=2, period="hours")
    solar = SolarSchedule.objects.create(event="sunset", latitude="48.856600", longitude="2.352200")
    soon = ClockedSchedule.objects.create(clocked_time=datetime.now(UTC) + timedelta(minutes=2))
    for i in range(50):
        PeriodicTask.objects.create(
            name=f"cron-{i}", task="project.tasks.send_digest", crontab=paris if i % 2 else tokyo,
            args=json.dumps([f"team-{i}"]), kwargs=json.dumps({"include_drafts": bool(i % 3)}),
            queue="reports" if i % 4 else None, priority=i % 10 or None, expire_seconds=600 if i % 5 else None,
            headers=json.dumps({"n": i}),
        )
        PeriodicTask.objects.create(
            name=f"every-{i}", task="project.tasks.sync_inventory", interval=interval if i % 2 else hours,
            args=json.dumps(["north"]), exchange="inv" if i % 2 else None, routing_key="inv.north" if i % 2 else None,
            start_time=datetime(2026, 1, 1, tzinfo=UTC) if i % 7 == 0 else None,
            expires=datetime(2031, 1, 1, tzinfo=UTC) if i % 9 == 0 else None,
            last_run_at=datetime(2026, 11, 1, tzinfo=UTC) if i % 2 else None, total_run_count=i,
        )
    PeriodicTask.objects.create(name="lights", task="project.tasks.open_garden_lights", solar=solar, args='["a"]')
    PeriodicTask.objects.create(name="once", task="project.tasks.heartbeat", clocked=soon, one_off=True)
    PeriodicTask.objects.create(name="disabled", task="project.tasks.heartbeat", interval=interval, enabled=False)


def comparable(entry) -> tuple:  # type: ignore[no-untyped-def]
    """Everything but the last run of a never-run row with a start time: django-celery-beat
    starts it thirty years back (a send at once), ours from its baseline (``core.sends``)."""
    schedule = entry.schedule
    quirk = entry.model.start_time is not None and not PeriodicTask.objects.get(pk=entry.model.pk).last_run_at
    kind = "TzAwareCrontab" if isinstance(schedule, TzAwareCrontab) else type(schedule).__name__
    names = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
    fields = tuple(getattr(schedule, f, None) for f in names)
    return (
        entry.name, entry.task, entry.args, entry.kwargs, entry.options, entry.total_run_count,
        None if quirk else entry.last_run_at, kind, repr(schedule), fields, getattr(schedule, "tz", None),
        entry.model.pk, entry.model.one_off, entry.model.start_time, entry.model.expires,
    )


def test_same_entries_as_the_stock_scheduler() -> None:
    build_mixed_schedule()
    stock = DatabaseScheduler(app=app, lazy=True)
    # The stock all_as_schedule hides crontabs far from the current hour (its pre-filter):
    # compare against its own ModelEntry built for every enabled row, and against what it loads.
    every_stock = {m.name: stock.Entry(m, app=app) for m in PeriodicTask.objects.enabled()}
    loaded_stock = stock.all_as_schedule()
    mine = ours().all_as_schedule()
    assert sorted(mine) == sorted(every_stock) and "disabled" not in mine
    for name, entry in every_stock.items():
        assert comparable(mine[name]) == comparable(entry), name
    assert set(loaded_stock) <= set(mine)
    assert mine["cron-1"].schedule.tz == ZoneInfo("Europe/Paris")
    started = mine["every-0"]  # every 2 hours from 2026-01-01, never run: the latest anchored slot
    period = timedelta(hours=2)
    assert started.last_run_at == datetime(2026, 1, 1, tzinfo=UTC) + period * (
        (started.model.date_changed - datetime(2026, 1, 1, tzinfo=UTC)) // period
    )
    assert every_stock["every-0"].last_run_at < datetime(2000, 1, 1, tzinfo=UTC)  # the quirk ours replaces


def test_no_crontab_is_skipped_whatever_the_hour() -> None:
    now = datetime.now(UTC)
    for offset in range(24):
        hour = (now.hour + offset) % 24
        row = CrontabSchedule.objects.create(minute="0", hour=str(hour), timezone="Pacific/Kiritimati")
        PeriodicTask.objects.create(name=f"h{offset}", task="project.tasks.heartbeat", crontab=row)
    assert len(ours().all_as_schedule()) == 24


@pytest.mark.django_db(transaction=True)  # beat closes its connection between ticks
def test_reloads_only_when_the_marker_moves() -> None:
    populate(3)
    loads = []

    class Counting(ReconcilingScheduler):
        def all_as_schedule(self):  # type: ignore[no-untyped-def]
            loads.append(1)
            return super().all_as_schedule()

    scheduler = Counting(app=app, lazy=True)
    PeriodicTasks.update_changed()
    scheduler.schedule  # noqa: B018 - the initial read
    scheduler.schedule  # noqa: B018
    scheduler.schedule  # noqa: B018
    assert len(loads) == 1
    PeriodicTasks.objects.update(last_update=datetime.now(UTC) + timedelta(seconds=1))
    scheduler.schedule  # noqa: B018
    assert len(loads) == 2


def test_a_closed_scheduler_stops_beat_instead_of_ticking() -> None:
    """Beat's SIGTERM handler closes the scheduler, then raises SystemExit; when that exit
    is lost in an interrupted database call, the next tick must stop beat all the same."""
    scheduler = ours()
    scheduler.close()
    with pytest.raises(SystemExit):
        scheduler.tick()


# -- what the scheduler sends ----------------------------------------------------------------

class Capturing(ReconcilingScheduler):
    """Our scheduler, each message kept as it is handed to Celery's ``apply_async``."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.sent: list[tuple[str, str, dict, str | None]] = []  # type: ignore[type-arg]
        super().__init__(*args, **kwargs)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):  # type: ignore[no-untyped-def]
        self.sent.append((entry.name, entry.options["headers"]["scheduled_time"], entry.kwargs,
                          entry.options.get("task_id")))
        self._tasks_since_sync += 1  # what Celery's apply_async does after a send
        if self.should_sync():
            self._do_sync()


def minutely_row(name: str, last_run_at: datetime, policy: Policy) -> PeriodicTask:
    from reconciler.models import ManagedTask

    row = PeriodicTask.objects.create(
        name=name, task="project.tasks.heartbeat", last_run_at=last_run_at,
        interval=IntervalSchedule.objects.get_or_create(every=60, period="seconds")[0],
    )
    if not policy.is_default:
        ManagedTask.objects.create(periodic_task=row, spec_hash="x", applied_at=last_run_at, policy=policy.to_json())
    return row


def ticked(scheduler: ReconcilingScheduler, times: int = 20) -> None:
    for _ in range(times):
        if scheduler.tick() > 0.5:
            return


@pytest.mark.django_db(transaction=True)
def test_a_beat_starting_sends_each_schedules_catch_up_with_its_slots_and_records_the_rest() -> None:
    from reconciler.models import SkippedRun

    now = datetime.now(UTC).replace(microsecond=0)
    last = now - timedelta(minutes=10, seconds=30)
    slots = [last + timedelta(minutes=k) for k in range(1, 11)]
    minutely_row("all-3", last, Policy(catchup="all", catchup_max=3, scheduled_time_kwarg="label"))
    minutely_row("skip", last, Policy(catchup="skip"))
    minutely_row("once", last, Policy())
    scheduler = Capturing(app=app, lazy=True)
    ticked(scheduler)
    scheduler.close()
    sent = sorted(scheduler.sent, key=lambda s: (s[0], s[1]))
    assert [(name, at) for name, at, _, _ in sent] == [
        *(("all-3", slot.isoformat()) for slot in slots[7:]), ("once", slots[9].isoformat()),
    ]
    assert all(kwargs == {"label": at} for name, at, kwargs, _ in sent if name == "all-3")
    assert sorted((s.name, s.count, s.first_slot, s.slot) for s in SkippedRun.objects.all()) == [
        ("all-3", 7, slots[0], slots[6]), ("once", 9, slots[0], slots[8]), ("skip", 10, slots[0], slots[9]),
    ]
    assert set(PeriodicTask.objects.values_list("last_run_at", flat=True)) == {slots[9]}  # persisted: the slot
    assert dict(PeriodicTask.objects.values_list("name", "total_run_count")) == {"all-3": 3, "once": 1, "skip": 0}


@pytest.mark.django_db(transaction=True)
def test_overlap_skip_sends_no_run_while_the_previous_one_is_going() -> None:
    from reconciler.models import RunLease, SkippedRun

    now = datetime.now(UTC).replace(microsecond=0)
    minutely_row("tracked", now - timedelta(seconds=90), Policy(overlap="skip", max_runtime=600))
    first = Capturing(app=app, lazy=True)
    ticked(first)
    [(_, _, _, task_id)] = first.sent
    assert task_id is not None and RunLease.objects.get(name="tracked").task_id == task_id
    first.close()
    PeriodicTask.objects.filter(name="tracked").update(last_run_at=now - timedelta(seconds=90))
    second = Capturing(app=app, lazy=True)  # another beat, the run not finished: not sent again
    ticked(second)
    second.close()
    assert second.sent == [] and SkippedRun.objects.get(name="tracked").reason == "overlap"


class StoppedWhileSending(Capturing):
    """Beat receives SIGTERM while it hands a message to Celery: the deploy stopping it at
    the second a schedule is due."""

    def apply_async(self, entry, producer=None, advance=True, **kwargs):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler at the next bytecode
        super().apply_async(entry, producer, advance, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_a_stop_signal_during_a_send_is_handled_once_the_slot_it_saves_as_served_is_sent() -> None:
    """Celery's SIGTERM handler saves the schedule and raises SystemExit wherever beat is. Raised
    mid-send, it saved the slot as served with its message never sent: the run was lost, and the
    next beat did not catch it up (seen in CI)."""
    now = datetime.now(UTC).replace(microsecond=0)
    minutely_row("due", now - timedelta(seconds=90), Policy())
    scheduler = StoppedWhileSending(app=app, lazy=True)
    service = beat.Service(app=app)
    service.__dict__["scheduler"] = scheduler
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        Beat(app=app).install_sync_handler(service)  # what `celery beat` installs
        with pytest.raises(SystemExit):
            ticked(scheduler)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    saved = PeriodicTask.objects.get(name="due").last_run_at
    assert [(name, slot) for name, slot, _, _ in scheduler.sent] == [("due", saved.isoformat())], \
        f"{saved} saved as served, sent: {scheduler.sent}"
