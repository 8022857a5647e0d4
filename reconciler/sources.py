"""Schedules sources: which folder owns which rows, so that an apply prunes only its own.

A team may keep several schedules folders (one per service or Django app) over one database.
Each folder is a *source* with a name: ``RECONCILER_SOURCE_NAME`` for the configured folder
(``RECONCILER_SCHEDULES_DIR``), otherwise the folder's path relative to ``BASE_DIR`` (or its
name). Applying a folder prunes the rows owned by that source only; applying one file or a
sub-folder of it prunes only rows that were declared there (``Scope.within``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

from .errors import ReconcilerError
from .files import display_path
from .plan import Scope


def default_source_name() -> str:
    from .pipeline import schedules_dir

    return str(getattr(settings, "RECONCILER_SOURCE_NAME", "") or folder_name(schedules_dir()))


def folder_name(folder: Path) -> str:
    """A name for a folder that does not depend on the working directory."""
    real = folder.resolve()
    base = getattr(settings, "BASE_DIR", None)
    if base is not None:
        try:
            return real.relative_to(Path(base).resolve()).as_posix() or real.name
        except ValueError:
            pass
    return real.name


def scope_for(paths: Sequence[Path] | None) -> Scope:
    """The scope of an apply of ``paths`` (None: the configured folder, whole)."""
    from .pipeline import schedules_dir

    configured = schedules_dir().resolve()
    if not paths:
        return Scope(default_source_name())
    scopes = {_scope_of(path.resolve(), configured) for path in paths}
    sources = {scope.source for scope in scopes}
    if len(sources) > 1:
        raise ReconcilerError(
            f"these paths belong to different schedules sources ({', '.join(sorted(sources))}): "
            "apply one source at a time; nothing was changed"
        )
    first = min(scopes, key=repr)
    if any(scope.within is None for scope in scopes):
        return Scope(first.source, None, first.legacy)
    within = tuple(sorted(part for scope in scopes for part in scope.within or ()))
    return Scope(first.source, within, first.legacy)


def _scope_of(path: Path, configured: Path) -> Scope:
    if path == configured:
        return Scope(default_source_name())
    if path.is_relative_to(configured):
        return Scope(default_source_name(), (display_path(path),))
    if path.is_dir():
        return Scope(folder_name(path), legacy=False)
    return Scope(folder_name(path.parent), (display_path(path),), legacy=False)
