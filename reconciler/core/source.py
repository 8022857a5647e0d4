"""The source an apply writes for, as plain data: named by ``declare.sources``, claimed under the
apply's lock by ``engine.sources``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Origin:
    """The source an apply of some paths writes for: its name, its whole folder, its identity."""

    name: str
    folder: Path
    identity: str  # "" when the name is explicit (RECONCILER_SOURCE_NAME)
