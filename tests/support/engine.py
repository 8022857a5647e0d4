"""Helpers for database-backed engine tests: declare YAML, apply it, snapshot the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)

from reconciler import insync
from reconciler.declare.files import read_sources
from reconciler.declare.sources import scope_for
from reconciler.engine.apply import ApplyOptions
from reconciler.models import ManagedTask
from reconciler.pipeline import ApplyPathsResult, apply_paths, default_registry, plan_paths

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
_REGISTRY = None


def registry():  # type: ignore[no-untyped-def]
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = default_registry()
    return _REGISTRY


def write_schedules(folder: Path, text: str, name: str = "s.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    path = folder / name
    path.write_text(text)
    return folder


def apply_yaml(folder: Path, text: str | None = None, **options: Any) -> ApplyPathsResult:
    if text is not None:
        write_schedules(folder, text)
    options.setdefault("now", NOW)
    options.setdefault("revision", "test")
    outcome = apply_paths([folder], options=ApplyOptions(**options), registry=registry())
    assert outcome.result is not None, outcome.validation.diagnostics
    return outcome


def plan_yaml(folder: Path, **options: Any):  # type: ignore[no-untyped-def]
    result = plan_paths([folder], registry=registry(), now=NOW, **options)
    assert result.plan is not None, result.validation.diagnostics
    return result.plan


def interval_tasks(count: int, every: int = 60, prefix: str = "t") -> str:
    body = "".join(
        f"  {prefix}-{i:05d}:\n    task: project.tasks.heartbeat\n    every: {every + i}\n    kwargs: {{label: n{i}}}\n"
        for i in range(count)
    )
    return "tasks:\n" + body


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the reconciler touches, in a comparable form."""
    models = (
        PeriodicTask,
        IntervalSchedule,
        CrontabSchedule,
        ClockedSchedule,
        SolarSchedule,
        ManagedTask,
        PeriodicTasks,
    )
    return {
        model.__name__: [{k: str(v) for k, v in row.items()} for row in model.objects.order_by("pk").values()]
        for model in models
    }


def marker() -> datetime | None:
    return PeriodicTasks.last_change()


def memo_of(folder: Path) -> Path:
    """The in-sync memo file of an apply of ``folder`` (``insync.inputs_of``). Tests on other
    workers share the cache folder: a test edits its own memo, never every memo there."""
    inputs = insync.inputs_of(
        [folder], list(read_sources([folder])), scope_for([folder]), ApplyOptions(now=NOW), registry(), None, "default",
    )
    assert inputs is not None
    return inputs.path
