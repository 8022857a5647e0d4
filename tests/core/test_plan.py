"""Change reasons: a closed vocabulary of kinds, each with its words. Grace, status and the
plan summary decide on the kind; the words are only shown, and the plan JSON keeps only them."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.core.calendar import Calendar
from reconciler.core.plan import Action, Change, DiffOptions, Grace, Plan, Scope, plan_from_json
from reconciler.core.reasons import WORDS, Reason, Why, read_reason
from reconciler.core.schedule import Clocked, Interval
from reconciler.core.specs import ActualState, ActualTask, DeclaredState, DeclaredTask, Ownership, Suspension, TaskSpec
from reconciler.engine.diff import diff
from reconciler.engine.grace import DeletionGrace
from reconciler.observe.sync import statuses

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PAUSE = Suspension(NOW - timedelta(hours=1), "alice", "drift: incident 42; resume to re-enable")


def spec(name: str = "a", **changes: object) -> TaskSpec:
    return replace(TaskSpec(name, "project.tasks.heartbeat", Interval(60)), **changes)


def declared(*specs: TaskSpec, renamed_from: str | None = None) -> DeclaredState:
    return DeclaredState(tuple(DeclaredTask(s, renamed_from=renamed_from) for s in specs))


def row(
    s: TaskSpec, *, owned: bool = True, applied: TaskSpec | None = None, source: str = "",
    file: str = "schedules/a.yaml", suspension: Suspension | None = None,
) -> ActualTask:
    ownership = Ownership((applied or s).digest(), file, 2, source, suspension) if owned else None
    return ActualTask(1, s, None, 0, ownership)


PAST = spec("once", schedule=Clocked(NOW - timedelta(days=1)), one_off=True)
SCENARIOS = [
    # (kind expected among the reasons, declared, actual, options)
    (Why.DRIFT, declared(spec()), (row(spec(args="[9]"), applied=spec()),), DiffOptions(NOW)),
    (Why.SUSPENDED, declared(spec()), (row(spec(enabled=False), suspension=PAUSE),), DiffOptions(NOW)),
    (Why.SUSPENDED_UPDATE, declared(spec(args="[2]")), (row(spec(enabled=False), suspension=PAUSE),),
     DiffOptions(NOW)),
    (Why.PAST_ONE_OFF, declared(PAST), (), DiffOptions(NOW)),
    (Why.PAST_UNTIL, declared(spec(calendar=Calendar(until="2026-01-01T00:00:00+00:00"))), (), DiffOptions(NOW)),
    (Why.RENAMED, declared(spec("b"), renamed_from="a"), (row(spec()),), DiffOptions(NOW)),
    (Why.ADOPTED, declared(spec()), (row(spec(), owned=False),), DiffOptions(NOW, adopt=True)),
    (Why.NOT_OWNED, declared(spec()), (row(spec(), owned=False),), DiffOptions(NOW)),
    (Why.OTHER_SOURCE, declared(spec(args="[1]")), (row(spec(), source="ops", file="ops/a.yaml"),),
     DiffOptions(NOW, scope=Scope("billing"))),
    (Why.NOT_DECLARED, declared(), (row(spec()),), DiffOptions(NOW)),
    (Why.GRACE, declared(), (row(spec()),), DiffOptions(NOW, grace=Grace(10))),
    (Why.NO_PRUNE, declared(), (row(spec()),), DiffOptions(NOW, prune=False)),
    (Why.BLIND, declared(), (row(spec()),),
     DiffOptions(NOW, scope=Scope("", ("schedules/a.yaml",), elsewhere=None))),
]


def plan_of(case: tuple[Why, DeclaredState, tuple[ActualTask, ...], DiffOptions]) -> Plan:
    _, want, have, options = case
    return diff(want, ActualState(have), options)


@pytest.mark.parametrize("case", SCENARIOS, ids=[c[0].value for c in SCENARIOS])
def test_the_diff_makes_each_kind_with_its_words(case: tuple[Why, DeclaredState, tuple[ActualTask, ...],
                                                             DiffOptions]) -> None:
    [change] = plan_of(case).changes
    assert change.has(case[0])
    for reason in change.reasons:
        assert isinstance(reason.kind, Why) and reason.kind is not Why.UNKNOWN
        assert read_reason(reason.words) == reason  # the words name their kind, and only it


def test_the_vocabulary_is_closed_and_every_kind_is_made() -> None:
    made = {r.kind for case in SCENARIOS for c in plan_of(case).changes for r in c.reasons}
    large = Plan((Change(Action.CREATE, "a", "t"),)).to_json(created_fields_limit=0)
    made |= {read_reason(words).kind for words in large["changes"][0]["reasons"]}
    assert made == set(Why) - {Why.UNKNOWN} == set(WORDS) - {Why.UNKNOWN}


def test_reasons_round_trip_through_the_plan_json() -> None:
    plan = Plan(tuple(c for case in SCENARIOS for c in plan_of(case).changes))
    stored = plan.to_json()
    again = plan_from_json(stored)
    assert [c.reasons for c in again.changes] == [c.reasons for c in plan.changes]
    assert again.to_json()["changes"] == stored["changes"]
    assert all(isinstance(words, str) for c in stored["changes"] for words in c["reasons"])


def test_words_no_kind_makes_are_read_back_as_unknown_and_shown_as_they_were() -> None:
    stored = {"changes": [{"action": "update", "name": "a", "reasons": ["drift (an older wording)"]}]}
    [change] = plan_from_json(stored).changes
    assert change.reasons == (Reason(Why.UNKNOWN, "drift (an older wording)"),)
    assert not change.has(Why.DRIFT) and plan_from_json(stored).summary()["drift"] == 0


# -- decisions are taken on the kind: other words, the same decision --------------------------


def test_grace_holds_by_kind() -> None:
    reworded = Change(Action.RETAIN, "held", "t", reasons=(Reason(Why.GRACE, "waiting a little"),))
    same_words = Change(Action.RETAIN, "kept", "t", reasons=(Reason(Why.NO_PRUNE, WORDS[Why.GRACE]),))
    grace = DeletionGrace(10)
    grace.observe(Plan((reworded, same_words)), NOW)
    assert [name for name, _ in grace.current().missing_since] == ["held"]


def test_the_summary_counts_drift_by_kind() -> None:
    reworded = Change(Action.UPDATE, "a", "t", reasons=(Reason(Why.DRIFT, "changed in the admin"),))
    lookalike = Change(Action.UPDATE, "b", "t", reasons=(Reason(Why.UNKNOWN, "drift: looks like it"),))
    assert Plan((reworded, lookalike)).summary()["drift"] == 1


def test_the_status_is_drifted_by_kind() -> None:
    rows = ActualState((row(spec("a")), replace(row(spec("b")), pk=2)))
    plan = Plan((
        Change(Action.UPDATE, "a", "t", reasons=(Reason(Why.DRIFT, "changed in the admin"),)),
        Change(Action.UPDATE, "b", "t", reasons=(Reason(Why.UNKNOWN, "drift: looks like it"),)),
    ))
    found = statuses(declared(spec("a"), spec("b")), rows, plan, {})
    assert [(st.name, st.state) for st in found] == [("a", "drifted"), ("b", "pending")]
    assert found[0].to_json()["reasons"] == ["changed in the admin"]
