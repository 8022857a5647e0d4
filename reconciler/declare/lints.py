"""Lints: warnings with stable codes for declarations that are valid but probably wrong.

Run after resolve on the validated declarations; a task silences a code with
``ignore: [code, ...]``. Everything expensive is computed once per distinct schedule (a tree
of 10,000 declarations usually has a few dozen), never once per task.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ..core.diagnostics import Diagnostic
from .firing import Window
from .lint_cron import per_schedule
from .lint_dst import dst
from .lint_herd import HERD_LIMIT, herd
from .lint_overlap import overlaps

if TYPE_CHECKING:
    from .shapes import ValidDeclaration


def lint(declarations: Sequence[ValidDeclaration], *, now: datetime, herd_limit: int = HERD_LIMIT) -> list[Diagnostic]:
    window = Window(now)
    found = [
        *per_schedule(declarations), *dst(declarations, now), *overlaps(declarations, window),
        *herd(declarations, window, herd_limit),
    ]
    return sorted(found, key=_by_file)  # placed file by file: each file's node tree is composed once


def _by_file(d: Diagnostic) -> tuple[str, str]:
    return (d.source.file if d.source else "", d.name or "")
