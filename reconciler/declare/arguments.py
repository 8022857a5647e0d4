"""Declared arguments against a task's type hints.

A worker receives the arguments as JSON decodes them, so a value is checked the way pydantic's
strict mode checks JSON input: no coercion (``"yes please"`` is not a ``bool``, ``"3"`` is not
an ``int``), but what JSON cannot say is accepted (an integer for a ``float``, an array for a
``tuple`` or a ``set``, an ISO string for a ``datetime``). Parameters without a hint, and
hints that cannot be resolved or turned into a validator, accept any value.
"""
from __future__ import annotations

import inspect
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import TypeAdapter

Hints = Mapping[str, Any]  # parameter name → its resolved annotation


@dataclass(frozen=True)
class Mismatch:
    """One argument that does not fit its parameter's hint; ``where`` is its key path."""

    where: tuple[str | int, ...]
    parameter: str
    expected: str
    value: Any
    inner: str | None = None  # which part of a container value is wrong, and why

    def message(self, task: str) -> str:
        detail = f" ({self.inner})" if self.inner else ""
        return (
            f"argument {self.parameter!r} of {task} expects {self.expected}, "
            f"got {type(self.value).__name__} {self.value!r}{detail}"
        )


def bind_problem(task: str, signature: inspect.Signature, args: Any, kwargs: Any) -> str | None:
    """Why ``args``/``kwargs`` cannot call ``task`` as a worker would (they do not bind), or None."""
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        return f"args/kwargs do not fit {task}{signature}: {exc}"
    return None


def argument_problem(
    task: str, signature: inspect.Signature, hints: Hints, args: Any, kwargs: Mapping[str, Any]
) -> str | None:
    """The ``bad-arguments`` message ``validate`` gives these arguments, or None: they must
    bind to the signature, then fit its type hints. The one check every entry point calls
    (validate through ``resolve``, the API's and the admin's ad-hoc runs)."""
    problem = bind_problem(task, signature, args, kwargs)
    if problem:
        return problem
    mismatch = first_mismatch(signature, hints, tuple(args), kwargs)
    return mismatch.message(task) if mismatch else None


def resolved_hints(function: Any, signature: inspect.Signature) -> dict[str, Any]:
    """Each parameter's annotation, evaluated one by one in the function's module: a hint that
    cannot be resolved (a name imported under TYPE_CHECKING, a typo) is left out."""
    target = inspect.unwrap(getattr(function, "__func__", function))
    namespace = getattr(target, "__globals__", {})
    hints = {}
    for name, parameter in signature.parameters.items():
        annotation = parameter.annotation
        if annotation is inspect.Parameter.empty:
            continue
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(namespace))  # what typing.get_type_hints does
            except Exception:
                continue
        hints[name] = annotation
    return hints


def first_mismatch(
    signature: inspect.Signature, hints: Hints, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Mismatch | None:
    """The first declared argument that does not fit its hint. The arguments already bind."""
    for where, name, value in _arguments(signature, args, kwargs):
        if name not in hints:
            continue
        fits, inner = _fits(hints[name], value)
        if not fits:
            return Mismatch(where, name, _describe(hints[name]), value, inner)
    return None


def _arguments(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    """(key path in the declaration, parameter name, value) for every argument given."""
    parameters = list(signature.parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star_args = next((p for p in parameters if p.kind == p.VAR_POSITIONAL), None)
    star_kwargs = next((p for p in parameters if p.kind == p.VAR_KEYWORD), None)
    for index, value in enumerate(args):
        parameter = positional[index] if index < len(positional) else star_args
        if parameter is not None:
            yield ("args", index), parameter.name, value
    by_name = {p.name: p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for key, value in kwargs.items():
        parameter = by_name.get(key, star_kwargs)
        if parameter is not None:
            yield ("kwargs", key), parameter.name, value


def _fits(annotation: Any, value: Any) -> tuple[bool, str | None]:
    """Whether the value fits; when a part of it does not, where and why."""
    from pydantic import ValidationError  # start-up: docs/architecture.md, "The import rules"

    adapter = _adapter(annotation)
    if adapter is None:
        return True, None
    try:
        adapter.validate_json(json.dumps(value), strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = "".join(f"[{step!r}]" for step in first["loc"])
        return False, f"at {where}: {first['msg']}" if where else None
    except (TypeError, ValueError):  # not JSON: the language refuses it elsewhere
        return True, None
    return True, None


_ADAPTERS: dict[Any, TypeAdapter[Any] | None] = {}


def _adapter(annotation: Any) -> TypeAdapter[Any] | None:
    """A cached validator for a hint; None when pydantic cannot build one (then: accept)."""
    try:
        return _ADAPTERS[annotation]
    except KeyError:
        pass
    except TypeError:  # an unhashable annotation: build it each time
        return _build(annotation)
    _ADAPTERS[annotation] = adapter = _build(annotation)
    return adapter


def _build(annotation: Any) -> TypeAdapter[Any] | None:
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(annotation)
    except Exception:
        return None


def _describe(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
