"""When a schedule runs, by Celery's own schedule objects (the ones beat uses), at a moment
we choose: ``remaining_estimate(last_run_at)`` measured against a fixed "now" gives the absolute
time of the run that follows ``last_run_at`` — crontab time zones and DST, solar events and
clocked moments included — without reimplementing any of that arithmetic.

These are a schedule's *slots*; what beat sends for them (the baseline of a row that never
ran, catch-up, jitter) is ``core.sends``, the one home of next runs every prediction asks.
A slot is exact — the first whole second at which the schedule's own ``is_due`` is
true — in UTC: never "now plus a remaining estimate" read from a clock that has moved on
since (that gave 06:29:59.97 for 06:30)."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

SECOND = timedelta(seconds=1)


def at_moment(schedule: Any, now: datetime) -> Any:
    """A copy of a Celery schedule whose clock is stopped at ``now``."""
    frozen = copy.copy(schedule)
    tz = getattr(schedule, "tz", None)
    fixed = now.astimezone(tz) if tz is not None and not isinstance(tz, str) else now
    frozen.nowfun = lambda: fixed
    return frozen


def whole_second(moment: datetime) -> datetime:
    """The first whole second at or after ``moment``, in UTC: when beat's ``is_due`` is true
    at a one-second resolution (a solar event falls between two seconds)."""
    moment = moment.astimezone(UTC)
    return moment if not moment.microsecond else moment.replace(microsecond=0) + SECOND


def next_after(frozen: Any, now: datetime, last_run_at: datetime) -> datetime | None:
    """The exact moment that follows ``last_run_at`` by a schedule frozen at ``now`` (``at_moment``)."""
    try:
        remaining: timedelta | None = frozen.remaining_estimate(last_run_at)
    except (ValueError, OverflowError, TypeError):  # a schedule beat cannot compute either
        return None
    if remaining is None:
        return None
    return (now + remaining).astimezone(UTC)


def slot_after(frozen: Any, now: datetime, last: datetime) -> datetime | None:
    """The slot strictly after ``last`` (whole seconds, UTC), or None when the schedule does
    not move on (a clocked moment, a schedule beat cannot compute)."""
    following = next_after(frozen, now, last)
    if following is not None and following <= last:  # an event at exactly ``last``: a second later
        following = next_after(frozen, now, last + SECOND)
    if following is None or following <= last:
        return None
    return whole_second(following)


def upcoming(schedule: Any, last: datetime, now: datetime, count: int = 3, frozen: Any = None) -> tuple[datetime, ...]:
    """The schedule's next ``count`` slots strictly after ``last`` (whole seconds, UTC), seen at
    ``now``: the schedule's own slots, not what beat sends (``core.sends``: catch-up, jitter)."""
    frozen = frozen if frozen is not None else at_moment(schedule, now)
    runs: list[datetime] = []
    current = last
    while len(runs) < count:
        following = slot_after(frozen, now, current)
        if following is None:
            break
        runs.append(following)
        current = following
    return tuple(runs)


def runs_between(schedule: Any, first: datetime, end: datetime, limit: int) -> Iterator[datetime]:
    """Every run in [first, end): ``first`` is the next run (a slot from ``upcoming``), each next
    one follows the previous by the schedule's own math. Stops at ``limit`` runs or when a
    schedule does not move on (a clocked moment)."""
    frozen = at_moment(schedule, first)
    current: datetime | None = whole_second(first)
    count = 0
    while current is not None and current < end and count < limit:
        yield current
        count += 1
        current = slot_after(frozen, first, current)
