"""The run a schedule has in flight, as beat and the worker's signals record it (``RunLease``):
queued (sent, not started), running, or finished; and whether it is running long.

Beat writes a lease only for a policy that tracks runs (``Policy.tracks_runs``); the worker's
signals mark it started and finished. A run is running long when its policy has a
``max_runtime`` and the run, unfinished, started (or, not started yet, was sent) longer ago than
that. The policy is read from the schedule's ownership row in the same query, so the verdict
always follows the policy applied now (a ``max_runtime`` removed since the send: not running long).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, Subquery

from ..core.policy import Policy
from ..models import ManagedTask, RunLease
from .rows import NAME_BATCH

RUN_STATES = ("queued", "running", "finished")
LEASE_FIELDS = ("name", "task_id", "scheduled_time", "sent_at", "started_at", "finished_at", "expires_at",
                "outcome", "pending_slot")


@dataclass(frozen=True)
class RunState:
    """A schedule's latest tracked run at the moment it was read."""

    task_id: str
    scheduled_time: datetime
    sent_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime
    outcome: str
    pending_slot: datetime | None  # overlap: queue_one: the slot waiting behind this run
    max_runtime: int | None  # seconds, from the policy applied now
    running_long: bool = False  # at the moment of the read (``at``)

    @property
    def state(self) -> str:
        """``queued`` (sent, no worker started it), ``running`` or ``finished``."""
        if self.finished_at is not None:
            return "finished"
        return "running" if self.started_at is not None else "queued"

    @property
    def since(self) -> datetime:
        """When the current state began: the finish, the start, or the send."""
        return self.finished_at or self.started_at or self.sent_at

    def at(self, now: datetime) -> RunState:
        """This run as seen at ``now``: ``running_long`` decided then."""
        return replace(self, running_long=is_running_long(self, now))

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "state": self.state, "task_id": self.task_id, "scheduled_time": iso(self.scheduled_time),
            "sent_at": iso(self.sent_at), "started_at": iso(self.started_at), "finished_at": iso(self.finished_at),
            "outcome": self.outcome or None, "expires_at": iso(self.expires_at),
            "pending_slot": iso(self.pending_slot), "max_runtime": self.max_runtime,
            "running_long": self.running_long,
        }


def is_running_long(run: RunState, now: datetime) -> bool:
    """Unfinished, and started (or sent) more than ``max_runtime`` ago. Pure."""
    if run.max_runtime is None or run.finished_at is not None:
        return False
    return (run.started_at or run.sent_at) + timedelta(seconds=run.max_runtime) < now


def read_runs(names: Sequence[str] | None, now: datetime) -> dict[str, RunState]:
    """The tracked run of every schedule (or of ``names``) that has one, as seen at ``now``: one
    query (one per ``NAME_BATCH`` names asked for), the applied policy read alongside."""
    policy = ManagedTask.objects.filter(periodic_task__name=OuterRef("name")).values("policy")[:1]
    query = RunLease.objects.order_by("name").annotate(policy=Subquery(policy)).values_list(*LEASE_FIELDS, "policy")
    if names is None:
        batches = [query]
    else:
        unique = sorted(set(names))
        batches = [query.filter(name__in=unique[i:i + NAME_BATCH]) for i in range(0, len(unique), NAME_BATCH)]
    return {values[0]: _run(values, now) for batch in batches for values in batch}


def _run(values: tuple[Any, ...], now: datetime) -> RunState:
    _, task_id, scheduled, sent, started, finished, expires, outcome, pending, policy = values
    run = RunState(
        task_id=task_id, scheduled_time=scheduled, sent_at=sent, started_at=started, finished_at=finished,
        expires_at=expires, outcome=outcome, pending_slot=pending, max_runtime=Policy.from_json(policy).max_runtime,
    )
    return run.at(now)
