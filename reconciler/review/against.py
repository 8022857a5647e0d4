"""``plan --against REF``: the declarations at a git ref → the working tree's, with no database.

The declarations at ``REF`` stand for the database: each becomes an owned row of an
``ActualState``, and the same pure ``diff`` gives the same vocabulary as the database plan
(create, update field by field, delete, rename). The whole phase reads as one function.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from ..beat.kinds import next_runs
from ..core.diagnostics import Diagnostic, SourceRange
from ..core.plan import Action, Change, DiffOptions, Plan
from ..core.specs import ActualState, ActualTask, Ownership, TaskSpec
from ..declare.across import validate_documents
from ..declare.resolve import Registry
from ..engine.diff import desired_spec, diff
from ..observe.forecast import LoadChange, load_change
from ..pipeline import (
    ValidationResult,
    default_registry,
    environments_for,
    paused_gc,
    schedules_dir,
    validate_paths,
)
from ..render.words import count
from .gitref import Snapshot, snapshot

LOAD_HOURS = 24  # the window whose busiest minute a review compares
# A change shows its next runs when it starts, stops or moves a task.
TIMING_FIELDS = frozenset({"schedule", "enabled", "one_off", "start_time"})


@dataclass(frozen=True)
class NextRuns:
    before: tuple[datetime, ...]
    after: tuple[datetime, ...]


@dataclass(frozen=True)
class Review:
    """The plan of a change of declarations, with what a reviewer needs around it."""

    validation: ValidationResult            # the working tree's
    plan: Plan | None                       # None when the working tree is invalid
    ref: str
    commit: str
    now: datetime
    base_problems: tuple[Diagnostic, ...] = ()
    before: Mapping[str, TaskSpec] = field(default_factory=dict)  # the specs at REF, by name
    runs: Mapping[str, NextRuns] = field(default_factory=dict)    # change name → next runs
    load: LoadChange | None = None          # the next 24 hours before and after: the busiest minute


def plan_against(
    ref: str, paths: Sequence[Path] | None = None, *, registry: Registry | None = None, now: datetime,
    prune: bool = True, env: str | None = None, load_hours: float = LOAD_HOURS,
) -> Review:
    """The plan from the declarations at ``ref`` to the working tree's, in environment ``env``
    (needed when the project has environments)."""
    folders = list(paths or [schedules_dir()])
    base = snapshot(ref, folders)  # git errors first: they are usage errors (exit 2)
    registry = registry or default_registry()
    envs = environments_for(env, need_active=True)
    validation = validate_paths(folders, registry=registry, now=now, env=envs.active, require_env=True)
    if not validation.valid:
        return Review(validation, None, ref, base.commit, now)
    with paused_gc():  # as validate_paths does: thousands of acyclic values
        actual, problems = actual_at(base, registry.timezone, now, envs.active, envs.names)
    plan = diff(validation.declared, actual, DiffOptions(now, prune))
    plan = replace(plan, warnings=(*plan.warnings, *base_warnings(base, problems)))
    before = {row.name: row.spec for row in actual.tasks}
    runs = {c.name: _runs(c, before, now) for c in plan.changes if shows_runs(c)}
    load = load_change(before.values(), after_plan(before, plan).values(), now, load_hours)
    return Review(validation, plan, ref, base.commit, now, problems, before, runs, load)


def after_plan(before: Mapping[str, TaskSpec], plan: Plan) -> dict[str, TaskSpec]:
    """The specs once the plan is applied: what the rows at the ref become."""
    after = dict(before)
    for change in plan.changes:
        if change.action is Action.DELETE or change.previous_name:
            after.pop(change.previous_name or change.name, None)
        if change.desired is not None and change.action is not Action.CONFLICT:
            after[change.name] = change.desired
    return after


def actual_at(
    base: Snapshot, default_timezone: str, now: datetime, env: str | None = None, environments: tuple[str, ...] = (),
) -> tuple[ActualState, tuple[Diagnostic, ...]]:
    """The declarations at the ref as the rows apply would have written from them.

    Only the language rules apply here: a task the working tree's Celery app no longer
    registers was still declared at the ref (its row exists) and its deletion must show.
    """
    validated = validate_documents(
        base.documents, default_timezone=default_timezone, now=now, env=env, environments=environments,
    )
    declarations = sorted(validated.declarations, key=lambda d: d.name)
    rows = tuple(_row(pk, d.spec, d.source, now) for pk, d in enumerate(declarations, start=1))
    errors = tuple(d for d in validated.diagnostics if d.is_error)
    return ActualState(rows), errors


def _row(pk: int, declared: TaskSpec, source: SourceRange, now: datetime) -> ActualTask:
    """The row apply would have written, owned, never drifted."""
    spec = desired_spec(declared, None, now)
    return ActualTask(pk, spec, None, 0, Ownership(spec.digest(), source.file, source.line))


def base_warnings(base: Snapshot, problems: Sequence[Diagnostic]) -> tuple[str, ...]:
    """Invalid files at the ref do not stop the plan: it compares with what is valid there."""
    if not problems:
        return ()
    files = sorted({d.source.file for d in problems if d.source})
    where = ", ".join(files) or "the declarations"
    head = (
        f"{count(len(problems), 'error')} at {base.ref} ({base.commit[:12]}) in {where}: "
        "the plan compares with the declarations that are valid there"
    )
    return (head, *(f"at {base.ref}: {d.source or '<schedules>'}: [{d.code}] {d.message}" for d in problems))


def shows_runs(change: Change) -> bool:
    if change.action in (Action.CREATE, Action.DELETE):
        return True
    return change.action in (Action.UPDATE, Action.RENAME) and any(f.field in TIMING_FIELDS for f in change.fields)


def _runs(change: Change, before: Mapping[str, TaskSpec], now: datetime) -> NextRuns:
    old = before.get(change.previous_name or change.name) if change.action is not Action.CREATE else None
    return NextRuns(next_runs(old, now), next_runs(change.desired, now))
