"""``/api/schedules/``: each schedule's status and health (the detail: with its tracked run and skips),
its runs, its skipped runs (the operations on one schedule: ``api.operations``). Thin shells over
``reconciler.observe.sync`` and ``reconciler.observe``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from ..core.errors import UnknownName
from ..core.monitor import NO_MONITOR, Monitor
from ..observe.health import Health, ScheduleHealth, read_health
from ..observe.leases import read_runs
from ..observe.rows import read_monitors
from ..observe.runs import results_available, run_from_row, runs_queryset
from ..observe.skips import last_skips, recent_skips, skip_of, skipped_queryset
from ..observe.sync import (
    STATES,
    TaskStatus,
    current_statuses,
    repository_path,
    source_url,
    upcoming_runs,
    with_bookkeeping,
)
from ..pipeline import database_errors
from ..render.words import schedule_words
from . import serializers as s
from .base import ReconcilerView
from .errors import Unprocessable
from .openapi import extend_schema
from .validation import validation_json

ERRORS = {401: s.ErrorSerializer, 403: s.ErrorSerializer, 503: s.ErrorSerializer}
HEALTHS = [h.value for h in Health]
NAME = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="the schedule's name")
SKIPS_SHOWN = 10  # the detail's last skip decisions; all of them: skipped-runs/


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@dataclass(frozen=True)
class Row:
    status: TaskStatus
    words: str
    next_runs: tuple[datetime, ...]
    health: ScheduleHealth | None = None  # None: no row in the database yet, or no result store
    monitor: Monitor = NO_MONITOR  # as applied (ownership), or as declared for a schedule not applied yet

    def to_json(self) -> dict[str, Any]:
        st, health, monitor = self.status, self.health, self.monitor
        body = st.to_json()
        observed = health.to_json() if health is not None else {}
        return {
            "name": st.name, "task": st.task, "schedule": st.schedule, "schedule_words": self.words,
            "state": st.state, "managed": st.managed, "enabled": st.enabled, "suspended": body["suspended"],
            "source_file": repository_path(st.source_file) if st.source_file else None,
            "source_line": st.source_line,
            "source_url": source_url(st.source_file, st.source_line) if st.source_file else None,
            "last_run_at": body["last_run_at"], "next_runs": [moment.isoformat() for moment in self.next_runs],
            "total_run_count": st.total_run_count, "reasons": body["reasons"],
            "health": observed.get("health"), "last_run_state": observed.get("last_state"),
            "last_success_at": observed.get("last_success_at"),
            "owner": monitor.owner or None, "severity": monitor.severity or None, "grace": monitor.grace,
            "grace_seconds": observed.get("grace_seconds"), "failure_threshold": monitor.failure_threshold,
            "recovery_threshold": monitor.recovery_threshold,
        }


@dataclass(frozen=True)
class Listing:
    """Every declared or existing schedule's status (the memoised plan: ``status.current_statuses``),
    and each one's spec by name."""

    statuses: Sequence[TaskStatus]
    specs: Mapping[str, Any]
    now: datetime


def schedule_statuses() -> Listing:
    """422 when the folder does not validate."""
    current = current_statuses()
    if not current.valid:
        raise Unprocessable(validation_json(current.result.validation))
    return Listing(current.statuses, current.specs, datetime.now(UTC))


def rows_of(listing: Listing, page: list[TaskStatus], healths: dict[str, ScheduleHealth] | None = None) -> list[Row]:
    """The rows of a page: their words, next runs and health, read for the page's names only
    (a constant number of queries per page, whatever the total). ``healths``: already read."""
    names = [st.name for st in page]
    with database_errors():
        page = with_bookkeeping(page) if names else []
        upcoming = upcoming_runs(listing.now, 3, names) if names else {}
        if healths is None:
            healths = read_healths(names, listing.now) if names else {}
    return [
        Row(st, _words(listing.specs[st.name].schedule), upcoming.get(st.name, ()), (found := healths.get(st.name)),
            found.monitor if found is not None else _declared_monitor(listing, st.name))
        for st in page
    ]


def _declared_monitor(listing: Listing, name: str) -> Monitor:
    return getattr(listing.specs.get(name), "monitor", NO_MONITOR)


def monitors_of(listing: Listing, names: list[str]) -> dict[str, Monitor]:
    """Each schedule's monitor: as applied (ownership: one query per 500 names), else as declared."""
    with database_errors():
        applied = read_monitors(names) if names else {}
    return {name: applied.get(name) or _declared_monitor(listing, name) for name in names}


def read_healths(names: list[str] | None, now: datetime) -> dict[str, ScheduleHealth]:
    """Health by name (of ``names``, or of every schedule); none without a result store."""
    if not results_available():
        return {}
    return {h.name: h for h in read_health(names, now=now)}


def _words(schedule: Any) -> str:
    return schedule_words(schedule)


