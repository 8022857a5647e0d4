"""diff(declared, actual) → Plan. Pure: no Django, no I/O, no pydantic; plain values in,
an immutable plan out, everything sorted."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from ..core.plan import Action, Change, CreatedFields, DiffOptions, FieldChange, Plan
from ..core.reasons import Reason, Why, reason
from ..core.schedule import Clocked
from ..core.specs import ActualState, ActualTask, DeclaredState, DeclaredTask, TaskSpec, field_value

DRIFT = reason(Why.DRIFT)
GRACE = reason(Why.GRACE)
NO_PRUNE = reason(Why.NO_PRUNE)
BLIND = reason(Why.BLIND)
PAST_ONE_OFF = reason(Why.PAST_ONE_OFF)
ADOPTED = reason(Why.ADOPTED)
NOT_OWNED = reason(Why.NOT_OWNED)
BEAT_COPY = "also in CELERY_BEAT_SCHEDULE: beat overwrites this row at every start"


def diff(declared: DeclaredState, actual: ActualState, options: DiffOptions) -> Plan:
    rows = actual.by_name()
    changes: list[Change] = []
    unchanged: list[str] = []
    renamed: set[str] = set()
    for item in declared.tasks:
        change = _declared_change(item, rows, options, renamed)
        if change is None:
            unchanged.append(item.name)
        else:
            changes.append(change)
    declared_names = {item.name for item in declared.tasks}
    changes.extend(
        _undeclared_change(row, options)
        for row in actual.tasks
        if row.owned and options.scope.claims(row.owned) and row.name not in declared_names
        and row.name not in renamed and not options.scope.declares(row.name)
    )
    warnings = tuple(f"{name}: {BEAT_COPY}" for name in sorted(declared_names & declared.beat_schedule_names))
    return Plan(tuple(sorted(changes, key=lambda c: c.name)), tuple(sorted(unchanged)), warnings, options.scope)


def _declared_change(
    item: DeclaredTask, rows: Mapping[str, ActualTask], options: DiffOptions, renamed: set[str]
) -> Change | None:
    row = rows.get(item.name)
    if row is None and item.renamed_from:
        old = rows.get(item.renamed_from)
        if old is not None and old.owned and _same_source(old, options):
            renamed.add(old.name)
            return _rename(item, old, options.now)
    if row is None:
        return _create(item, options.now)
    desired = desired_spec(item.spec, row, options.now)
    if row.owned is not None and not _same_source(row, options):
        other = reason(Why.OTHER_SOURCE, source=repr(row.owned.source), file=row.owned.source_file)
        return _change(Action.CONFLICT, item, row, desired, (other,))
    if row.owned is None:
        action, why = (Action.ADOPT, ADOPTED) if options.adopt else (Action.CONFLICT, NOT_OWNED)
        return _change(action, item, row, desired, (why,))
    suspension = row.owned.suspension
    if row.spec is desired or row.spec == desired:
        if suspension is None:
            return None
        return _change(Action.SUSPENDED, item, row, desired, (reason(Why.SUSPENDED, suspension=suspension.describe()),))
    reasons: tuple[Reason, ...] = (DRIFT,) if row.drifted else ()
    if row.spec.enabled and not desired.enabled and item.spec.calendar.ended(options.now):
        reasons = (*reasons, _past_until(item.spec))
    if suspension is not None:
        reasons = (*reasons, reason(Why.SUSPENDED_UPDATE, suspension=suspension.describe()))
    return _change(Action.UPDATE, item, row, desired, reasons)


def _same_source(row: ActualTask, options: DiffOptions) -> bool:
    assert row.owned is not None
    scope = options.scope
    return row.owned.source == scope.source or (scope.legacy and row.owned.source == "")


def desired_spec(declared: TaskSpec, row: ActualTask | None, now: datetime) -> TaskSpec:
    """What to write for a declaration, given the row it would overwrite.

    A suspended row (an operator's override) is written disabled, whatever git declares.
    A one-off whose moment has passed and is unchanged is left as beat left it: after it
    fires, beat disables it, and re-enabling it would fire it again at once. A new or moved
    moment that is already past is written disabled (not armed). A calendar works the same
    way: once beat has sent its ``max_runs`` (the row's count) the row stays as beat left it,
    disabled, until ``max_runs`` is raised above that count; an ``until`` already past is
    written disabled.
    """
    if row is not None and row.owned is not None and row.owned.suspension is not None:
        return replace(_armed(declared, row, now), enabled=False)
    return _armed(declared, row, now)


def _past_until(declared: TaskSpec) -> Reason:
    return reason(Why.PAST_UNTIL, until=str(declared.calendar.until))


def _armed(declared: TaskSpec, row: ActualTask | None, now: datetime) -> TaskSpec:
    if declared.enabled and (declared.calendar.ended(now) or (
        row is not None and not row.spec.enabled and declared.calendar.complete(row.total_run_count)
    )):
        return replace(declared, enabled=False)
    if not (declared.one_off and isinstance(declared.schedule, Clocked)):
        return declared
    moment_past = declared.schedule.at <= now
    if row is not None and row.spec.schedule == declared.schedule and moment_past:
        return _enabled(declared, row.spec.enabled if declared.enabled else False)
    return _enabled(declared, declared.enabled and not moment_past)


def _enabled(spec: TaskSpec, enabled: bool) -> TaskSpec:
    """``spec`` itself when already so: a copy would compute its digest again."""
    return spec if spec.enabled == enabled else replace(spec, enabled=enabled)


def _create(item: DeclaredTask, now: datetime) -> Change:
    desired = desired_spec(item.spec, None, now)
    past = isinstance(desired.schedule, Clocked) and desired.schedule.at <= now
    reasons = (PAST_ONE_OFF,) if past else (_past_until(item.spec),) if item.spec.calendar.ended(now) else ()
    return Change(Action.CREATE, item.name, desired.task, CreatedFields(desired), reasons, item.source, desired=desired)


def _rename(item: DeclaredTask, old: ActualTask, now: datetime) -> Change:
    desired = desired_spec(item.spec, old, now)
    fields = (FieldChange("name", old.name, item.name), *field_changes(old.spec, desired))
    reasons = (reason(Why.RENAMED, old=old.name),)
    return Change(
        Action.RENAME, item.name, desired.task, fields, reasons, item.source,
        pk=old.pk, desired=desired, previous_name=old.name,
    )


def _change(
    action: Action, item: DeclaredTask, row: ActualTask, desired: TaskSpec, reasons: tuple[Reason, ...]
) -> Change:
    return Change(
        action, item.name, desired.task, field_changes(row.spec, desired), reasons, item.source,
        pk=row.pk, desired=desired,
    )


def _undeclared_change(row: ActualTask, options: DiffOptions) -> Change:
    source = row.owned.source_file if row.owned else ""
    gone = reason(Why.NOT_DECLARED, where=f" (was declared in {source})" if source else "")
    held = options.grace is not None and options.grace.holds(row.name, options.now)
    was = (FieldChange("schedule", row.spec.fields()["schedule"], None),)  # what it was, shown in words
    if options.prune and not held and not options.scope.blind:
        return Change(Action.DELETE, row.name, row.spec.task, was, reasons=(gone,), pk=row.pk)
    why = GRACE if options.prune else NO_PRUNE
    if options.prune and options.scope.blind:
        why = BLIND
    return Change(Action.RETAIN, row.name, row.spec.task, was, reasons=(gone, why), pk=row.pk)


def field_changes(old: TaskSpec, new: TaskSpec) -> tuple[FieldChange, ...]:
    """Field by field; a policy option that one side leaves out has its default there."""
    before, after = old.fields(), new.fields()
    if before.keys() == after.keys():
        return tuple(FieldChange(k, before[k], after[k]) for k in sorted(after) if before[k] != after[k])
    changes = ((k, field_value(before, k), field_value(after, k)) for k in sorted(before.keys() | after.keys()))
    return tuple(FieldChange(k, was, now) for k, was, now in changes if was != now)
