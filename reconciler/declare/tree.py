"""The validate phase over a whole tree: every file read once, unchanged files from the
validation cache, the others parsed and validated (on every core when it pays), resolved
against the Celery registry, checked across files and, for ``validate``, linted; in every
environment of the project, the active one's declarations kept. One file's own step is
``document``; the checks across files are ``across``.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from celery import current_app
from django.utils.module_loading import import_string

from ..conf import conf, import_path, schedules_dir
from ..core.allocation import paused_gc
from ..core.diagnostics import Diagnostic, has_errors, sort_diagnostics
from ..core.policy import Policy
from ..core.specs import DeclaredState, DeclaredTask, TaskSpec
from ..core.teardown import keep
from .across import combine
from .cache import ValidationCache
from .environments import Environments, merge_checked, select
from .files import SourceFile, read_sources
from .lints import lint
from .load import parse_source
from .parallel import MIN_FILES, Checked, Context, Entry, in_background, settle, validate_sources
from .positions import place_in
from .resolve import Registry, registry_from_app, resolve
from .shapes import FileResult


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


def celery_app() -> Any:
    """The project's Celery app: ``RECONCILER_CELERY_APP`` ("module:attribute") or Celery's current app."""
    dotted = conf.CELERY_APP
    if dotted:
        return import_string(import_path(dotted))
    return current_app._get_current_object()


def default_registry() -> Registry:
    return registry_from_app(celery_app())


def validate_paths(
    paths: Sequence[Path] | None = None, *, registry: Registry | None = None, now: datetime | None = None,
    env: str | None = None, require_env: bool = False, use_cache: bool = True, lints: bool = True,
    sources: Sequence[SourceFile] | None = None,
) -> ValidationResult:
    """Validate in every environment (the project's, or the one unnamed deployment); the
    declared state is the active environment's. ``require_env``: plan and apply need one.
    ``lints``: the advisory warnings, which only ``validate`` shows (plan and apply skip them).
    ``sources``: the files of ``paths``, when the caller has read them already."""
    registry = registry or default_registry()
    envs = environments_for(env, need_active=require_env)
    with paused_gc():
        return _validate(paths, registry, now, envs, cache_dir() if use_cache else None, lints, sources)


def environments_for(explicit: str | None, *, need_active: bool) -> Environments:
    names = tuple(conf.ENVIRONMENTS or ())
    return select(names, explicit or conf.ENV or None, need_active=need_active)


def needs_our_scheduler(spec: TaskSpec) -> bool:
    """Whether only our scheduler runs ``spec`` as declared: a run-time policy, a calendar."""
    return not (spec.policy.is_default and spec.calendar.is_default)


# A key that only a policy or a calendar uses, or a ``cron:`` whose value is a list (flow or block):
# a file whose bytes never match cannot need our scheduler, and is not parsed.
_SCHEDULER_KEYS = (*Policy.defaults(), "exclude", "until", "max_runs")
_MAY_NEED_US = re.compile(
    rb"""\b["']?(%s)["']?\s*:|\bcron["']?\s*:\s*(\[|(#[^\n]*)?\n\s*-)"""
    % "|".join(_SCHEDULER_KEYS).encode(),
)


def scheduler_users(paths: Sequence[Path] | None = None) -> tuple[str, ...]:
    """The declarations with a run-time policy or a calendar (in any environment), which only
    our scheduler applies: the files loaded and validated on their own, without the Celery
    registry or the cache (the system check's question, asked when beat's scheduler is not ours,
    before most ``manage.py`` commands). Only files whose text names such a key are parsed."""
    from .document import validate_document  # start-up: docs/architecture.md, "The import rules"

    roots = list(paths or [schedules_dir()])
    if not all(root.exists() for root in roots):
        return ()
    envs = environments_for(None, need_active=False)
    now = datetime.now(UTC)
    documents = [
        parse_source(source) for source in read_sources(roots)
        if source.data is not None and _MAY_NEED_US.search(source.data)
    ]
    names = {
        declaration.name
        for env in envs.checked for document in documents
        for declaration in validate_document(
            document, default_timezone="UTC", now=now, env=env, environments=envs.names,
        ).declarations
        if needs_our_scheduler(declaration.spec)
    }
    return tuple(sorted(names))


def cache_dir() -> Path | None:
    """``RECONCILER_CACHE_DIR``; ``None`` (or ``False``) there turns the cache off."""
    configured = conf.CACHE_DIR
    return Path(configured) if configured else None


def _validate(
    paths: Sequence[Path] | None, registry: Registry, now: datetime | None, envs: Environments,
    folder: Path | None, lints: bool = True, read: Sequence[SourceFile] | None = None,
) -> ValidationResult:
    sources = list(read_sources(paths or [schedules_dir()]) if read is None else read)
    moment = now or datetime.now(UTC)
    settle()  # the entries an earlier run of this process is still writing
    runs: list[tuple[str | None, list[Diagnostic]]] = []
    chosen: ValidationResult | None = None
    for env in envs.checked:
        cache = ValidationCache.open(folder, registry, env, envs.names) if folder else None
        result = _validate_once(sources, registry, moment, env, envs.names, cache, lints)
        runs.append((env, list(result.diagnostics)))
        if chosen is None or env == envs.active:
            chosen = result
    assert chosen is not None
    return replace(chosen, diagnostics=sort_diagnostics(merge_checked(runs)))


def _validate_once(
    sources: list[SourceFile], registry: Registry, now: datetime, env: str | None, names: tuple[str, ...],
    cache: ValidationCache | None, lints: bool = True,
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
    checked, entries = validate_sources(fresh, context, entries=cache is not None)
    validated = combine(checked, known, now)
    resolved, problems = resolve([d for f in validated.files for d in f.declarations], registry)
    warnings = lint(validated.declarations, now=now, herd_limit=conf.HERD_LIMIT) if lints else []
    cached = [DeclaredTask(d.spec, d.source, d.renamed_from) for f, _ in known for d in f.declarations]
    tasks = tuple(sorted((*resolved.tasks, *cached), key=_by_name)) if cached else resolved.tasks  # sorted by resolve
    declared = DeclaredState(tasks, registry.beat_schedule_names)
    diagnostics = (*validated.diagnostics, *(place_in(d, validated.texts) for d in (*problems, *warnings)))
    if cache is not None:
        _remember(cache, fresh, checked, entries, diagnostics)
    keep(validated)  # a command-line run: freeing its 100,000 declarations now, after the cache's fork,
    # would copy every page they sit on (0.2 s), to hand back memory the process's end takes back anyway
    return ValidationResult(declared, diagnostics, validated.seen, validated.texts, env, len(known))


_by_name = attrgetter("spec.name")


def _remember(
    cache: ValidationCache, sources: list[SourceFile], checked: list[Checked], entries: list[Entry],
    diagnostics: Sequence[Diagnostic],
) -> None:
    """Store the entries (with their specs' digests: what read compares rows with) of the files
    of this run that have no error at all, their own or across files: those a worker made, and
    the others made now. On a large tree a forked child makes and writes them while this process
    plans and writes."""
    with_errors = {d.source.file for d in diagnostics if d.is_error and d.source is not None}
    kept = [(source, data, result) for source, data, (result, _) in zip(sources, entries, checked, strict=True)
            if source.name not in with_errors]
    if kept:
        in_background(lambda: _put_all(cache, kept), large=len(kept) >= MIN_FILES)


def _put_all(cache: ValidationCache, kept: list[tuple[SourceFile, Entry, FileResult]]) -> None:
    for source, data, result in kept:
        cache.put(source, result, data)
