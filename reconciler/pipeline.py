"""The whole pipeline, as the few functions every shell calls (command, watcher, beat, API).

load → validate → resolve  (validate_paths)
     → read → diff           (plan_paths)
     → apply                 (apply_paths)
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connections

from . import insync
from .conf import conf, schedules_dir
from .core.errors import DatabaseUnavailable, LockTimeout, NotMigrated, RefusedApply
from .core.plan import Action, DiffOptions, Grace, Plan, Scope
from .core.source import Origin
from .core.specs import ActualState
from .db.marker import database_marker
from .declare.files import read_sources
from .declare.resolve import Registry
from .declare.sources import origin_for, scope_for
from .declare.tree import (  # the validate phase; re-exported: every shell imports them from here
    ValidationResult,
    cache_dir,
    celery_app,
    default_registry,
    environments_for,
    paused_gc,
    validate_paths,
)
from .engine.apply import DEFAULT_OPTIONS, ApplyOptions, ApplyResult, apply
from .engine.diff import diff
from .engine.grace import DeletionGrace
from .engine.history import git_revision
from .engine.read import read_actual, read_planned
from .engine.sources import claim
from .insync.changed import apply_changed
from .render.diagnostics import render_text

__all__ = [
    "ApplyPathsResult", "PlanResult", "ValidationResult", "apply_paths", "cache_dir", "celery_app",
    "current_plan", "default_registry", "environments_for", "paused_gc", "plan_paths", "reconcile_once",
    "schedules_dir", "validate_paths",
]


@dataclass(frozen=True)
class PlanResult:
    validation: ValidationResult
    plan: Plan | None  # None when the declarations are invalid
    actual: ActualState | None = None  # what the plan was made from (None with the plan)


def plan_paths(
    paths: Sequence[Path] | None = None, *, prune: bool = True, adopt: bool = False,
    registry: Registry | None = None, now: datetime | None = None, using: str = "default",
    grace: Grace | None = None, env: str | None = None, use_cache: bool = True, every_row: bool = False,
) -> PlanResult:
    """Validate, read the database, diff. Writes nothing. The rows read are those the plan
    compares (``read_planned``); ``every_row``: all of them, for the pages that show each
    row's state (``current_plan``)."""
    validation = validate_paths(
        paths, registry=registry, now=now, env=env, require_env=True, use_cache=use_cache, lints=False,
    )
    if not validation.valid:
        return PlanResult(validation, None)
    origin = origin_for(paths)
    scope = whole_source_names(scope_for(paths), origin, registry, now, env, use_cache)
    options = DiffOptions(now or datetime.now(UTC), prune, adopt, scope, grace)
    with database_errors(), paused_gc():
        claim(origin, using, options.now, record=False)
        specs = validation.declared.specs()
        actual = read_actual(using, specs) if every_row else read_planned(using, specs, scope.sources)
        return PlanResult(validation, diff(validation.declared, actual, options), actual)


@dataclass(frozen=True)
class _Memo:
    key: tuple[object, ...]
    made: float  # time.monotonic() when planned
    result: PlanResult


_memo: _Memo | None = None
_memo_lock = threading.Lock()


def current_plan(using: str = "default") -> PlanResult:
    """``plan_paths()`` of the configured folder, memoised in this process for the pages that
    show every schedule's status (the API's list, the admin's lists): planning 10,000
    declarations costs far more than a page of 50.

    The memo is used again only while its key is unchanged and for at most
    ``RECONCILER_PLAN_MEMO_SECONDS`` (default 5; 0 turns the memo off). The key (``plan_key``)
    moves with every change of the files (each file's path, size and mtime) and with every
    change made to the database (one query of cheap aggregates: ``db.marker``; a raw SQL edit
    too, by the triggers of migrations 0008 and 0012). What the key cannot see, a clocked moment
    passing, is seen once the seconds are over."""
    global _memo
    seconds = float(conf.PLAN_MEMO_SECONDS)
    if seconds <= 0:
        return plan_paths(using=using, every_row=True)
    with database_errors():
        key = plan_key(using)
    memo = _memo
    if memo is not None and memo.key == key and time.monotonic() - memo.made < seconds:
        return memo.result
    with _memo_lock:  # one plan at a time: concurrent requests after a change wait for it
        memo = _memo
        if memo is not None and memo.key == key and time.monotonic() - memo.made < seconds:
            return memo.result
        made = time.monotonic()
        result = plan_paths(using=using, every_row=True)
        _memo = _Memo(key, made, result)
        return result


