"""Each schedule's status, for people: in sync, drifted, pending, suspended, completed
(a one-off that has fired), orphaned, conflict or unmanaged, with its last and next run.
``statuses`` is pure; ``upcoming_runs`` asks when beat sends each enabled task
(``core.sends``, the timeline beat decides by, with each row's policy)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..beat.kinds import FIELDS, attach_policies, load_enabled
from ..conf import conf
from ..core.plan import Action, Change, Plan
from ..core.reasons import Reason, Why
from ..core.sends import predict, starting_point
from ..core.specs import ActualState, ActualTask, DeclaredState, Ownership, Suspension
from ..core.timing import whole_second
from ..engine.read import read_actual
from ..models import ScheduledTask
from ..render.words import show_schedule

STATE_OF_ACTION = {
    Action.CREATE: "pending",
    Action.UPDATE: "pending",
    Action.RENAME: "pending",
    Action.ADOPT: "pending",
    Action.DELETE: "orphaned",
    Action.RETAIN: "orphaned",
    Action.CONFLICT: "conflict",
    Action.SUSPENDED: "suspended",
}
STATES = ("in-sync", "drifted", "pending", "suspended", "completed", "orphaned", "conflict", "unmanaged")


@dataclass(frozen=True)
class TaskStatus:
    name: str
    task: str
    schedule: str
    state: str
    managed: bool
    enabled: bool | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    total_run_count: int | None
    source: str | None
    reasons: tuple[Reason, ...] = ()
    suspension: Suspension | None = None
    one_off: bool = False
    source_file: str | None = None
    source_line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "task": self.task, "schedule": self.schedule, "state": self.state,
            "managed": self.managed, "enabled": self.enabled,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "next_run_at": self.next_run_at.isoformat() if self.next_run_at else None,
            "total_run_count": self.total_run_count, "source": self.source, "reasons": [r.words for r in self.reasons],
            "suspended": _suspension_json(self.suspension),
        }


def _suspension_json(suspension: Suspension | None) -> dict[str, Any] | None:
    if suspension is None:
        return None
    return {"at": suspension.at.isoformat(), "by": suspension.by, "reason": suspension.reason}


def statuses(
    declared: DeclaredState, actual: ActualState, plan: Plan, next_run: Mapping[str, datetime]
) -> tuple[TaskStatus, ...]:
    changes = {c.name: c for c in plan.changes}
    rows = {row.name: row for row in actual.tasks}
    declarations = {t.name: t for t in declared.tasks}
    names = sorted({*rows, *declarations})
    result = []
    for name in names:
        row, change = rows.get(name), changes.get(name)
        spec = row.spec if row is not None else declarations[name].spec
        suspension = row.owned.suspension if row is not None and row.owned else None
        state = _state(row, change, suspension)
        source = _where(row.owned) if row is not None and row.owned else None
        result.append(TaskStatus(
            name=name, task=spec.task, schedule=show_schedule(spec.schedule), state=state,
            managed=bool(row and row.owned), enabled=row.spec.enabled if row else None,
            last_run_at=row.last_run_at if row else None, next_run_at=next_run.get(name),
            total_run_count=row.total_run_count if row else None,
            source=source or (str(change.source) if change and change.source else None),
            reasons=change.reasons if change else (), suspension=suspension, one_off=spec.one_off,
            **_source_of(row, change),
        ))
    return tuple(result)


@dataclass(frozen=True)
class Current:
    """Every schedule's status from ``pipeline.current_plan()`` (``valid`` False: the folder
    does not validate, ``result.validation`` says why), and each one's spec by name."""

    result: Any  # pipeline.PlanResult
    statuses: tuple[TaskStatus, ...] = ()
    specs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.result.plan is not None


_current: Current | None = None


def current_statuses(using: str = "default") -> Current:
    """``statuses`` of the memoised plan, themselves built once per plan (10,000 statuses and
    specs cost tens of milliseconds): the same object while ``current_plan`` returns the same."""
    global _current
    from ..pipeline import current_plan  # start-up: docs/architecture.md, "The import rules"

    result = current_plan(using)
    found = _current
    if found is not None and found.result is result:
        return found
    if result.plan is None:
        found = Current(result)
    else:
        actual = result.actual if result.actual is not None else read_actual(using)
        specs = {t.name: t.spec for t in result.validation.declared.tasks}
        specs.update({t.name: t.spec for t in actual.tasks})
        found = Current(result, statuses(result.validation.declared, actual, result.plan, {}), specs)
    _current = found
    return found


