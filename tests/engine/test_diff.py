"""The diff with plain values: no database, no Django models, no YAML."""

from __future__ import annotations

import ast
import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.core.calendar import Calendar
from reconciler.core.plan import Action, DiffOptions, FieldChange, Grace, Scope
from reconciler.core.reasons import Why
from reconciler.core.schedule import Clocked, Crontab, Interval
from reconciler.core.specs import ActualState, ActualTask, DeclaredState, DeclaredTask, Ownership, Suspension, TaskSpec
from reconciler.engine.diff import DRIFT, GRACE, diff
from reconciler.engine.grace import DeletionGrace

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OPTIONS = DiffOptions(NOW)


def spec(name: str = "a", **changes: object) -> TaskSpec:
    return replace(TaskSpec(name, "project.tasks.heartbeat", Interval(60)), **changes)


def declared(*specs: TaskSpec, renamed_from: str | None = None) -> DeclaredState:
    return DeclaredState(tuple(DeclaredTask(s, renamed_from=renamed_from) for s in specs))


def row(s: TaskSpec, pk: int = 1, owned: bool = True, applied: TaskSpec | None = None) -> ActualTask:
    ownership = Ownership((applied or s).digest(), "schedules/a.yaml", 2) if owned else None
    return ActualTask(pk, s, None, 0, ownership)


def actual(*rows: ActualTask) -> ActualState:
    return ActualState(tuple(rows))


def actions(plan) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(c.action.value, c.name) for c in plan.changes]


CASES = [
    ("create", declared(spec()), actual(), [("create", "a")]),
    ("keep", declared(spec()), actual(row(spec())), []),
    ("update", declared(spec(args="[1]")), actual(row(spec())), [("update", "a")]),
    ("delete-owned", declared(), actual(row(spec())), [("delete", "a")]),
    ("never-touch-unowned", declared(), actual(row(spec("celery.backend_cleanup"), owned=False)), []),
    ("conflict", declared(spec()), actual(row(spec(), owned=False)), [("conflict", "a")]),
    ("sorted", declared(spec("b"), spec("a")), actual(), [("create", "a"), ("create", "b")]),
]


@pytest.mark.parametrize(("case", "want", "have", "expected"), CASES, ids=[c[0] for c in CASES])
def test_actions(case: str, want: DeclaredState, have: ActualState, expected: list[tuple[str, str]]) -> None:
    assert actions(diff(want, have, OPTIONS)) == expected


def test_update_lists_fields_old_to_new_sorted() -> None:
    old = spec(args="[1]", queue="a")
    new = spec(args="[2]", queue="b", schedule=Interval(120))
    [change] = diff(declared(new), actual(row(old)), OPTIONS).changes
    assert [(f.field, f.old, f.new) for f in change.fields] == [
        ("args", "[1]", "[2]"),
        ("queue", "a", "b"),
        ("schedule", {"kind": "interval", "every": 60}, {"kind": "interval", "every": 120}),
    ]
    assert change.reasons == () and change.pk == 1



def test_a_create_lists_the_fields_a_new_row_does_not_have_anyway_built_when_first_read() -> None:
    """From nothing to each value, leaving out the empty ones and the row's own defaults (shown
    when they differ: ``enabled: false``). The diff does not build them: the spec's fields are
    first computed when the change's fields are read (at 100,000 creates, in the forked child
    that renders the plan's text, not in the process that writes)."""
    new = spec(queue="q", enabled=False)
    [change] = diff(declared(new), actual(), OPTIONS).changes
    assert "_fields" not in change.desired.__dict__, "the diff computed the spec's fields"
    expected = (FieldChange("task", None, "project.tasks.heartbeat"),
                FieldChange("schedule", None, {"kind": "interval", "every": 60}), FieldChange("enabled", None, False),
                FieldChange("queue", None, "q"))
    assert change.fields == expected and expected == change.fields
    assert "_fields" in change.desired.__dict__
    assert (len(change.fields), change.fields[-1], list(change.fields)) == (4, expected[-1], list(expected))
    copied = pickle.loads(pickle.dumps(change))
    assert copied == change and type(copied.fields) is tuple

