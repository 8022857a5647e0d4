"""The next run times of a declared task, by Celery's own schedule objects (what beat runs).

Every schedule is asked the question beat asks — "the last run was at T, when is the next?" —
through ``observe.schedule_math.upcoming``, the one home of next runs, with Celery's clock
fixed at the moment of the plan, so that ``--now`` makes the answer reproducible. A disabled
task, a deleted one and a past one-off have no next run.
"""
from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from ..core.schedule import Clocked, Crontab, Interval, NoSchedule, Solar
from ..core.specs import TaskSpec
from ..core.timing import at_moment, beat_last_run, upcoming
from ..render.words import moment_zone

COUNT = 3


def next_runs(spec: TaskSpec | None, now: datetime, count: int = COUNT) -> tuple[datetime, ...]:
    """The next ``count`` runs of ``spec`` as a row written at ``now`` (never run yet): exact
    slots in whole seconds (UTC); ``()`` when none. As beat: an interval counts from the row's
    change, a ``start_time`` holds every run back until it comes (and then one is due at once)."""
    if spec is None or not spec.enabled or isinstance(spec.schedule, NoSchedule):
        return ()
    schedule = spec.schedule
    if isinstance(schedule, Clocked) and schedule.at <= now:
        return ()  # a past one-off is written disabled
    last = beat_last_run(None, now, now, spec.start_time)
    count = 1 if isinstance(schedule, Clocked) else count
    return upcoming(celery_schedule(schedule, now), last, now, count, start_time=spec.start_time)


def celery_schedule(schedule: Crontab | Solar | Interval | Clocked, moment: datetime) -> Any:
    """The Celery schedule object beat would build for this row, its clock stopped at ``moment``."""
    built: Any
    if isinstance(schedule, Crontab):
        built = _crontab(schedule)
    elif isinstance(schedule, Solar):
        from celery.schedules import solar

        built = solar(schedule.event, float(schedule.latitude), float(schedule.longitude))
    elif isinstance(schedule, Interval):
        from celery.schedules import schedule as every

        built = every(run_every=timedelta(seconds=schedule.seconds))
    else:
        from django_celery_beat.clockedschedule import clocked

        built = clocked(schedule.at)
    return at_moment(built, moment)


def _crontab(schedule: Crontab) -> Any:
    from django_celery_beat.tzcrontab import TzAwareCrontab

    return TzAwareCrontab(
        minute=schedule.minute, hour=schedule.hour, day_of_week=schedule.day_of_week,
        day_of_month=schedule.day_of_month, month_of_year=schedule.month_of_year,
        tz=ZoneInfo(schedule.timezone),
    )


def zone_of(spec: TaskSpec | None) -> tzinfo:
    """The time zone a person reads this schedule's runs in: a cron's own, a one-off's declared
    offset, else UTC."""
    return moment_zone(spec, "schedule")
