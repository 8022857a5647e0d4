"""When a schedule runs, by Celery's own schedule objects (the ones beat uses), at a moment
we choose: ``remaining_estimate(last_run_at)`` measured against a fixed "now" gives the absolute
time of the run that follows ``last_run_at`` — crontab time zones and DST, solar events and
clocked moments included — without reimplementing any of that arithmetic."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any


def at_moment(schedule: Any, now: datetime) -> Any:
    """A copy of a Celery schedule whose clock is stopped at ``now``."""
    frozen = copy.copy(schedule)
    tz = getattr(schedule, "tz", None)
    fixed = now.astimezone(tz) if tz is not None and not isinstance(tz, str) else now
    frozen.nowfun = lambda: fixed
    return frozen


def next_after(frozen: Any, now: datetime, last_run_at: datetime) -> datetime | None:
    """The run that follows ``last_run_at`` by a schedule frozen at ``now`` (``at_moment``)."""
    try:
        remaining: timedelta | None = frozen.remaining_estimate(last_run_at)
    except (ValueError, OverflowError, TypeError):  # a schedule beat cannot compute either
        return None
    if remaining is None:
        return None
    return (now + remaining).astimezone(UTC)


def runs_between(schedule: Any, first: datetime, end: datetime, limit: int) -> Iterator[datetime]:
    """Every run in [first, end): ``first`` is the next run, each next one follows the previous
    by the schedule's own math. Stops at ``limit`` runs or when a schedule does not move on
    (a clocked moment)."""
    frozen = at_moment(schedule, first)
    current: datetime | None = first
    count = 0
    while current is not None and current < end and count < limit:
        yield current
        count += 1
        following = next_after(frozen, first, current)
        if following is None or following <= current:
            return
        current = following

