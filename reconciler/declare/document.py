"""Raw documents → validated declarations (canonical ``TaskSpec``s) + diagnostics.

Every problem of every file is collected; nothing is raised. Positions are computed only
for the files that have a diagnostic (``positions.place``), so a valid tree costs one
C-parser pass plus the pydantic checks.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from ..core.diagnostics import Diagnostic, SourceRange, error, warning
from ..core.schedule import Clocked, Crontab, Interval, Schedule, Solar
from ..core.specs import TaskSpec, canonical_json
from . import environments, positions
from .language import MAX_NAME_LENGTH, SCHEDULE_KEYS, Declaration, Options, cron_fields_of
from .load import RawDocument
from .positions import KEY

TOP_LEVEL_KEYS = ("defaults", "tasks")
DECLARATION_KEYS = tuple(sorted(Declaration.model_fields))
OPTION_KEYS = tuple(sorted(Options.model_fields))
OWN_CODES = frozenset({
    "bad-cron", "bad-duration", "bad-timezone", "naive-datetime", "schedule-count", "schema",
})


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
class Validated:
    declarations: tuple[ValidDeclaration, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    texts: dict[str, str] = field(default_factory=dict)
    seen: int = 0  # task entries read, valid or not
    files: tuple[FileResult, ...] = ()  # the documents validated in this run (not the known ones)


def validate_documents(
    documents: Iterable[RawDocument], *, default_timezone: str, now: datetime,
    env: str | None = None, environments: tuple[str, ...] = (),
    known: Sequence[tuple[FileResult, str]] = (),
) -> Validated:
    """The declarations as they stand in ``env`` (one of ``environments``, or None when the
    project has none), with every problem found on the way. ``known``: files whose result
    is already known (the cache, a worker process), with their text; they take part in the
    checks across files."""
    fresh = [
        (validate_document(d, default_timezone=default_timezone, now=now, env=env, environments=environments), d.text)
        for d in documents
    ]
    return combine(fresh, known, now)


def validate_document(
    document: RawDocument, *, default_timezone: str, now: datetime, env: str | None = None,
    environments: tuple[str, ...] = (),
) -> FileResult:
    """One file on its own: its declarations and its own (located) problems."""
    context = Context(default_timezone, now, env, environments)
    found, problems = _validate_document(document, context)
    texts = {document.file: document.text}
    located = tuple(_locate(d, texts) for d in problems)
    return FileResult(document.file, tuple(found), located, _task_count(document.data))


def combine(
    fresh: Sequence[tuple[FileResult, str]], known: Sequence[tuple[FileResult, str]], now: datetime,
) -> Validated:
    """Files validated on their own → the tree: plus the checks across files (duplicate names,
    renames) and what depends on the moment of the run (past one-offs)."""
    everything = [*fresh, *known]
    texts = {result.name: text for result, text in everything}
    declarations = [d for result, _ in everything for d in result.declarations]
    across = [*_duplicate_names(declarations), *_bad_renames(declarations), *_past_one_offs(declarations, now)]
    diagnostics = [*(d for result, _ in everything for d in result.diagnostics), *(_locate(d, texts) for d in across)]
    seen = sum(result.seen for result, _ in everything)
    return Validated(tuple(declarations), tuple(diagnostics), texts, seen, tuple(result for result, _ in fresh))


def _task_count(data: Any) -> int:
    tasks = data.get("tasks") if isinstance(data, dict) else None
    return len(tasks) if isinstance(tasks, dict) else 0


def _locate(diagnostic: Diagnostic, texts: dict[str, str]) -> Diagnostic:
    source = diagnostic.source
    if source is None or source.file not in texts:
        return diagnostic
    return positions.place(diagnostic, texts[source.file])


@dataclass(frozen=True)
class Context:
    """What a file's validation depends on besides its text."""

    default_timezone: str
    now: datetime
    env: str | None
    environments: tuple[str, ...]


