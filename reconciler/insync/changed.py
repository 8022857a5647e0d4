"""An apply after a few files changed, from the in-sync memo: when the last apply left the
database in sync and nothing but some files moved since (``recall_changed``), the other files'
declarations are in sync still. Only the changed files are validated, only the rows of the
names they declared or declare are read and diffed, and the plan shows the others unchanged:
the same plan, the same writes, the same history record as the full apply, without reading
100,000 rows to find the 40 that changed (bench/commands.py).

The full apply runs instead whenever the shortcut could differ from it: the changed files have
an error (the full run reports it with every file around it), a changed file declares a name,
or a ``renamed_from``, that the checks across files would compare with the other files, or the
database moved between the memo's check and the apply's lock (``RestMoved``: nothing written).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ..declare.files import SourceFile
from ..declare.resolve import Registry
from ..declare.tree import ValidationResult, validate_paths
from ..engine.apply import ApplyOptions, ApplyResult, RestMoved, apply
from . import Changed, Inputs, remember


def apply_changed(
    inputs: Inputs, changed: Changed, folders: Sequence[Path], sources: Sequence[SourceFile],
    options: ApplyOptions, registry: Registry, env: str | None, using: str,
) -> tuple[ValidationResult, ApplyResult] | None:
    """The apply of the changed files alone, or None: the full apply must run. ``options``:
    those of the full apply (its scope, origin and revision)."""
    now = options.now or datetime.now(UTC)
    validation = validate_paths(
        folders, registry=registry, now=options.now, env=env, require_env=True, lints=False,
        sources=[source for source in sources if source.name in changed.files],
    )
    declared = validation.declared
    names = {task.name for task in declared.tasks}
    if not validation.valid or names & changed.taken or any(task.renamed_from for task in declared.tasks):
        return None
    rest = replace(changed.rest, names=changed.rest.names | names)
    try:
        result = apply(declared, replace(options, rest=rest, observe=True), using=using)
    except RestMoved:
        return None
    remember(inputs, result, changed.with_changes(declared, now), now)
    return validation, result
