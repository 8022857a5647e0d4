"""The whole pipeline, as the few functions every shell calls (command, watcher, beat, API).

load → validate → resolve  (validate_paths)
     → read → diff           (plan_paths)
     → apply                 (apply_paths)
"""
from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from .apply import DEFAULT_OPTIONS, ApplyOptions, ApplyResult, apply, git_revision
from .cache import ValidationCache
from .diagnostics import Diagnostic, has_errors, sort_diagnostics
from .diff import diff
from .environments import Environments, merge_checked, select
from .errors import DatabaseUnavailable, LockTimeout, NotMigrated, RefusedApply
from .grace import DeletionGrace
from .lints import HERD_LIMIT, lint
from .load import SourceFile, read_sources
from .parallel import Context, validate_sources
from .plan import Action, DiffOptions, Grace, Plan
from .read import read_actual
from .render.diagnostics import render_text
from .resolve import Registry, registry_from_app, resolve
from .sources import scope_for
from .specs import DeclaredState, DeclaredTask
from .validate import FileResult, combine


@dataclass(frozen=True)
class ValidationResult:
    declared: DeclaredState
    diagnostics: tuple[Diagnostic, ...]
    checked: int
    texts: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    environment: str | None = None  # whose declarations ``declared`` holds
    cached: int = 0  # files whose result came from the validation cache

    @property
    def valid(self) -> bool:
        return not has_errors(self.diagnostics)


def schedules_dir() -> Path:
    """``RECONCILER_SCHEDULES_DIR`` (default ``schedules``); a relative path is resolved against
    ``BASE_DIR`` (when the project defines it), not against the current directory."""
    folder = Path(getattr(settings, "RECONCILER_SCHEDULES_DIR", "schedules"))
    base = getattr(settings, "BASE_DIR", None)
    return folder if folder.is_absolute() or base is None else Path(base) / folder


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


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while the pipeline allocates its (acyclic) values.

    Loading 10,000 declarations allocates millions of small objects; each allocation burst
    triggers generation scans that cost more than the parsing itself (measured: 2.3x).
    Nothing built here forms cycles that need the collector; it runs again on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate_paths(
    paths: Sequence[Path] | None = None, *, registry: Registry | None = None, now: datetime | None = None,
    env: str | None = None, require_env: bool = False, use_cache: bool = True,
) -> ValidationResult:
    """Validate in every environment (the project's, or the one unnamed deployment); the
    declared state is the active environment's. ``require_env``: plan and apply need one."""
    registry = registry or default_registry()
    envs = environments_for(env, need_active=require_env)
    with paused_gc():
        return _validate(paths, registry, now, envs, cache_dir() if use_cache else None)


def environments_for(explicit: str | None, *, need_active: bool) -> Environments:
    names = tuple(getattr(settings, "RECONCILER_ENVIRONMENTS", None) or ())
    return select(names, explicit or getattr(settings, "RECONCILER_ENV", None) or None, need_active=need_active)


def cache_dir() -> Path | None:
    """``RECONCILER_CACHE_DIR``; ``None`` (or ``False``) there turns the cache off."""
    if not hasattr(settings, "RECONCILER_CACHE_DIR"):
        return Path(tempfile.gettempdir()) / f"reconciler-cache-{os.getuid()}"
    configured = settings.RECONCILER_CACHE_DIR
    return Path(configured) if configured else None


def _validate(
    paths: Sequence[Path] | None, registry: Registry, now: datetime | None, envs: Environments,
    folder: Path | None,
) -> ValidationResult:
    sources = list(read_sources(paths or [schedules_dir()]))
    moment = now or datetime.now(UTC)
    runs: list[tuple[str | None, list[Diagnostic]]] = []
    chosen: ValidationResult | None = None
    for env in envs.checked:
        cache = ValidationCache.open(folder, registry, env, envs.names) if folder else None
        result = _validate_once(sources, registry, moment, env, envs.names, cache)
        runs.append((env, list(result.diagnostics)))
        if chosen is None or env == envs.active:
            chosen = result
    assert chosen is not None
    return replace(chosen, diagnostics=sort_diagnostics(merge_checked(runs)))


