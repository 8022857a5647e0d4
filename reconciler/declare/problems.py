"""The problems of one file, each pointed at the key where it is written: a diagnostic builder
for the file, where each key of a merged declaration comes from (the task, an override, the
defaults), and pydantic's errors as our diagnostics. Line and column are filled in later from
the key path, only for the files that have a problem (``positions.place``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..core.diagnostics import Diagnostic, SourceRange, did_you_mean, error
from .calendars import Exclude, Holidays
from .cron import CRON_LIST, ONE_CRON, CronFields
from .environments import MERGED_MAPPINGS
from .language import DECLARATION_KEYS, OPTION_KEYS, Monitor, Solar
from .positions import KEY

OWN_CODES = frozenset({
    "bad-calendar", "bad-cron", "bad-duration", "bad-timezone", "naive-datetime", "schedule-count", "schema",
})


@dataclass(frozen=True)
class FileProblems:
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


@dataclass(frozen=True)
class Origins:
    """Where each key of a merged declaration is written, so that a problem points there:
    the task, its override for the environment, the file's defaults or their override."""

    name: str
    env: str | None
    own: dict[str, Any]
    override: dict[str, Any]
    default_override: dict[str, Any]
    defaults: dict[str, Any]

    def path_of(self, loc: tuple[Any, ...]) -> tuple[Any, ...]:
        if not loc:
            return ("tasks", self.name)
        if _written(self.override, loc):
            return ("tasks", self.name, "overrides", self.env, *loc)
        if _written(self.own, loc):
            return ("tasks", self.name, *loc)
        if _written(self.default_override, loc):
            return ("defaults", "overrides", self.env, *loc)
        if _written(self.defaults, loc):
            return ("defaults", *loc)
        return ("tasks", self.name, *loc)

    def moved(self, merged: dict[str, Any]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        """The keys written elsewhere than under the task (an override, the defaults), with
        where: for the problems found after this phase (the registry's, on args and kwargs)."""
        if not (self.override or self.defaults):  # the common case: every key under the task
            return ()
        home, found = ("tasks", self.name), []
        for key in merged:
            if key in self.override or key not in self.own:  # else: at home
                prefix = self.path_of((key,))[:-1]
                if prefix != home:
                    found.append((key, prefix))
        return tuple(found)


def _written(layer: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    """Whether ``layer`` writes the key at ``loc``; in a mapping merged key by key
    (``monitor``), the key inside it."""
    key = loc[0]
    if key not in layer:
        return False
    inner = layer[key]
    return key not in MERGED_MAPPINGS or len(loc) < 2 or not isinstance(inner, dict) or loc[1] in inner


def pydantic_problems(
    exc: ValidationError, here: FileProblems, base: tuple[Any, ...], *, name: str | None,
    origins: Origins | None = None,
) -> list[Diagnostic]:
    problems = []
    for item in exc.errors(include_url=False):
        loc = tuple(step for step in item["loc"] if not _is_pydantic_tag(step))
        path = origins.path_of(loc) if origins is not None else (*base, *loc)
        problems.append(_problem(item, loc, path, here, name))
    return problems


def _is_pydantic_tag(step: Any) -> bool:
    return isinstance(step, str) and ("[" in step or step in _TAGS)


_TAGS = frozenset({"str", "CronFields", "int", "constrained-int", ONE_CRON, CRON_LIST})


def _problem(
    item: Any, loc: tuple[Any, ...], path: tuple[Any, ...], here: FileProblems, name: str | None,
) -> Diagnostic:
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
    """The keys allowed in the mapping of an unknown key: the nearest named parent (a list
    item of ``cron`` is a cron)."""
    parent = next((step for step in reversed(loc[:-1]) if isinstance(step, str)), None)
    models: dict[str | None, Any] = {
        "cron": CronFields, "solar": Solar, "exclude": Exclude, "holidays": Holidays, "monitor": Monitor,
    }
    return tuple(models[parent].model_fields) if parent in models else OPTION_KEYS
