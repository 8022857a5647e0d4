"""The health of every schedule: ``ok``, ``late``, ``failing``, ``running-long``, ``never-run``,
``suspended``, ``complete`` or ``disabled``.

``decide`` is the rule, a pure function of plain values. ``observe.expected`` asks Celery's
schedule objects when a run was due, counting from the schedule's last recorded run (or, before
any, from when it was applied). ``observe.leases`` tells whether the run in flight (tracked by
beat for a policy with ``max_runtime``) is running long. ``read_health`` reads the database in a
bounded set of queries. Each schedule's monitor (``core.monitor``, from ownership) gives its own
grace, and its thresholds of runs in a row (``observe.streaks``).

Precedence: suspended (an operator paused it: ``reconcile suspend``; the row is disabled too,
but the reason is the suspension), then complete (its calendar ended: ``max_runs`` sent, or
``until`` passed; beat disables a row that reached ``max_runs``), then disabled, then
running-long (a run is in flight past its ``max_runtime``: it is also why the next runs go
missing or are skipped, so it explains a ``late``), then late (an expected run is missing: the
newest fact), then failing (the last run failed; with thresholds, runs in a row), then never-run
(no run yet, none overdue), then ok.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.utils import timezone

from ..conf import conf
from ..core.calendar import Calendar
from ..core.monitor import NO_MONITOR, Monitor
from ..core.timing import whole_second
from .expected import MATH_WINDOW, Expectation, row_math
from .leases import RunState, read_runs
from .rows import Row, read_rows
from .runs import FAILED_STATES, RunSummary, summaries
from .streaks import read_streaks, uses_streaks

GRACE_RATIO = 0.5  # default grace: half the period between two runs ...
GRACE_MIN = timedelta(minutes=1)  # ... at least a minute ...
GRACE_MAX = timedelta(hours=1)  # ... at most an hour (a monthly report is late after an hour, not after weeks)


class Health(StrEnum):
    OK = "ok"
    LATE = "late"
    FAILING = "failing"
    RUNNING_LONG = "running-long"
    NEVER_RUN = "never-run"
    SUSPENDED = "suspended"
    COMPLETE = "complete"
    DISABLED = "disabled"


def decide(
    *, enabled: bool, last_state: str | None, expected_at: datetime | None, grace: timedelta, now: datetime,
    suspended: bool = False, running_long: bool = False, complete: bool = False, failing: bool | None = None,
) -> Health:
    """The health of one schedule. ``expected_at``: the run that should follow the last one
    (or the first run, when there is none); ``None`` when no further run is expected.
    ``suspended``: its ownership row carries a suspension (``ManagedTask.suspended_at``).
    ``running_long``: its tracked run is unfinished past ``max_runtime`` (``leases.is_running_long``).
    ``complete``: its calendar ended (``is_complete``). ``failing``: the verdict of its runs in a
    row (``streaks.failing_by_streaks``); None: the last finished run (``last_state``) decides."""
    if suspended:
        return Health.SUSPENDED
    if complete:
        return Health.COMPLETE
    if not enabled:
        return Health.DISABLED
    if running_long:
        return Health.RUNNING_LONG
    if expected_at is not None and now > expected_at + grace:
        return Health.LATE
    if last_state is None:
        return Health.NEVER_RUN
    if failing if failing is not None else last_state in FAILED_STATES:
        return Health.FAILING
    return Health.OK


def is_complete(calendar: Calendar, sent: int, next_run: datetime | None, enabled: bool, now: datetime) -> bool:
    """Its calendar ended: ``max_runs`` sends counted (beat's ``total_run_count``), or ``until``
    passed, or (enabled) no further send before ``until``. Pure."""
    if calendar.complete(sent):
        return True
    return calendar.end is not None and (calendar.ended(now) or (enabled and next_run is None))


def grace_of(monitor: Monitor, period: timedelta | None, fixed: float | None) -> timedelta:
    """The schedule's own ``monitor.grace`` when it has one, else the global rule (``grace_for``)."""
    return timedelta(seconds=monitor.grace) if monitor.grace is not None else grace_for(period, fixed)


def grace_for(period: timedelta | None, fixed: float | None = None) -> timedelta:
    """How long a run may be missing before its schedule is late: the ``fixed`` seconds
    (``RECONCILER_HEALTH_GRACE``) or half the period, clamped to [1 minute, 1 hour]."""
    if fixed is not None:
        return timedelta(seconds=fixed)
    if period is None:
        return GRACE_MIN
    return min(max(period * GRACE_RATIO, GRACE_MIN), GRACE_MAX)


def configured_grace() -> float | None:
    value = conf.HEALTH_GRACE
    return None if value is None else float(value)


def result_retention() -> timedelta | None:
    """How long the result store keeps runs (Celery's ``result_expires``), if it deletes them."""
    from ..pipeline import celery_app  # start-up: docs/architecture.md, "The import rules"

    value = celery_app().conf.result_expires
    if value is None:
        return None
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


@dataclass(frozen=True)
class ScheduleHealth:
    """One schedule as ``reconcile status``, the admin, the API and ``/metrics`` show it."""

    name: str
    task: str
    queue: str
    enabled: bool
    managed: bool
    health: Health
    last_run_at: datetime | None
    last_state: str | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    expected_at: datetime | None
    grace_seconds: float
    runs: RunSummary
    suspended_at: datetime | None = None
    run: RunState | None = None  # the tracked run in flight or last finished (a policy that tracks runs)
    monitor: Monitor = NO_MONITOR  # its thresholds, owner and severity (``ManagedTask.monitor``)

    @property
    def owner(self) -> str:
        return self.monitor.owner

    @property
    def severity(self) -> str:
        return self.monitor.severity

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name, "task": self.task, "queue": self.queue, "enabled": self.enabled,
            "managed": self.managed, "health": str(self.health), "last_run_at": iso(self.last_run_at),
            "last_state": self.last_state, "last_success_at": iso(self.last_success_at),
            "next_run_at": iso(self.next_run_at), "expected_at": iso(self.expected_at),
            "grace_seconds": self.grace_seconds, "runs": dict(sorted(self.runs.counts.items())),
            "suspended_at": iso(self.suspended_at), "run": self.run.to_json() if self.run else None,
            "owner": self.owner or None, "severity": self.severity or None,
            "failure_threshold": self.monitor.failure_threshold, "recovery_threshold": self.monitor.recovery_threshold,
        }


