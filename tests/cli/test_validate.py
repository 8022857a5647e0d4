"""``manage.py reconcile validate`` and ``schema`` as processes: exit codes, formats, no DB."""
from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import manage

UNREACHABLE_DB = {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere"}


def test_validate_needs_no_database() -> None:
    result = manage("reconcile", "validate", env=UNREACHABLE_DB)
    assert result.returncode == 0, result.stderr
    assert "valid, 0 errors" in result.stdout


def test_invalid_files_exit_1_with_file_line_column() -> None:
    result = manage("reconcile", "validate", "--path", "tests/fixtures/invalid/bad-cron.yaml", env=UNREACHABLE_DB)
    assert result.returncode == 1
    assert result.stdout.startswith("tests/fixtures/invalid/bad-cron.yaml:4:11: error[bad-cron]")


def test_usage_error_exits_2() -> None:
    assert manage("reconcile", "validate", "--format", "yaml").returncode == 2
    assert manage("reconcile").returncode == 2


def test_json_format() -> None:
    result = manage("reconcile", "validate", "--path", "tests/fixtures/invalid/unknown-task.yaml", "--format", "json")
    payload = json.loads(result.stdout)
    assert result.returncode == 1 and payload["valid"] is False
    assert [(d["code"], d["line"], d["column"], d["name"]) for d in payload["diagnostics"]] == [
        ("unknown-task", 3, 11, "digest")
    ]


def test_warnings_alone_exit_0() -> None:
    result = manage("reconcile", "validate", "--path", "tests/fixtures/valid/past-one-off.yaml")
    assert result.returncode == 0 and "warning[past-one-off]" in result.stdout


def test_github_format_writes_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = manage(
        "reconcile", "validate", "--path", "tests/fixtures/invalid", "--format", "github",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert result.returncode == 1 and len(annotations) > 10
    report = summary.read_text()
    assert report.startswith("### Schedules validation") and report.count("| ❌ |") == len(annotations)


def test_schema_with_task_names() -> None:
    plain = json.loads(manage("reconcile", "schema", env=UNREACHABLE_DB).stdout)
    assert "enum" not in plain["$defs"]["Declaration"]["properties"]["task"]
    with_tasks = json.loads(manage("reconcile", "schema", "--with-tasks", env=UNREACHABLE_DB).stdout)
    assert "project.tasks.send_digest" in with_tasks["$defs"]["Declaration"]["properties"]["task"]["enum"]


def test_validate_names_the_declarations_that_need_our_scheduler() -> None:
    result = manage("reconcile", "validate", "--path", "tests/fixtures/policies", env=UNREACHABLE_DB)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "notice: 2 declaration(s) use a run-time policy, which only beat's scheduler "
        "reconciler.scheduler:ReconcilingScheduler applies (CELERY_BEAT_SCHEDULER, or beat -S): "
        "heartbeat, sync-inventory-main"
    )
    plain = manage("reconcile", "validate", "--path", "tests/fixtures/valid", env=UNREACHABLE_DB)
    assert "notice:" not in plain.stdout  # no policy, nothing to say
