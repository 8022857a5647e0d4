"""The declare phase's plain shapes: a document's keys, and what validating one file yields
(``ValidDeclaration``, ``FileResult``: the unit the validation cache stores).

Apart from ``document``, which makes them with the schedule language's models: a run whose
files the cache (or the in-sync memo) answers reads and checks these without importing the
language, so it never loads pydantic (~0.12 s of every command's start-up)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.diagnostics import Diagnostic, SourceRange
from ..core.specs import TaskSpec

SCHEDULE_KEYS = ("cron", "every", "at", "solar")  # a declaration names exactly one
TOP_LEVEL_KEYS = ("defaults", "tasks")


@dataclass(frozen=True)
class ValidDeclaration:
    """A declaration that passed the language rules; ``args``/``kwargs`` kept as values for
    ``resolve`` to bind against the task's signature."""

    spec: TaskSpec
    source: SourceRange  # the task name's line and column
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    renamed_from: str | None = None
    at_path: tuple[Any, ...] | None = None  # where a one-off's moment is written
    ignore: tuple[str, ...] = ()  # lint codes silenced for this task
    moved: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # keys written in an override or the defaults

    def path_of(self, loc: tuple[Any, ...]) -> tuple[Any, ...]:
        """Where ``loc`` (a key path under the task) is written in the file."""
        prefix = next((where for key, where in self.moved if loc and loc[0] == key), ("tasks", self.name))
        return (*prefix, *loc)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def file(self) -> str:
        return self.source.file


@dataclass(frozen=True)
class FileResult:
    """What one file yields on its own (before the checks across files): the unit the
    validation cache stores, for files without errors."""

    name: str
    declarations: tuple[ValidDeclaration, ...]
    diagnostics: tuple[Diagnostic, ...]  # located
    seen: int


@dataclass(frozen=True)
class Context:
    """What a file's validation depends on besides its text."""

    default_timezone: str
    now: datetime
    env: str | None
    environments: tuple[str, ...]
