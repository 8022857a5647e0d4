"""What happens to the schedules, in the PeriodicTask admin: a health column and filter, a
schedule's last runs and their chart on its page, its run in flight and the runs beat skipped
(``tracked_context``: shown with or without a result store, they are beat's records), a forecast page. Thin shells over
``reconciler.observe``; shown only when django-celery-results records the runs.

The charts are the staff-only SVG views of ``reconciler.observe.urls`` (``<img src>``: their
styles stay out of the admin's page); a project that does not mount them gets the same SVG
as a ``data:`` URI."""
from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from ..observe.chart import forecast_svg, runs_svg
from ..observe.forecast import read_forecast
from ..observe.health import Health, ScheduleHealth, names_with, read_health
from ..observe.leases import RunState, read_runs
from ..observe.render import ago
from ..observe.runs import count_runs, last_runs, results_available
from ..observe.skips import Skip, count_skips, last_skips
from ..render.words import iso
from .display import moment

RUNS_SHOWN = 20
SKIPS_SHOWN = 20
REASONS = {  # SkippedRun.reason -> what it means, for the page
    "overlap": "the previous run was still queued or running",
    "catchup": "a slot missed while no beat was scheduling, dropped by the catch-up policy",
}
FORECAST_HOURS = (6, 24, 48, 168)


class HealthFilter(admin.SimpleListFilter):
    """Health is computed, not a column: the names in the health asked for (``names_with``)."""

    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(h.value, h.value) for h in Health]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() not in {h.value for h in Health}:
            return queryset
        return queryset.filter(name__in=names_with([str(self.value())]))


def attach_health(rows: Iterable[Any]) -> None:
    """Each row of a changelist page gets its health, read for that page's names only."""
    page = list(rows)
    found = {s.name: s for s in read_health([row.name for row in page])}
    for row in page:
        row._reconciler_health = found.get(row.name)


def health_cell(obj: Any) -> str:
    found: ScheduleHealth | None = getattr(obj, "_reconciler_health", None)
    if found is None:
        return "—"
    return format_html('<span class="reconciler-health reconciler-health-{}" title="{}">{}</span>',
                       found.health.value, _tooltip(found), found.health.value)


def _tooltip(found: ScheduleHealth) -> str:
    parts = [f"last run: {moment(found.last_run_at, empty='never')} ({found.last_state or 'none'})",
             f"last success: {moment(found.last_success_at, empty='never')}"]
    if found.expected_at is not None:
        parts.append(f"expected: {moment(found.expected_at)} (grace {found.grace_seconds:g} s)")
    return "; ".join(parts)


def runs_context(request: HttpRequest, row: Any) -> dict[str, Any]:
    """A schedule's page: its health, its last runs (``?runs_offset=`` pages back), its chart;
    moments to the second for a schedule that runs more often than once a minute."""
    name = row.name
    try:
        offset = min(max(0, int(request.GET.get("runs_offset", "0"))), 2**31 - 1)  # a database integer
    except ValueError:
        offset = 0
    runs = last_runs(name, RUNS_SHOWN, offset)
    total = count_runs(name)
    found = read_health([name])
    health = found[0] if found else None
    return {
        "health": health, "total": total, "offset": offset,
        "runs": [{"state": r.state, "failed": r.failed, "started": moment(r.started_at),
                  "runtime_seconds": r.runtime_seconds, "worker": r.worker, "exception": r.exception} for r in runs],
        "last_success": moment(health.last_success_at, empty="never") if health else "never",
        "expected": moment(health.expected_at, empty="") if health else "",
        "next_run": iso(health.next_run_at, timezone.get_current_timezone()) if health and health.next_run_at else "",
        "first": offset + 1 if runs else 0, "last": offset + len(runs),
        "older": offset + RUNS_SHOWN if offset + RUNS_SHOWN < total else None,
        "newer": max(0, offset - RUNS_SHOWN) if offset else None,
        "chart": chart_src("reconciler-runs-chart", [name], "", lambda: _runs_svg(name)),
    }


def tracked_context(row: Any) -> dict[str, Any] | None:
    """A schedule's run in flight (beat's lease: queued or running since, its task id, running
    long) and the last runs beat skipped; None when it has neither (its section is not shown)."""
    now = timezone.now()
    run = read_runs([row.name], now).get(row.name)
    skipped = last_skips(row.name, SKIPS_SHOWN)
    if run is None and not skipped:
        return None
    return {
        "run": _run_cells(run, now) if run is not None else None,
        "skipped": [_skip_cells(skip) for skip in skipped],
        "total": count_skips(row.name) if len(skipped) == SKIPS_SHOWN else len(skipped),
    }


def _run_cells(run: RunState, now: datetime) -> dict[str, Any]:
    return {
        "state": run.state, "since": moment(run.since), "ago": ago(run.since, now), "task_id": run.task_id,
        "slot": moment(run.scheduled_time),
        "outcome": run.outcome, "running_long": run.running_long, "max_runtime": run.max_runtime,
        "pending_slot": moment(run.pending_slot, empty=""), "expires": moment(run.expires_at),
    }


def _skip_cells(skip: Skip) -> dict[str, Any]:
    return {
        "at": moment(skip.at), "reason": skip.reason, "reason_words": REASONS.get(skip.reason, skip.reason),
        "count": skip.count, "slot": moment(skip.slot), "first_slot": moment(skip.first_slot, empty=""),
        "detail": skip.detail,
    }


def _runs_svg(name: str) -> str:
    return runs_svg(last_runs(name, 50), tz=timezone.get_current_timezone())


def chart_src(url_name: str, args: list[str], query: str, render: Callable[[], str]) -> str:
    """The chart view's URL, or (not mounted) the chart itself as a ``data:`` URI."""
    try:
        return reverse(url_name, args=args) + query
    except NoReverseMatch:
        return "data:image/svg+xml;base64," + base64.b64encode(render().encode()).decode()


def forecast_view(model_admin: Any, request: HttpRequest) -> HttpResponse:
    """The runs due in the next ``?hours=`` (24 by default), as a chart: for whoever may see
    the schedules list."""
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    hours = _hours(request.GET.get("hours"))
    return TemplateResponse(request, "admin/reconciler/forecast.html", {
        **model_admin.admin_site.each_context(request),
        "title": f"Forecast: runs due in the next {_span(hours)}", "opts": model_admin.model._meta,
        "hours": hours, "choices": [(h, _span(h)) for h in FORECAST_HOURS],
        "chart": chart_src("reconciler-forecast-chart", [], f"?hours={hours}", lambda: _forecast_svg(hours)),
    })


def _hours(raw: str | None) -> int:
    try:
        hours = int(raw or 24)
    except ValueError:
        return 24
    return hours if hours in FORECAST_HOURS else 24


def _span(hours: int) -> str:
    return f"{hours // 24} days" if hours > 48 else f"{hours} hours"


def _forecast_svg(hours: int) -> str:
    return forecast_svg(read_forecast(hours), timezone.get_current_timezone(), f"Runs per minute, next {hours} h")


def available() -> bool:
    """Health and runs need the runs: django-celery-results installed."""
    return results_available()
