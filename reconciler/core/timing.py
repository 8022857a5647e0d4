"""When a schedule runs, by Celery's own schedule objects (the ones beat uses), at a moment
we choose: ``remaining_estimate(last_run_at)`` measured against a fixed "now" gives the absolute
time of the run that follows ``last_run_at`` — crontab time zones and DST, solar events and
clocked moments included — without reimplementing any of that arithmetic.

``upcoming`` is the one home of next runs: the plan, ``plan --against``, status, the API, the
admin, the forecast, the lints and the metrics all ask it (a declaration through
``beat.kinds.next_runs``: the schedule object beat would build for the row apply writes).
A run is the exact slot — the first whole second at which the schedule's own ``is_due`` is
true — in UTC: never "now plus a remaining estimate" read from a clock that has moved on
since (that gave 06:29:59.97 for 06:30)."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

SECOND = timedelta(seconds=1)
THIRTY_YEARS = timedelta(days=365 * 30)  # django-celery-beat's ModelEntry, for a row with a start_time


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


def beat_last_run(last_run_at: datetime | None, changed_at: datetime | None, now: datetime,
                  start_time: datetime | None) -> datetime:
    """The ``last_run_at`` beat's ``ModelEntry`` starts a row from: its own, else the row's last
    change — thirty years earlier when the row has a ``start_time``, so that the first run is
    due as soon as the start time comes (django-celery-beat's rule)."""
    if last_run_at is not None:
        return last_run_at
    since = changed_at or now
    return since - THIRTY_YEARS if start_time is not None else since


def upcoming(
    schedule: Any, last_run_at: datetime, now: datetime, count: int = 3, frozen: Any = None,
    start_time: datetime | None = None,
) -> tuple[datetime, ...]:
    """The next ``count`` runs beat sends for a row last run at ``last_run_at`` (``beat_last_run``),
    as seen at ``now``: exact slots in whole seconds (UTC). A run already due when ``now`` comes
    is sent at once (beat catches up once), then the schedule's own slots follow; nothing is
    sent before ``start_time``. ``frozen``: the schedule already stopped at ``now`` (shared
    across a read's rows)."""
    frozen = frozen if frozen is not None else at_moment(schedule, now)
    first = next_after(frozen, now, last_run_at)
    if first is None or count < 1:
        return ()
    runs = [first_sent(first, now, start_time)]
    while len(runs) < count:
        following = slot_after(frozen, now, runs[-1])
        if following is None:
            break
        runs.append(following)
    return tuple(runs)


def first_sent(first: datetime, now: datetime, start_time: datetime | None = None) -> datetime:
    """When beat sends a run due at ``first`` (``next_after`` of the row's last run), seen at
    ``now``: at once when already due, never before ``start_time``; a whole second, UTC."""
    return whole_second(max(first, now, start_time or now))


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
