"""The catalogue of registered Celery tasks, for people (admin) and machines (API): name,
signature, first line of the docstring, and the schedules (database rows) that use it."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from django_celery_beat.models import PeriodicTask


@dataclass(frozen=True)
class TaskEntry:
    name: str
    signature: str | None
    doc: str
    schedules: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "signature": self.signature, "doc": self.doc, "schedules": list(self.schedules)}


def catalogue(app: Any = None, *, include_celery: bool = False) -> tuple[TaskEntry, ...]:
    """Every registered task, sorted by name (Celery's own ``celery.*`` tasks only on request)."""
    from .pipeline import celery_app, default_registry

    app = app or celery_app()
    registry = default_registry()
    used: dict[str, list[str]] = {}
    for name, task in PeriodicTask.objects.order_by("name").values_list("name", "task"):
        used.setdefault(task, []).append(name)
    return tuple(
        TaskEntry(name, str(signature) if signature is not None else None, first_line(app.tasks.get(name)),
                  tuple(used.get(name, ())))
        for name, signature in sorted(registry.signatures.items())
        if include_celery or not name.startswith("celery.")
    )


def first_line(task: Any) -> str:
    doc = inspect.getdoc(getattr(task, "run", None)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
