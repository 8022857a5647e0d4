"""Runs beat did not send, and why, as beat records them (``SkippedRun``, ``SkipTotal``): a run
still queued or running when the next slot came (``overlap``), slots missed while no beat was
scheduling and dropped by the catch-up policy (``catchup``).

One ``SkippedRun`` is one decision: a catch-up that drops twelve slots is one row with ``count``
12. "Skipped runs" below always counts runs (the sum of ``count``), not rows. Each function is
one query whatever the number of schedules and rows.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Sum

from ..models import SkippedRun, SkipTotal

REASONS = tuple(SkippedRun.Reason.values)  # overlap, catchup
RECENT = timedelta(hours=24)  # what ``reconcile status`` and the API count as recent skips
SKIP_FIELDS = ("name", "reason", "slot", "first_slot", "count", "at", "detail")


@dataclass(frozen=True)
class Skip:
    """One decision of beat not to send."""

    name: str
    reason: str
    slot: datetime  # the latest slot not sent
    first_slot: datetime | None  # the earliest, when several
    count: int
    at: datetime  # when beat decided
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason, "slot": self.slot.isoformat(),
            "first_slot": self.first_slot.isoformat() if self.first_slot else None, "count": self.count,
            "at": self.at.isoformat(), "detail": self.detail,
        }


@dataclass(frozen=True)
class SkipSummary:
    """A schedule's skipped runs over a recent window: how many, and the latest decision's reason."""

    count: int
    last_reason: str
    last_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "last_reason": self.last_reason, "last_at": self.last_at.isoformat()}


def recent_skips(names: Sequence[str] | None, now: datetime, window: timedelta = RECENT) -> dict[str, SkipSummary]:
    """Per schedule with skips in the ``window`` before ``now``: runs not sent and the last reason.
    One aggregate query grouped by schedule and reason (``SkippedRun`` is indexed on name, at)."""
    rows = SkippedRun.objects.filter(at__gt=now - window, at__lte=now)
    if names is not None:
        rows = rows.filter(name__in=sorted(set(names)))
    grouped = rows.order_by().values_list("name", "reason").annotate(runs=Sum("count"), last=Max("at"))
    per_name: dict[str, list[tuple[str, int, datetime]]] = {}
    for name, reason, runs, last in grouped:
        per_name.setdefault(name, []).append((reason, int(runs or 0), last))
    return {name: summarise(groups) for name, groups in sorted(per_name.items())}


def summarise(groups: Sequence[tuple[str, int, datetime]]) -> SkipSummary:
    """(reason, runs, latest) groups of one schedule → its summary. Pure; ties go to the reason
    named last in alphabetical order, so the answer never depends on the database's order."""
    reason, _, last = max(groups, key=lambda g: (g[2], g[0]))
    return SkipSummary(count=sum(g[1] for g in groups), last_reason=reason, last_at=last)


def skipped_queryset(name: str) -> Any:
    """A schedule's skip decisions, newest first (the API paginates this queryset)."""
    return SkippedRun.objects.filter(name=name).order_by("-at", "-id").values_list(*SKIP_FIELDS)


def last_skips(name: str, limit: int = 10, offset: int = 0) -> tuple[Skip, ...]:
    return tuple(skip_of(values) for values in skipped_queryset(name)[offset:offset + limit])


def count_skips(name: str) -> int:
    """How many decisions are recorded for a schedule (rows, not runs)."""
    return int(SkippedRun.objects.filter(name=name).count())


def skip_of(values: Sequence[Any]) -> Skip:
    name, reason, slot, first_slot, count, at, detail = values
    return Skip(name=name, reason=reason, slot=slot, first_slot=first_slot, count=count, at=at, detail=detail)


def skip_totals() -> tuple[tuple[str, str, int], ...]:
    """(schedule, reason, runs not sent since the table was created): Prometheus' counter. One query."""
    rows = SkipTotal.objects.order_by("name", "reason").values_list("name", "reason", "total")
    return tuple((name, reason, int(total)) for name, reason, total in rows)