def test_drift_is_an_update_that_says_it_reverts() -> None:
    applied = spec()
    edited_in_admin = spec(enabled=False)
    [change] = diff(declared(applied), actual(row(edited_in_admin, applied=applied)), OPTIONS).changes
    assert change.action is Action.UPDATE and change.reasons == (DRIFT,)
    assert [(f.field, f.old, f.new) for f in change.fields] == [("enabled", False, True)]


def test_same_meaning_is_no_change() -> None:
    from_yaml = spec(schedule=Crontab.canonical("UTC", minute="00", day_of_week="mon"))
    from_db = spec(schedule=Crontab.canonical("UTC", minute="0", day_of_week="1"))
    assert diff(declared(from_yaml), actual(row(from_db)), OPTIONS).changes == ()


def test_no_prune_retains_and_says_so() -> None:
    plan = diff(declared(), actual(row(spec())), replace(OPTIONS, prune=False))
    [change] = plan.changes
    assert change.action is Action.RETAIN and "kept because of --no-prune" in [r.words for r in change.reasons]
    assert not plan.has_changes


def test_adopt_takes_over_in_place() -> None:
    [change] = diff(
        declared(spec(args="[1]")), actual(row(spec(), pk=7, owned=False)), replace(OPTIONS, adopt=True)
    ).changes
    assert (change.action, change.pk) == (Action.ADOPT, 7)


def test_rename_keeps_the_row() -> None:
    plan = diff(declared(spec("new"), renamed_from="old"), actual(row(spec("old"), pk=3)), OPTIONS)
    [change] = plan.changes
    assert (change.action, change.pk, change.previous_name) == (Action.RENAME, 3, "old")
    assert change.fields[0].field == "name"


def test_rename_from_an_unowned_row_is_a_plain_create() -> None:
    plan = diff(declared(spec("new"), renamed_from="old"), actual(row(spec("old"), owned=False)), OPTIONS)
    assert actions(plan) == [("create", "new")]


def one_off(at: datetime, **changes: object) -> TaskSpec:
    return spec("once", schedule=Clocked(at), one_off=True, **changes)


def test_fired_one_off_is_completion_not_drift() -> None:
    past = NOW - timedelta(hours=1)
    fired = one_off(past, enabled=False)  # what beat leaves behind
    plan = diff(declared(one_off(past)), actual(row(fired, applied=one_off(past))), OPTIONS)
    assert plan.changes == () and plan.unchanged == ("once",)


def test_moving_a_one_off_rearms_it() -> None:
    past, future = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    [change] = diff(declared(one_off(future)), actual(row(one_off(past, enabled=False))), OPTIONS).changes
    assert change.desired.enabled is True
    assert {f.field for f in change.fields} == {"schedule", "enabled"}


def test_past_one_off_is_created_disabled() -> None:
    [change] = diff(declared(one_off(NOW - timedelta(days=1))), actual(), OPTIONS).changes
    assert change.action is Action.CREATE and change.desired.enabled is False
    assert "not armed" in change.reasons[0].words


def counted(s: TaskSpec, sent: int) -> ActualTask:
    return replace(row(s), total_run_count=sent)


CAMPAIGN = Calendar(max_runs=2)


@pytest.mark.parametrize(("declared_max", "row_enabled", "sent", "enabled"), [
    (2, False, 2, False),  # complete: left as beat left it, no change
    (5, False, 2, True),  # max_runs raised above the count: armed again
    (2, True, 1, True),  # runs left
    (2, True, 2, True),  # not yet disabled by beat: left for beat to complete
], ids=["complete-stays-disabled", "raised-rearms", "runs-left", "beat-completes-it"])
def test_a_calendar_completed_by_max_runs_stays_disabled(
    declared_max: int, row_enabled: bool, sent: int, enabled: bool,
) -> None:
    want = spec(calendar=Calendar(max_runs=declared_max))
    have = counted(spec(calendar=CAMPAIGN, enabled=row_enabled), sent)
    plan = diff(declared(want), actual(have), OPTIONS)
    desired = plan.changes[0].desired if plan.changes else None
    assert (desired.enabled if desired else row_enabled) is enabled
    if not enabled:
        assert plan.changes == ()


