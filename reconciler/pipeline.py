"""The whole pipeline, as the few functions every shell calls (command, watcher, beat, API).

load → validate → resolve  (validate_paths)
     → read → diff           (plan_paths)
     → apply                 (apply_paths)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from .diagnostics import Diagnostic, has_errors, sort_diagnostics
from .load import load_paths
from .resolve import Registry, registry_from_app, resolve
from .specs import DeclaredState
from .validate import validate_documents


@dataclass(frozen=True)
class ValidationResult:
    declared: DeclaredState
    diagnostics: tuple[Diagnostic, ...]
    checked: int

    @property
    def valid(self) -> bool:
        return not has_errors(self.diagnostics)


def schedules_dir() -> Path:
    return Path(getattr(settings, "RECONCILER_SCHEDULES_DIR", "schedules"))


def celery_app() -> Any:
    """The project's Celery app: ``RECONCILER_CELERY_APP`` ("module:attribute") or Celery's current app."""
    from celery import current_app
    from django.utils.module_loading import import_string

    dotted = getattr(settings, "RECONCILER_CELERY_APP", None)
    if dotted:
        return import_string(dotted.replace(":", "."))
    return current_app._get_current_object()


def default_registry() -> Registry:
    return registry_from_app(celery_app())


def validate_paths(
    paths: Sequence[Path] | None = None, *, registry: Registry | None = None, now: datetime | None = None
) -> ValidationResult:
    registry = registry or default_registry()
    documents = load_paths(paths or [schedules_dir()])
    validated = validate_documents(
        documents, default_timezone=registry.timezone, now=now or datetime.now(UTC)
    )
    declared, problems = resolve(validated.declarations, registry)
    located = [_place(d, validated.texts) for d in problems]
    diagnostics = sort_diagnostics([*validated.diagnostics, *located])
    return ValidationResult(declared, diagnostics, len(validated.declarations))


def _place(diagnostic: Diagnostic, texts: dict[str, str]) -> Diagnostic:
    from .positions import place

    source = diagnostic.source
    return place(diagnostic, texts[source.file]) if source and source.file in texts else diagnostic
