"""The commands as a user runs them, on bad paths and failures: exit codes, and JSON that is
JSON in every case."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import manage
from tests.support.processes import process_database

NO_SERVER = {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"}
TASK = "tasks:\n  beat-1:\n    task: project.tasks.heartbeat\n    every: 30\n"


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "watch"])
def test_a_path_that_does_not_exist_exits_2_and_names_it(command: str, tmp_path: Path) -> None:
    result = manage("reconcile", command, "--path", str(tmp_path / "typo"), env=NO_SERVER, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "typo" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_json_is_printed_for_a_missing_path(command: str, tmp_path: Path) -> None:
    result = manage("reconcile", command, "--path", str(tmp_path / "typo"), "--format", "json", env=NO_SERVER)
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["kind"] == "path-not-found"


def test_plan_json_for_invalid_files_and_an_unreachable_database(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: soon\n")
    invalid = manage("reconcile", "plan", "--path", str(tmp_path), "--format", "json", env=NO_SERVER)
    assert invalid.returncode == 1
    payload = json.loads(invalid.stdout)
    assert payload["valid"] is False and payload["diagnostics"][0]["code"] == "bad-duration"
    (tmp_path / "bad.yaml").write_text(TASK)
    unreachable = manage("reconcile", "plan", "--path", str(tmp_path), "--format", "json", env=NO_SERVER)
    assert unreachable.returncode == 1
    assert json.loads(unreachable.stdout)["error"]["kind"] == "database-unavailable"


def test_plan_github_annotations_for_invalid_files(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: soon\n")
    result = manage("reconcile", "plan", "--path", str(tmp_path), "--format", "github", env=NO_SERVER)
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=") and "line=4" in result.stdout


@pytest.mark.db_backend
def test_refused_apply_and_plan_annotations_on_a_database(tmp_path: Path) -> None:
    with process_database(tmp_path, migrated=True) as url:
        env = {"DATABASE_URL": url}
        folder = tmp_path / "s"
        folder.mkdir()
        (folder / "s.yaml").write_text(TASK)
        plan = manage("reconcile", "plan", "--path", str(folder), "--format", "github", env=env)
        assert plan.returncode == 0 and "::notice file=" in plan.stdout and "title=+ create beat-1" in plan.stdout
        assert manage("reconcile", "apply", "--path", str(folder), env=env).returncode == 0
        (folder / "s.yaml").write_text("tasks: {}\n")
        refused = manage("reconcile", "apply", "--path", str(folder), "--format", "json", env=env)
        assert refused.returncode == 1
        payload = json.loads(refused.stdout)
        assert payload["error"]["kind"] == "refused"
        assert [c["action"] for c in payload["changes"]] == ["delete"]
        applied = manage("reconcile", "apply", "--path", str(folder), "--allow-empty", "--format", "json", env=env)
        assert applied.returncode == 0 and json.loads(applied.stdout)["applied"] is True


def test_plan_against_an_empty_ref_is_a_usage_error_not_a_database_plan() -> None:
    result = manage("reconcile", "plan", "--against", "", env=NO_SERVER)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--against needs a git ref" in result.stderr and "unreachable" not in result.stderr
    blank = manage("reconcile", "plan", "--against", "  ", "--format", "json", env=NO_SERVER)
    assert blank.returncode == 2 and "--against needs a git ref" in json.loads(blank.stdout)["error"]["message"]


@pytest.mark.parametrize("value", ["", ",", " , "], ids=["empty", "comma", "blanks"])
def test_status_fail_on_naming_no_health_is_refused(value: str) -> None:
    result = manage("reconcile", "status", "--fail-on", value, env=NO_SERVER)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "names no health (a probe that could never fail)" in result.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [("missing/forecast.svg", "missing does not exist; create it first"), (".", "is a folder: name a file in it")],
    ids=["missing-folder", "a-folder"],
)
def test_forecast_output_that_cannot_be_a_file_is_a_usage_error(tmp_path: Path, target: str, message: str) -> None:
    result = manage("reconcile", "forecast", "--output", str(tmp_path / target), env=NO_SERVER)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
