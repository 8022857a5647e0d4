"""Who owns a schedule, in the PeriodicTask admin: its monitor's owner and severity (``monitor:``
in its declaration, ``ManagedTask.monitor``) as a column, shown once some schedule names one
(the list is narrow already), and a filter by each (shown once there is something to filter)."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from ..core.monitor import Monitor


class MonitorFilter(admin.SimpleListFilter):
    """The values the applied monitors hold (one query); none: the filter is not shown."""

    option = ""  # the Monitor field filtered on

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = {getattr(m, self.option) for m in applied(request).values()} - {""}
        return [(value, value) for value in sorted(values)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        names = [name for name, m in applied(request).items() if getattr(m, self.option) == self.value()]
        return queryset.filter(name__in=names)


class OwnerFilter(MonitorFilter):
    title = "owner"
    parameter_name = "owner"
    option = "owner"


class SeverityFilter(MonitorFilter):
    title = "severity"
    parameter_name = "severity"
    option = "severity"


def applied(request: HttpRequest) -> dict[str, Monitor]:
    """The applied monitors by name (``observe.rows.read_monitors``), read once per request."""
    found: dict[str, Monitor] | None = getattr(request, "_reconciler_monitors", None)
    if found is None:
        from ..observe.rows import read_monitors  # start-up: docs/architecture.md, "The import rules"

        found = read_monitors()
        request._reconciler_monitors = found  # type: ignore[attr-defined]
    return found


def labelled(request: HttpRequest) -> bool:
    """Whether some applied monitor names an owner or a severity."""
    return any(m.owner or m.severity for m in applied(request).values())


def owner_cell(owned: Any) -> str:
    """The owner, its severity after it; "—" when the schedule names none."""
    monitor = Monitor.from_json(owned.monitor if owned is not None else "")
    if not monitor.owner and not monitor.severity:
        return "—"
    if not monitor.severity:
        return monitor.owner
    return format_html('{} <span class="reconciler-severity">{}</span>', monitor.owner or "—", monitor.severity)
