"""The next run times of a task, computed by Celery's own schedule objects (what beat runs).

Every schedule is asked the same question beat asks: "the last run was at T, how long until
the next?", with Celery's clock fixed at the moment of the plan, so that ``--now`` makes the
answer reproducible. A disabled task, a deleted one and a past one-off have no next run.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..specs import Clocked, Crontab, Interval, Solar, TaskSpec

COUNT = 3


def next_runs(spec: TaskSpec | None, now: datetime, count: int = COUNT) -> tuple[datetime, ...]:
    """The next ``count`` runs strictly after ``now`` (aware, in UTC); ``()`` when none."""
    if spec is None or not spec.enabled:
        return ()
    schedule = spec.schedule
    start = max(now, spec.start_time) if spec.start_time else now
    if isinstance(schedule, Clocked):
        return _clocked(schedule, now)
    if isinstance(schedule, Interval):
        return _interval(schedule, now, start, count)
    if isinstance(schedule, Crontab | Solar):
        return _iterate(celery_schedule(schedule, start), start, count)
    return ()


def celery_schedule(schedule: Crontab | Solar, moment: datetime) -> Any:
    """The Celery schedule object beat would build for this row, its clock stopped at ``moment``."""
    if isinstance(schedule, Crontab):
        built = _crontab(schedule)
    else:
        from celery.schedules import solar

        built = solar(schedule.event, float(schedule.latitude), float(schedule.longitude))
    return _frozen_clock(built, moment)


def _crontab(schedule: Crontab) -> Any:
    from django_celery_beat.tzcrontab import TzAwareCrontab

    return TzAwareCrontab(
        minute=schedule.minute, hour=schedule.hour, day_of_week=schedule.day_of_week,
        day_of_month=schedule.day_of_month, month_of_year=schedule.month_of_year,
        tz=ZoneInfo(schedule.timezone),
    )


def _frozen_clock(schedule: Any, moment: datetime) -> Any:
    clock: Callable[[], datetime] = lambda: moment  # noqa: E731
    schedule.nowfun = clock
    return schedule


def _iterate(schedule: Any, start: datetime, count: int) -> tuple[datetime, ...]:
    """Each run is the previous one plus Celery's ``remaining_estimate`` from it."""
    runs: list[datetime] = []
    last = start
    for _ in range(count):
        following = (start + schedule.remaining_estimate(last)).astimezone(UTC)
        if following <= last:  # an event at exactly ``last``: ask again a second later
            following = (start + schedule.remaining_estimate(last + timedelta(seconds=1))).astimezone(UTC)
        runs.append(following.replace(microsecond=0) if isinstance(schedule, _solar_type()) else following)
        last = following
    return tuple(runs)


@lru_cache(maxsize=1)
def _solar_type() -> type:
    from celery.schedules import solar

    return solar


def _interval(schedule: Interval, now: datetime, start: datetime, count: int) -> tuple[datetime, ...]:
    """beat counts an interval from the row's last run; a new row's is the moment it is
    loaded, so the first run is one period later (not before ``start_time``)."""
    from celery.schedules import schedule as every

    celery_every = _frozen_clock(every(run_every=timedelta(seconds=schedule.seconds)), now)
    first = max(now + celery_every.remaining_estimate(now), start)
    period = celery_every.run_every
    return tuple((first + period * i).astimezone(UTC) for i in range(count))


def _clocked(schedule: Clocked, now: datetime) -> tuple[datetime, ...]:
    from django_celery_beat.clockedschedule import clocked

    one_off = _frozen_clock(clocked(schedule.at), now)
    return (schedule.at,) if one_off.remaining_estimate(None) > timedelta(0) else ()


def zone_of(spec: TaskSpec | None) -> str:
    """The time zone a person reads this schedule in: a cron's own, else UTC."""
    if spec is not None and isinstance(spec.schedule, Crontab):
        return spec.schedule.timezone
    return "UTC"
