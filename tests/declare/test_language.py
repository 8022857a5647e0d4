"""The JSON Schema is generated from the models, and the committed copy is up to date."""
from __future__ import annotations

import json
from pathlib import Path

from reconciler.declare.language import json_schema

DOCS_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schedules.schema.json"


def test_committed_schema_matches_the_models() -> None:
    assert json.loads(DOCS_SCHEMA.read_text()) == json_schema(), (
        "regenerate: python manage.py reconcile schema > docs/schedules.schema.json"
    )


def test_schema_forbids_unknown_keys_and_requires_task() -> None:
    schema = json_schema()
    declaration = schema["$defs"]["Declaration"]
    assert declaration["additionalProperties"] is False
    assert declaration["required"] == ["task"]
    assert schema["additionalProperties"] is False


def test_schema_task_enum_is_sorted() -> None:
    schema = json_schema(["b.task", "a.task"])
    assert schema["$defs"]["Declaration"]["properties"]["task"]["enum"] == ["a.task", "b.task"]
