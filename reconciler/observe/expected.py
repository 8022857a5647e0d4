"""When a schedule's next run is expected, by Celery's own schedule objects: ``expectation``
counts from a reference (the last recorded run, or when the row was applied), ``row_math``
does it for a row, with when beat next sends it (``core.sends``, as every prediction), and
keeps the answer in process (``health`` decides from it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.sends import baseline, predict, starting_point
from ..core.timing import at_moment, next_after
from .rows import Row
from .runs import RunSummary


@dataclass(frozen=True)
class Expectation:
    expected_at: datetime | None
    period: timedelta | None


def expectation(
    schedule: Any, reference: datetime, now: datetime, start_time: datetime | None = None, *,
    frozen: Any = None, with_period: bool = True, jitter: timedelta = timedelta(0),
) -> Expectation:
    """The run that should follow ``reference`` (the last run, or when the schedule was
    applied), by the schedule's own math, sent ``jitter`` after its slot; a start time in the
    future moves it (``core.sends.baseline``: an interval first runs at the start time).
    ``frozen``: the schedule already stopped at ``now`` (``at_moment``), shared by the rows of
    one schedule."""
    frozen = frozen if frozen is not None else at_moment(schedule, now)
    if start_time is not None and start_time > reference:
        reference = baseline(frozen, reference, start_time)
    slot = next_after(frozen, now, reference)
    expected = slot + jitter if slot is not None else None
    if slot is None or not with_period:
        return Expectation(expected, None)
    following = next_after(frozen, now, slot)  # absolute: the frozen "now" does not move it
    return Expectation(expected, following - slot if following is not None and following > slot else None)


def reference_time(row: Row, runs: RunSummary, now: datetime, retention: timedelta | None) -> datetime:
    """Where the expected run is counted from: the last stored run; before any, when the row
    was applied (or changed), but no earlier than the results' retention (``result_expires``):
    runs older than that may have been deleted, not missed."""
    if runs.last_run_at is not None:
        return runs.last_run_at
    since = row.applied_at or row.changed_at or now
    return max(since, now - retention) if retention else since


MATH_MEMO_SIZE = 200_000  # entries (a few hundred bytes each): emptied when full
MATH_WINDOW = 900  # seconds: every quarter of an hour (UTC) the memo starts afresh
FOREVER = datetime.max.replace(tzinfo=UTC)
# key -> (expectation, next send, valid before)
_math_memo: dict[tuple[Any, ...], tuple[Expectation, datetime | None, datetime]] = {}


def row_math(
    row: Row, runs: RunSummary, now: datetime, with_period: bool, retention: timedelta | None = None,
    frozen: dict[int, Any] | None = None,
) -> tuple[Expectation, datetime | None]:
    """The run expected after the row's reference (``expectation``) and when beat next sends
    the row (``core.sends.predict``: "now" when a run is due), memoised in process while that
    send is ahead: both are absolute moments, the same at any earlier "now" while the schedule,
    its policy, the reference, the last send and the start time are unchanged — except across a
    daylight-saving change (Celery's ``remaining`` compares the offsets of the last run and of
    "now"), so the memo is keyed on the quarter of an hour too: zones change their offset only on
    a quarter hour (UTC). Rows without a ``schedule_key`` (built by hand) are computed every time."""
    reference = reference_time(row, runs, now, retention)
    key = None
    if row.schedule_key is not None:
        window = int(now.timestamp() // MATH_WINDOW)
        key = (row.schedule_key, row.name, row.policy, reference, row.last_sent_at, row.changed_at, row.start_time,
               with_period, window)
        found = _math_memo.get(key)
        if found is not None and now < found[2]:
            return found[0], found[1]
    cache = frozen if frozen is not None else {}
    stopped = cache.get(id(row.schedule))
    if stopped is None:
        stopped = cache[id(row.schedule)] = at_moment(row.schedule, now)
    last = starting_point(stopped, row.last_sent_at, row.changed_at, row.start_time, now)
    sends = predict(stopped, last, now, 1, row.policy, row.name, frozen=stopped)
    following = sends[0].at if sends else None
    jitter = row.policy.jitter_offset(row.name)
    expected = expectation(
        row.schedule, reference, now, row.start_time, frozen=stopped, with_period=with_period, jitter=jitter,
    )
    if key is not None and (following is None or following > now):
        if len(_math_memo) >= MATH_MEMO_SIZE:
            _math_memo.clear()
        _math_memo[key] = (expected, following, following or FOREVER)
    return expected, following
