"""Existing ``PeriodicTask`` rows → schedule YAML: the way in for teams whose schedules
live in the Django admin today. Round trip: export → validate → ``apply --adopt`` takes the
rows over in place → ``plan`` shows no change.

``document_for`` is pure (a TaskSpec in, a mapping out); ``export_rows`` reads the database.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from ..core.policy import DURATION_OPTIONS
from ..core.schedule import Clocked, Crontab, Interval, Solar, format_duration
from ..core.specs import TaskSpec

BEAT_OWN_PREFIX = "celery."  # rows beat creates itself (celery.backend_cleanup): never exported


@dataclass(frozen=True)
class Exported:
    text: str
    count: int
    skipped: tuple[str, ...]  # "name: reason" for rows the language cannot express


def declaration_for(spec: TaskSpec) -> tuple[dict[str, Any], list[str]]:
    """One declaration mapping, and the parts of the row that the language cannot carry."""
    body: dict[str, Any] = {"task": spec.task}
    body.update(_schedule(spec))
    lost = []
    if spec.one_off and not isinstance(spec.schedule, Clocked):
        lost.append("one_off on a non-clocked schedule (declare it with `at`)")
    if spec.expires_at is not None and spec.expire_seconds:
        lost.append("both expires and expire_seconds (the language keeps one: the date-time)")
    _optional(body, "args", json.loads(spec.args), [])
    _optional(body, "kwargs", json.loads(spec.kwargs), {})
    _optional(body, "enabled", spec.enabled if not (spec.one_off and not spec.enabled) else True, True)
    for key in ("description", "queue", "exchange", "routing_key", "priority"):
        _optional(body, key, getattr(spec, key), None if key != "description" else "")
    _optional(body, "headers", json.loads(spec.headers), {})
    if spec.expires_at is not None:
        body["expires"] = spec.expires_at.isoformat()
    elif spec.expire_seconds:
        body["expires"] = format_duration(spec.expire_seconds)
    if spec.start_time is not None:
        body["start_time"] = spec.start_time.isoformat()
    body.update(_policy(spec))
    return body, lost


def _policy(spec: TaskSpec) -> dict[str, Any]:
    """The options that differ from their default (an owned row's, read from its ownership)."""
    return {
        key: format_duration(value) if key in DURATION_OPTIONS else value
        for key, value in spec.policy.fields().items()
    }


def _schedule(spec: TaskSpec) -> dict[str, Any]:
    schedule = spec.schedule
    if isinstance(schedule, Interval):
        return {"every": format_duration(schedule.seconds)}
    if isinstance(schedule, Crontab):
        return {"cron": schedule.expression, "timezone": schedule.timezone}
    if isinstance(schedule, Clocked):
        return {"at": schedule.at.isoformat()}
    if not isinstance(schedule, Solar):
        return {}  # a row without a schedule: validation of the exported file will say so
    return {"solar": {
        "event": schedule.event, "latitude": float(schedule.latitude), "longitude": float(schedule.longitude),
    }}


def _optional(body: dict[str, Any], key: str, value: Any, default: Any) -> None:
    if value != default and value is not None:
        body[key] = value


def render_yaml(specs: Iterable[TaskSpec]) -> Exported:
    tasks: dict[str, Any] = {}
    skipped: list[str] = []
    for spec in sorted(specs, key=lambda s: s.name):
        body, lost = declaration_for(spec)
        tasks[spec.name] = body
        skipped.extend(f"{spec.name}: {reason}" for reason in lost)
    header = "# Exported from django-celery-beat by `manage.py reconcile export`.\n"
    if skipped:
        header += "".join(f"# NOT EXPRESSIBLE, review: {line}\n" for line in skipped)
    text = header + yaml.safe_dump({"tasks": tasks}, sort_keys=False, allow_unicode=True, width=100)
    return Exported(text, len(tasks), tuple(skipped))


def exportable(name: str) -> bool:
    return not name.startswith(BEAT_OWN_PREFIX)
