"""One file's raw document → its valid declarations (canonical ``TaskSpec``s) and its own
problems: the per-file step of validation, which the cache stores and workers run in
parallel. The checks across files are ``across``; the whole tree is ``tree``.

Every problem is collected; nothing is raised. Positions are computed only for the files
that have a diagnostic (``positions.place``), so a valid file costs one C-parser pass plus
the pydantic checks.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from ..core.diagnostics import Diagnostic, SourceRange, error
from ..core.options import shared
from ..core.policy import Policy
from ..core.schedule import Clocked, Crontab, Interval, Schedule, Solar
from ..core.specs import TaskSpec, canonical_json
from . import calendars, environments, policies
from .cron import expressions_of
from .fields import MAX_NAME_LENGTH, yaml_surprise
from .language import DECLARATION_KEYS, Declaration, Options
from .load import RawDocument
from .monitoring import monitor_of
from .positions import KEY, place_in
from .problems import FileProblems, Origins, pydantic_problems
from .shapes import SCHEDULE_KEYS, TOP_LEVEL_KEYS, Context, FileResult, ValidDeclaration


def validate_document(
    document: RawDocument, *, default_timezone: str, now: datetime, env: str | None = None,
    environments: tuple[str, ...] = (),
) -> FileResult:
    """One file on its own: its declarations and its own (located) problems."""
    context = Context(default_timezone, now, env, environments)
    found, problems = _validate_document(document, context)
    texts = {document.file: document.text}
    located = tuple(place_in(d, texts) for d in problems)
    return FileResult(document.file, tuple(found), located, _task_count(document.data))


def _task_count(data: Any) -> int:
    tasks = data.get("tasks") if isinstance(data, dict) else None
    return len(tasks) if isinstance(tasks, dict) else 0


def _validate_document(document: RawDocument, context: Context) -> tuple[list[ValidDeclaration], list[Diagnostic]]:
    problems = list(document.diagnostics)
    data = document.data
    if data is None:
        return [], problems
    here = FileProblems(document.file)
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


def _defaults(raw: Any, here: FileProblems, context: Context) -> tuple[dict[str, Any], list[Diagnostic]]:
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [here.error("schema", "defaults is a mapping of optional keys", ("defaults",))]
    try:
        Options.model_validate(raw)
    except ValidationError as exc:
        return {}, pydantic_problems(exc, here, ("defaults",), name=None)
    return raw, environments.problems(raw, context.environments, ("defaults",), here.file)


def _declaration(
    name: Any, body: Any, defaults: dict[str, Any], here: FileProblems, context: Context, source: SourceRange,
) -> tuple[ValidDeclaration | None, list[Diagnostic]]:
    if not isinstance(name, str):
        return None, [here.error(
            "schema", f"a task name is a string, got {type(name).__name__} {name!r}{yaml_surprise(name)}",
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
    problems = environments.problems(body, context.environments, ("tasks", name), here.file)
    if problems or not environments.included(body, defaults, context.env):
        return None, problems
    env_defaults, from_default_override = environments.in_environment(defaults, context.env)
    env_body, from_override = environments.in_environment(body, context.env)
    env_body = environments.with_default_schedule(env_body, from_override, from_default_override)
    origins = Origins(name, context.env, env_body, from_override, from_default_override, env_defaults)
    merged = _merge_defaults(env_defaults, env_body)
    try:
        model = Declaration.model_validate(merged)
    except ValidationError as exc:
        return None, pydantic_problems(exc, here, ("tasks", name), name=name, origins=origins)
    spec = to_spec(name, model, context.default_timezone)
    broken = [here.error(policies.CODE, message, (*origins.path_of((key,)), KEY), name=name)
              for key, message in policies.problems(spec.policy, spec.schedule, spec.calendar.also_cron)]
    broken += [here.error(calendars.CODE, message, origins.path_of(loc), name=name)
               for loc, message in calendars.problems(model, spec.schedule)]
    if broken:
        return None, broken
    at_path = origins.path_of(("at",)) if model.at is not None else None
    declaration = ValidDeclaration(
        spec, source, tuple(model.args), dict(model.kwargs), model.renamed_from, at_path, tuple(model.ignore or ()),
        origins.moved(merged),
    )
    return declaration, problems


def _merge_defaults(defaults: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    if not defaults:
        return body
    if not body.keys().isdisjoint(SCHEDULE_KEYS) and not defaults.keys().isdisjoint(SCHEDULE_KEYS):
        # a task's own schedule replaces a default one whole
        defaults = {k: v for k, v in defaults.items() if k not in SCHEDULE_KEYS}
    merged = environments.merged(defaults, body)
    if "cron" not in merged and "exclude" not in merged and "timezone" not in body:
        merged.pop("timezone", None)  # a file-wide cron time zone says nothing to other schedules
    return merged


def to_spec(name: str, model: Declaration, default_timezone: str) -> TaskSpec:
    one_off = model.at is not None
    schedule = _schedule(model, default_timezone)
    return TaskSpec(
        name=name,
        task=model.task,
        schedule=schedule,
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
        policy=policy_of(model),
        calendar=calendars.calendar_of(model, schedule),
        monitor=monitor_of(model.monitor),
    )


def policy_of(model: Options) -> Policy:
    return _policy(
        model.overlap, model.max_runtime, model.time_limit, model.catchup, model.catchup_window, model.catchup_max,
        model.jitter, model.scheduled_time_kwarg,
    )


@lru_cache(maxsize=4096)  # a tree repeats a few policies: one object each (``shared``), built once
def _policy(
    overlap: str, max_runtime: int | None, time_limit: int | None, catchup: str, catchup_window: int | None,
    catchup_max: int | None, jitter: int | None, scheduled_time_kwarg: str | None,
) -> Policy:
    return shared(Policy(
        overlap=overlap, max_runtime=max_runtime, time_limit=time_limit, catchup=catchup,
        catchup_window=catchup_window, catchup_max=catchup_max, jitter=jitter,
        scheduled_time_kwarg=scheduled_time_kwarg,
    ))


def _schedule(model: Declaration, default_timezone: str) -> Schedule:
    if isinstance(model.cron, str):
        return _crontab(model.timezone or default_timezone, model.cron)
    if model.cron is not None:  # a list: its first cron (the others are the calendar's)
        return Crontab.canonical(model.timezone or default_timezone, **expressions_of(model.cron)[0])
    if model.every is not None:
        return Interval(model.every)
    if model.at is not None:
        return Clocked(model.at)
    assert model.solar is not None, f"one of {SCHEDULE_KEYS} is guaranteed by the model"
    return Solar(model.solar.event, Decimal(str(model.solar.latitude)), Decimal(str(model.solar.longitude)))


@lru_cache(maxsize=4096)  # a tree repeats a few hundred crons: one object each, parsed once
def _crontab(timezone: str, cron: str) -> Crontab:
    return Crontab.canonical(timezone, **expressions_of(cron)[0])


def _duplicate_keys(document: RawDocument, tasks: dict[Any, Any], here: FileProblems) -> list[Diagnostic]:
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