def _validate_once(
    sources: list[SourceFile], registry: Registry, now: datetime, env: str | None, names: tuple[str, ...],
    cache: ValidationCache | None,
) -> ValidationResult:
    """One environment: known files from the cache, the others parsed, validated, resolved."""
    known: list[tuple[FileResult, str]] = []
    fresh: list[SourceFile] = []
    for source in sources:
        hit = cache.get(source) if cache else None
        if hit is not None and source.data is not None:
            known.append((hit, source.data.decode("utf-8")))
        else:
            fresh.append(source)
    context = Context(registry.timezone, now, env, names)
    validated = combine(validate_sources(fresh, context), known, now)
    resolved, problems = resolve([d for f in validated.files for d in f.declarations], registry)
    tasks = [*resolved.tasks, *(DeclaredTask(d.spec, d.source, d.renamed_from)
                                for f, _ in known for d in f.declarations)]
    declared = DeclaredState(tuple(sorted(tasks, key=lambda t: t.name)), registry.beat_schedule_names)
    lints = lint(validated.declarations, now=now, herd_limit=getattr(settings, "RECONCILER_HERD_LIMIT", HERD_LIMIT))
    diagnostics = (*validated.diagnostics, *(_place(d, validated.texts) for d in (*problems, *lints)))
    if cache is not None:
        _remember(cache, fresh, validated.files, diagnostics)
    return ValidationResult(declared, diagnostics, validated.seen, validated.texts, env, len(known))


def _remember(
    cache: ValidationCache, sources: list[SourceFile], files: tuple[FileResult, ...],
    diagnostics: Sequence[Diagnostic],
) -> None:
    """Store the files of this run that have no error at all (their own, or across files)."""
    with_errors = {d.source.file for d in diagnostics if d.is_error and d.source is not None}
    by_name = {source.name: source for source in sources}
    for result in files:
        source = by_name.get(result.name)
        if source is not None and source.data is not None and result.name not in with_errors:
            cache.put(source, result)


def _place(diagnostic: Diagnostic, texts: dict[str, str]) -> Diagnostic:
    from .positions import place

    source = diagnostic.source
    return place(diagnostic, texts[source.file]) if source and source.file in texts else diagnostic


@dataclass(frozen=True)
class PlanResult:
    validation: ValidationResult
    plan: Plan | None  # None when the declarations are invalid


def plan_paths(
    paths: Sequence[Path] | None = None, *, prune: bool = True, adopt: bool = False,
    registry: Registry | None = None, now: datetime | None = None, using: str = "default",
    grace: Grace | None = None, env: str | None = None, use_cache: bool = True,
) -> PlanResult:
    """Validate, read the database, diff. Writes nothing."""
    validation = validate_paths(paths, registry=registry, now=now, env=env, require_env=True, use_cache=use_cache)
    if not validation.valid:
        return PlanResult(validation, None)
    scope = scope_for(paths)
    with database_errors():
        actual = read_actual(using)
    options = DiffOptions(now or datetime.now(UTC), prune, adopt, scope, grace)
    return PlanResult(validation, diff(validation.declared, actual, options))


@dataclass(frozen=True)
class ApplyPathsResult:
    validation: ValidationResult
    result: ApplyResult | None  # None when the declarations are invalid (nothing written)


def apply_paths(
    paths: Sequence[Path] | None = None, *, options: ApplyOptions = DEFAULT_OPTIONS,
    registry: Registry | None = None, using: str = "default", env: str | None = None, use_cache: bool = True,
) -> ApplyPathsResult:
    """Validate; on any error write nothing. Otherwise apply in one transaction."""
    folders = list(paths or [schedules_dir()])
    validation = validate_paths(
        folders, registry=registry, now=options.now, env=env, require_env=True, use_cache=use_cache,
    )
    if not validation.valid:
        return ApplyPathsResult(validation, None)
    options = replace(options, scope=scope_for(paths), revision=options.revision or git_revision(folders[0]))
    with database_errors():
        result = apply(validation.declared, options, using=using)
    return ApplyPathsResult(validation, result)


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
        prune=getattr(settings, "RECONCILER_PRUNE", True),
        adopt=getattr(settings, "RECONCILER_ADOPT", False),
    )


def delete_grace(seconds: float | None = None) -> float:
    """The watcher's deletion grace: given, or ``RECONCILER_WATCH_DELETE_GRACE`` (10 s)."""
    return float(seconds if seconds is not None else getattr(settings, "RECONCILER_WATCH_DELETE_GRACE", 10.0))


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
    if outcome.result is None:
        validation = outcome.validation
        errors = sum(d.is_error for d in validation.diagnostics)
        say(f"invalid: {errors} error(s); the database keeps its last good state")
        say(render_text(validation.diagnostics, checked=validation.checked).rstrip())
        return None
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
