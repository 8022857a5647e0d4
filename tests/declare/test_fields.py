"""The field validators' messages: what YAML 1.1 silently converted is said, with the fix."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.pipeline import default_registry, validate_paths

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry():
    return default_registry()


@pytest.mark.parametrize(
    ("yaml_value", "needle"),
    [("on", "boolean"), ("yes", "boolean"), ("010", "number"), ("2030-01-01", "date")],
    ids=["on", "yes", "octal", "date"],
)
def test_yaml11_surprises_say_to_quote(tmp_path: Path, registry, yaml_value: str, needle: str) -> None:
    (tmp_path / "s.yaml").write_text(
        f"tasks:\n  t:\n    task: project.tasks.heartbeat\n    every: 30\n    description: {yaml_value}\n"
    )
    result = validate_paths([tmp_path], registry=registry, now=NOW)
    [diagnostic] = result.diagnostics
    assert needle in diagnostic.message and "quote" in diagnostic.message
