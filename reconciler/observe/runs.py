"""A schedule's runs, as django-celery-results stored them.

A run belongs to the schedule named by the ``periodic_task_name`` beat put on its message
(``TaskResult.periodic_task_name``, stored with ``CELERY_RESULT_EXTENDED``): two schedules may
run the same task, so the task name never decides. Every function here is a bounded number of
queries: one for a page of runs, one aggregate for the summaries of every schedule.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery import states
from django.apps import apps
from django.conf import settings
from django.db.models import Count, Max

from ..core.errors import ReconcilerError
from .rows import raw_rows

FAILED_STATES = frozenset(states.PROPAGATE_STATES)  # FAILURE, REVOKED: Celery's own "it failed"
RUN_FIELDS = (
    "task_id", "periodic_task_name", "task_name", "status", "worker", "date_created", "date_started",
    "date_done", "result", "traceback",
)
SUMMARY_LIMIT = 300  # characters of an exception summary


class ResultsNotConfigured(ReconcilerError):
    """django-celery-results is not installed: no run is recorded anywhere we can read."""


@dataclass(frozen=True)
class Run:
    """One execution of a schedule's task."""

    task_id: str
    schedule: str
    task: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    worker: str
    exception: str

    @property
    def runtime_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id, "schedule": self.schedule, "task": self.task, "state": self.state,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "runtime_seconds": self.runtime_seconds, "worker": self.worker, "exception": self.exception,
        }


@dataclass(frozen=True)
class RunSummary:
    """What the stored runs of one schedule add up to."""

    last_run_at: datetime | None = None
    last_state: str | None = None
    last_success_at: datetime | None = None
    last_outcome: str | None = None  # the state of the newest run that has finished (not STARTED)
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def results_available() -> bool:
    return apps.is_installed("django_celery_results")


def task_results() -> Any:
    """The TaskResult model; ResultsNotConfigured when django-celery-results is not installed."""
    if not results_available():
        raise ResultsNotConfigured(
            "runs are not recorded: install django-celery-results, add 'django_celery_results' to "
            "INSTALLED_APPS and set CELERY_RESULT_BACKEND = 'django-db', CELERY_RESULT_EXTENDED = True"
        )
    return apps.get_model("django_celery_results", "TaskResult")


def runs_queryset(name: str) -> Any:
    """Runs of one schedule, newest first (the API paginates this queryset)."""
    return task_results().objects.filter(periodic_task_name=name).order_by("-date_created", "-id").values(*RUN_FIELDS)


def last_runs(name: str, limit: int = 20, offset: int = 0) -> tuple[Run, ...]:
    """The newest runs of one schedule, in one query."""
    return tuple(run_from_row(row) for row in runs_queryset(name)[offset:offset + limit])


def count_runs(name: str) -> int:
    return int(task_results().objects.filter(periodic_task_name=name).count())


def run_from_row(row: Mapping[str, Any]) -> Run:
    started = row["date_started"] or row["date_created"]
    finished = row["date_done"] if row["status"] in states.READY_STATES else None
    return Run(
        task_id=row["task_id"], schedule=row["periodic_task_name"] or "", task=row["task_name"] or "",
        state=row["status"], started_at=started, finished_at=finished, worker=row["worker"] or "",
        exception=exception_summary(row["status"], row["result"], row["traceback"]),
    )


def exception_summary(state: str, result: str | None, traceback: str | None) -> str:
    """``ExcType: message`` of a failed run, from the stored result (JSON) or the traceback."""
    if state not in states.EXCEPTION_STATES:
        return ""
    summary = _from_result(result) or _last_line(traceback)
    return summary[:SUMMARY_LIMIT]


def _from_result(result: str | None) -> str:
    try:
        value = json.loads(result or "")
    except (TypeError, ValueError):
        return ""
    if not isinstance(value, dict) or "exc_type" not in value:
        return ""
    message = value.get("exc_message")
    if isinstance(message, list | tuple):
        message = ", ".join(str(part) for part in message)
    return f"{value['exc_type']}: {message}" if message not in (None, "") else str(value["exc_type"])


def _last_line(traceback: str | None) -> str:
    lines = [line for line in (traceback or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


SUMMARIES_SIZE = 100_000  # summaries kept between reads, by their groups' raw values: emptied when full
_summaries: dict[tuple[Any, ...], RunSummary] = {}


def summaries(names: Iterable[str] | None = None) -> dict[str, RunSummary]:
    """Per schedule: last run, its state, last success, runs per state. One aggregate query
    (grouped by schedule and state), whatever the number of schedules and runs. A schedule's
    summary is kept by its groups as the database sent them: only the schedules that ran since
    the last read are summarised again."""
    rows = task_results().objects.exclude(periodic_task_name=None).exclude(periodic_task_name="")
    if names is not None:
        rows = rows.filter(periodic_task_name__in=list(names))
    grouped = rows.order_by().values_list("periodic_task_name", "status").annotate(
        n=Count("id"), last=Max("date_created"),
    )
    raw, convert = raw_rows(grouped)
    per_name: dict[str, list[tuple[Any, ...]]] = {}
    for values in raw:
        per_name.setdefault(values[0], []).append(values)
    if len(_summaries) >= SUMMARIES_SIZE:
        _summaries.clear()
    context = (id(getattr(settings, "_wrapped", settings)), grouped.db)
    found: dict[str, RunSummary] = {}
    for name, groups in per_name.items():
        key = (context, *groups)  # in whatever order the database grouped them: summarise sorts
        summary = _summaries.get(key)
        if summary is None:
            summary = _summaries[key] = summarise([convert(g)[1:] for g in groups])
        found[name] = summary
    return found


def summarise(groups: Iterable[tuple[str, int, datetime]]) -> RunSummary:
    """(state, count, newest) groups of one schedule → its summary. Pure."""
    ordered = sorted(groups, key=lambda g: (g[2], g[0]))
    if not ordered:
        return RunSummary()
    success = [g[2] for g in ordered if g[0] == states.SUCCESS]
    finished = [g[0] for g in ordered if g[0] in states.READY_STATES]
    return RunSummary(
        last_run_at=ordered[-1][2], last_state=ordered[-1][0], last_success_at=max(success) if success else None,
        counts={state: n for state, n, _ in sorted(ordered)}, last_outcome=finished[-1] if finished else None,
    )
