"""Schedules sources: which folder owns which rows, so that an apply prunes only its own.

A team may keep several schedules folders (one per service or Django app) over one database.
Each folder is a *source* with a name: ``RECONCILER_SOURCE_NAME`` for the configured folder
(``RECONCILER_SCHEDULES_DIR``), otherwise the folder's path relative to ``BASE_DIR`` (or its
name). Applying a folder prunes the rows owned by that source only; applying one file or a
sub-folder of it prunes only rows that were declared there (``Scope.within``) and that the
whole source declares nowhere (``Scope.elsewhere``).

A name stands for one folder: its first apply records the folder's *origin* (``ScheduleSource``)
and an apply or plan from another folder under the same name is refused. The origin is
``package:path`` — the Django project's package and the path relative to ``BASE_DIR`` — for a
folder inside ``BASE_DIR`` (the same on every machine and checkout); a folder outside it is
recorded by its absolute path, unless its name is set explicitly (``RECONCILER_SOURCE_NAME``):
an explicit name is recorded as ``""``, a promise that it names one folder wherever it lives.
Recording and checking that origin is the apply's (``engine.sources``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

from ..conf import conf, default_source_name, folder_name, schedules_dir
from ..core.errors import ReconcilerError
from ..core.plan import Scope
from ..core.source import Origin
from .files import display_path


def explicit_name() -> str:
    return str(conf.SOURCE_NAME or "")


def scope_for(paths: Sequence[Path] | None) -> Scope:
    """The scope of an apply of ``paths`` (None: the configured folder, whole)."""
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


def origin_for(paths: Sequence[Path] | None) -> Origin:
    """The source of an apply of ``paths`` (None: the configured folder), with its whole folder:
    the configured folder for paths inside it, else the folder given or a file's folder."""
    configured = schedules_dir().resolve()
    roots = {_root_of(path.resolve(), configured) for path in paths or [configured]}
    root = min(roots)  # scope_for has refused paths of several sources
    if root == configured:
        named = explicit_name()
        return Origin(named or folder_name(root), root, "" if named else identity_of(root))
    return Origin(folder_name(root), root, identity_of(root))


def _root_of(path: Path, configured: Path) -> Path:
    if path == configured or path.is_relative_to(configured):
        return configured
    return path if path.is_dir() else path.parent


def identity_of(folder: Path) -> str:
    """``package:path`` inside ``BASE_DIR`` (stable across checkouts), else the absolute path."""
    base = getattr(settings, "BASE_DIR", None)
    if base is not None and folder.is_relative_to(Path(base).resolve()):
        relative = folder.relative_to(Path(base).resolve()).as_posix()
        return f"{project_package()}:{relative}"
    return folder.as_posix()


def project_package() -> str:
    """The Django project's top package (``project`` for ``project.settings.prod``): it tells two
    services apart whose schedules folders have the same relative path."""
    module = str(getattr(settings, "SETTINGS_MODULE", "") or "")
    return module.split(".", 1)[0]