def health_of_row(
    row: Row, runs: RunSummary, now: datetime, fixed_grace: float | None, retention: timedelta | None = None,
    frozen: dict[int, Any] | None = None, run: RunState | None = None, failing: bool | None = None,
) -> ScheduleHealth:
    """One schedule's health from its row and its runs: Celery's math (``row_math``), then
    ``decide``. ``frozen``: schedules stopped at ``now``, by ``id()``, shared across the rows of a read.
    ``run``: its tracked run (``leases.read_runs``), read at ``now``: it is attached to the
    health, never kept in the memo (the memo knows only whether it runs long). ``failing``: the
    verdict of its runs in a row (``streaks.read_streaks``), for a monitor with thresholds.

    Kept in process for the next reads of the same row and runs (``observe.rows`` and
    ``runs.summaries`` keep those objects while the database sends the same values) until
    ``now`` reaches the first moment that can change it (``_computed``); never for an earlier
    ``now``, never across ``row_math``'s quarter of an hour."""
    long = run is not None and run.running_long
    if row.schedule_key is None:
        return _with_run(_computed(row, runs, now, fixed_grace, retention, frozen, long, failing)[0], run)
    key = (id(row), id(runs), fixed_grace, retention, int(now.timestamp() // MATH_WINDOW), long, failing)
    found = _health_memo.get(key)
    if found is not None and found[0] is row and found[1] is runs and found[3] <= now < found[4]:
        return _with_run(found[2], run)
    health, until = _computed(row, runs, now, fixed_grace, retention, frozen, long, failing)
    if until is not None:
        if len(_health_memo) >= HEALTH_MEMO_SIZE:
            _health_memo.clear()
        _health_memo[key] = (row, runs, health, now, until)
    return _with_run(health, run)


def _with_run(health: ScheduleHealth, run: RunState | None) -> ScheduleHealth:
    return health if run is None else replace(health, run=run)


def _still_counted_alike(
    row: Row, runs: RunSummary, now: datetime, retention: timedelta | None, until: datetime | None,
) -> datetime | None:
    """``until``, or earlier while ``reference_time`` and ``starting_point`` give the same moments
    at a later "now" (None when they move with it: a row with neither a send nor a change, a
    schedule without runs counted from the retention's start)."""
    if until is None or (row.last_sent_at is None and row.changed_at is None):
        return None
    if runs.last_run_at is not None:
        return until
    since = row.applied_at or row.changed_at
    if since is None or (retention is not None and now - retention >= since):
        return None
    return min(until, since + retention) if retention is not None else until


HEALTH_MEMO_SIZE = 200_000  # entries: emptied when full
FOREVER = datetime.max.replace(tzinfo=UTC)
# (id(row), id(runs), grace, retention, window) -> (row, runs, health, computed at, valid before)
_health_memo: dict[tuple[Any, ...], tuple[Row, RunSummary, ScheduleHealth, datetime, datetime]] = {}


def _computed(
    row: Row, runs: RunSummary, now: datetime, fixed_grace: float | None, retention: timedelta | None,
    frozen: dict[int, Any] | None, running_long: bool = False, failing: bool | None = None,
) -> tuple[ScheduleHealth, datetime | None]:
    """The health, and until when a later ``now`` gives the same one (None: it may change at any
    moment): before the next run (``next_run_at`` is that run while it is ahead, "now" once due),
    before the expected run's grace ends (then late, for good), before the row expires, before
    its calendar's ``until``."""
    expected: Expectation = Expectation(None, None)
    next_run: datetime | None = None
    until: datetime | None = FOREVER
    if row.enabled and row.schedule is not None and not (row.expires and row.expires <= now):
        with_period = fixed_grace is None and row.monitor.grace is None
        expected, first = row_math(row, runs, now, with_period, retention, frozen)
        next_run = whole_second(first) if first is not None else None
        until = None if first is not None and first <= now else min(first or FOREVER, row.expires or FOREVER)
        until = _still_counted_alike(row, runs, now, retention, until)
    grace = grace_of(row.monitor, expected.period, fixed_grace)
    if until is not None and (end := row.calendar.end) is not None and now < end:
        until = min(until, end)
    if until is not None and expected.expected_at is not None and now <= expected.expected_at + grace:
        until = min(until, expected.expected_at + grace)
    health = decide(
        enabled=row.enabled, last_state=runs.last_outcome or runs.last_state, expected_at=expected.expected_at,
        grace=grace, now=now, suspended=row.suspended_at is not None, running_long=running_long,
        complete=is_complete(row.calendar, row.total_run_count, next_run, row.enabled, now), failing=failing,
    )
    return ScheduleHealth(
        name=row.name, task=row.task, queue=row.queue, enabled=row.enabled, managed=row.applied_at is not None,
        health=health, last_run_at=runs.last_run_at, last_state=runs.last_state,
        last_success_at=runs.last_success_at, next_run_at=next_run, expected_at=expected.expected_at,
        grace_seconds=grace.total_seconds(), runs=runs, suspended_at=row.suspended_at, monitor=row.monitor,
    ), until


NO_RUNS = RunSummary()  # one object: ``health_of_row``'s memo knows a schedule without runs by it


def read_health(names: Iterable[str] | None = None, now: datetime | None = None) -> tuple[ScheduleHealth, ...]:
    """The health of every schedule (or of ``names``), sorted by name. A bounded set of queries:
    the rows with their schedules and ownership (1 per 500 names), the runs' summaries (1), the
    tracked runs with their policies (1 per 500 names), and, when some monitor has thresholds,
    their newest runs (1 per 500 of those)."""
    now = now or timezone.now()
    wanted = None if names is None else list(names)
    rows = read_rows(wanted)
    runs = summaries(wanted)
    tracked = read_runs(wanted, now)
    streaks = read_streaks({row.name: row.monitor for row in rows if uses_streaks(row.monitor)})
    fixed, retention = configured_grace(), result_retention()
    frozen: dict[int, Any] = {}
    return tuple(
        health_of_row(row, runs.get(row.name, NO_RUNS), now, fixed, retention, frozen, tracked.get(row.name),
                      streaks.get(row.name))
        for row in rows
    )


def health_of(name: str, now: datetime | None = None) -> ScheduleHealth | None:
    found = read_health([name], now)
    return found[0] if found else None


def names_with(healths: Iterable[Health | str], now: datetime | None = None) -> list[str]:
    """Names of the schedules in any of these healths: the admin's and the API's health filter
    (``queryset.filter(name__in=names_with(["late"]))``); health is computed, not a column."""
    wanted = {Health(h) for h in healths}
    return [s.name for s in read_health(now=now) if s.health in wanted]
