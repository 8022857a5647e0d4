"""Plan → database: one transaction, bulk queries, beat notified once.

Under the reconcile lock the actual state is read again and diffed, so what is written is
always computed from the state it is written over (never a stale plan); ``write`` writes it.
Nothing is written when nothing changed: not even ``PeriodicTasks.last_update``, whose every
bump makes each running beat reload its whole schedule.
"""
from __future__ import annotations

import contextlib
import heapq
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from ..core.allocation import paused_gc
from ..core.errors import RefusedApply
from ..core.plan import UNSCOPED, Action, DiffOptions, Grace, Plan, Scope
from ..core.source import Origin
from ..core.specs import ActualState, DeclaredState, TaskSpec
from ..db import locking, rowdigest
from ..db.marker import Marker, database_marker, marker_unmoved, plain
from ..models import ApplyRecord, ManagedTask
from . import history
from .diff import diff
from .read import read_planned
from .sources import claim
from .write import BATCH, write


@dataclass(frozen=True)
class Rest:
    """The rest of the source, known to be in sync (``insync``): an apply of only the changed
    files' declarations reads the rows of ``names`` alone (every name those files declared or
    declare) and shows the others as unchanged, as a full apply would."""

    marker: list[Any]  # ``db.marker.plain`` of the database the memo saw: moved, ``RestMoved``
    names: frozenset[str]
    unchanged: tuple[str, ...]  # sorted


StoredPlan = Callable[[], dict[str, Any] | None]
"""The history record's plan (``history.stored_plan``) made elsewhere; None: it is made here."""


class RestMoved(Exception):
    """The database moved since the memo that vouched for the rest: nothing was written, the
    caller applies everything."""


@dataclass(frozen=True)
class ApplyOptions:
    prune: bool = True
    adopt: bool = False
    allow_empty: bool = False
    dry_run: bool = False
    revision: str = ""
    django_user: str = ""
    lock_timeout: float = 30.0
    now: datetime | None = None
    scope: Scope = UNSCOPED
    grace: Grace | None = None  # the watcher's deletion grace
    origin: Origin | None = None  # checked (and recorded) under the lock: one name, one folder
    observe: bool = False  # return the database's marker (``ApplyResult.marker``) for the in-sync memo
    rest: Rest | None = None  # declared holds only the changed files (``insync``)
    on_write: Callable[[Plan], StoredPlan | None] | None = field(default=None, compare=False)
    """Called with the final plan just before it is written (never on a dry run or an empty
    plan): ``reconcile apply`` renders it meanwhile, on the other core (``cli.prerender``), and
    may return where the history record's plan comes from (``history.stored_plan``)."""

    def diff_options(self, now: datetime) -> DiffOptions:
        return DiffOptions(now, self.prune, self.adopt, self.scope, self.grace)


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    written: bool
    duration: float
    record_id: int | None = None
    dry_run: bool = False
    marker: Marker | None = None  # with ``observe``: the marker of the state left in sync
    remembered: bool = False  # the in-sync memo answered: nothing was read but the marker (``insync``)


@dataclass
class _Clock:
    started: float = field(default_factory=time.perf_counter)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


DEFAULT_OPTIONS = ApplyOptions()


