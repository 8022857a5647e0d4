"""What beat sends, and when: the one timeline our scheduler's entries decide by
(``beat.entry.ScheduledEntry``) and every prediction reads (plan, status, the API, the admin,
the forecast, health's next run). Plain values and Celery's own schedule objects, walked
through ``core.timing`` (time zones, DST, solar events, clocked moments); no Django.

The rules (docs/policies.md):

- **Baseline.** A row that has never run starts from its last change: it has missed nothing.
  A ``start_time`` moves that start (``baseline``): an interval's slots are anchored at it
  (start_time + k·period), a crontab or solar schedule runs from it on. django-celery-beat's
  own rule (thirty years back, hence one run at once) is what this replaces.
- **A slot is due** when slot + jitter ≤ now; the jitter is the policy's stable offset of the
  schedule's name. beat stores the *slot* it served as ``last_run_at``: slots never drift.
- **Catch-up.** The slots an entry finds due at its first evaluation after this beat started
  scheduling were missed: ``catchup`` skip sends none, once the latest, all each one (oldest
  first) inside ``catchup_window``, at most ``catchup_max``. The rest are dropped (recorded).
  Afterwards an evaluation sends one run for the latest due slot, as Celery does.
- **Bounded.** An interval's missed slots are counted by arithmetic; a crontab's or solar
  schedule's are walked one by one up to ``SCAN`` slots, then the walk jumps to just before
  "now" and walks the tail exactly: the count of the slots jumped over is then estimated from
  the spacing of those walked (``Dropped.estimated``).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from .policy import DEFAULT_POLICY, Policy
from .timing import SECOND, at_moment, slot_after

SCAN = 1000  # crontab and solar slots walked one by one before jumping (a minute cron: 16 hours)
SCHEDULED_TIME = "scheduled_time"  # the message header every send of our beat carries (and run now)


def scheduled_time(moment: datetime) -> str:
    """A run's scheduled time as it travels: ISO 8601 in UTC, with its offset."""
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Send:
    slot: datetime  # the slot served: the run's ``scheduled_time`` (UTC)
    at: datetime  # when beat sends it: slot + jitter, or the evaluation's "now" for a missed slot


@dataclass(frozen=True)
class Dropped:
    """Missed slots not sent (catch-up): the oldest ones, contiguous."""

    first: datetime
    last: datetime
    count: int
    estimated: bool = False  # the count is estimated past ``SCAN`` walked slots


@dataclass(frozen=True)
class Decision:
    """What an evaluation at ``now`` does."""

    sends: tuple[Send, ...]  # to send now, oldest first
    dropped: Dropped | None
    last: datetime  # ``last_run_at`` afterwards: the latest slot served or dropped
    next_at: datetime | None  # when the next send is due (jitter included); None: never

    @property
    def due(self) -> bool:
        """The entry moves on now: something to send, or slots to drop."""
        return bool(self.sends) or self.dropped is not None

    def wait(self, now: datetime) -> float | None:
        """Seconds from ``now`` to the next send, None when there is none."""
        return None if self.next_at is None else max((self.next_at - now).total_seconds(), 0.0)


def period_of(schedule: Any) -> timedelta | None:
    """An interval's period in whole seconds (its slots are then arithmetic), else None."""
    every = getattr(schedule, "run_every", None)
    if not isinstance(every, timedelta) or every <= timedelta(0) or every % SECOND:
        return None
    return every


