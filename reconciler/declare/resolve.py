"""Validated declarations + the Celery app's task registry → the declared state.

Checks that a task is registered (with a "did you mean" for near misses) and that the
declared ``args``/``kwargs`` bind to its signature, exactly as a worker would call it, and
fit the parameters' type hints where the task has them (``arguments``).
"""
from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from ..core.diagnostics import Diagnostic, SourceRange, did_you_mean, error
from ..core.specs import DeclaredState, DeclaredTask
from .arguments import Hints, first_mismatch, resolved_hints
from .arguments import bind_problem as argument_problem
from .positions import KEY
from .shapes import ValidDeclaration


@dataclass(frozen=True)
class Registry:
    """Registered task names → their call signature (None when it cannot be inspected)."""

    signatures: Mapping[str, inspect.Signature | None]
    beat_schedule_names: frozenset[str] = frozenset()
    timezone: str = "UTC"
    hints: Mapping[str, Hints] = field(default_factory=dict)  # task → its parameters' resolved hints

    @property
    def names(self) -> list[str]:
        return sorted(self.signatures)


def registry_from_app(app: Any) -> Registry:
    """Read the real registry of a Celery app, after autodiscovery (as a worker does)."""
    with django_checks_skipped():
        app.loader.import_default_modules()
    signatures = {name: _signature(task) for name, task in app.tasks.items()}
    hints = {
        name: resolved_hints(app.tasks[name].run, signature)
        for name, signature in signatures.items() if signature is not None
    }
    beat = frozenset((app.conf.beat_schedule or {}).keys())
    return Registry(signatures, beat, str(app.conf.timezone or "UTC"), hints)


@contextmanager
def django_checks_skipped() -> Iterator[None]:
    """Celery's Django fix-up answers ``import_default_modules`` by running *all* of Django's
    system checks (URL resolvers included: 0.5 s of every command's start-up), which is a
    worker's start-up check, not ours: Django is already set up wherever we read the registry,
    and ``manage.py check`` still runs them. ``CELERY_SKIP_CHECKS`` is the fix-up's own switch
    (what ``celery --skip-checks`` sets); it is set only while the task modules are imported
    and a value the project set itself is left as it is."""
    if os.environ.get("CELERY_SKIP_CHECKS"):
        yield
        return
    os.environ["CELERY_SKIP_CHECKS"] = "true"
    try:
        yield
    finally:
        os.environ.pop("CELERY_SKIP_CHECKS", None)


def _signature(task: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(task.run)  # bound: a bind=True task's self is not a parameter
    except (TypeError, ValueError):
        return None


def resolve(
    declarations: Iterable[ValidDeclaration], registry: Registry
) -> tuple[DeclaredState, tuple[Diagnostic, ...]]:
    tasks: list[DeclaredTask] = []
    problems: list[Diagnostic] = []
    verdicts: dict[tuple[str, str, str, str | None], _Verdict] = {}
    for declaration in declarations:
        found = _check(declaration, registry, verdicts)
        if found:
            problems.append(found)
        else:
            tasks.append(DeclaredTask(declaration.spec, declaration.source, declaration.renamed_from))
    tasks.sort(key=attrgetter("spec.name"))
    return DeclaredState(tuple(tasks), registry.beat_schedule_names), tuple(problems)


_Verdict = tuple[str, tuple[str | int, ...]] | None  # (message, path under the task) or fine
_UNJUDGED: Any = object()


def _check(
    declaration: ValidDeclaration, registry: Registry, verdicts: dict[tuple[str, str, str, str | None], _Verdict],
) -> Diagnostic | None:
    """Binding and type hints are judged once per distinct (task, args, kwargs): a large tree
    repeats a few calls many times."""
    spec = declaration.spec
    task = spec.task
    if task not in registry.signatures:
        return error(
            "unknown-task", f"no task named {task!r} is registered in the Celery app",
            source=SourceRange(declaration.file), path=declaration.path_of(("task",)), name=declaration.name,
            hint=did_you_mean(task, registry.names) or "check the name or that its module is autodiscovered",
        )
    key = (task, spec.args, spec.kwargs, spec.policy.scheduled_time_kwarg)
    verdict = verdicts.get(key, _UNJUDGED)
    if verdict is _UNJUDGED:
        verdict = verdicts[key] = _arguments_verdict(declaration, registry)
    if verdict is None:
        return None
    message, where = verdict
    return error(
        "bad-arguments", message, source=SourceRange(declaration.file), path=declaration.path_of(where),
        name=declaration.name,
    )


def _arguments_verdict(declaration: ValidDeclaration, registry: Registry) -> _Verdict:
    task = declaration.spec.task
    signature = registry.signatures[task]
    if signature is None:
        return None
    keyword = declaration.spec.policy.scheduled_time_kwarg
    if keyword is not None and keyword in declaration.kwargs:
        return (f"scheduled_time_kwarg {keyword!r} is also declared in kwargs: each run gets the slot's time "
                "there; remove it from kwargs"), ("scheduled_time_kwarg",)
    kwargs = declaration.kwargs if keyword is None else {**declaration.kwargs, keyword: SCHEDULED_TIME_SAMPLE}
    problem = argument_problem(task, signature, declaration.args, kwargs)
    if problem:
        if keyword is not None and _names(problem) == keyword:
            return f"scheduled_time_kwarg {keyword!r}: {problem}", ("scheduled_time_kwarg",)
        return problem, _argument_path(declaration, problem)
    mismatch = first_mismatch(signature, registry.hints.get(task, {}), declaration.args, kwargs)
    if mismatch and mismatch.where == ("kwargs", keyword):
        return (f"scheduled_time_kwarg {keyword!r}: argument {mismatch.parameter!r} of {task} expects "
                f"{mismatch.expected}, and receives the slot's time as an ISO 8601 string"), ("scheduled_time_kwarg",)
    if mismatch:
        return mismatch.message(task), mismatch.where
    return None


SCHEDULED_TIME_SAMPLE = "2030-01-01T00:00:00+00:00"  # what a run receives: the slot's time in ISO 8601


def _names(problem: str) -> str | None:
    """The keyword a binding error names (an unexpected one, or one given twice), or None."""
    keyword = _KEYWORD_PROBLEM.search(problem)
    return keyword.group(1) if keyword else None


_KEYWORD_PROBLEM = re.compile(r"(?:unexpected keyword argument|multiple values for argument) '([^']+)'")


def _argument_path(declaration: ValidDeclaration, problem: str) -> tuple[str, ...]:
    """Point at the offending keyword when the binding error names one, else at the args."""
    keyword = _KEYWORD_PROBLEM.search(problem)
    if keyword and keyword.group(1) in declaration.kwargs:
        return ("kwargs", keyword.group(1), KEY)
    if declaration.args or not declaration.kwargs:
        return ("args",)
    return ("kwargs",)
