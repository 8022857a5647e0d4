"""Health: the pure rule, the grace, Celery's math for the expected run, and every schedule
read from a real database in a bounded number of queries."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from celery import states
from celery.schedules import schedule as interval
from django_celery_beat.tzcrontab import TzAwareCrontab

from reconciler.core.calendar import Calendar
from reconciler.core.monitor import Monitor
from reconciler.observe.expected import expectation
from reconciler.observe.health import Health, decide, grace_for, grace_of, is_complete, read_health
from tests.support.engine import NOW, apply_yaml
from tests.support.observe import record_run, set_calendar, set_monitor

MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("enabled", "last_state", "expected_in", "health"),
    [
        (False, states.FAILURE, -3600, Health.DISABLED),
        (True, None, 30, Health.NEVER_RUN),
        (True, None, -30, Health.NEVER_RUN),  # overdue, but within the grace
        (True, None, -61, Health.LATE),  # a queue no worker consumes: never ran, and overdue
        (True, states.SUCCESS, -61, Health.LATE),
        (True, states.FAILURE, -61, Health.LATE),  # missing runs are the newer fact
        (True, states.FAILURE, 30, Health.FAILING),
        (True, states.REVOKED, 30, Health.FAILING),
        (True, states.RETRY, 30, Health.OK),
        (True, states.STARTED, 30, Health.OK),
        (True, states.SUCCESS, 30, Health.OK),
        (True, states.SUCCESS, None, Health.OK),  # nothing more expected (a past one-off)
    ],
    ids=["disabled", "never-run", "never-run-in-grace", "never-run-overdue", "late", "late-after-failure",
         "failing", "revoked", "retrying", "running", "ok", "nothing-expected"],
)
def test_decide(enabled: bool, last_state: str | None, expected_in: int | None, health: Health) -> None:
    expected = None if expected_in is None else NOW + timedelta(seconds=expected_in)
    assert decide(enabled=enabled, last_state=last_state, expected_at=expected, grace=MIN, now=NOW) == health


@pytest.mark.parametrize(
    ("period", "fixed", "grace"),
    [
        (timedelta(seconds=30), None, MIN),
        (timedelta(minutes=10), None, timedelta(minutes=5)),
        (timedelta(days=30), None, timedelta(hours=1)),
        (None, None, MIN),
        (timedelta(days=1), 5.0, timedelta(seconds=5)),
    ],
    ids=["short-period-min", "half-period", "long-period-max", "no-period", "setting"],
)
def test_grace(period: timedelta | None, fixed: float | None, grace: timedelta) -> None:
    assert grace_for(period, fixed) == grace


def test_the_expected_run_is_celerys_next_run_after_the_reference() -> None:
    every = expectation(interval(timedelta(seconds=30)), NOW, NOW + timedelta(minutes=5))
    assert (every.expected_at, every.period) == (NOW + timedelta(seconds=30), timedelta(seconds=30))
    paris = ZoneInfo("Europe/Paris")
    cron = TzAwareCrontab(minute="0", hour="8", tz=paris)
    daily = expectation(cron, datetime(2026, 3, 28, 8, 0, tzinfo=paris), datetime(2026, 3, 30, tzinfo=UTC))
    assert daily.expected_at == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 in Paris, summer time
    assert daily.period == timedelta(days=1)
    later_start = expectation(interval(timedelta(seconds=30)), NOW, NOW, start_time=NOW + timedelta(hours=1))
    assert later_start.expected_at == NOW + timedelta(hours=1)  # an interval first runs at its start time


YAML = """tasks:
  beat-a:
    task: project.tasks.heartbeat
    every: 30s
  beat-b:
    task: project.tasks.heartbeat
    every: 30s
  flaky:
    task: project.tasks.flaky
    every: 10m
  reports:
    task: project.tasks.send_digest
    cron: "0 8 * * *"
    timezone: Europe/Paris
    args: [staff]
    queue: reports
  paused:
    task: project.tasks.heartbeat
    every: 1m
    enabled: false
