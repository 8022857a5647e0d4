"""The one shape of a lint's warning, and a task's ``ignore: [code, ...]`` that silences it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.diagnostics import Diagnostic, Severity, SourceRange

if TYPE_CHECKING:
    from .shapes import ValidDeclaration


def silenced(declaration: ValidDeclaration, code: str) -> bool:
    return code in declaration.ignore


def warn(code: str, declaration: ValidDeclaration, message: str, hint: str, *, key: str | None = None) -> Diagnostic:
    """At the schedule's value (``key``) or at the task's name."""
    source = SourceRange(declaration.file) if key else declaration.source
    path = ("tasks", declaration.name, key) if key else ()
    return Diagnostic(Severity.WARNING, code, message, source, declaration.name, hint, path)
