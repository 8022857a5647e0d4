"""When a schedule's next run is expected, by Celery's own schedule objects: ``expectation``
counts from a reference (the last recorded run, or when the row was applied), ``row_math``
does it for a row and keeps the answer in process (``health`` decides from it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..core.timing import at_moment, beat_last_run, next_after
from .rows import Row
from .runs import RunSummary


@dataclass(frozen=True)
class Expectation:
    expected_at: datetime | None
    period: timedelta | None


def expectation(
    schedule: Any, reference: datetime, now: datetime, start_time: datetime | None = None, *,
    frozen: Any = None, with_period: bool = True,
) -> Expectation:
    """The run that should follow ``reference`` (the last run, or when the schedule was
    applied), by the schedule's own math; a start time in the future moves it. ``frozen``: the
    schedule already stopped at ``now`` (``at_moment``), shared by the rows of one schedule."""
    if start_time is not None and start_time > reference:
        reference = start_time
    frozen = frozen if frozen is not None else at_moment(schedule, now)
    expected = next_after(frozen, now, reference)
    if expected is None or not with_period:
        return Expectation(expected, None)
    following = next_after(frozen, now, expected)  # absolute: the frozen "now" does not move it
    return Expectation(expected, following - expected if following is not None and following > expected else None)


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
_math_memo: dict[tuple[Any, ...], tuple[Expectation, datetime | None]] = {}


def row_math(
    row: Row, runs: RunSummary, now: datetime, with_period: bool, retention: timedelta | None = None,
    frozen: dict[int, Any] | None = None,
) -> tuple[Expectation, datetime | None]:
    """The run expected after the row's reference (``expectation``) and the run due after beat's
    last send (``next_after``, before ``first_sent``), memoised in process: both are absolute
    moments, the same at any "now" while the schedule, the reference, the last send and the
    start time are unchanged — except across a daylight-saving change (Celery's ``remaining``
    compares the offsets of the last run and of "now"), so the memo is keyed on the quarter of
    an hour too: zones change their offset only on a quarter hour (UTC). Rows without a
    ``schedule_key`` (built by hand) are computed every time."""
    reference = reference_time(row, runs, now, retention)
    last = beat_last_run(row.last_sent_at, row.changed_at, now, row.start_time)
    key = None
    if row.schedule_key is not None:
        window = int(now.timestamp() // MATH_WINDOW)
        key = (row.schedule_key, reference, last, row.start_time, with_period, window)
        found = _math_memo.get(key)
        if found is not None:
            return found
    cache = frozen if frozen is not None else {}
    stopped = cache.get(id(row.schedule))
    if stopped is None:
        stopped = cache[id(row.schedule)] = at_moment(row.schedule, now)
    value = (
        expectation(row.schedule, reference, now, row.start_time, frozen=stopped, with_period=with_period),
        next_after(stopped, now, last),
    )
    if key is not None:
        if len(_math_memo) >= MATH_MEMO_SIZE:
            _math_memo.clear()
        _math_memo[key] = value
    return value