"""


@pytest.mark.django_db
@pytest.mark.db_backend
def test_every_schedule_health_from_the_database(tmp_path: Path, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    apply_yaml(tmp_path, YAML)  # applied at NOW
    later = NOW + timedelta(hours=2)
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, later - timedelta(seconds=20))
    record_run("beat-b", "project.tasks.heartbeat", states.SUCCESS, later - timedelta(minutes=5))  # beat-a's task
    record_run("flaky", "project.tasks.flaky", states.FAILURE, later - timedelta(minutes=3))
    record_run("flaky", "project.tasks.flaky", states.STARTED, later - timedelta(seconds=5))  # the next one, running
    with django_assert_max_num_queries(3):
        found = {s.name: s for s in read_health(now=later)}
    assert {name: str(s.health) for name, s in found.items()} == {
        "beat-a": "ok", "beat-b": "late", "flaky": "failing", "paused": "disabled", "reports": "never-run",
    }
    assert found["beat-b"].expected_at == later - timedelta(minutes=5) + timedelta(seconds=30)
    assert found["reports"].expected_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 08:00 in Paris, winter
    assert found["flaky"].runs.counts == {states.FAILURE: 1, states.STARTED: 1}
    assert found["flaky"].last_state == states.STARTED  # failing all the same: judged by the last finished run
    next_day = {s.name: s.health for s in read_health(["reports"], now=datetime(2026, 11, 25, 8, 30, tzinfo=UTC))}
    assert next_day == {"reports": Health.LATE}  # the 08:00 run never happened: no worker on its queue


@pytest.mark.parametrize(
    ("enabled", "last_state", "expected_in", "health"),
    [
        (False, None, None, Health.SUSPENDED),  # suspending disables the row: the suspension is the reason
        (False, states.FAILURE, -3600, Health.SUSPENDED),
        (True, states.SUCCESS, -3600, Health.SUSPENDED),  # an operator re-enabled it by hand: still suspended
    ],
    ids=["disabled-by-suspend", "failed-and-overdue", "enabled-by-hand"],
)
def test_suspended_comes_first(enabled: bool, last_state: str | None, expected_in: int | None, health: Health) -> None:
    expected = None if expected_in is None else NOW + timedelta(seconds=expected_in)
    assert decide(
        enabled=enabled, last_state=last_state, expected_at=expected, grace=MIN, now=NOW, suspended=True,
    ) == health


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_suspended_schedule_is_suspended_not_disabled(tmp_path: Path, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from reconciler.operate import suspend

    apply_yaml(tmp_path, YAML)
    later = NOW + timedelta(hours=2)
    record_run("flaky", "project.tasks.flaky", states.FAILURE, later - timedelta(minutes=3))
    suspend("flaky", "incident 42", by="alice", now=later - timedelta(minutes=1))
    with django_assert_max_num_queries(3):
        found = {s.name: s for s in read_health(now=later)}
    assert (found["flaky"].health, found["paused"].health) == (Health.SUSPENDED, Health.DISABLED)
    assert found["flaky"].suspended_at == later - timedelta(minutes=1) and found["paused"].suspended_at is None
    assert found["flaky"].to_json()["suspended_at"] == (later - timedelta(minutes=1)).isoformat()
    assert [s.name for s in read_health(["flaky"], now=later)] == ["flaky"]
    assert read_health(["flaky"], now=later)[0].health is Health.SUSPENDED


@pytest.mark.django_db
@pytest.mark.db_backend
def test_the_memoised_math_is_the_math(tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``row_math`` keeps each row's expected and next run between reads: a later read within
    the quarter hour computes nothing again, and says exactly what a fresh computation says —
    every schedule form (intervals, crontabs in zones, solar, clocked, start times), and a row
    whose run was recorded in between."""
    from django.utils import timezone

    from reconciler.observe import expected

    apply_yaml(tmp_path, (fixtures_dir / "valid" / "every-form.yaml").read_text(), now=timezone.now())
    quarter = int(timezone.now().timestamp() // expected.MATH_WINDOW + 1) * expected.MATH_WINDOW
    first, later = (datetime.fromtimestamp(quarter + s, tz=UTC) for s in (60, 60 + 11 * 60))
    expected._math_memo.clear()
    before = read_health(now=first)
    assert before
    record_run("every-int", "project.tasks.heartbeat", states.SUCCESS, first)
    computed: list[int] = []
    real = expected.expectation
    monkeypatch.setattr(expected, "expectation", lambda *a, **k: computed.append(1) or real(*a, **k))
    memoised = read_health(now=later)
    # the row that ran, and the rows whose next send came in between (a beat starting now decides anew)
    again = {h.name for h in before if h.name == "every-int" or (h.next_run_at is not None and h.next_run_at <= later)}
    assert len(computed) == len(again) < len(before)
    expected._math_memo.clear()
    fresh = read_health(now=later)
    assert len(fresh) > 10 and memoised == fresh


def _fresh(now: datetime) -> tuple:  # type: ignore[type-arg]
    from reconciler.observe import expected, health

    health._health_memo.clear()
    expected._math_memo.clear()
    return read_health(now=now)


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_kept_health_is_the_health_at_every_later_and_earlier_moment(tmp_path: Path, fixtures_dir: Path) -> None:
    """``health_of_row`` keeps each schedule's health for the next reads until the first moment
    that can change it: every schedule form, read at moments going forward (through next runs
    and graces) and back, says exactly what a fresh computation says at that moment."""
    from django.utils import timezone

    from reconciler.observe import health

    apply_yaml(tmp_path, (fixtures_dir / "valid" / "every-form.yaml").read_text(), now=timezone.now())
    quarter = int(timezone.now().timestamp() // health.MATH_WINDOW + 1) * health.MATH_WINDOW
    moments = [datetime.fromtimestamp(quarter + s, tz=UTC) for s in (1, 2, 31, 59, 61, 119, 300, 899, 61, 1)]
    record_run("every-int", "project.tasks.heartbeat", states.SUCCESS, moments[0] - timedelta(seconds=50))
    health._health_memo.clear()
    for now in moments:
        kept = read_health(now=now)
        assert kept == _fresh(now), now
        read_health(now=now)  # the next read of this loop finds the memo filled at this moment


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_kept_health_turns_late_once_the_grace_is_over(tmp_path: Path) -> None:
    """Same rows and runs between three reads in one quarter hour: on time, then late and due
    (the kept health ends at the grace's end), then on time again at the earlier moment."""
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from reconciler.observe import health

    apply_yaml(tmp_path, YAML, now=timezone.now())
    quarter = int(timezone.now().timestamp() // health.MATH_WINDOW + 1) * health.MATH_WINDOW
    sent = datetime.fromtimestamp(quarter + 10, tz=UTC)
    PeriodicTask.objects.filter(name="beat-a").update(last_run_at=sent, total_run_count=1)
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, sent)
    health._health_memo.clear()
    on_time, overdue = sent + timedelta(seconds=20), sent + timedelta(seconds=95)  # every 30s, grace 1 min

    def beat_a(now: datetime) -> object:
        return {s.name: s for s in read_health(now=now)}["beat-a"]

    first = beat_a(on_time)
    assert (first.health, first.next_run_at) == (Health.OK, sent + timedelta(seconds=30))
    late = beat_a(overdue)
    assert (late.health, late.next_run_at) == (Health.LATE, overdue)
    assert beat_a(on_time) == first


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_kept_late_health_is_not_used_for_an_earlier_moment(tmp_path: Path) -> None:
    """Beat sent the row lately (its next run is ahead) but the last stored run is old: late
    from the grace's end on, kept until that next run — and never for a moment before the read."""
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from reconciler.observe import health

    apply_yaml(tmp_path, YAML, now=timezone.now())
    quarter = datetime.fromtimestamp(
        int(timezone.now().timestamp() // health.MATH_WINDOW + 1) * health.MATH_WINDOW, tz=UTC)
    PeriodicTask.objects.filter(name="beat-a").update(last_run_at=quarter + timedelta(seconds=10))
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, quarter - timedelta(seconds=80))
    health._health_memo.clear()  # every 30s, grace 1 min: late after quarter + 10 s; next run at quarter + 40 s

    def beat_a(now: datetime) -> Health:
        return {s.name: s for s in read_health(now=now)}["beat-a"].health

    assert beat_a(quarter + timedelta(seconds=35)) is Health.LATE
    assert beat_a(quarter + timedelta(seconds=5)) is Health.OK


@pytest.mark.parametrize(
    ("enabled", "suspended", "last_state", "expected_in", "health"),
    [
        (True, False, states.SUCCESS, 30, Health.RUNNING_LONG),
        (True, False, states.SUCCESS, -3600, Health.RUNNING_LONG),  # the hung run is why the next ones are missing
        (True, False, states.FAILURE, 30, Health.RUNNING_LONG),
        (True, False, None, 30, Health.RUNNING_LONG),  # its first run hangs: no run recorded yet
        (False, False, states.SUCCESS, 30, Health.DISABLED),
        (False, True, states.SUCCESS, 30, Health.SUSPENDED),
    ],
    ids=["ok", "late", "failing", "never-run", "disabled", "suspended"],
)
def test_running_long_comes_after_suspended_and_disabled(
    enabled: bool, suspended: bool, last_state: str | None, expected_in: int, health: Health,
) -> None:
    expected = NOW + timedelta(seconds=expected_in)
    assert decide(
        enabled=enabled, last_state=last_state, expected_at=expected, grace=MIN, now=NOW, suspended=suspended,
        running_long=True,
    ) == health


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_run_past_its_max_runtime_is_running_long(tmp_path: Path, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    """Read from the database as beat and the worker leave it (``RunLease``, the policy applied),
    in three queries; the kept health follows the run: running long once past max_runtime,
    back to its run health when the run finishes (same rows, same stored runs)."""
    from reconciler.observe import health
    from tests.support.observe import set_policy, track_run

    apply_yaml(tmp_path, YAML)  # applied at NOW
    set_policy("flaky", overlap="skip", max_runtime=600)
    set_policy("beat-b", max_runtime=60)
    set_policy("paused", max_runtime=60)
    sent = NOW + timedelta(hours=2)
    record_run("flaky", "project.tasks.flaky", states.SUCCESS, sent - timedelta(minutes=10))
    task_id = track_run("flaky", sent, started=sent + timedelta(seconds=5))
    track_run("paused", sent, started=sent, max_runtime=60)  # disabled says more than its last run
    track_run("beat-b", sent, started=sent, finished=sent + timedelta(seconds=30), outcome="success")
    health._health_memo.clear()

    def read(now: datetime) -> dict[str, object]:
        with django_assert_max_num_queries(3):
            return {s.name: s for s in read_health(now=now)}

    early = read(sent + timedelta(minutes=5))
    assert early["flaky"].health is Health.OK and early["flaky"].run.state == "running"  # type: ignore[attr-defined]
    hung = read(sent + timedelta(minutes=11))
    assert {name: str(s.health) for name, s in hung.items() if s.run is not None} == {  # type: ignore[attr-defined]
        "beat-b": "late", "flaky": "running-long", "paused": "disabled"}
    run = hung["flaky"].to_json()["run"]  # type: ignore[attr-defined]
    assert (run["state"], run["task_id"], run["running_long"], run["max_runtime"]) == ("running", task_id, True, 600)
    assert hung["reports"].run is None and hung["reports"].to_json()["run"] is None  # type: ignore[attr-defined]
    assert read(sent + timedelta(minutes=5))["flaky"].health is Health.OK  # an earlier moment: not kept

    track_run("flaky", sent, started=sent + timedelta(seconds=5), finished=sent + timedelta(minutes=12),
              outcome="success")
    done = read(sent + timedelta(minutes=13))["flaky"]
    assert done.health is Health.LATE and done.run.state == "finished"  # type: ignore[attr-defined]  # every 10m
    assert [s.name for s in read_health(now=sent + timedelta(minutes=11)) if s.health is Health.RUNNING_LONG] == []


@pytest.mark.parametrize(
    ("enabled", "suspended", "running_long", "expected_in", "health"),
    [
        (False, False, False, None, Health.COMPLETE),  # beat disabled it at max_runs
        (True, False, False, -3600, Health.COMPLETE),  # until passed: its last expected run is not missing
        (True, False, True, 30, Health.COMPLETE),
        (False, True, False, None, Health.SUSPENDED),
    ],
    ids=["disabled", "overdue", "running-long", "suspended"],
)
def test_complete_comes_after_suspended_and_before_everything_else(
    enabled: bool, suspended: bool, running_long: bool, expected_in: int | None, health: Health,
) -> None:
    expected = None if expected_in is None else NOW + timedelta(seconds=expected_in)
    assert decide(
        enabled=enabled, last_state=states.FAILURE, expected_at=expected, grace=MIN, now=NOW, suspended=suspended,
        running_long=running_long, complete=True,
    ) == health


@pytest.mark.parametrize(
    ("calendar", "sent", "next_in", "enabled", "complete"),
    [
        (Calendar(), 100, 60, True, False),
        (Calendar(max_runs=5), 4, 60, True, False),
        (Calendar(max_runs=5), 5, None, False, True),
        (Calendar(max_runs=5), 5, 60, True, True),  # counted before beat disabled it
        (Calendar(until=(NOW + MIN).isoformat()), 0, 30, True, False),
        (Calendar(until=NOW.isoformat()), 0, None, True, True),
        (Calendar(until=(NOW - MIN).isoformat()), 0, None, False, True),
        (Calendar(until=(NOW + MIN).isoformat()), 0, None, True, True),  # no run left before until
        (Calendar(until=(NOW + MIN).isoformat()), 0, None, False, False),  # disabled: that is why none is due
    ],
    ids=["no-end", "runs-left", "max-runs", "max-runs-enabled", "until-ahead", "until-now", "until-passed",
         "no-run-before-until", "disabled-before-until"],
)
def test_is_complete(calendar: Calendar, sent: int, next_in: int | None, enabled: bool, complete: bool) -> None:
    next_run = None if next_in is None else NOW + timedelta(seconds=next_in)
    assert is_complete(calendar, sent, next_run, enabled, NOW) is complete


@pytest.mark.parametrize(
    ("monitor", "period", "fixed", "grace"),
    [
        (Monitor(), timedelta(minutes=10), None, timedelta(minutes=5)),
        (Monitor(grace=30), timedelta(minutes=10), None, timedelta(seconds=30)),
        (Monitor(grace=7200), timedelta(days=30), 5.0, timedelta(hours=2)),  # replaces the setting, unclamped
        (Monitor(grace=0), None, None, timedelta(0)),
    ],
    ids=["global-rule", "own", "over-the-setting", "zero"],
)
def test_a_monitors_grace_replaces_the_global_rule(
    monitor: Monitor, period: timedelta | None, fixed: float | None, grace: timedelta,
) -> None:
    assert grace_of(monitor, period, fixed) == grace


@pytest.mark.django_db
@pytest.mark.db_backend
def test_two_failures_then_a_success_with_a_failure_threshold_of_three_never_show_failing(
    tmp_path: Path, django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    """The issue's proof, read from the database after each run as status, the API and metrics read it."""
    apply_yaml(tmp_path, YAML)
    set_monitor("flaky", failure_threshold=3)
    set_monitor("beat-a", failure_threshold=2, recovery_threshold=2)
    seen = []
    for n, state in enumerate((states.FAILURE, states.FAILURE, states.SUCCESS)):
        at = NOW + timedelta(minutes=10 * n + 1)
        record_run("flaky", "project.tasks.flaky", state, at)
        with django_assert_max_num_queries(4):  # the rows, the summaries, the tracked runs, the streaks
            seen.append(read_health(["flaky"], now=at + timedelta(minutes=1))[0].health)
    assert seen == [Health.OK, Health.OK, Health.OK]
    assert read_health(["flaky"], now=NOW + timedelta(minutes=25))[0].to_json()["failure_threshold"] == 3

    recovering = []
    for n, state in enumerate((states.FAILURE, states.FAILURE, states.SUCCESS, states.FAILURE, states.SUCCESS,
                               states.SUCCESS)):
        at = NOW + timedelta(seconds=30 * n + 10)
        record_run("beat-a", "project.tasks.heartbeat", state, at)
        recovering.append(str(read_health(["beat-a"], now=at + timedelta(seconds=5))[0].health))
    assert recovering == ["ok", "failing", "failing", "failing", "failing", "ok"]


@pytest.mark.django_db
@pytest.mark.db_backend
def test_a_schedules_own_grace_and_its_end(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """monitor.grace replaces RECONCILER_HEALTH_GRACE for its schedule; max_runs counted by beat
    (total_run_count) and a passed until make a schedule complete, before disabled."""
    from django_celery_beat.models import PeriodicTask

    settings.RECONCILER_HEALTH_GRACE = 10
    apply_yaml(tmp_path, YAML)
    later = NOW + timedelta(hours=2)
    for name in ("beat-a", "beat-b"):
        record_run(name, "project.tasks.heartbeat", states.SUCCESS, later - timedelta(minutes=5))
    set_monitor("beat-b", grace=600)
    set_calendar("flaky", max_runs=2)
    set_calendar("paused", max_runs=2)
    PeriodicTask.objects.filter(name__in=["flaky", "paused"]).update(total_run_count=2, enabled=False)
    set_calendar("reports", until=(later - timedelta(minutes=1)).isoformat())
    found = {s.name: s for s in read_health(now=later)}
    assert {name: str(s.health) for name, s in found.items()} == {
        "beat-a": "late", "beat-b": "ok", "flaky": "complete", "paused": "complete", "reports": "complete",
    }
    assert (found["beat-a"].grace_seconds, found["beat-b"].grace_seconds) == (10, 600)
    assert str(read_health(["reports"], now=later - timedelta(minutes=2))[0].health) == "never-run"