def apply(declared: DeclaredState, options: ApplyOptions = DEFAULT_OPTIONS, *, using: str = "default") -> ApplyResult:
    clock = _Clock(at=options.now or datetime.now(UTC))
    try:
        with paused_gc(), transaction.atomic(using=using):
            locking.acquire(using, options.lock_timeout)
            if options.origin is not None:
                claim(options.origin, using, clock.at, record=not options.dry_run)
            rest = options.rest
            before = database_marker(using) if options.observe or rest else None  # before the rows: see marker.py
            if rest is not None and (before is None or plain(before) != rest.marker):
                raise RestMoved
            specs = declared.specs()
            actual = read_planned(using, specs, options.scope.sources, names=rest.names if rest else None)
            plan = diff(declared, actual, options.diff_options(clock.at))
            if rest is not None:
                plan = replace(plan, unchanged=tuple(heapq.merge(plan.unchanged, rest.unchanged)))
            refuse_if_unsafe(plan, declared, options)
            if options.dry_run:
                return ApplyResult(plan, False, clock.elapsed(), dry_run=True)
            settle_drift(actual, plan, specs, using)
            if not plan.has_changes:
                return ApplyResult(plan, False, clock.elapsed(), marker=before)
            alone = before is not None and marker_unmoved(using, before)
            stored = options.on_write(plan) if options.on_write is not None else None
            write(plan, using=using, now=clock.at, revision=options.revision, source=options.scope.source)
            record = _record(using, clock, options, plan, ApplyRecord.Outcome.APPLIED, stored=stored)
            after = database_marker(using) if alone else None
            return ApplyResult(plan, True, clock.elapsed(), record.pk, marker=after)
    except RestMoved:
        raise
    except RefusedApply as exc:
        _record(using, clock, options, getattr(exc, "plan", None), ApplyRecord.Outcome.REFUSED, str(exc))
        raise
    except Exception as exc:
        _record_failure(using, clock, options, exc)
        raise


def refuse_if_unsafe(plan: Plan, declared: DeclaredState, options: ApplyOptions) -> None:
    if plan.conflicts:
        names = ", ".join(c.name for c in plan.conflicts)
        error = RefusedApply(
            f"{len(plan.conflicts)} declared name(s) are held by rows this source does not own: {names}. "
            "Nothing was changed. Rename the declarations, delete those rows, or apply with --adopt "
            "(rows made outside git; a row owned by another schedules source is never adopted)."
        )
        error.plan = plan  # type: ignore[attr-defined]
        raise error
    deletes = plan.of(Action.DELETE)
    nothing = not declared.tasks and not (options.rest and options.rest.unchanged)
    if nothing and deletes and not options.allow_empty:
        error = RefusedApply(
            f"no task is declared, and applying would delete all {len(deletes)} managed task(s). "
            "Nothing was changed. Check --path (an empty checkout?), or pass --allow-empty to really delete them."
        )
        error.plan = plan  # type: ignore[attr-defined]
        raise error


def settle_drift(actual: ActualState, plan: Plan, declared: Mapping[str, TaskSpec], using: str) -> None:
    """Rows changed outside git since their apply, and git since changed to match them: in
    sync again, so their ownership now records them as applied (``drifted`` clears: the
    ``reconciler_drifted_schedules`` gauge and its alert). Ownership rows only: nothing beat
    reads moves."""
    changed = {change.name for change in plan.changes}
    settled = [
        ManagedTask(periodic_task_id=task.pk, spec_hash=task.spec.digest(), row_digest=rowdigest.PENDING)
        for task in actual.tasks if task.drifted and task.name in declared and task.name not in changed
    ]
    if settled:
        ManagedTask.objects.using(using).bulk_update(settled, ["spec_hash", "row_digest"], batch_size=BATCH)
        rowdigest.record(using)


# -- history -----------------------------------------------------------------------------

def _record(
    using: str, clock: _Clock, options: ApplyOptions, plan: Plan | None, outcome: str, message: str = "",
    stored: StoredPlan | None = None,
) -> ApplyRecord:
    return history.record(
        using, started_at=clock.at, seconds=clock.elapsed(), django_user=options.django_user,
        revision=options.revision, plan=plan, outcome=outcome, message=message,
        stored=stored() if stored is not None else None,
    )


def _record_failure(using: str, clock: _Clock, options: ApplyOptions, exc: Exception) -> None:
    """Best effort, after the rollback: a failed apply is history too (unless the database
    itself is what failed)."""
    with contextlib.suppress(Exception):  # never hide the original error behind this one
        _record(using, clock, options, None, ApplyRecord.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