def _state(row: ActualTask | None, change: Change | None, suspension: Suspension | None) -> str:
    if suspension is not None:
        return "suspended"  # an update to a suspended row is written disabled: still suspended
    if change is not None:
        return "drifted" if change.has(Why.DRIFT) else STATE_OF_ACTION[change.action]
    if row is None or row.owned is None:
        return "unmanaged"
    if row.spec.one_off and not row.spec.enabled and row.last_run_at is not None:
        return "completed"  # a one-off that beat has fired (and disabled)
    return "in-sync"


def _source_of(row: ActualTask | None, change: Change | None) -> dict[str, Any]:
    if row is not None and row.owned is not None:
        return {"source_file": row.owned.source_file, "source_line": row.owned.source_line}
    if change is not None and change.source is not None:
        return {"source_file": change.source.file, "source_line": change.source.line}
    return {}


def _where(owned: Ownership) -> str:
    return f"{owned.source_file}:{owned.source_line}" if owned.source_line else owned.source_file


def upcoming_runs(
    now: datetime, count: int = 3, names: Sequence[str] | None = None,
) -> dict[str, tuple[datetime, ...]]:
    """The next ``count`` moments beat sends each enabled task (or each of ``names``: a page's,
    in one query per 500 names, and one for their policies): ``core.sends.predict``, the one
    home of next runs (catch-up at ``now``, the policy's jitter), in whole seconds."""
    if names is None:
        models = load_enabled(ScheduledTask)
    else:
        query = ScheduledTask.objects.filter(enabled=True).select_related(*FIELDS)
        unique = sorted(set(names))
        models = [model for start in range(0, len(unique), 500)
                  for model in query.filter(name__in=unique[start:start + 500])]
        attach_policies(models)
    due: dict[str, tuple[datetime, ...]] = {}
    for model in models:
        try:
            schedule = model.schedule
            last = starting_point(schedule, model.last_run_at, model.date_changed, model.start_time, now)
            remaining = model.run_calendar.remaining(model.total_run_count)
            sends = predict(schedule, last, now, count, model.run_policy, model.name, remaining=remaining)
            runs = tuple(whole_second(send.at) for send in sends)
        except Exception:  # a schedule beat cannot compute is shown without a next run
            continue
        if runs:
            due[model.name] = runs
    return due


def with_bookkeeping(page: Sequence[TaskStatus]) -> list[TaskStatus]:
    """The page's statuses with beat's bookkeeping read now (``last_run_at``, ``total_run_count``:
    beat writes them after every send, and the memoised plan does not follow them), in one
    query per 500 names."""
    from django_celery_beat.models import PeriodicTask

    names = sorted({st.name for st in page})
    found: dict[str, tuple[datetime | None, int]] = {}
    rows = PeriodicTask.objects.values_list("name", "last_run_at", "total_run_count")
    for start in range(0, len(names), 500):
        found.update({name: (last, count) for name, last, count in rows.filter(name__in=names[start:start + 500])})
    return [
        replace(st, last_run_at=found[st.name][0], total_run_count=found[st.name][1]) if st.name in found else st
        for st in page
    ]


def repository_path(file: str) -> str:
    """A source file as people find it in the repository: relative to
    ``RECONCILER_SOURCE_ROOT`` (default: the project's ``BASE_DIR``) when inside it."""
    from pathlib import Path

    from django.conf import settings

    root = conf.SOURCE_ROOT or getattr(settings, "BASE_DIR", None)
    if not file or root is None:
        return file
    try:
        return str(Path(file).resolve().relative_to(Path(root).resolve()))
    except (ValueError, OSError):
        return file


def source_url(file: str, line: int | None) -> str | None:
    """The link to a declaration: ``RECONCILER_SOURCE_URL`` with ``{path}`` and ``{line}``
    (for example ``https://git.example.com/ops/app/blob/main/{path}#L{line}``), or None."""
    template = conf.SOURCE_URL
    if not template or not file:
        return None
    return str(template).format(path=repository_path(file), line=line or 1)
