"""The apply history's stored plan: format 2 packs the plan JSON and gives it back equal; a
stored format 1 record reads as it always did; a 100,000-task first import stays under 1 MB."""
from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.core.diagnostics import SourceRange
from reconciler.core.plan import Action, Change, FieldChange, Plan, Scope
from reconciler.core.plan_record import PACKED_VERSION, pack, pack_plan, read_plan, unpack
from reconciler.core.reasons import Why, reason
from reconciler.render.plan import render_text
from tests.conftest import FIXTURES, assert_golden

FORMAT_1 = FIXTURES / "history" / "format1.json"  # a record as the history stored it before format 2


def old_record() -> dict[str, Any]:
    return json.loads(FORMAT_1.read_text(encoding="utf-8"))


def large_import(count: int) -> dict[str, Any]:
    """The plan JSON of a first import shaped like bench/generate.py's tree: fields kept for
    the first 1,000 creates only, as the history does."""
    tasks = ("send_digest", "sync_inventory", "generate_report", "cleanup_sessions")
    changes = tuple(
        Change(
            Action.CREATE, f"task-{i:06d}", f"project.tasks.{tasks[min(i % 10 // 4, 3)]}",
            (FieldChange("schedule", None, {"kind": "interval", "every": 60 * (1 + i % 7)}),),
            source=SourceRange(f"schedules/team-{i // 100:04d}.yaml", 4 + 8 * (i % 100)),
        )
        for i in range(count)
    )
    return Plan(changes).to_json(created_fields_limit=1000)


PAYLOADS = [
    ("old-record", old_record()),
    ("no-changes", Plan(warnings=("nothing to do",), scope=Scope("billing", ("schedules/a.yaml",))).to_json()),
    ("no-source-no-line", Plan((
        Change(Action.DELETE, "gone", "t"),
        Change(Action.CREATE, "née", "t", source=SourceRange("schedules/é.yaml", None)),
        Change(Action.RENAME, "new", "t", source=SourceRange("a.yaml", 1), previous_name="old"),
    )).to_json()),
    ("large-import", large_import(2000)),
]


@pytest.mark.parametrize("payload", [p for _, p in PAYLOADS], ids=[i for i, _ in PAYLOADS])
def test_unpack_gives_back_the_plan_json_packed(payload: dict[str, Any]) -> None:
    packed = json.loads(json.dumps(pack(payload)))  # as the database gives it back
    assert packed["format_version"] == PACKED_VERSION and packed["summary"] == payload["summary"]
    assert unpack(packed) == payload


def test_a_plan_packs_as_its_plan_json_does() -> None:
    """``pack_plan`` (what the history stores, from the plan itself) is ``pack`` of the plan JSON:
    every action, reasons (the creates past the limit say their fields were left out), sources
    without a line or without a file, renames, warnings and a partial scope."""
    schedule = {"kind": "cron", "expression": "0 3 * * *", "timezone": "Europe/Paris"}
    changes = (
        Change(Action.ADOPT, "adopted", "t", (FieldChange("enabled", False, True),), (reason(Why.ADOPTED),),
               SourceRange("b.yaml", 2, 3), pk=4),
        Change(Action.CREATE, "created-1", "t", (FieldChange("schedule", None, schedule),), (),
               SourceRange("schedules/é.yaml", None)),
        Change(Action.CREATE, "created-2", "u", (FieldChange("args", None, "[1]"),), (reason(Why.PAST_ONE_OFF),),
               SourceRange("a.yaml", 9)),
        Change(Action.CREATE, "created-3", "u", (FieldChange("args", None, "[2]"),), (), SourceRange("a.yaml", 12)),
        Change(Action.DELETE, "gone", "t", (FieldChange("schedule", schedule, None),),
               (reason(Why.NOT_DECLARED, where=""),), pk=7),
        Change(Action.RENAME, "new", "t", (FieldChange("name", "old", "new"),), (reason(Why.RENAMED, old="old"),),
               SourceRange("a.yaml", 1), pk=8, previous_name="old"),
        Change(Action.UPDATE, "updated", "t", (FieldChange("queue", None, "q"),), (reason(Why.DRIFT),),
               SourceRange("a.yaml", 20, 3), pk=9),
    )
    plan = Plan(changes, ("same",), ("x: also in CELERY_BEAT_SCHEDULE",), Scope("billing", ("schedules/a.yaml",)))
    for limit in (0, 1, 2, 1000):
        assert pack_plan(plan, created_fields_limit=limit) == pack(plan.to_json(created_fields_limit=limit))
    assert pack_plan(Plan(), created_fields_limit=1000) == pack(Plan().to_json(created_fields_limit=1000))


def test_a_stored_format_1_record_reads_as_it_always_did() -> None:
    stored = old_record()
    assert unpack(stored) is stored and unpack({}) == {}
    text = render_text(read_plan(stored))
    assert text == render_text(read_plan(pack(stored)))
    assert_golden("history_format1.text", text)


def test_a_100000_task_first_import_is_stored_in_under_1_mb() -> None:
    payload = large_import(100_000)
    size = len(json.dumps(pack(payload)))
    assert size <= 1_000_000, f"{size:,} bytes (format 1: {len(json.dumps(payload)):,})"