def plan_key(using: str = "default") -> tuple[object, ...]:
    """What ``plan_paths()`` depends on, cheaply: the settings and Celery app in force, the
    database, the folder's files and the database's change markers."""
    app = celery_app()
    folder = schedules_dir()
    return (
        id(getattr(settings, "_wrapped", settings)), id(app), len(app.tasks), str(folder),
        connections[using].settings_dict.get("NAME"), folder_fingerprint(folder), database_marker(using),
    )


def folder_fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file and folder under ``folder`` as (path, size, mtime_ns): any edit, addition,
    removal or rename moves it. Stats only, nothing read."""
    found: list[tuple[str, int, int]] = []
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in (top, *(os.path.join(top, f) for f in sorted(files))):
            try:
                info = os.stat(name)
            except OSError:  # removed while walking: the next request sees it gone
                continue
            found.append((name, info.st_size, info.st_mtime_ns))
    return tuple(found)


@dataclass(frozen=True)
class ApplyPathsResult:
    validation: ValidationResult | None  # None when the in-sync memo answered (nothing validated)
    result: ApplyResult | None  # None when the declarations are invalid (nothing written)

    @property
    def invalid(self) -> ValidationResult | None:
        """The validation that stopped the apply (its errors), or None."""
        return self.validation if self.result is None else None


def apply_paths(
    paths: Sequence[Path] | None = None, *, options: ApplyOptions = DEFAULT_OPTIONS,
    registry: Registry | None = None, using: str = "default", env: str | None = None, use_cache: bool = True,
) -> ApplyPathsResult:
    """Validate; on any error write nothing. Otherwise apply in one transaction. With the cache,
    an apply of exactly what the last one left in sync answers from the in-sync memo."""
    started = time.perf_counter()
    folders = list(paths or [schedules_dir()])
    registry = registry or default_registry()
    scope = scope_for(paths)
    sources = list(read_sources(folders)) if use_cache else None
    memo = insync.inputs_of(folders, sources, scope, options, registry, env, using) if sources is not None else None
    changed = None
    if memo is not None:
        moment = options.now or datetime.now(UTC)
        with database_errors():
            remembered = insync.recall(memo, using, moment)
            changed = insync.recall_changed(memo, moment) if remembered is None else None
        if remembered is not None:
            plan = replace(remembered, scope=scope)
            return ApplyPathsResult(None, ApplyResult(plan, False, time.perf_counter() - started, remembered=True))
    options = replace(options, origin=origin_for(paths), revision=options.revision or git_revision(folders[0]))
    if changed is not None:
        assert memo is not None and sources is not None
        with database_errors():
            done = apply_changed(memo, changed, folders, sources, replace(options, scope=scope), registry, env, using)
        if done is not None:
            return ApplyPathsResult(*done)
    validation = validate_paths(
        folders, registry=registry, now=options.now, env=env, require_env=True, use_cache=use_cache, lints=False,
        sources=sources,
    )
    if not validation.valid:
        return ApplyPathsResult(validation, None)
    assert options.origin is not None
    scope = whole_source_names(scope, options.origin, registry, options.now, env, use_cache)
    options = replace(options, scope=scope, observe=memo is not None)
    with database_errors():
        result = apply(validation.declared, options, using=using)
    if memo is not None:
        moment = options.now or datetime.now(UTC)
        insync.remember(memo, result, insync.FileNames.of(validation.declared, moment), moment)
    return ApplyPathsResult(validation, result)


def whole_source_names(
    scope: Scope, origin: Origin, registry: Registry | None, now: datetime | None, env: str | None, use_cache: bool,
) -> Scope:
    """A partial apply (one file, a sub-folder) learns every name its whole source declares, so
    that it never prunes a declaration moved to another file; the rest of the source comes from
    the validation cache when unchanged. If the source has errors, the names are unknown."""
    if scope.within is None:
        return scope
    whole = validate_paths(
        [origin.folder], registry=registry, now=now, env=env, require_env=True, use_cache=use_cache, lints=False,
    )
    names = frozenset(task.name for task in whole.declared.tasks) if whole.valid else None
    return replace(scope, elsewhere=names)


@contextmanager
def database_errors() -> Iterator[None]:
    """The database being unreachable is a fatal condition with a clear message. A server
    that is down, restarting, or whose database was dropped is "unreachable" (the watcher
    retries it); only a reachable database without our tables says to migrate."""
    from django.db import InterfaceError, OperationalError, ProgrammingError

    try:
        yield
    except (OperationalError, InterfaceError, ProgrammingError) as exc:
        text = str(exc).strip()
        first_line = text.splitlines()[0] if text else type(exc).__name__
        if "locked" in text and "database" in text:
            raise
        if "no such table" in text or ("relation " in text and "does not exist" in text):
            raise NotMigrated(
                f"the database has no reconciler tables ({first_line}): "
                "run `python manage.py migrate` first; nothing was changed"
            ) from exc
        raise DatabaseUnavailable(f"the database is unreachable ({first_line}); nothing was changed") from exc


def apply_options_from_settings() -> ApplyOptions:
    """Apply options for the unattended shells (beat start-up, the watcher inside beat)."""
    return ApplyOptions(
        prune=conf.PRUNE,
        adopt=conf.ADOPT,
    )


def delete_grace(seconds: float | None = None) -> float:
    """The watcher's deletion grace: given, or ``RECONCILER_WATCH_DELETE_GRACE`` (10 s)."""
    return float(seconds if seconds is not None else conf.WATCH_DELETE_GRACE)


