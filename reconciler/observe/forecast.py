"""Every run due in a window, by Celery's own schedule math (``core.timing``: time zones, DST,
solar events, one-offs), counted per minute, with the busiest minutes and the schedules that
pile up there. ``forecast`` works on plain (name, schedule, first run) triples; ``read_forecast``
reads the enabled rows (one query) and ``declared_forecast`` takes declarations: both ask
``core.sends`` for every send of a beat starting now (its catch-up, each policy's jitter)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice, takewhile
from typing import Any

from django.utils import timezone

from ..beat.kinds import timeline_of
from ..core.schedule import NoSchedule
from ..core.sends import Send, starting_point, timeline
from ..core.specs import TaskSpec
from ..core.timing import runs_between
from .rows import Row, read_rows

BUSIEST = 10
RUNS_PER_SCHEDULE = 100_000  # an every-second schedule over a day: 86,400
NAMES_PER_MINUTE = 100  # schedules listed for a busy minute in the JSON (the count is exact)


@dataclass(frozen=True)
class BusyMinute:
    minute: datetime
    runs: int
    schedules: tuple[tuple[str, int], ...]  # (name, runs in that minute), most first, then by name


@dataclass(frozen=True)
class Forecast:
    start: datetime  # the first minute, floored
    end: datetime
    per_minute: tuple[int, ...]  # runs in each minute from start
    busiest: tuple[BusyMinute, ...]
    schedules: int  # schedules with at least one run in the window
    capped: tuple[str, ...] = ()  # schedules whose runs were cut at RUNS_PER_SCHEDULE

    @property
    def total(self) -> int:
        return sum(self.per_minute)

    def minute(self, index: int) -> datetime:
        return self.start + timedelta(minutes=index)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": 1, "start": self.start.isoformat(), "end": self.end.replace(microsecond=0).isoformat(),
            "total_runs": self.total, "schedules": self.schedules, "capped": list(self.capped),
            "per_minute": [
                {"minute": self.minute(i).isoformat(), "runs": n} for i, n in enumerate(self.per_minute) if n
            ],
            "busiest": [
                {
                    "minute": b.minute.isoformat(), "runs": b.runs, "schedule_count": len(b.schedules),
                    "schedules": [{"name": name, "runs": n} for name, n in b.schedules[:NAMES_PER_MINUTE]],
                }
                for b in self.busiest
            ],
        }


def forecast(
    entries: Iterable[tuple[str, Any, datetime]], start: datetime, end: datetime, limit: int = RUNS_PER_SCHEDULE,
) -> Forecast:
    """Runs in [start, end) of each (name, Celery schedule, first run) entry."""
    start = start.replace(second=0, microsecond=0)
    where = {
        name: _minutes(runs_between(schedule, max(first, start), end, limit), start, end, limit)
        for name, schedule, first in entries
    }
    return tally(where, start, end, limit)


def _minutes(moments: Iterable[datetime], start: datetime, end: datetime, limit: int) -> list[int]:
    """The minute (index from ``start``, floored) of each of a schedule's run ``moments`` (in
    order, from ``start`` on) before ``end``, at most ``limit``."""
    return [int((t - start).total_seconds() // 60) for t in islice(takewhile(lambda t: t < end, moments), limit)]


def _moments(sends: Iterator[Send]) -> Iterator[datetime]:
    return (send.at for send in sends)


def tally(where: dict[str, list[int]], start: datetime, end: datetime, limit: int = RUNS_PER_SCHEDULE) -> Forecast:
    """The forecast of each schedule's run minutes (``start`` floored to the minute)."""
    minutes = max(0, -int(-(end - start).total_seconds() // 60))  # the last minute may be partial
    counts = [0] * minutes
    where = {name: indices for name, indices in where.items() if indices}
    for indices in where.values():
        for index in indices:
            counts[index] += 1
    capped = sorted(name for name, indices in where.items() if len(indices) >= limit)
    busiest = _busiest(counts, where, start)
    return Forecast(start, end, tuple(counts), busiest, len(where), tuple(capped))


def _busiest(counts: list[int], where: dict[str, list[int]], start: datetime) -> tuple[BusyMinute, ...]:
    top = [i for i in sorted(range(len(counts)), key=lambda i: (-counts[i], i))[:BUSIEST] if counts[i]]
    wanted = set(top)
    per_minute: dict[int, Counter[str]] = {i: Counter() for i in top}
    for name, indices in where.items():
        for index in indices:
            if index in wanted:
                per_minute[index][name] += 1
    return tuple(
        BusyMinute(
            start + timedelta(minutes=i), counts[i],
            tuple(sorted(per_minute[i].items(), key=lambda item: (-item[1], item[0]))),
        )
        for i in top
    )


def read_forecast(hours: float = 24, now: datetime | None = None) -> Forecast:
    """The next ``hours`` of every enabled schedule, from when beat will next send it."""
    now = now or timezone.now()
    start, end = now.replace(second=0, microsecond=0), now + timedelta(hours=hours)
    where = {
        row.name: _minutes(_moments(_row_sends(row, now)), start, end, RUNS_PER_SCHEDULE)
        for row in read_rows(enabled_only=True)
        if row.schedule is not None and (row.expires is None or row.expires > now)
    }
    return tally(where, start, end)


def _row_sends(row: Row, now: datetime) -> Iterator[Send]:
    """Every send of a row by a beat starting now (``core.sends.timeline``)."""
    last = starting_point(row.schedule, row.last_sent_at, row.changed_at, row.start_time, now)
    return timeline(row.schedule, last, now, row.policy, row.name)


def declared_forecast(specs: Iterable[TaskSpec], now: datetime, hours: float = 24) -> Forecast:
    """The next ``hours`` of declarations, with no database: each enabled task as a new row
    (``beat.kinds.timeline_of``, the same sends plan --against shows)."""
    start, end = now.replace(second=0, microsecond=0), now + timedelta(hours=hours)
    return tally({spec.name: _declared_minutes(spec, now, start, end) for spec in specs}, start, end)


def _declared_minutes(spec: TaskSpec, now: datetime, start: datetime, end: datetime) -> list[int]:
    if isinstance(spec.schedule, NoSchedule) or (spec.expires_at is not None and spec.expires_at <= now):
        return []
    return _minutes(_moments(timeline_of(spec, now)), start, end, RUNS_PER_SCHEDULE)


@dataclass(frozen=True)
class LoadChange:
    """The load a change of declarations adds: the forecast before (at a git ref) and after."""

    before: Forecast
    after: Forecast
    hours: float = 24

    @property
    def busiest_before(self) -> BusyMinute | None:
        return self.before.busiest[0] if self.before.busiest else None

    @property
    def busiest_after(self) -> BusyMinute | None:
        return self.after.busiest[0] if self.after.busiest else None

    @property
    def busiest_changed(self) -> bool:
        """Whether the busiest minute moves or its count changes."""
        before, after = self.busiest_before, self.busiest_after
        return (before and (before.minute, before.runs)) != (after and (after.minute, after.runs))

    def to_json(self) -> dict[str, Any]:
        def busy(b: BusyMinute | None) -> dict[str, Any] | None:
            return {"minute": b.minute.isoformat(), "runs": b.runs} if b else None

        return {
            "hours": self.hours, "total_runs": {"before": self.before.total, "after": self.after.total},
            "busiest_minute": {"before": busy(self.busiest_before), "after": busy(self.busiest_after)},
            "busiest_changed": self.busiest_changed,
        }


def load_change(before: Iterable[TaskSpec], after: Iterable[TaskSpec], now: datetime, hours: float = 24) -> LoadChange:
    """Both forecasts; a task the change leaves alone is computed once (most of them, in a PR)."""
    start, end = now.replace(second=0, microsecond=0), now + timedelta(hours=hours)
    memo: dict[TaskSpec, list[int]] = {}

    def where(specs: Iterable[TaskSpec]) -> dict[str, list[int]]:
        found = {}
        for spec in specs:
            if spec not in memo:
                memo[spec] = _declared_minutes(spec, now, start, end)
            found[spec.name] = memo[spec]
        return found

    return LoadChange(tally(where(before), start, end), tally(where(after), start, end), hours)
