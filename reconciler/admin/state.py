"""Each row's status for the admin pages, computed once per request: the same plan and
status logic as ``reconcile plan`` and ``GET /api/schedules/``."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.http import HttpRequest

from ..observe.sync import TaskStatus, current_statuses, upcoming_runs

LABELS = {
    "in-sync": "in sync",
    "drifted": "drifted",
    "pending": "pending",
    "suspended": "suspended",
    "completed": "completed one-off",
    "orphaned": "orphaned",
    "conflict": "conflict",
    "unmanaged": "unmanaged",
}


@dataclass
class AdminState:
    """``valid`` False: the schedules folder does not validate, so states are unknown."""

    valid: bool
    rows: dict[str, TaskStatus] = field(default_factory=dict)
    next_run: dict[str, datetime] = field(default_factory=dict)
    errors: int = 0

    def label(self, name: str) -> str:
        if not self.valid:
            return "unknown (invalid schedules)"
        row = self.rows.get(name)
        return LABELS.get(row.state, row.state) if row else "unmanaged"


def state_of(request: HttpRequest) -> AdminState:
    cached = getattr(request, "_reconciler_state", None)
    if cached is None:
        cached = _compute()
        request._reconciler_state = cached  # type: ignore[attr-defined]
    return cached


def _compute() -> AdminState:
    current = current_statuses()
    if not current.valid:
        return AdminState(False, errors=sum(d.is_error for d in current.result.validation.diagnostics))
    return AdminState(True, {row.name: row for row in current.statuses})


def attach_next_runs(state: AdminState, names: list[str]) -> None:
    """The next run of a page's rows only (``next_run``): a constant number of queries per page."""
    if names:
        state.next_run.update({name: runs[0] for name, runs in upcoming_runs(datetime.now(UTC), 1, names).items()})
