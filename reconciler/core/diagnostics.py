"""Diagnostics are data: collected by every phase, sorted, rendered; never raised."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class SourceRange:
    """Where a problem is: a file and the 1-based line and column of the offending node."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Diagnostic:
    """One problem. ``code`` is stable (documented in docs/diagnostics.md); ``path`` is the
    key path inside the file (for example ``("tasks", "nightly", "cron")``), used to find
    the source position lazily, only when a diagnostic exists."""

    severity: Severity
    code: str
    message: str
    source: SourceRange | None = None
    name: str | None = None
    hint: str | None = None
    path: tuple[object, ...] = ()
    snippet: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        src = self.source
        return (
            src.file if src else "",
            (src.line or 0) if src else 0,
            (src.column or 0) if src else 0,
            self.code,
            self.message,
        )


def error(code: str, message: str, **kwargs: object) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, **kwargs)  # type: ignore[arg-type]


def warning(code: str, message: str, **kwargs: object) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, **kwargs)  # type: ignore[arg-type]


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    return tuple(sorted(diagnostics, key=Diagnostic.sort_key))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the choices close to a mistyped ``word`` (or starting with it), or None."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.6) or [
        choice for choice in options if word and choice.startswith(word)
    ][:3]
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None
