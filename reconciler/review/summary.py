"""The sentences of a review every format shows: its summary, the busiest minute, why a task
has no next run, and the two specs a change compares."""
from __future__ import annotations

from datetime import datetime

from ..core.plan import Action, Change
from ..core.schedule import Clocked
from ..core.specs import TaskSpec
from ..observe.forecast import BusyMinute
from ..render.words import count, iso
from .against import Review


def against_label(review: Review) -> str:
    return f"{review.ref} ({review.commit[:12]})"


def summary_line(review: Review) -> str:
    assert review.plan is not None
    unchanged = len(review.plan.unchanged)
    if not review.plan.changes:
        return f"No changes against {against_label(review)}: {count(unchanged, 'task')} unchanged."
    s = review.plan.summary()
    return (
        f"Plan against {against_label(review)}: {s['create']} to create, {s['update']} to update, "
        f"{s['delete']} to delete, {unchanged} unchanged."
    )


def busiest_line(review: Review) -> str | None:
    """``Busiest minute (next 24 h): … → …``, when the change moves it or changes its count."""
    load = review.load
    if load is None or not load.busiest_changed:
        return None

    def busy(b: BusyMinute | None) -> str:
        return f"{iso(b.minute)} with {count(b.runs, 'run')}" if b else "none"

    return f"Busiest minute (next {load.hours:g} h): {busy(load.busiest_before)} → {busy(load.busiest_after)}"


def no_runs_reason(spec: TaskSpec | None, now: datetime) -> str:
    if spec is None:
        return "none: not declared"
    if isinstance(spec.schedule, Clocked) and spec.schedule.at <= now:
        return "none: the one-off moment is past"
    if not spec.enabled:
        return "none: disabled"
    return "none"


def before_after(review: Review, change: Change) -> tuple[TaskSpec | None, TaskSpec | None]:
    old = None if change.action is Action.CREATE else review.before.get(change.previous_name or change.name)
    return old, change.desired