def test_a_past_until_is_written_disabled_and_says_why() -> None:
    ended = spec(calendar=Calendar(until=(NOW - timedelta(days=1)).isoformat()))
    [created] = diff(declared(ended), actual(), OPTIONS).changes
    assert created.desired.enabled is False and [r.kind for r in created.reasons] == [Why.PAST_UNTIL]
    [updated] = diff(declared(ended), actual(row(replace(ended, enabled=True))), OPTIONS).changes
    assert updated.desired.enabled is False and Why.PAST_UNTIL in [r.kind for r in updated.reasons]
    assert diff(declared(ended), actual(row(replace(ended, enabled=False))), OPTIONS).changes == ()
    ahead = spec(calendar=Calendar(until=(NOW + timedelta(days=1)).isoformat()))
    assert diff(declared(ahead), actual(), OPTIONS).changes[0].desired.enabled is True


def test_beat_schedule_copy_is_warned_about() -> None:
    state = DeclaredState((DeclaredTask(spec()),), frozenset({"a"}))
    assert "CELERY_BEAT_SCHEDULE" in diff(state, actual(), OPTIONS).warnings[0]


def test_summary_and_json_contract() -> None:
    plan = diff(
        declared(spec("new"), spec("changed", args="[1]")),
        actual(row(spec("changed"), pk=1), row(spec("gone"), pk=2), row(spec("kept-the-same"), pk=3, owned=False)),
        OPTIONS,
    )
    assert plan.summary() == {
        "create": 1,
        "update": 1,
        "delete": 1,
        "unchanged": 0,
        "conflict": 0,
        "retain": 0,
        "rename": 0,
        "adopt": 0,
        "drift": 0,
        "suspended": 0,
    }
    payload = plan.to_json()
    assert payload["format_version"] == 1
    assert [(c["name"], c["action"]) for c in payload["changes"]] == [
        ("changed", "update"),
        ("gone", "delete"),
        ("new", "create"),
    ]
    assert payload["changes"][0]["fields"] == {"args": {"old": "[]", "new": "[1]"}}


def test_diff_module_imports_neither_django_nor_pydantic() -> None:
    import reconciler.core.plan as core_plan
    import reconciler.core.schedule as core_schedule
    import reconciler.core.specs as core_specs
    import reconciler.engine.diff as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith(("django", "pydantic"))}
    for local in (core_plan, core_specs, core_schedule):
        source = Path(local.__file__).read_text()
        assert "import django" not in source and "from django" not in source


def sourced(s: TaskSpec, source: str, file: str, pk: int = 1) -> ActualTask:
    return ActualTask(pk, s, None, 0, Ownership(s.digest(), file, 2, source))


SCOPE_CASES = [
    # (case, scope, rows, expected deletions)
    ("whole-source-prunes-its-own", Scope("billing"),
     [sourced(spec("x"), "billing", "billing/a.yaml"), sourced(spec("y"), "ops", "ops/a.yaml", 2)], ["x"]),
    ("one-file-prunes-only-that-file", Scope("billing", ("billing/a.yaml",)),
     [sourced(spec("x"), "billing", "billing/a.yaml"), sourced(spec("y"), "billing", "billing/b.yaml", 2)], ["x"]),
    ("sub-folder-prunes-only-below-it", Scope("billing", ("billing/eu",)),
     [sourced(spec("x"), "billing", "billing/eu/a.yaml"), sourced(spec("y"), "billing", "billing/eu-2.yaml", 2)],
     ["x"]),
    ("legacy-rows-belong-to-the-default-source", Scope("schedules"),
     [sourced(spec("x"), "", "schedules/a.yaml")], ["x"]),
    ("legacy-rows-are-not-claimed-by-other-folders", Scope("other", legacy=False),
     [sourced(spec("x"), "", "schedules/a.yaml")], []),
]


@pytest.mark.parametrize(("case", "scope", "rows", "deleted"), SCOPE_CASES, ids=[c[0] for c in SCOPE_CASES])
def test_prune_is_scoped(case: str, scope: Scope, rows: list[ActualTask], deleted: list[str]) -> None:
    plan = diff(declared(), actual(*rows), replace(OPTIONS, scope=scope))
    assert [c.name for c in plan.of(Action.DELETE)] == deleted
    assert plan.scope == scope


