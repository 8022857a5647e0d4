"""Plan → database: one transaction, bulk queries, beat notified once.

Under the reconcile lock the actual state is read again and diffed, so what is written is
always computed from the state it is written over (never a stale plan). Only the fields
the reconciler manages are written; beat's own (``last_run_at``, ``total_run_count``) never.
Nothing is written when nothing changed: not even ``PeriodicTasks.last_update``, whose every
bump makes each running beat reload its whole schedule.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Model
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)

from ..core.allocation import paused_gc
from ..core.errors import RefusedApply
from ..core.plan import UNSCOPED, Action, Change, DiffOptions, Grace, Plan, Scope
from ..core.schedule import CRON_FIELD_ORDER, Clocked, Crontab, Interval, NoSchedule, Schedule, Solar
from ..core.specs import ActualState, DeclaredState, TaskSpec
from ..db import locking, rowdigest
from ..db.bulk import insert_rows
from ..declare.sources import Origin, claim
from ..models import ApplyRecord, ManagedTask
from . import history
from .diff import diff
from .read import read_actual

BATCH = 500  # rows per bulk statement: under SQLite's variable limit with every column
SCHEDULE_FIELDS = ("interval", "crontab", "solar", "clocked")
MANAGED_FIELDS = (
    "name", "task", *SCHEDULE_FIELDS, "args", "kwargs", "queue", "exchange", "routing_key", "headers",
    "priority", "expires", "expire_seconds", "one_off", "start_time", "enabled", "description", "date_changed",
)


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

    def diff_options(self, now: datetime) -> DiffOptions:
        return DiffOptions(now, self.prune, self.adopt, self.scope, self.grace)


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    written: bool
    duration: float
    record_id: int | None = None
    dry_run: bool = False


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
            specs = declared.specs()
            actual = read_actual(using, specs)
            plan = diff(declared, actual, options.diff_options(clock.at))
            refuse_if_unsafe(plan, declared, options)
            if options.dry_run:
                return ApplyResult(plan, False, clock.elapsed(), dry_run=True)
            settle_drift(actual, plan, specs, using)
            if not plan.has_changes:
                return ApplyResult(plan, False, clock.elapsed())
            write(plan, using=using, now=clock.at, revision=options.revision, source=options.scope.source)
            record = _record(using, clock, options, plan, ApplyRecord.Outcome.APPLIED)
            return ApplyResult(plan, True, clock.elapsed(), record.pk)
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
    if not declared.tasks and deletes and not options.allow_empty:
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


def write(plan: Plan, *, using: str, now: datetime, revision: str = "", source: str = "") -> None:
    """Write a plan inside the caller's transaction: schedules, tasks, ownership, marker.

    An adopted row whose fields already equal the declaration gets its ownership row only:
    its ``date_changed`` must not move (beat takes it as the last run of a task that never
    ran, so touching it would postpone the first run of an interval task)."""
    writes = plan.of(Action.CREATE, Action.UPDATE, Action.RENAME, Action.ADOPT)
    rewrites = [c for c in writes if c.action is not Action.CREATE and (c.fields or c.action is not Action.ADOPT)]
    schedule_ids = ensure_schedules([c.desired.schedule for c in writes if c.desired], using)
    created = _create_tasks(plan.of(Action.CREATE), schedule_ids, using, now)
    _update_tasks(rewrites, schedule_ids, using, now)
    _delete_tasks([c.pk for c in plan.of(Action.DELETE) if c.pk is not None], using)
    _own(writes, created, using, now, revision, source)
    if writes:
        rowdigest.record(using)
    if created or rewrites or plan.of(Action.DELETE):
        mark_changed(using, now)


def mark_changed(using: str, now: datetime) -> None:
    """Tell every running beat to reload: django-celery-beat's change marker (what its poll
    reads; on PostgreSQL moving it also wakes ours at once: the triggers in ``wakeup``)."""
    PeriodicTasks.objects.using(using).update_or_create(ident=1, defaults={"last_update": now})


# -- schedules ---------------------------------------------------------------------------

ScheduleIds = dict[Schedule, tuple[str, int]]


def ensure_schedules(schedules: Iterable[Schedule], using: str) -> ScheduleIds:
    """Reuse identical schedule rows (shared, never modified); create the missing in bulk."""
    wanted = set(schedules)
    ids: ScheduleIds = {}
    for kind in (Interval, Crontab, Clocked, Solar):
        needed = {s for s in wanted if isinstance(s, kind)}
        if needed:
            ids.update(_ensure_kind(kind, needed, using))
    return ids


def _ensure_kind(kind: type, needed: set[Any], using: str) -> ScheduleIds:
    model, field_name, to_spec, to_row = _SCHEDULE_KINDS[kind]
    existing: ScheduleIds = {}
    for row in model.objects.using(using).order_by("-pk"):
        spec = to_spec(row)
        if spec in needed:
            existing[spec] = (field_name, row.pk)  # the lowest pk wins among identical rows
    missing = sorted(needed - existing.keys(), key=repr)
    rows = [to_row(spec) for spec in missing]
    model.objects.using(using).bulk_create(rows, batch_size=BATCH)
    existing.update({spec: (field_name, row.pk) for spec, row in zip(missing, rows, strict=True)})
    return existing


def _interval_spec(row: IntervalSchedule) -> Schedule | None:
    from .read import PERIOD_SECONDS

    seconds = row.every * PERIOD_SECONDS.get(row.period, 1)
    return Interval(int(seconds)) if seconds == int(seconds) else None


def _crontab_spec(row: CrontabSchedule) -> Schedule | None:
    try:
        return Crontab.canonical(str(row.timezone), **{name: getattr(row, name) for name in CRON_FIELD_ORDER})
    except ValueError:
        return None


_SCHEDULE_KINDS: dict[type, tuple[type[Model], str, Callable[[Any], Any], Callable[[Any], Model]]] = {
    Interval: (
        IntervalSchedule, "interval", _interval_spec,
        lambda s: IntervalSchedule(every=s.seconds, period=IntervalSchedule.SECONDS),
    ),
    Crontab: (
        CrontabSchedule, "crontab", _crontab_spec,
        lambda s: CrontabSchedule(timezone=s.timezone, **{n: getattr(s, n) for n in CRON_FIELD_ORDER}),
    ),
    Clocked: (
        ClockedSchedule, "clocked", lambda row: Clocked(row.clocked_time),
        lambda s: ClockedSchedule(clocked_time=s.at),
    ),
    Solar: (
        SolarSchedule, "solar", lambda row: Solar(row.event, row.latitude, row.longitude),
        lambda s: SolarSchedule(event=s.event, latitude=s.latitude, longitude=s.longitude),
    ),
}


# -- periodic tasks ----------------------------------------------------------------------

def task_values(spec: TaskSpec, schedule_ids: ScheduleIds, now: datetime) -> dict[str, Any]:
    """The managed columns of a PeriodicTask, with PeriodicTask.save()'s invariants: exactly
    one schedule, clocked only with one_off, never both expires and expire_seconds, empty
    routing fields as NULL."""
    if isinstance(spec.schedule, NoSchedule):
        raise ValueError(f"{spec.name}: a declared task always has a schedule")
    field_name, schedule_id = schedule_ids[spec.schedule]
    return {
        "name": spec.name, "task": spec.task,
        **{f"{name}_id": schedule_id if name == field_name else None for name in SCHEDULE_FIELDS},
        "args": spec.args, "kwargs": spec.kwargs, "queue": spec.queue or None, "exchange": spec.exchange or None,
        "routing_key": spec.routing_key or None, "headers": spec.headers, "priority": spec.priority,
        "expires": spec.expires_at, "expire_seconds": spec.expire_seconds,
        "one_off": spec.one_off or isinstance(spec.schedule, Clocked), "start_time": spec.start_time,
        "enabled": spec.enabled, "description": spec.description, "date_changed": now,
    }


def task_row(spec: TaskSpec, schedule_ids: ScheduleIds, now: datetime, pk: int | None = None) -> PeriodicTask:
    return PeriodicTask(pk=pk, **task_values(spec, schedule_ids, now))


def _create_tasks(changes: Sequence[Change], ids: ScheduleIds, using: str, now: datetime) -> dict[str, int]:
    rows = [task_values(c.desired, ids, now) for c in changes if c.desired]
    if not rows:
        return {}
    columns = [*rows[0], "last_run_at", "total_run_count"]
    values = [(*row.values(), None, 0) for row in rows]
    returned = insert_rows(PeriodicTask, columns, values, using, returning=("name", "id"))
    if returned:
        return dict(returned)
    created: dict[str, int] = {}
    names = [row["name"] for row in rows]
    for start in range(0, len(names), BATCH):
        batch = names[start:start + BATCH]
        created.update(PeriodicTask.objects.using(using).filter(name__in=batch).values_list("name", "pk"))
    return created


def _update_tasks(changes: Sequence[Change], ids: ScheduleIds, using: str, now: datetime) -> None:
    rows = [task_row(c.desired, ids, now, pk=c.pk) for c in changes if c.desired]
    PeriodicTask.objects.using(using).bulk_update(rows, MANAGED_FIELDS, batch_size=BATCH)


def _delete_tasks(pks: list[int], using: str) -> None:
    """Raw deletes: ``QuerySet.delete()`` would load every row and send a post_delete signal
    per row, each bumping the beat marker. Ownership rows go first (they reference the task)."""
    for start in range(0, len(pks), BATCH):
        batch = pks[start:start + BATCH]
        ManagedTask.objects.using(using).filter(periodic_task_id__in=batch)._raw_delete(using)
        PeriodicTask.objects.using(using).filter(pk__in=batch)._raw_delete(using)


OWNERSHIP_COLUMNS = (
    "periodic_task_id", "source_file", "source_line", "spec_hash", "applied_at", "applied_revision", "source",
    "row_digest",
)


def _own(
    changes: Sequence[Change], created: dict[str, int], using: str, now: datetime, revision: str, owner: str,
) -> None:
    fresh: list[tuple[Any, ...]] = []
    known: list[tuple[Any, ...]] = []
    for change in changes:
        assert change.desired is not None
        source = change.source
        values = (
            change.pk or created[change.name], source.file if source else "", source.line if source else None,
            change.desired.digest(), now, revision, owner, rowdigest.PENDING,
        )
        (known if change.action in (Action.UPDATE, Action.RENAME) else fresh).append(values)
    _insert_ownership(fresh, using)
    ManagedTask.objects.using(using).bulk_update(
        [ManagedTask(**dict(zip(OWNERSHIP_COLUMNS, values, strict=True))) for values in known],
        list(OWNERSHIP_COLUMNS[1:]), batch_size=BATCH,
    )


def _insert_ownership(rows: list[tuple[Any, ...]], using: str) -> None:
    if rows:
        insert_rows(ManagedTask, OWNERSHIP_COLUMNS, rows, using)


# -- history -----------------------------------------------------------------------------

def _record(
    using: str, clock: _Clock, options: ApplyOptions, plan: Plan | None, outcome: str, message: str = ""
) -> ApplyRecord:
    return history.record(
        using, started_at=clock.at, seconds=clock.elapsed(), django_user=options.django_user,
        revision=options.revision, plan=plan, outcome=outcome, message=message,
    )


def _record_failure(using: str, clock: _Clock, options: ApplyOptions, exc: Exception) -> None:
    """Best effort, after the rollback: a failed apply is history too (unless the database
    itself is what failed)."""
    with contextlib.suppress(Exception):  # never hide the original error behind this one
        _record(using, clock, options, None, ApplyRecord.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
