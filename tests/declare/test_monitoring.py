"""``monitor:`` in the language: its values, located problems, and its keys merged one by one
from the file's defaults, the task and the overrides (an owner set once for a file)."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.core.monitor import NO_MONITOR, Monitor
from reconciler.pipeline import default_registry, validate_paths

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return default_registry()


def validate(tmp_path: Path, text: str, registry, **options):  # type: ignore[no-untyped-def]
    (tmp_path / "s.yaml").write_text(text)
    return validate_paths([tmp_path], registry=registry, now=NOW, **options)


def one(body: str) -> str:
    """A file with one task ``t``; ``body`` starts on line 5."""
    return "tasks:\n  t:\n    task: project.tasks.heartbeat\n    every: 15m\n" + "".join(
        f"    {line}\n" for line in body.splitlines())


INVALID = {
    "grace-not-a-duration": (one("monitor: {grace: soon}"), ("bad-duration", 5, 22), "a duration"),
    "threshold-zero": (one("monitor: {failure_threshold: 0}"), ("schema", 5, 34), "greater than or equal to 1"),
    "threshold-over": (one("monitor: {recovery_threshold: 101}"), ("schema", 5, 35), "less than or equal to 100"),
    "threshold-text": (one("monitor: {failure_threshold: '3'}"), ("schema", 5, 34), "integer"),
    "owner-empty": (one("monitor: {owner: ''}"), ("schema", 5, 22), "a short label"),
    "owner-long": (one(f"monitor: {{owner: {'x' * 65}}}"), ("schema", 5, 22), "1 to 64 printable characters"),
    "severity-a-number": (one("monitor: {severity: 1}"), ("schema", 5, 25), "expected a string"),
    "key-typo": (one("monitor: {grace_period: 5m, ownr: x}"), ("schema", 5, 33), "did you mean 'owner'"),
    "in-defaults": (
        "defaults:\n  monitor: {owner: team, grace: 0}\ntasks:\n  t:\n    task: project.tasks.heartbeat\n"
        "    every: 15m\n    monitor: {severity: page}\n", ("bad-duration", 2, 33), "a duration",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID), ids=sorted(INVALID))
def test_invalid_monitor(case: str, tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    text, expected, phrase = INVALID[case]
    result = validate(tmp_path, text, registry)
    found = [(d.code, d.source.line, d.source.column) for d in result.diagnostics]
    assert expected in found, result.diagnostics
    problem = result.diagnostics[found.index(expected)]
    assert phrase in f"{problem.message} ({problem.hint})"
    assert not result.valid


VALID = {
    "none": ("", NO_MONITOR),
    "all": (
        "monitor:\n  grace: 5m\n  failure_threshold: 3\n  recovery_threshold: 2\n  owner: team-billing\n"
        "  severity: page",
        Monitor(grace=300, failure_threshold=3, recovery_threshold=2, owner="team-billing", severity="page"),
    ),
    "defaults-are-no-monitor": ("monitor: {failure_threshold: 1, recovery_threshold: 1}", NO_MONITOR),
    "label-with-spaces": ("monitor: {owner: Team Billing (EU)}", Monitor(owner="Team Billing (EU)")),
}


@pytest.mark.parametrize("case", sorted(VALID), ids=sorted(VALID))
def test_valid_monitor(case: str, tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    body, monitor = VALID[case]
    result = validate(tmp_path, one(body), registry)
    assert result.valid, result.diagnostics
    assert result.declared.tasks[0].spec.monitor == monitor


def test_monitor_keys_merge_from_defaults_task_and_overrides(tmp_path: Path, registry, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_ENVIRONMENTS = ["staging", "production"]
    text = (
        "defaults:\n  monitor: {owner: team-billing, grace: 10m}\n"
        "  overrides:\n    production: {monitor: {severity: page}}\n"
        "tasks:\n  t:\n    task: project.tasks.heartbeat\n    every: 15m\n    monitor: {grace: 5m}\n"
        "    overrides:\n      production: {monitor: {failure_threshold: 3}}\n"
        "  u:\n    task: project.tasks.heartbeat\n    every: 1h\n"
    )
    production = validate(tmp_path, text, registry, env="production")
    assert production.valid, production.diagnostics
    specs = production.declared.specs()
    assert specs["t"].monitor == Monitor(grace=300, failure_threshold=3, owner="team-billing", severity="page")
    assert specs["u"].monitor == Monitor(grace=600, owner="team-billing", severity="page")
    staging = validate(tmp_path, text, registry, env="staging").declared.specs()
    assert staging["t"].monitor == Monitor(grace=300, owner="team-billing")


def test_a_problem_in_a_merged_key_points_where_it_is_written(tmp_path: Path, registry, settings) -> None:  # type: ignore[no-untyped-def]
    """The task writes ``monitor`` too, but not the faulty key: the defaults do."""
    settings.RECONCILER_ENVIRONMENTS = ["production"]
    text = (
        "defaults:\n  monitor: {owner: team}\n"
        "  overrides:\n    production: {monitor: {failure_threshold: 0}}\n"
        "tasks:\n  t:\n    task: project.tasks.heartbeat\n    every: 15m\n    monitor: {grace: 5m}\n"
    )
    result = validate(tmp_path, text, registry, env="production")
    (problem,) = result.diagnostics
    assert (problem.source.line, problem.source.column) == (4, 47)
    assert problem.path == ("defaults", "overrides", "production", "monitor", "failure_threshold")
