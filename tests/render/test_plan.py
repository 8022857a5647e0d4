"""Plan renderings compared whole against golden files (UPDATE_GOLDEN=1 regenerates them)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.core.diagnostics import SourceRange
from reconciler.core.plan import DiffOptions
from reconciler.core.schedule import Clocked, Crontab, Interval
from reconciler.core.specs import ActualState, ActualTask, DeclaredState, DeclaredTask, Ownership, TaskSpec
from reconciler.engine.diff import diff
from reconciler.render.plan import RENDERERS
from tests.render.test_diagnostics import assert_golden

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def spec(name: str, **changes: object) -> TaskSpec:
    return replace(TaskSpec(name, "project.tasks.heartbeat", Interval(60)), **changes)


def owned(s: TaskSpec, pk: int, applied: TaskSpec | None = None) -> ActualTask:
    return ActualTask(pk, s, None, 0, Ownership((applied or s).digest(), "schedules/a.yaml", 3))


def sample_plan():  # type: ignore[no-untyped-def]
    nightly_old = spec("nightly", task="project.tasks.cleanup_sessions", schedule=Crontab("30", "2", timezone="UTC"))
    nightly_new = replace(nightly_old, schedule=Crontab("0", "3", timezone="UTC"))
    digest = spec(
        "digest",
        task="project.tasks.send_digest",
        schedule=Crontab("30", "7", day_of_week="1-5", timezone="Europe/Paris"),
        args='["staff"]',
        queue="reports",
    )
    sync = spec("sync", args='["north"]')
    declared = DeclaredState(
        (
            DeclaredTask(digest, SourceRange("schedules/reports.yaml", 4, 3)),
            DeclaredTask(nightly_new, SourceRange("schedules/a.yaml", 3, 3)),
            DeclaredTask(sync, SourceRange("schedules/a.yaml", 9, 3)),
            DeclaredTask(
                spec("launch", schedule=Clocked(NOW - timedelta(days=1)), one_off=True),
                SourceRange("schedules/a.yaml", 14, 3),
            ),
            DeclaredTask(spec("renamed"), SourceRange("schedules/a.yaml", 20, 3), renamed_from="old"),
            DeclaredTask(spec("taken"), SourceRange("schedules/a.yaml", 25, 3)),
        ),
        frozenset({"digest"}),
    )
    actual = ActualState(
        (
            owned(nightly_old, 1),
            owned(replace(sync, enabled=False), 2, applied=sync),
            owned(spec("gone"), 3),
            owned(spec("old"), 4),
            ActualTask(5, spec("taken", args='["x"]'), None, 0, None),
        )
    )
    return diff(declared, actual, DiffOptions(NOW))


@pytest.mark.parametrize("fmt", sorted(RENDERERS), ids=sorted(RENDERERS))
def test_plan_renders_like_golden(fmt: str) -> None:
    suffix = {"markdown": "md"}.get(fmt, fmt)
    assert_golden(f"plan.{suffix}", RENDERERS[fmt](sample_plan()))


def test_summary_line_is_terraform_like() -> None:
    text = RENDERERS["text"](sample_plan())
    assert text.rstrip().endswith("Plan: 2 to create, 3 to update, 1 to delete. (1 conflict)")
    assert 'schedule: cron "30 2 * * *" (UTC) → cron "0 3 * * *" (UTC)' in text
    assert "in words: At 02:30 → At 03:00 (UTC time)" in text


def _two_conflicts_and_a_retain():  # type: ignore[no-untyped-def]
    declared = DeclaredState((
        DeclaredTask(spec("a"), SourceRange("schedules/a.yaml", 1, 3)),
        DeclaredTask(spec("b"), SourceRange("schedules/a.yaml", 5, 3)),
    ))
    actual = ActualState((
        ActualTask(1, spec("a", args='["x"]'), None, 0, None),
        ActualTask(2, spec("b", args='["x"]'), None, 0, None),
        owned(spec("gone", schedule=Crontab("0", "8", timezone="Europe/Paris")), 3),
    ))
    return diff(declared, actual, DiffOptions(NOW, prune=False))


def test_counts_in_the_summary_agree_with_their_number() -> None:
    text = RENDERERS["text"](_two_conflicts_and_a_retain())
    assert "Plan: 0 to create, 0 to update, 0 to delete. (2 conflicts, 1 retained)" in text
    assert "0 tasks unchanged." in text
    assert "(s)" not in text


@pytest.mark.parametrize("fmt", sorted(RENDERERS), ids=sorted(RENDERERS))
def test_a_deleted_row_says_in_words_what_it_was(fmt: str) -> None:
    """Like a create, a delete (or a retained row) names its schedule, in words, on a 24-hour clock."""
    text = RENDERERS[fmt](_two_conflicts_and_a_retain())
    if fmt == "json":
        gone = next(c for c in json.loads(text)["changes"] if c["name"] == "gone")
        assert gone["fields"]["schedule"]["old"]["expression"] == "0 8 * * *"
    else:
        assert "At 08:00 (Europe/Paris time)" in text


@pytest.mark.parametrize("fmt", sorted(RENDERERS), ids=sorted(RENDERERS))
def test_times_are_written_one_way(fmt: str) -> None:
    """24-hour clock; a moment shown with the offset it was declared with, without microseconds."""
    paris = datetime.fromisoformat("2026-01-01T00:00:00.250+01:00")
    evening = spec("evening", schedule=Crontab("30", "20", timezone="UTC"), start_time=paris)
    launch = spec("launch", schedule=Clocked(datetime.fromisoformat("2027-01-01T08:00:00+01:00")), one_off=True)
    declared = DeclaredState((
        DeclaredTask(evening, SourceRange("schedules/a.yaml", 1, 3)),
        DeclaredTask(launch, SourceRange("schedules/a.yaml", 9, 3)),
    ))
    text = RENDERERS[fmt](diff(declared, ActualState(()), DiffOptions(NOW)))
    if fmt == "json":  # the contract keeps UTC
        assert "2025-12-31T23:00:00.250000+00:00" in text
        return
    assert "2026-01-01T00:00:00+01:00" in text and "2025-12-31T23:00" not in text
    assert "at 2027-01-01T08:00:00+01:00" in text and "2027-01-01T07:00" not in text
    assert "At 20:30" in text and " PM" not in text and " AM" not in text


def test_json_carries_the_contract_keys() -> None:
    payload = json.loads(RENDERERS["json"](sample_plan()))
    assert set(payload["summary"]) >= {"create", "update", "delete", "unchanged", "conflict"}
    assert all({"action", "name", "fields", "source"} <= set(c) for c in payload["changes"])


def suspended_plan():  # type: ignore[no-untyped-def]
    from reconciler.core.specs import Suspension

    pause = Suspension(NOW - timedelta(hours=2), "alice", "incident 42: the supplier API is down")
    paused, changed = spec("paused"), spec("paused-changed", args='["north"]')
    ownership = Ownership("h", "schedules/a.yaml", 3, suspension=pause)
    actual = ActualState(tuple(
        replace(owned(replace(s, args="[]", enabled=False), pk), owned=ownership)
        for pk, s in ((1, paused), (2, changed))
    ))
    declared = DeclaredState((
        DeclaredTask(paused, SourceRange("schedules/a.yaml", 3, 3)),
        DeclaredTask(changed, SourceRange("schedules/a.yaml", 7, 3)),
    ))
    return diff(declared, actual, DiffOptions(NOW))


@pytest.mark.parametrize("fmt", sorted(RENDERERS), ids=sorted(RENDERERS))
def test_suspended_plan_renders_like_golden(fmt: str) -> None:
    suffix = {"markdown": "md"}.get(fmt, fmt)
    assert_golden(f"plan_suspended.{suffix}", RENDERERS[fmt](suspended_plan()))


@pytest.mark.parametrize("make", [sample_plan, suspended_plan], ids=["sample", "suspended"])
def test_a_plan_read_back_from_json_renders_the_same_text(make) -> None:  # type: ignore[no-untyped-def]
    from reconciler.core.plan import plan_from_json

    plan = make()
    without_columns = replace(plan, changes=tuple(  # the JSON contract carries file and line only
        replace(c, source=SourceRange(c.source.file, c.source.line) if c.source else None) for c in plan.changes
    ))
    assert RENDERERS["text"](plan_from_json(json.loads(RENDERERS["json"](plan)))) == RENDERERS["text"](without_columns)


FORGED = "x\n  + evil-task  (project.tasks.heartbeat)\r\x1b[2K\u2028"


def test_no_user_string_can_start_a_line_of_its_own_in_the_text_plan() -> None:
    from reconciler.core.specs import Suspension

    pause = Suspension(NOW, f"bob{FORGED}", f"reason {FORGED}")  # recorded before reasons were checked
    hostile = spec(f"name{FORGED}", task=f"project.tasks.{FORGED}", description=FORGED)
    actual = ActualState((
        replace(owned(replace(hostile, enabled=False, args="[]"), 1),
                owned=Ownership("h", f"schedules/{FORGED}.yaml", 3, suspension=pause)),
        owned(spec(f"gone{FORGED}"), 2),
    ))
    declared = DeclaredState((DeclaredTask(hostile, SourceRange(f"schedules/{FORGED}.yaml", 3, 3)),))
    text = RENDERERS["text"](diff(declared, actual, DiffOptions(NOW)))
    lines = text.splitlines()
    owners = ("  ‖ name", "      ", "  - gone")  # the lines the hostile strings belong to
    assert not [line for line in lines if "evil-task" in line and not line.startswith(owners)]
    assert len(lines) == len(RENDERERS["text"](diff(
        DeclaredState((DeclaredTask(spec("name"), SourceRange("schedules/a.yaml", 3, 3)),)),
        ActualState((replace(owned(replace(spec("name"), enabled=False, args="[]"), 1),
                             owned=Ownership("h", "schedules/a.yaml", 3, suspension=Suspension(NOW, "bob", "r"))),
                     owned(spec("gone"), 2))),
        DiffOptions(NOW),
    )).splitlines())
    assert "reason x\\n  + evil-task  (project.tasks.heartbeat)\\r\\x1b[2K\\u2028" in text


@pytest.mark.parametrize("forged", ["x\n  + evil-task  (project.tasks.heartbeat)", "x\u2028y", "x\x1b[2Ky"])
def test_one_control_character_alone_is_escaped_too(forged: str) -> None:
    """A block is scanned once when no line holds a control character; a newline inside a line
    (which the scan for the others skips: it joins the lines) is found by counting them."""
    def rendered(name: str) -> str:
        declared = DeclaredState((DeclaredTask(spec(name), SourceRange("schedules/a.yaml", 3, 3)),))
        return RENDERERS["text"](diff(declared, ActualState(()), DiffOptions(NOW)))

    text = rendered(f"name{forged}")
    assert forged not in text and f"name{forged.encode('unicode_escape').decode('ascii')}" in text
    assert len(text.splitlines()) == len(rendered("name").splitlines())


def test_a_value_shown_once_for_many_rows_reads_as_shown_alone() -> None:
    """The text plan shows a value many rows share once per value (a memo): every block reads as
    it does alone, a moment still in each declaration's own zone (a one-off's too, at the same
    instant as another's), ``1`` not as ``true``, a schedule shared by rows in words each time."""
    from reconciler.render.plan import render_text

    paris = datetime.fromisoformat("2027-01-01T08:00:00+01:00")
    tokyo = datetime.fromisoformat("2027-01-01T16:00:00+09:00")  # the same instant
    specs = [
        spec("a", priority=1, queue="reports", start_time=paris),
        spec("b", priority=1, queue="reports", start_time=tokyo),
        spec("c", priority=0, one_off=True, schedule=Clocked(paris)),
        spec("d", queue="reports", schedule=Crontab("0", "8", timezone="Asia/Tokyo")),
        spec("e", queue="reports", schedule=Crontab("0", "8", timezone="Europe/Paris")),
        spec("f", one_off=True, schedule=Clocked(tokyo)),
        spec("g", schedule=Crontab("0", "8", timezone="Asia/Tokyo")),
    ]
    declared = DeclaredState(tuple(DeclaredTask(s, SourceRange("schedules/a.yaml", 1 + i, 3))
                                   for i, s in enumerate(specs)))
    together = render_text(diff(declared, ActualState(()), DiffOptions(NOW)))
    for s in specs:
        alone = render_text(diff(DeclaredState((next(d for d in declared.tasks if d.name == s.name),)),
                                 ActualState(()), DiffOptions(NOW)))
        assert alone.split("\n\n")[0] in together.split("\n\n")
    assert "16:00:00+09:00" in together and "08:00:00+01:00" in together
    assert "schedule: at 2027-01-01T08:00:00+01:00" in together and "schedule: at 2027-01-01T16:00:00+09:00" in together
    assert together.count("in words: At 08:00 (Asia/Tokyo time)") == 2
    assert together.count("priority: 1") == 2 and "priority: true" not in together
