"""The checks across files and those that depend on the moment of the run."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.pipeline import default_registry, validate_paths
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry():
    return default_registry()


def test_past_one_off_is_a_warning_and_is_not_armed(registry) -> None:
    result = validate_paths([FIXTURES / "valid" / "past-one-off.yaml"], registry=registry, now=NOW)
    assert result.valid
    [diagnostic] = result.diagnostics
    assert (diagnostic.severity.value, diagnostic.code, diagnostic.source.line) == ("warning", "past-one-off", 4)
    assert result.declared.tasks[0].spec.one_off


def test_name_declared_in_two_files_reports_both_places(tmp_path: Path, registry) -> None:
    body = "tasks:\n  shared-name:\n    task: project.tasks.heartbeat\n    every: 30\n"
    (tmp_path / "a.yaml").write_text(body)
    (tmp_path / "b.yaml").write_text("# other\n" + body)
    result = validate_paths([tmp_path], registry=registry, now=NOW)
    places = [(Path(d.source.file).name, d.source.line, d.code) for d in result.diagnostics]
    assert places == [("a.yaml", 2, "duplicate-name"), ("b.yaml", 3, "duplicate-name")]