def _validate_document(document: RawDocument, context: Context) -> tuple[list[ValidDeclaration], list[Diagnostic]]:
    problems = list(document.diagnostics)
    data = document.data
    if data is None:
        return [], problems
    here = _Here(document.file)
    if not isinstance(data, dict):
        return [], [here.error("schema", "a schedules file is a mapping with the keys tasks and defaults")]
    problems.extend(here.unknown_keys(data, TOP_LEVEL_KEYS, ()))
    defaults, default_problems = _defaults(data.get("defaults"), here, context)
    problems.extend(default_problems)
    tasks = data.get("tasks") or {}
    if not isinstance(tasks, dict):
        problems.append(here.error("schema", "tasks is a mapping of task names to declarations", ("tasks",)))
        return [], problems
    problems.extend(_duplicate_keys(document, tasks, here))
    found: list[ValidDeclaration] = []
    for name, body in tasks.items():
        line, column = document.task_marks.get(name, (None, None)) if isinstance(name, str) else (None, None)
        declaration, task_problems = _declaration(
            name, body, defaults, here, context, SourceRange(document.file, line, column)
        )
        problems.extend(task_problems)
        if declaration is not None:
            found.append(declaration)
    return found, problems


@dataclass(frozen=True)
class _Here:
    """Builds diagnostics for one file; positions are filled in later from the key path."""

    file: str

    def error(self, code: str, message: str, path: tuple[Any, ...] = (), **kw: Any) -> Diagnostic:
        return error(code, message, source=SourceRange(self.file), path=path, **kw)

    def unknown_keys(self, data: dict[Any, Any], allowed: tuple[str, ...], path: tuple[Any, ...]) -> list[Diagnostic]:
        return [
            self.error("schema", f"unknown key {key!r}; allowed: {', '.join(allowed)}",
                       (*path, key, KEY), hint=did_you_mean(str(key), allowed))
            for key in data if key not in allowed
        ]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.6) or [
        choice for choice in options if word and choice.startswith(word)
    ][:3]
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None


def _defaults(raw: Any, here: _Here, context: Context) -> tuple[dict[str, Any], list[Diagnostic]]:
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [here.error("schema", "defaults is a mapping of optional keys", ("defaults",))]
    try:
        Options.model_validate(raw)
    except ValidationError as exc:
        return {}, _pydantic_problems(exc, here, ("defaults",), name=None)
    return raw, environments.problems(raw, context.environments, ("defaults",), here)


def _declaration(
    name: Any, body: Any, defaults: dict[str, Any], here: _Here, context: Context, source: SourceRange,
) -> tuple[ValidDeclaration | None, list[Diagnostic]]:
    if not isinstance(name, str):
        from .language import _yaml_surprise

        return None, [here.error(
            "schema", f"a task name is a string, got {type(name).__name__} {name!r}{_yaml_surprise(name)}",
            ("tasks", name, KEY),
        )]
    if not name.strip() or "\x00" in name:
        return None, [here.error(
            "schema", "a task name must not be empty" if not name.strip() else "a task name must not contain NUL",
            ("tasks", name, KEY),
        )]
    if len(name) > MAX_NAME_LENGTH:
        return None, [here.error(
            "schema", f"a task name has at most {MAX_NAME_LENGTH} characters (PeriodicTask.name), "
            f"this one has {len(name)}", ("tasks", name, KEY), name=name,
        )]
    if not isinstance(body, dict):
        return None, [here.error(
            "schema", "a declaration is a mapping with task and one schedule", ("tasks", name), name=name,
        )]
    problems = environments.problems(body, context.environments, ("tasks", name), here)
    if problems or not environments.included(body, defaults, context.env):
        return None, problems
    env_defaults, from_default_override = environments.in_environment(defaults, context.env)
    env_body, from_override = environments.in_environment(body, context.env)
    env_body = environments.with_default_schedule(env_body, from_override, from_default_override)
    origins = _Origins(name, context.env, env_body, from_override, from_default_override, env_defaults)
    merged = _merge_defaults(env_defaults, env_body)
    try:
        model = Declaration.model_validate(merged)
    except ValidationError as exc:
        return None, _pydantic_problems(exc, here, ("tasks", name), name=name, origins=origins)
    spec = to_spec(name, model, context.default_timezone)
    at_path = origins.path_of(("at",)) if model.at is not None else None
    declaration = ValidDeclaration(
        spec, source, tuple(model.args), dict(model.kwargs), model.renamed_from, at_path, tuple(model.ignore or ()),
        origins.moved(merged),
    )
    return declaration, problems