def baseline(schedule: Any, changed_at: datetime, start_time: datetime | None) -> datetime:
    """The ``last_run_at`` a row that has never run starts from (``changed_at``: when the row
    last changed). An interval with a ``start_time`` first runs at exactly ``start_time`` when
    it is ahead, else on the next slot anchored at it; a crontab or a solar schedule not before
    ``start_time``; a clocked moment is its own anchor."""
    if start_time is None or hasattr(schedule, "clocked_time"):
        return changed_at
    period = getattr(schedule, "run_every", None)
    if isinstance(period, timedelta) and period > timedelta(0):
        if start_time > changed_at:
            return start_time - period
        return start_time + period * ((changed_at - start_time) // period)
    return max(start_time - SECOND, changed_at)


def starting_point(
    schedule: Any, last_run_at: datetime | None, changed_at: datetime | None, start_time: datetime | None,
    now: datetime,
) -> datetime:
    """Where a row's timeline starts: the slot it last ran (beat stores the slot), else its
    ``baseline``; a ``start_time`` later than the last run starts it afresh from there."""
    if last_run_at is not None and (start_time is None or last_run_at >= start_time):
        return last_run_at
    return baseline(schedule, last_run_at or changed_at or now, start_time)


@dataclass(frozen=True)
class _Missed:
    count: int
    first: datetime | None
    tail: tuple[datetime, ...]  # the latest slots, oldest first
    estimated: bool = False


_NONE = _Missed(0, None, ())


def _missed(frozen: Any, now: datetime, last: datetime, limit: datetime, keep: int) -> _Missed:
    """The slots in (last, limit]: how many, the first, the latest ``keep``."""
    first = slot_after(frozen, now, last)
    if first is None or first > limit:
        return _NONE
    period = period_of(frozen)
    if period is None:
        return _walk(frozen, now, first, limit, keep)
    count = (limit - first) // period + 1
    return _Missed(count, first, tuple(first + period * k for k in range(max(0, count - keep), count)))


def _walk(frozen: Any, now: datetime, first: datetime, limit: datetime, keep: int) -> _Missed:
    """``_missed`` by the schedule's own math, from ``first`` (a slot ≤ limit)."""
    tail: deque[datetime] = deque((first,), maxlen=keep)
    count, current = 1, first
    while count < SCAN:
        following = slot_after(frozen, now, current)
        if following is None or following > limit:
            return _Missed(count, first, tuple(tail))
        tail.append(following)
        count, current = count + 1, following
    return _jump(frozen, now, first, current, limit, keep, count, tail)


def _jump(
    frozen: Any, now: datetime, first: datetime, current: datetime, limit: datetime, keep: int, count: int,
    tail: deque[datetime],
) -> _Missed:
    """Past ``SCAN`` slots: walk exactly only the tail before ``limit`` (looking back twice as far
    until it holds ``keep`` slots), and estimate how many lie between."""
    spacing = (current - first) / (count - 1)
    lookback = max(spacing * (keep + 2), SECOND)
    while limit - lookback > current:
        cursor = limit - lookback
        start = slot_after(frozen, now, cursor)
        near = _walk(frozen, now, start, limit, keep) if start is not None and start <= limit else _NONE
        if near.count >= keep:
            between = max(0, round((cursor - current) / spacing))
            return _Missed(count + between + near.count, first, near.tail, True)
        lookback *= 2
    rest = _missed(frozen, now, current, limit, keep)
    merged = (*tail, *rest.tail)[-keep:] if keep else ()
    return _Missed(count + rest.count, first, merged, rest.estimated)


def _wanted(policy: Policy, catching_up: bool) -> int:
    """How many runs an evaluation may send for its due slots."""
    if not catching_up:
        return 1
    return {"skip": 0, "once": 1}.get(policy.catchup, policy.effective_catchup_max)


def due(
    frozen: Any, last: datetime, now: datetime, policy: Policy = DEFAULT_POLICY, name: str = "",
    catching_up: bool = False,
) -> Decision:
    """The decision of an evaluation at ``now`` of a schedule (stopped at ``now``: ``at_moment``)
    last served at ``last``; ``catching_up``: its first evaluation since this beat started
    scheduling, when the catch-up policy applies to what is due."""
    jitter = policy.jitter_offset(name)
    wanted = _wanted(policy, catching_up)
    missed = _missed(frozen, now, last, now - jitter, wanted + 1)
    if not missed.count:
        return Decision((), None, last, _next_at(frozen, now, last, jitter))
    chosen = missed.tail[-wanted:] if wanted else ()
    if catching_up and policy.catchup_window:
        cutoff = now - timedelta(seconds=policy.catchup_window)
        chosen = tuple(slot for slot in chosen if slot >= cutoff)
    latest = missed.tail[-1]
    dropped = None
    if catching_up and missed.count > len(chosen):
        assert missed.first is not None
        before = missed.tail[-len(chosen) - 1]
        dropped = Dropped(missed.first, before, missed.count - len(chosen), missed.estimated)
    sends = tuple(Send(slot, now) for slot in chosen)
    return Decision(sends, dropped, latest, _next_at(frozen, now, latest, jitter))


def _next_at(frozen: Any, now: datetime, last: datetime, jitter: timedelta) -> datetime | None:
    following = slot_after(frozen, now, last)
    return None if following is None else following + jitter


def timeline(
    schedule: Any, last: datetime, now: datetime, policy: Policy = DEFAULT_POLICY, name: str = "",
    frozen: Any = None,
) -> Iterator[Send]:
    """Every send of a beat that starts scheduling at ``now`` a row whose timeline starts at
    ``last`` (``starting_point``): the catch-up at ``now``, then each slot at slot + jitter.
    ``frozen``: the schedule already stopped at ``now`` (shared across a read's rows)."""
    frozen = frozen if frozen is not None else at_moment(schedule, now)
    decision = due(frozen, last, now, policy, name, catching_up=True)
    yield from decision.sends
    jitter, current = policy.jitter_offset(name), decision.last
    period = period_of(frozen)
    following = slot_after(frozen, now, current)
    while following is not None:
        yield Send(following, following + jitter)
        current = following
        following = current + period if period is not None else slot_after(frozen, now, current)


def predict(
    schedule: Any, last: datetime, now: datetime, count: int = 3, policy: Policy = DEFAULT_POLICY, name: str = "",
    frozen: Any = None,
) -> tuple[Send, ...]:
    """The next ``count`` sends of a beat starting now (``timeline``)."""
    return tuple(islice(timeline(schedule, last, now, policy, name, frozen), max(count, 0)))