def test_a_name_owned_by_another_source_is_a_conflict() -> None:
    plan = diff(declared(spec("x", args="[1]")), actual(sourced(spec("x"), "ops", "ops/a.yaml")),
                replace(OPTIONS, scope=Scope("billing")))
    [change] = plan.changes
    assert change.action is Action.CONFLICT and "'ops'" in change.reasons[0].words


def test_grace_holds_a_new_deletion_and_releases_it_after_the_period() -> None:
    rows = actual(row(spec("gone")))
    fresh = diff(declared(), rows, replace(OPTIONS, grace=Grace(10)))
    [held] = fresh.changes
    assert held.action is Action.RETAIN and GRACE in held.reasons and not fresh.has_changes
    early = Grace(10, (("gone", NOW - timedelta(seconds=9)),))
    assert diff(declared(), rows, replace(OPTIONS, grace=early)).changes[0].action is Action.RETAIN
    late = Grace(10, (("gone", NOW - timedelta(seconds=10)),))
    assert diff(declared(), rows, replace(OPTIONS, grace=late)).changes[0].action is Action.DELETE


def test_deletion_grace_tracker_remembers_first_sight_and_forgets_returns() -> None:
    grace = DeletionGrace(10)
    rows = actual(row(spec("a")), row(spec("b"), pk=2))
    first = diff(declared(), rows, replace(OPTIONS, grace=grace.current()))
    grace.observe(first, NOW)
    assert grace.due_in(NOW + timedelta(seconds=4)) == 6
    later = NOW + timedelta(seconds=5)
    back = diff(declared(spec("a")), rows, replace(OPTIONS, now=later, grace=grace.current()))
    grace.observe(back, later)
    assert dict(grace.current().missing_since) == {"b": NOW}
    due = NOW + timedelta(seconds=10)
    final = diff(declared(spec("a")), rows, replace(OPTIONS, now=due, grace=grace.current()))
    assert [(c.action, c.name) for c in final.changes] == [(Action.DELETE, "b")]
    grace.observe(final, due)
    assert grace.due_in(due) is None
# -- suspension: an operator's override, carried by the ownership -------------------------------

PAUSE = Suspension(NOW - timedelta(hours=1), "alice", "incident 42")


def suspended_row(s: TaskSpec, **kw: object) -> ActualTask:
    plain = row(s, **kw)  # type: ignore[arg-type]
    assert plain.owned is not None
    return replace(plain, owned=replace(plain.owned, suspension=PAUSE))


SUSPENDED_CASES = [
    # (case, declared, row, expected action or None, fields changed)
    ("disabled-equals-git", spec(), spec(enabled=False), Action.SUSPENDED, []),
    ("git-changed-args", spec(args="[2]"), spec(enabled=False), Action.UPDATE, [("args", "[]", "[2]")]),
    ("re-enabled-outside", spec(), spec(), Action.UPDATE, [("enabled", True, False)]),
    ("declared-disabled", spec(enabled=False), spec(enabled=False), Action.SUSPENDED, []),
]


@pytest.mark.parametrize(
    ("case", "want", "have", "action", "fields"), SUSPENDED_CASES, ids=[c[0] for c in SUSPENDED_CASES]
)
def test_suspended_row_is_never_enabled(
    case: str, want: TaskSpec, have: TaskSpec, action: Action, fields: list[tuple[str, object, object]]
) -> None:
    plan = diff(declared(want), actual(suspended_row(have)), OPTIONS)
    [change] = plan.changes
    assert change.action is action
    assert [(f.field, f.old, f.new) for f in change.fields] == fields
    assert change.desired is not None and change.desired.enabled is False
    assert any("suspended by alice" in r.words and "incident 42" in r.words for r in change.reasons)
    assert plan.has_changes is (action is Action.UPDATE)
    assert plan.summary()["suspended"] == (action is Action.SUSPENDED)


def test_suspended_and_deleted_from_git_is_deleted() -> None:
    assert actions(diff(declared(), actual(suspended_row(spec())), OPTIONS)) == [("delete", "a")]


def test_suspended_rename_stays_disabled() -> None:
    plan = diff(declared(spec("new"), renamed_from="a"), actual(suspended_row(spec(enabled=False))), OPTIONS)
    [change] = plan.changes
    assert change.action is Action.RENAME and change.desired is not None and change.desired.enabled is False
