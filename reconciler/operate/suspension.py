"""Suspend and resume: an operator's override of one managed schedule, like ``flux suspend``.

While suspended, a row is disabled and every apply (CLI, watcher, beat start-up) writes it
disabled whatever git declares; the plan shows it as ``suspended``. Other fields changed in
git are still written (disabled), so that resuming has nothing left to catch up on.

``resume`` clears the suspension and applies that one declaration at once, in the same
transaction: the row equals git when it returns. A suspended schedule deleted from git is
deleted by the next apply, as any other.

Suspending resets ``last_run_at`` as django-celery-beat does when a task is disabled: on
resume beat counts from the resume (``date_changed``) and does not fire the missed runs at once.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction
from django_celery_beat.models import PeriodicTask

from ..core.errors import OperationRefused, UnknownName
from ..core.plan import DiffOptions, Plan, Scope
from ..core.specs import ActualState, ActualTask, DeclaredState, DeclaredTask, Suspension
from ..db import locking
from ..engine.diff import diff
from ..engine.history import git_revision
from ..engine.read import read_one
from ..engine.write import mark_changed, write
from ..models import ManagedTask, OperationRecord

if TYPE_CHECKING:
    from ..declare.resolve import Registry

LOCK_TIMEOUT = 30.0


def suspend(
    name: str, reason: str, *, by: str = "", now: datetime | None = None, using: str = "default"
) -> Suspension:
    """Disable a managed row and record who, when and why; refused for unmanaged rows."""
    reason = checked_reason(reason)
    now = now or datetime.now(UTC)
    with transaction.atomic(using=using):
        locking.acquire(using, LOCK_TIMEOUT)
        row = _managed(name, using)
        assert row.owned is not None
        if row.owned.suspension is not None:
            raise OperationRefused(f"{name} is already {row.owned.suspension.describe()}")
        in_sync = row.spec.digest() == row.owned.spec_hash
        after = replace(row.spec, enabled=False)
        PeriodicTask.objects.using(using).filter(pk=row.pk).update(enabled=False, last_run_at=None)
        ManagedTask.objects.using(using).filter(periodic_task_id=row.pk).update(
            suspended_at=now, suspended_by=by, suspend_reason=reason,
            # keep drift visible: only a row that matched its last apply is re-hashed
            spec_hash=after.digest() if in_sync else row.owned.spec_hash,
        )
        _beat_reloads(using, now)
        _log(using, now, OperationRecord.Action.SUSPEND, row, by, reason)
    return Suspension(now, by, reason)


# Characters that would let one reason forge lines or reorder text where it is shown (plan,
# status, the admin): C0/C1 controls (newline, escape), line and paragraph separators, bidi overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def checked_reason(reason: str) -> str:
    """A suspend reason as recorded: one line of text, not blank; anything else is refused."""
    reason = reason.strip()
    if not reason:
        raise OperationRefused("a reason is required to suspend a schedule (say why, for the people after you)")
    bad = _CONTROL.search(reason)
    if bad:
        raise OperationRefused(
            f"the reason contains a control character ({bad.group()!r} at position {bad.start() + 1}): "
            "write it on one line of plain text; nothing was suspended"
        )
    return reason


@dataclass(frozen=True)
class ResumeResult:
    plan: Plan
    declared: bool  # False: no longer declared in git, the next apply deletes it
    others: tuple[str, ...] = ()  # the other declared tasks: resume leaves their rows as they are


def resume(
    name: str, *, by: str = "", paths: Sequence[Path] | None = None, registry: Registry | None = None,
    now: datetime | None = None, using: str = "default",
) -> ResumeResult:
    """Clear the suspension and write that one declaration, as apply would, in one transaction."""
    from ..pipeline import schedules_dir, validate_paths  # start-up: docs/architecture.md, "The import rules"

    now = now or datetime.now(UTC)
    folders = list(paths or [schedules_dir()])
    validation = validate_paths(folders, registry=registry, now=now, require_env=True)
    item = next((t for t in validation.declared.tasks if t.name == name), None)
    if any(d.is_error and d.name == name for d in validation.diagnostics):
        item = None  # e.g. declared twice: what git declares for it is ambiguous
    if item is None and not validation.valid:
        raise OperationRefused(
            f"cannot resume {name}: the schedules folder does not validate, so what git declares for it is "
            "unknown; fix the files (reconcile validate), then resume"
        )
    with transaction.atomic(using=using):
        locking.acquire(using, LOCK_TIMEOUT)
        row = _managed(name, using)
        assert row.owned is not None
        if row.owned.suspension is None:
            raise OperationRefused(f"{name} is not suspended")
        ManagedTask.objects.using(using).filter(periodic_task_id=row.pk).update(
            suspended_at=None, suspended_by="", suspend_reason="",
        )
        plan = _plan_one(item, replace(row, owned=replace(row.owned, suspension=None)), now)
        if plan.has_changes:
            write(plan, using=using, now=now, revision=git_revision(folders[0]), source=row.owned.source)
        else:
            _beat_reloads(using, now)
        _log(using, now, OperationRecord.Action.RESUME, row, by, "", plan)
    others = tuple(sorted(t.name for t in validation.declared.tasks if t.name != name))
    return ResumeResult(plan, item is not None, others)


def _plan_one(item: DeclaredTask | None, row: ActualTask, now: datetime) -> Plan:
    """The plan of one declaration against its own row; nothing else is pruned or touched."""
    if item is None:
        return Plan()
    owner = Scope(row.owned.source if row.owned else "")
    return diff(DeclaredState((item,)), ActualState((row,)), DiffOptions(now, prune=False, scope=owner))


def _managed(name: str, using: str) -> ActualTask:
    row = read_one(name, using)
    if row is None:
        raise UnknownName(f"no schedule named {name!r}")
    if row.owned is None:
        raise OperationRefused(
            f"{name} is not managed by the reconciler (no YAML declares it): "
            "enable or disable it in the admin as any django-celery-beat row"
        )
    return row


def _beat_reloads(using: str, now: datetime) -> None:
    mark_changed(using, now)


def _log(
    using: str, now: datetime, action: str, row: ActualTask, by: str, reason: str, plan: Plan | None = None
) -> None:
    OperationRecord.objects.using(using).create(
        at=now, action=action, name=row.name, task=row.spec.task, user=by, reason=reason,
        plan=plan.to_json() if plan is not None and plan.changes else {},
    )
