"""Property: what the forecast predicts a beat starting now sends is what our beat's entry sends.

For generated schedules (intervals, crontabs in zones across DST, solar events), rows (never
run or last run some time ago, with or without a start time) and policies (catch-up, window,
max, jitter), the sends the forecast's own prediction gives (``observe.forecast._row_sends``)
equal those of the real ``ScheduledEntry`` driven by a stopped clock: its own ``is_due`` and
``next``, the clock moved to each wait it returns."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project.celery import app
from reconciler.beat.entry import ScheduledEntry
from reconciler.beat.kinds import schedule_of
from reconciler.core.policy import Policy
from reconciler.observe.forecast import _row_sends
from reconciler.observe.rows import Row

SENDS = 5
STARTS = (  # a quiet day, and the days before Europe/Paris and New York change their clocks
    datetime(2026, 6, 10, 8, 0, tzinfo=UTC), datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
    datetime(2026, 10, 24, 22, 30, tzinfo=UTC), datetime(2026, 3, 7, 20, 0, tzinfo=UTC),
)
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata")

intervals = st.builds(lambda s: IntervalSchedule(every=s, period="seconds"), st.integers(1, 7200))
crontabs = st.builds(
    lambda minute, hour, zone: CrontabSchedule(minute=minute, hour=hour, timezone=zone),
    st.sampled_from(("*", "0", "30", "*/15", "5,35")), st.sampled_from(("*", "2", "*/3", "1-3", "12")),
    st.sampled_from(ZONES),
)
solars = st.builds(
    lambda event, place: SolarSchedule(event=event, latitude=place[0], longitude=place[1]),
    st.sampled_from(("sunrise", "sunset", "dusk_civil", "solar_noon")),
    st.sampled_from(((48.8566, 2.3522), (40.7128, -74.006), (-33.8688, 151.2093))),
)


def shortest_period(row: Any) -> int:
    if isinstance(row, IntervalSchedule):
        return int(row.every)
    if isinstance(row, CrontabSchedule):
        return 60 if row.minute == "*" else 900 if row.minute.startswith(("*", "5")) else 3600
    return 3600 * 6


@st.composite
def policies(draw: st.DrawFn, period: int) -> Policy:
    catchup = draw(st.sampled_from(("skip", "once", "all")))
    window = draw(st.none() | st.integers(1, 86400)) if catchup != "skip" else None
    most = draw(st.none() | st.integers(1, 20)) if catchup == "all" else None
    jitter = draw(st.none() | st.integers(1, max(1, period - 1))) if period > 1 else None
    return Policy(catchup=catchup, catchup_window=window, catchup_max=most, jitter=jitter)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, Policy, datetime, datetime | None, datetime, datetime | None]:
    schedule_row = draw(st.one_of(intervals, crontabs, solars))
    now = draw(st.sampled_from(STARTS)) + timedelta(seconds=draw(st.integers(0, 7200)))
    changed = now - timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    last = draw(st.none() | st.just(changed + timedelta(seconds=draw(st.integers(0, 3600)))))
    last = min(last, now) if last is not None else None
    start = draw(st.none() | st.builds(lambda s: now + timedelta(seconds=s), st.integers(-5 * 86400, 86400)))
    return schedule_row, draw(policies(shortest_period(schedule_row))), now, last, changed, start


def entry_sends(model: PeriodicTask, policy: Policy, now: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """(slot, moment) of each run the entry decides to send, its clock moved to each wait."""
    clock = [now]
    sends: list[tuple[datetime, datetime]] = []
    with mock.patch.object(ScheduledEntry, "now", lambda entry: clock[0]):
        entry = ScheduledEntry(model, app=app, policy=policy)
        for _ in range(4 * count):
            is_due, wait = entry.is_due()
            if is_due:
                assert entry.decision is not None
                sends += [(send.slot, clock[0]) for send in entry.decision.sends]
                entry = next(entry)
            if len(sends) >= count:
                break
            clock[0] += timedelta(seconds=wait)
    return sends[:count]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_forecast_predicts_what_the_entry_sends(case: tuple[Any, ...]) -> None:
    schedule_row, policy, now, last, changed, start = case
    kind = {IntervalSchedule: "interval", CrontabSchedule: "crontab", SolarSchedule: "solar"}[type(schedule_row)]
    model = PeriodicTask(
        name="property", task="project.tasks.heartbeat", enabled=True, last_run_at=last, date_changed=changed,
        start_time=start, **{kind: schedule_row},
    )
    row = Row(
        name="property", task="project.tasks.heartbeat", queue="", enabled=True, schedule=schedule_of(schedule_row),
        last_sent_at=last, changed_at=changed, applied_at=changed, start_time=start, expires=None, policy=policy,
    )
    predicted = [(send.slot, send.at) for _, send in zip(range(SENDS), _row_sends(row, now), strict=False)]
    assert predicted == entry_sends(model, policy, now, SENDS)