def _boolean(raw: str | None, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ValidationError({name: [f"expected true or false, not {raw!r}"]})


class ScheduleList(ReconcilerView):
    """Every schedule, declared or in the database, with its status, paginated."""

    pagination_class = Pages

    @extend_schema(
        operation_id="schedules_list",
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=list(STATES)),
            OpenApiParameter("health", OpenApiTypes.STR, enum=HEALTHS,
                             description="computed from the stored runs; rows without a health never match"),
            OpenApiParameter("managed", OpenApiTypes.BOOL),
            OpenApiParameter("task", OpenApiTypes.STR, description="the Celery task name"),
            OpenApiParameter("owner", OpenApiTypes.STR, description="the owner its monitor names (monitor: owner)"),
            OpenApiParameter("severity", OpenApiTypes.STR, description="its monitor's severity"),
        ],
        responses={200: s.ScheduleSerializer(many=True), 400: s.ErrorSerializer, 404: s.ErrorSerializer,
                   422: s.ValidationSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        wanted_state = request.query_params.get("state") or None
        if wanted_state is not None and wanted_state not in STATES:
            raise ValidationError({"state": [f"one of {', '.join(STATES)}"]})
        wanted_health = request.query_params.get("health") or None
        if wanted_health is not None and wanted_health not in HEALTHS:
            raise ValidationError({"health": [f"one of {', '.join(HEALTHS)}"]})
        managed = _boolean(request.query_params.get("managed"), "managed")
        task = request.query_params.get("task") or None
        owner, severity = request.query_params.get("owner") or None, request.query_params.get("severity") or None
        listing = schedule_statuses()
        wanted = [
            st for st in listing.statuses
            if (wanted_state is None or st.state == wanted_state)
            and (managed is None or st.managed is managed)
            and (task is None or st.task == task)
        ]
        if owner is not None or severity is not None:
            monitors = monitors_of(listing, [st.name for st in wanted])
            wanted = [
                st for st in wanted if (owner is None or monitors[st.name].owner == owner)
                and (severity is None or monitors[st.name].severity == severity)
            ]
        healths = None
        if wanted_health is not None:  # health is computed, not stored: every candidate's is read
            with database_errors():
                healths = read_healths([st.name for st in wanted], listing.now) if wanted else {}
            wanted = [st for st in wanted if st.name in healths and healths[st.name].health == wanted_health]
        page = self.paginate_queryset(wanted) or []
        return self.get_paginated_response([row.to_json() for row in rows_of(listing, page, healths)])


class ScheduleDetail(ReconcilerView):
    @extend_schema(
        operation_id="schedules_detail", parameters=[NAME],
        responses={200: s.ScheduleDetailSerializer, 404: s.ErrorSerializer, 422: s.ValidationSerializer, **ERRORS},
    )
    def get(self, request: Request, name: str) -> Response:
        listing = schedule_statuses()
        for st in listing.statuses:
            if st.name == name:
                return Response({**rows_of(listing, [st])[0].to_json(), **tracked_json(name, listing.now)})
        raise UnknownName(f"no schedule named {name!r}")


def tracked_json(name: str, now: datetime) -> dict[str, Any]:
    """Beat's records of one schedule, with or without a result store: its tracked run (queued,
    running or finished, and running long), its skips of the last 24 hours, its last skip decisions."""
    with database_errors():
        run = read_runs([name], now).get(name)
        recent = recent_skips([name], now).get(name)
        skipped = last_skips(name, SKIPS_SHOWN)
    return {
        "run": run.to_json() if run else None, "recent_skips": recent.to_json() if recent else None,
        "skipped_runs": [skip.to_json() for skip in skipped],
    }


class ScheduleRuns(ReconcilerView):
    """A schedule's runs as the result store holds them (django-celery-results), newest first.
    404 when no row has that name and no run is stored under it; 503 without a result store."""

    pagination_class = Pages

    @extend_schema(
        operation_id="schedules_runs", parameters=[NAME],
        responses={200: s.RunSerializer(many=True), 404: s.ErrorSerializer, **ERRORS},
    )
    def get(self, request: Request, name: str) -> Response:
        with database_errors():
            runs = runs_queryset(name)
            if not _exists(name) and not runs.exists():
                raise UnknownName(f"no schedule named {name!r}")
            page = self.paginate_queryset(runs)
        return self.get_paginated_response([run_from_row(row).to_json() for row in page or ()])


class ScheduleSkippedRuns(ReconcilerView):
    """The runs beat did not send for a schedule, newest first: one entry per decision (``count``
    runs). 404 when no row has that name and no skip is recorded under it."""

    pagination_class = Pages

    @extend_schema(
        operation_id="schedules_skipped_runs", parameters=[NAME],
        responses={200: s.SkipSerializer(many=True), 404: s.ErrorSerializer, **ERRORS},
    )
    def get(self, request: Request, name: str) -> Response:
        with database_errors():
            skipped = skipped_queryset(name)
            if not _exists(name) and not skipped.exists():
                raise UnknownName(f"no schedule named {name!r}")
            page = self.paginate_queryset(skipped)
        return self.get_paginated_response([skip_of(values).to_json() for values in page or ()])


def _exists(name: str) -> bool:
    from django_celery_beat.models import PeriodicTask

    return bool(PeriodicTask.objects.filter(name=name).exists())
