"""One schedules folder, several deployments: a declaration as it stands in one environment.

The environment names are declared once (``RECONCILER_ENVIRONMENTS``); the active one is
``RECONCILER_ENV`` or ``--env``. A declaration (or a file's ``defaults``) may be limited with
``environments: [production]`` and may override any optional key, or its schedule, per
environment with ``overrides: {staging: {enabled: false}}``. An override that names a
schedule replaces the schedule whole (one schedule per task still holds).

Precedence, most specific last: the file's defaults, their override for the environment,
the task's own keys, the task's override for the environment; each key replaces the one
before it whole, but ``monitor``, merged key by key (a file's owner, a task's grace). One exception: a schedule in
the defaults' override replaces every task's own schedule in that environment (a task's own
override naming a schedule still wins) — otherwise it could never take effect.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..core.diagnostics import Diagnostic, SourceRange, did_you_mean, error
from ..core.errors import ReconcilerError
from .positions import KEY
from .shapes import SCHEDULE_KEYS

ENV_KEYS = ("environments", "overrides")
MERGED_MAPPINGS = frozenset({"monitor"})  # merged key by key, not replaced whole (an owner set once for a file)


class UnknownEnvironment(ReconcilerError):
    exit_code = 2


@dataclass(frozen=True)
class Environments:
    """The configured names, and the one this run plans and applies (None: no environments)."""

    names: tuple[str, ...] = ()
    active: str | None = None

    @property
    def checked(self) -> tuple[str | None, ...]:
        """What validate checks: every environment, or the one unnamed deployment."""
        return self.names or (None,)


def select(names: Sequence[str], active: str | None, *, need_active: bool) -> Environments:
    """Check the active name against the configured ones; plan and apply need one."""
    known = tuple(names)
    if active and active not in known:
        hint = did_you_mean(active, known) or (f"one of: {', '.join(known)}" if known else
                                               "no environments are configured (RECONCILER_ENVIRONMENTS)")
        raise UnknownEnvironment(f"unknown environment {active!r}: {hint}")
    if known and not active and need_active:
        raise UnknownEnvironment(
            f"this project has environments ({', '.join(known)}): say which one with --env or RECONCILER_ENV"
        )
    return Environments(known, active or None)


def included(body: dict[str, Any], defaults: dict[str, Any], env: str | None) -> bool:
    """Whether a declaration exists in ``env`` (its own limit wins over the file's)."""
    limit = body.get("environments", defaults.get("environments"))
    return env is None or not isinstance(limit, list) or env in limit


def in_environment(keys: dict[str, Any], env: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keys as they stand in ``env``, the keys its override supplied); ``keys`` itself
    when it has no environment keys (never modified by the callers)."""
    if "overrides" not in keys and "environments" not in keys:
        return keys, {}
    base = {k: v for k, v in keys.items() if k not in ENV_KEYS}
    overrides = keys.get("overrides")
    extra = overrides.get(env) if env is not None and isinstance(overrides, dict) else None
    if not isinstance(extra, dict):
        return base, {}
    if names_schedule(extra):
        for key in (*SCHEDULE_KEYS, "timezone"):
            base.pop(key, None)
    return merged(base, extra), extra


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra``'s keys over ``base``'s; a mapping of ``MERGED_MAPPINGS`` in both, key by key."""
    both = {**base, **extra}
    for key in MERGED_MAPPINGS:
        if isinstance(base.get(key), dict) and isinstance(extra.get(key), dict):
            both[key] = {**base[key], **extra[key]}
    return both


def names_schedule(keys: dict[str, Any]) -> bool:
    return any(keys.get(k) is not None for k in SCHEDULE_KEYS)


def with_default_schedule(
    body: dict[str, Any], own_override: dict[str, Any], default_override: dict[str, Any],
) -> dict[str, Any]:
    """A schedule in the file's ``defaults.overrides.<env>`` is every task's schedule in that
    environment (time zone included), unless the task's own override names one: what "run the
    whole file every 5 minutes in staging" means. Otherwise precedence as usual."""
    if not default_override or not names_schedule(default_override) or names_schedule(own_override):
        return body
    return {k: v for k, v in body.items() if k not in (*SCHEDULE_KEYS, "timezone")}


def problems(keys: dict[str, Any], names: tuple[str, ...], path: tuple[Any, ...], file: str) -> list[Diagnostic]:
    """Unknown environment names in ``environments`` and ``overrides`` (with a did-you-mean);
    environment keys where no environments are configured. ``path``: where ``keys`` are in ``file``."""
    if "overrides" not in keys and "environments" not in keys:
        return []
    found: list[Diagnostic] = []
    present = [key for key in ENV_KEYS if keys.get(key) is not None]
    if present and not names:
        return [_error(
            file, "unknown-environment", f"{present[0]} is used, but no environments are configured",
            (*path, present[0], KEY), hint="list them in settings.RECONCILER_ENVIRONMENTS",
        )]
    limit = keys.get("environments")
    if limit is not None and not (isinstance(limit, list) and all(isinstance(n, str) for n in limit)):
        found.append(_error(file, "schema", "environments is a list of environment names", (*path, "environments")))
    elif isinstance(limit, list):
        found += [_unknown(name, names, (*path, "environments", i), file)
                  for i, name in enumerate(limit) if name not in names]
    overrides = keys.get("overrides")
    if overrides is not None and not isinstance(overrides, dict):
        found.append(_error(file, "schema", "overrides maps environment names to keys", (*path, "overrides")))
    elif isinstance(overrides, dict):
        for name, extra in overrides.items():
            if name not in names:
                found.append(_unknown(name, names, (*path, "overrides", name, KEY), file))
            elif not isinstance(extra, dict):
                found.append(_error(file, "schema", f"overrides.{name} is a mapping of keys",
                                    (*path, "overrides", name)))
            elif any(key in extra for key in ENV_KEYS):
                found.append(_error(file, "schema", "an override cannot contain environments or overrides",
                                    (*path, "overrides", name)))
    return found


def _unknown(name: Any, names: tuple[str, ...], path: tuple[Any, ...], file: str) -> Diagnostic:
    return _error(
        file, "unknown-environment", f"unknown environment {name!r}", path,
        hint=did_you_mean(str(name), names) or f"one of: {', '.join(names)}",
    )


def _error(file: str, code: str, message: str, path: tuple[Any, ...], hint: str | None = None) -> Diagnostic:
    """Positioned later, from ``path`` (``positions.place``)."""
    return error(code, message, source=SourceRange(file), path=path, hint=hint)


def merge_checked(per_environment: Iterable[tuple[str | None, Sequence[Diagnostic]]]) -> list[Diagnostic]:
    """The diagnostics of every environment's check, once each: a problem found in only some
    environments says in which."""

    runs = list(per_environment)
    where: dict[Diagnostic, list[str]] = {}
    for env, diagnostics in runs:
        for diagnostic in diagnostics:
            where.setdefault(diagnostic, [])
            if env is not None and env not in where[diagnostic]:
                where[diagnostic].append(env)
    named = [env for env, _ in runs if env is not None]
    return [
        d if not envs or len(envs) == len(named) else replace(d, message=f"{d.message} (in {_listed(envs)})")
        for d, envs in where.items()
    ]


def _listed(envs: list[str]) -> str:
    return f"environment {envs[0]}" if len(envs) == 1 else f"environments {', '.join(envs)}"
