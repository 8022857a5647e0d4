"""``core.sends``: the baseline of a row that never ran, the decision at an evaluation (catch-up
policies, window, max, jitter), the prediction of a beat starting now, and the bounded
enumeration of missed slots."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import schedule as every
from celery.schedules import solar
from django_celery_beat.clockedschedule import clocked
from django_celery_beat.tzcrontab import TzAwareCrontab

from reconciler.core.policy import Policy
from reconciler.core.sends import Dropped, baseline, due, predict, starting_point
from reconciler.core.timing import at_moment, whole_second

NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the Saturday before Europe/Paris moves to summer time


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def cron(minute: str, hour: str, zone: str = "UTC") -> Any:
    return TzAwareCrontab(minute=minute, hour=hour, tz=ZoneInfo(zone))


HOURLY = every(timedelta(hours=1))
PARIS_0230 = cron("30", "2", "Europe/Paris")
SUNSET = solar("sunset", 48.8566, 2.3522)

# (id, schedule, changed_at, start_time, baseline)
BASELINES: list[tuple[str, Any, datetime, datetime | None, datetime]] = [
    ("interval-no-start", HOURLY, NOW, None, NOW),
    ("interval-start-ahead", HOURLY, NOW, at("2026-04-01T00:20:00+00:00"), at("2026-03-31T23:20:00+00:00")),
    ("interval-start-past-anchored", HOURLY, NOW, at("2026-03-01T00:20:00+00:00"), at("2026-03-28T11:20:00+00:00")),
    ("interval-start-on-a-slot", HOURLY, NOW, at("2026-03-28T10:00:00+00:00"), NOW),
    ("cron-start-ahead", PARIS_0230, NOW, at("2026-04-01T00:00:00+00:00"), at("2026-03-31T23:59:59+00:00")),
    ("cron-start-past", PARIS_0230, NOW, at("2026-01-01T00:00:00+00:00"), NOW),
    ("solar-start-past", SUNSET, NOW, at("2026-01-01T00:00:00+00:00"), NOW),
    ("clocked-start", clocked(at("2026-04-01T00:00:00+00:00")), NOW, at("2026-05-01T00:00:00+00:00"), NOW),
]


@pytest.mark.parametrize(("schedule", "changed", "start", "expected"), [c[1:] for c in BASELINES],
                         ids=[c[0] for c in BASELINES])
def test_baseline(schedule: Any, changed: datetime, start: datetime | None, expected: datetime) -> None:
    assert baseline(schedule, changed, start) == expected


def test_a_last_run_before_a_later_start_time_starts_afresh_from_it() -> None:
    start = at("2026-04-01T00:20:00+00:00")
    assert starting_point(HOURLY, NOW - timedelta(days=1), None, start, NOW) == start - timedelta(hours=1)
    assert starting_point(HOURLY, start, None, start, NOW) == start  # ran at it: the slot stands
    assert starting_point(HOURLY, None, None, None, NOW) == NOW


# (id, schedule, start_time, first three sends of a row written at NOW)
FIRST_SENDS: list[tuple[str, Any, datetime | None, list[str]]] = [
    ("interval", HOURLY, None, ["2026-03-28T13:00:00+00:00", "2026-03-28T14:00:00+00:00", "2026-03-28T15:00:00+00:00"]),
    ("interval-start-past", HOURLY, at("2026-03-01T00:20:00+00:00"),
     ["2026-03-28T12:20:00+00:00", "2026-03-28T13:20:00+00:00", "2026-03-28T14:20:00+00:00"]),
    ("interval-start-ahead", HOURLY, at("2026-04-01T00:20:00+00:00"),
     ["2026-04-01T00:20:00+00:00", "2026-04-01T01:20:00+00:00", "2026-04-01T02:20:00+00:00"]),
    ("cron-paris-across-summer-time", PARIS_0230, None,  # 02:30 does not exist on the 29th: 03:30 summer time
     ["2026-03-29T01:30:00+00:00", "2026-03-30T00:30:00+00:00", "2026-03-31T00:30:00+00:00"]),
    ("cron-paris-start-past", PARIS_0230, at("2026-01-01T00:00:00+00:00"),
     ["2026-03-29T01:30:00+00:00", "2026-03-30T00:30:00+00:00", "2026-03-31T00:30:00+00:00"]),
    ("cron-paris-start-ahead", PARIS_0230, at("2026-03-30T12:00:00+00:00"),
     ["2026-03-31T00:30:00+00:00", "2026-04-01T00:30:00+00:00", "2026-04-02T00:30:00+00:00"]),
    ("clocked", clocked(at("2026-04-01T00:00:00+00:00")), None, ["2026-04-01T00:00:00+00:00"]),
]


@pytest.mark.parametrize(("schedule", "start", "expected"), [c[1:] for c in FIRST_SENDS],
                         ids=[c[0] for c in FIRST_SENDS])
def test_a_row_that_never_ran_has_missed_nothing(schedule: Any, start: datetime | None, expected: list[str]) -> None:
    """Whatever its start time, a row written now first runs at its next slot, never at once."""
    sends = predict(schedule, baseline(schedule, NOW, start), NOW, 3)
    assert [s.at.isoformat() for s in sends] == expected
    assert all(s.at == s.slot for s in sends)


def test_the_solar_schedule_first_runs_at_its_next_event() -> None:
    sends = predict(SUNSET, baseline(SUNSET, NOW, at("2026-01-01T00:00:00+00:00")), NOW, 2)
    assert [s.at.date().isoformat() for s in sends] == ["2026-03-28", "2026-03-29"]
    assert sends[0].at > NOW


MINUTELY = every(timedelta(minutes=1))
DOWN = NOW - timedelta(minutes=10, seconds=30)  # last served 11:49:30: slots 11:50:30 ... 11:59:30 missed (10)
SLOT = [DOWN + timedelta(minutes=k) for k in range(1, 12)]  # SLOT[0] = 11:50:30 ... SLOT[9] = 11:59:30

# (id, policy, slots sent at NOW, dropped (first, last, count) or None)
CATCHUP: list[tuple[str, Policy, list[datetime], tuple[datetime, datetime, int] | None]] = [
    ("skip", Policy(catchup="skip"), [], (SLOT[0], SLOT[9], 10)),
    ("once", Policy(), [SLOT[9]], (SLOT[0], SLOT[8], 9)),
    ("all", Policy(catchup="all"), SLOT[:10], None),
    ("all-max-3", Policy(catchup="all", catchup_max=3), SLOT[7:10], (SLOT[0], SLOT[6], 7)),
    ("all-window-5m", Policy(catchup="all", catchup_window=300), SLOT[5:10], (SLOT[0], SLOT[4], 5)),
    ("all-window-and-max", Policy(catchup="all", catchup_window=300, catchup_max=2), SLOT[8:10], (SLOT[0], SLOT[7], 8)),
    ("once-window-too-short", Policy(catchup_window=10), [], (SLOT[0], SLOT[9], 10)),
    ("once-window", Policy(catchup_window=60), [SLOT[9]], (SLOT[0], SLOT[8], 9)),
]


@pytest.mark.parametrize(("policy", "sent", "dropped"), [c[1:] for c in CATCHUP], ids=[c[0] for c in CATCHUP])
def test_catch_up(policy: Policy, sent: list[datetime], dropped: tuple[datetime, datetime, int] | None) -> None:
    decision = due(at_moment(MINUTELY, NOW), DOWN, NOW, policy, "job", catching_up=True)
    assert [s.slot for s in decision.sends] == sent
    assert all(s.at == NOW for s in decision.sends)
    assert decision.dropped == (Dropped(*dropped) if dropped else None)
    assert decision.last == SLOT[9] and decision.next_at == SLOT[10]
    assert decision.due


@pytest.mark.parametrize("policy", [c[1] for c in CATCHUP], ids=[c[0] for c in CATCHUP])
def test_after_the_first_evaluation_a_stalled_beat_sends_one_run_for_the_latest_slot(policy: Policy) -> None:
    decision = due(at_moment(MINUTELY, NOW), DOWN, NOW, policy, "job", catching_up=False)
    assert [s.slot for s in decision.sends] == [SLOT[9]] and decision.dropped is None


def test_nothing_due_is_no_decision_and_says_when_to_look_again() -> None:
    decision = due(at_moment(MINUTELY, NOW), SLOT[9], NOW, Policy(catchup="skip"), "job", catching_up=True)
    assert not decision.due and decision.last == SLOT[9] and decision.next_at == SLOT[10]
    assert decision.wait(NOW) == 30.0


@pytest.mark.parametrize("name", ["a", "sync-inventory-main", "garden-lights-on", "ü"])
def test_jitter_delays_every_send_by_a_stable_offset_and_keeps_the_slot(name: str) -> None:
    policy = Policy(jitter=120)
    offset = policy.jitter_offset(name)
    assert timedelta(0) <= offset < timedelta(seconds=120) and offset == Policy(jitter=120).jitter_offset(name)
    sends = predict(HOURLY, NOW, NOW, 3, policy, name)
    assert [s.at - s.slot for s in sends] == [offset] * 3
    assert [s.slot for s in sends] == [NOW + timedelta(hours=k) for k in (1, 2, 3)]
    frozen = at_moment(HOURLY, sends[0].slot + offset - timedelta(seconds=1))
    early = due(frozen, NOW, sends[0].slot + offset - timedelta(seconds=1), policy, name)
    on_time = due(at_moment(HOURLY, sends[0].at), NOW, sends[0].at, policy, name)
    assert not early.due or offset == timedelta(0)
    assert [s.slot for s in on_time.sends] == [sends[0].slot] and on_time.last == sends[0].slot


def test_a_prediction_is_the_catch_up_at_now_then_the_slots() -> None:
    sends = predict(MINUTELY, DOWN, NOW, 4, Policy(catchup="all", catchup_max=2), "job")
    after = SLOT[10] + timedelta(minutes=1)
    assert [(s.slot, s.at) for s in sends] == [(SLOT[8], NOW), (SLOT[9], NOW), (SLOT[10], SLOT[10]), (after, after)]
    skipped = predict(MINUTELY, DOWN, NOW, 1, Policy(catchup="skip"), "job")
    assert [s.at for s in skipped] == [SLOT[10]]



def test_a_slot_that_passed_unsent_before_the_question_is_sent_now_with_its_slot() -> None:
    """What ``reconcile status`` shows when the minute turns between an apply and the question
    (seen in CI): the row's first slot has passed and no beat sent it, so beat sends it at its
    next tick ("now", shown in whole seconds), carrying its slot; the minute is not shown again."""
    changed, asked = at("2026-12-03T02:08:58.700+00:00"), at("2026-12-03T02:09:00.300+00:00")
    minute = at("2026-12-03T02:09:00+00:00")
    every_minute = cron("*", "*")
    last = starting_point(at_moment(every_minute, asked), None, changed, at("2020-01-01T00:00:00+00:00"), asked)
    sends = predict(every_minute, last, asked, 2)
    assert [(s.slot, s.at) for s in sends] == [(minute, asked), (minute + timedelta(minutes=1),) * 2]
    assert whole_second(sends[0].at) == minute + timedelta(seconds=1)

def test_a_month_of_missed_seconds_is_counted_not_walked() -> None:
    last = NOW - timedelta(days=30)
    started = time.perf_counter()
    decision = due(at_moment(every(timedelta(seconds=1)), NOW), last, NOW, Policy(catchup="all"), "x", True)
    assert time.perf_counter() - started < 0.5
    assert [s.slot for s in decision.sends] == [NOW - timedelta(seconds=k) for k in range(9, -1, -1)]
    assert decision.dropped == Dropped(last + timedelta(seconds=1), NOW - timedelta(seconds=10), 30 * 86400 - 10)


@pytest.mark.parametrize("policy", [Policy(catchup="skip"), Policy(), Policy(catchup="all", catchup_max=3)],
                         ids=["skip", "once", "all-3"])
def test_a_month_of_missed_minutes_of_a_cron_jumps_and_estimates(policy: Policy) -> None:
    """Past ``SCAN`` slots the walk jumps to just before now: the tail is exact, the count estimated."""
    minutely = cron("*", "*", "Europe/Paris")
    last = NOW - timedelta(days=30)
    started = time.perf_counter()
    decision = due(at_moment(minutely, NOW), last, NOW, policy, "x", True)
    assert time.perf_counter() - started < 2
    wanted = {"skip": 0, "once": 1}.get(policy.catchup, 3)
    assert [s.slot for s in decision.sends] == [NOW - timedelta(minutes=k) for k in range(wanted - 1, -1, -1)]
    assert decision.dropped is not None and decision.dropped.estimated
    assert decision.dropped.first == last + timedelta(minutes=1)
    assert decision.dropped.last == NOW - timedelta(minutes=wanted)
    assert abs(decision.dropped.count - (30 * 1440 - wanted)) <= 2


def test_a_clocked_moment_is_sent_once() -> None:
    moment = clocked(at("2026-03-28T11:00:00+00:00"))
    decision = due(at_moment(moment, NOW), NOW - timedelta(hours=2), NOW, Policy(), "x", catching_up=True)
    assert [s.slot for s in decision.sends] == [at("2026-03-28T11:00:00+00:00")] and decision.next_at is None
    assert not due(at_moment(moment, NOW), decision.last, NOW, Policy(), "x").due