def _merge_defaults(defaults: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    if not defaults:
        return body
    if any(key in body for key in SCHEDULE_KEYS):  # a task's own schedule replaces a default one whole
        defaults = {k: v for k, v in defaults.items() if k not in SCHEDULE_KEYS}
    merged = {**defaults, **body}
    if "cron" not in merged and "timezone" not in body:
        merged.pop("timezone", None)  # a file-wide cron time zone says nothing to other schedules
    return merged


@dataclass(frozen=True)
class _Origins:
    """Where each key of a merged declaration is written, so that a problem points there:
    the task, its override for the environment, the file's defaults or their override."""

    name: str
    env: str | None
    own: dict[str, Any]
    override: dict[str, Any]
    default_override: dict[str, Any]
    defaults: dict[str, Any]

    def path_of(self, loc: tuple[Any, ...]) -> tuple[Any, ...]:
        key = loc[0] if loc else None
        if key in self.override:
            return ("tasks", self.name, "overrides", self.env, *loc)
        if key is None or key in self.own:
            return ("tasks", self.name, *loc)
        if key in self.default_override:
            return ("defaults", "overrides", self.env, *loc)
        if key in self.defaults:
            return ("defaults", *loc)
        return ("tasks", self.name, *loc)

    def moved(self, merged: dict[str, Any]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        """The keys written elsewhere than under the task (an override, the defaults), with
        where: for the problems found after this phase (the registry's, on args and kwargs)."""
        if not (self.override or self.defaults):  # the common case: every key under the task
            return ()
        home = ("tasks", self.name)
        found = ((key, self.path_of((key,))[:-1]) for key in merged)
        return tuple((key, prefix) for key, prefix in found if prefix != home)


def _pydantic_problems(
    exc: ValidationError, here: _Here, base: tuple[Any, ...], *, name: str | None, origins: _Origins | None = None,
) -> list[Diagnostic]:
    problems = []
    for item in exc.errors(include_url=False):
        loc = tuple(step for step in item["loc"] if not _is_pydantic_tag(step))
        path = origins.path_of(loc) if origins is not None else (*base, *loc)
        problems.append(_problem(item, loc, path, here, name))
    return problems


def _is_pydantic_tag(step: Any) -> bool:
    return isinstance(step, str) and ("[" in step or step in {"str", "CronFields", "int", "constrained-int"})


def _problem(item: Any, loc: tuple[Any, ...], path: tuple[Any, ...], here: _Here, name: str | None) -> Diagnostic:
    kind = item["type"]
    where = ".".join(str(step) for step in loc)
    if kind == "extra_forbidden":
        allowed = DECLARATION_KEYS if len(loc) == 1 and name else _allowed_at(loc)
        return here.error(
            "schema", f"unknown key {loc[-1]!r}", (*path, KEY), name=name,
            hint=did_you_mean(str(loc[-1]), allowed) or f"allowed: {', '.join(allowed)}",
        )
    if kind == "missing":
        return here.error("schema", f"missing required key {where!r}", path[:-1], name=name)
    code = kind if kind in OWN_CODES else "schema"
    message = item["msg"]
    prefix = f"{where}: " if where else ""
    return here.error(code, f"{prefix}{message}", path, name=name)


def _allowed_at(loc: tuple[Any, ...]) -> tuple[str, ...]:
    from .language import CronFields, Solar

    parent = loc[-2] if len(loc) >= 2 else None
    if parent == "cron":
        return tuple(CronFields.model_fields)
    if parent == "solar":
        return tuple(Solar.model_fields)
    return OPTION_KEYS


def to_spec(name: str, model: Declaration, default_timezone: str) -> TaskSpec:
    one_off = model.at is not None
    return TaskSpec(
        name=name,
        task=model.task,
        schedule=_schedule(model, default_timezone),
        args=canonical_json(model.args),
        kwargs=canonical_json(model.kwargs),
        enabled=model.enabled,  # a past one-off is not armed: decided by the diff, against the row
        one_off=one_off,
        description=model.description,
        queue=model.queue or None,
        exchange=model.exchange or None,
        routing_key=model.routing_key or None,
        priority=model.priority,
        headers=canonical_json(model.headers),
        expire_seconds=model.expires if isinstance(model.expires, int) else None,
        expires_at=model.expires if isinstance(model.expires, datetime) else None,
        start_time=model.start_time,
    )


def _schedule(model: Declaration, default_timezone: str) -> Schedule:
    if model.cron is not None:
        return Crontab.canonical(model.timezone or default_timezone, **cron_fields_of(model.cron))
    if model.every is not None:
        return Interval(model.every)
    if model.at is not None:
        return Clocked(model.at)
    assert model.solar is not None, f"one of {SCHEDULE_KEYS} is guaranteed by the model"
    return Solar(model.solar.event, Decimal(str(model.solar.latitude)), Decimal(str(model.solar.longitude)))


def _duplicate_keys(document: RawDocument, tasks: dict[Any, Any], here: _Here) -> list[Diagnostic]:
    problems = []
    for dup in document.duplicates:
        is_task = dup.key in tasks and dup.key not in DECLARATION_KEYS
        code = "duplicate-name" if is_task else "schema"
        what = f"the task name {dup.key!r}" if is_task else f"the key {dup.key!r}"
        for here_at, other in ((dup.first, dup.second), (dup.second, dup.first)):
            problems.append(error(
                code, f"{what} is declared twice in this file (lines {here_at[0]} and {other[0]}); "
                "YAML keeps only the last one", source=SourceRange(here.file, *here_at),
                name=dup.key if is_task else None,
            ))
    return problems


def _duplicate_names(declarations: list[ValidDeclaration]) -> list[Diagnostic]:
    by_name: dict[str, list[ValidDeclaration]] = {}
    for declaration in declarations:
        by_name.setdefault(declaration.name, []).append(declaration)
    problems = []
    for name, places in by_name.items():
        if len(places) < 2:
            continue
        files = ", ".join(sorted({p.file for p in places}))
        for place in places:
            problems.append(error(
                "duplicate-name", f"the task name {name!r} is declared {len(places)} times ({files}); "
                "names are unique across all files", source=SourceRange(place.file),
                path=("tasks", name, KEY), name=name,
            ))
    return problems


def _bad_renames(declarations: list[ValidDeclaration]) -> list[Diagnostic]:
    """A rename must name a row that is no longer declared, and only one declaration may
    take it over: otherwise the plan would hide the rename and the next plan recreate it."""
    names = {d.name for d in declarations}
    claims: dict[str, list[ValidDeclaration]] = {}
    for declaration in declarations:
        if declaration.renamed_from is not None:
            claims.setdefault(declaration.renamed_from, []).append(declaration)
    problems = []
    for old, claimants in claims.items():
        for declaration in claimants:
            if old in names:
                message = (f"renamed_from {old!r} names a task that is itself declared" if old != declaration.name
                           else "renamed_from names the task itself")
                hint = f"remove renamed_from, or remove the declaration of {old!r}"
            elif len(claimants) > 1:
                others = ", ".join(repr(c.name) for c in claimants if c is not declaration)
                message = f"{old!r} is renamed to more than one task (also {others}); one row can become one task"
                hint = "keep renamed_from on one of them"
            else:
                continue
            problems.append(error(
                "bad-rename", message, source=SourceRange(declaration.file),
                path=("tasks", declaration.name, "renamed_from"), name=declaration.name, hint=hint,
            ))
    return problems


def _past_one_offs(declarations: list[ValidDeclaration], now: datetime) -> list[Diagnostic]:
    """A warning per one-off whose moment is past. Computed over the whole tree at each run
    (it depends on the moment of the run, so it is never part of a cached file's result)."""
    return [
        warning(
            "past-one-off", f"the one-off moment {d.spec.schedule.at.isoformat()} is already past: "
            "it will not be armed", source=SourceRange(d.file), path=d.at_path, name=d.name,
        )
        for d in declarations
        if d.at_path is not None and isinstance(d.spec.schedule, Clocked) and d.spec.schedule.at <= now
    ]
