"""The catalogue of registered Celery tasks, for people (admin) and machines (API): name,
signature, first line of the docstring, and the schedules (database rows) that use it."""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from django_celery_beat.models import PeriodicTask


@dataclass(frozen=True)
class TaskEntry:
    name: str
    signature: str | None
    doc: str
    schedules: tuple[str, ...]
    # For people: annotations as written (``x: int``, not ``x: 'int'``), no JSON contract.
    shown_signature: str | None = field(default=None, compare=False)
    positional: str = field(default="", compare=False)
    keywords_example: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "signature": self.signature, "doc": self.doc, "schedules": list(self.schedules)}


def catalogue(app: Any = None, *, include_celery: bool = False) -> tuple[TaskEntry, ...]:
    """Every registered task, sorted by name (Celery's own ``celery.*`` tasks only on request)."""
    from .tree import celery_app, default_registry  # start-up: docs/architecture.md, "The import rules"

    app = app or celery_app()
    registry = default_registry()
    used: dict[str, list[str]] = {}
    for name, task in PeriodicTask.objects.order_by("name").values_list("name", "task"):
        used.setdefault(task, []).append(name)
    return tuple(
        TaskEntry(name, str(signature) if signature is not None else None, first_line(app.tasks.get(name)),
                  tuple(used.get(name, ())), shown(signature), *argument_hints(signature))
        for name, signature in sorted(registry.signatures.items())
        if include_celery or not name.startswith("celery.")
    )


class _Written:
    """An annotation shown as its source text: ``inspect`` formats an object by its repr."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _written(annotation: Any) -> Any:
    return _Written(annotation) if isinstance(annotation, str) else annotation


def shown(signature: inspect.Signature | None) -> str | None:
    """The signature as its author wrote it: string annotations (``from __future__ import
    annotations``) without the quotes ``str(signature)`` puts around them."""
    if signature is None:
        return None
    parameters = [p.replace(annotation=_written(p.annotation)) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=_written(signature.return_annotation)))


def argument_hints(signature: inspect.Signature | None) -> tuple[str, str]:
    """What to type in a run form, from the task's own signature: the positional parameters it
    requires (``warehouse: str``) and a keyword example made of its defaults (JSON)."""
    if signature is None:
        return "", ""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in signature.parameters.values() if p.kind in positional and p.default is p.empty]
    defaults = {p.name: p.default for p in signature.parameters.values()
                if p.default is not p.empty and p.kind != inspect.Parameter.POSITIONAL_ONLY}
    hint = ", ".join(str(p.replace(annotation=_written(p.annotation))) for p in required)
    return hint, json.dumps(defaults, default=lambda value: None) if defaults else ""


def first_line(task: Any) -> str:
    doc = inspect.getdoc(getattr(task, "run", None)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
