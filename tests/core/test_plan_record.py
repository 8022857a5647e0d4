"""The apply history's stored plan: format 2 packs the plan JSON and gives it back equal; a
stored format 1 record reads as it always did; a 100,000-task first import stays under 1 MB."""
from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.core.diagnostics import SourceRange
from reconciler.core.plan import Action, Change, FieldChange, Plan, Scope
from reconciler.core.plan_record import PACKED_VERSION, pack, read_plan, unpack
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