def reconcile_once(
    paths: Sequence[Path], options: ApplyOptions, say: Callable[[str], None], grace: DeletionGrace | None = None,
    env: str | None = None,
) -> float | None:
    """One reconcile, logged in one line. Invalid files and refusals keep the last good state;
    an unreachable database is raised for the watcher to retry with backoff. With ``grace``
    (watch mode) deletions wait; returns the seconds until one is due, for the watcher to
    reconcile again then."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    if grace is not None:
        options = replace(options, grace=grace.current(), now=now)
    try:
        outcome = apply_paths(paths, options=options, env=env)
    except (DatabaseUnavailable, LockTimeout):
        connections.close_all()  # a restarted server needs a new connection
        raise
    except RefusedApply as exc:
        say(f"refused: {exc}")
        return None
    validation = outcome.invalid
    if validation is not None:
        errors = sum(d.is_error for d in validation.diagnostics)
        say(f"invalid: {errors} error(s); the database keeps its last good state")
        say(render_text(validation.diagnostics, checked=validation.checked).rstrip())
        return None
    assert outcome.result is not None
    plan = outcome.result.plan
    s = plan.summary()
    seconds = time.perf_counter() - started
    if outcome.result.written:
        say(f"applied: +{s['create']} ~{s['update']} -{s['delete']} ({s['unchanged']} unchanged) in {seconds:.3f} s")
    else:
        say(f"in sync: no changes ({s['unchanged']} tasks) in {seconds:.3f} s")
    if grace is None:
        return None
    grace.observe(plan, now)
    due = grace.due_in(now)
    if due is not None:
        held = ", ".join(c.name for c in plan.of(Action.RETAIN))
        say(f"held: missing declarations are deleted if still missing in {due:.1f} s: {held}")
    return due
