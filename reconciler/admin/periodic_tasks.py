"""django-celery-beat's PeriodicTask admin, replaced (same URLs): which rows git manages,
where they are declared, their status, health and next run; each row's last runs on its page;
a forecast page. Managed rows are read-only and cannot be deleted here; unmanaged rows keep
django-celery-beat's behaviour."""
from __future__ import annotations

from types import ModuleType
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from ..core.reasons import SUSPENSION
from ..models import ManagedTask
from ..observe.sync import STATES, repository_path, source_url
from ..render.words import iso
from . import actions as operations
from . import catalogue
from . import monitors as monitored
from .display import breakable, breakable_moment, moment
from .state import LABELS, AdminState, attach_next_runs, state_of


def observed() -> ModuleType:
    """``admin.observe`` (health, runs, the forecast: the ``observe`` package), imported by the
    first page that shows them."""
    from . import observe  # start-up: docs/architecture.md, "The import rules"

    return observe


def managed_of(obj: PeriodicTask | None) -> ManagedTask | None:
    return getattr(obj, "managed_by", None) if obj is not None and obj.pk else None


class ManagedFilter(admin.SimpleListFilter):
    title = "managed"
    parameter_name = "managed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "declared in git"), ("no", "unmanaged")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(managed_by__isnull=self.value() == "no")
        return queryset


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(state, LABELS[state]) for state in STATES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        rows = state_of(request).rows
        return queryset.filter(name__in=[name for name, row in rows.items() if row.state == self.value()])


class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    # Narrow enough for 1400 px beside the admin's two sidebars: whether a row is managed shows
    # as where it is declared ("—": unmanaged); paths and task names break at "/" and ".".
    list_display = ("name", "declared_in", "status", "next_run", "enabled", "task_name", "last_run")
    list_filter = (ManagedFilter, StatusFilter, monitored.OwnerFilter, monitored.SeverityFilter, "enabled", "one_off",
                   "task")
    search_fields = ("name", "task")
    actions = ("run_now", "suspend", "resume", "enable_tasks", "disable_tasks", "toggle_tasks")
    change_form_template = "admin/reconciler/periodictask/change_form.html"
    change_list_template = "admin/reconciler/periodictask/change_list.html"
    date_hierarchy = None  # beat's is on start_time, which our rows leave empty: a bar of nonsense dates

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("managed_by")

    def get_list_display(self, request: HttpRequest) -> Any:
        """Health after the status, when the runs are recorded (django-celery-results): it
        says when the last run was (its tooltip), in place of the last run column. The owner
        after the task, once some schedule's monitor names an owner or a severity."""
        shown = list(super().get_list_display(request))
        if monitored.labelled(request):
            shown.insert(shown.index("task_name") + 1, "owner")
        if observed().available():
            shown.insert(shown.index("status") + 1, "health")
            shown.remove("last_run")
        return shown

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if observed().available():
            filters.insert(filters.index(StatusFilter) + 1, observed().HealthFilter)
        return filters

    # -- columns ----------------------------------------------------------------------------

    @admin.display(boolean=True, description="managed", ordering="managed_by")
    def managed(self, obj: PeriodicTask) -> bool:
        return managed_of(obj) is not None

    @admin.display(description="declared in")
    def declared_in(self, obj: PeriodicTask) -> str:
        owned = managed_of(obj)
        if owned is None:
            return "—"
        where = repository_path(owned.source_file) + (f":{owned.source_line}" if owned.source_line else "")
        link = source_url(owned.source_file, owned.source_line)
        return format_html('<a href="{}">{}</a>', link, breakable(where, "/")) if link else breakable(where, "/")

    @admin.display(description="task", ordering="task")
    def task_name(self, obj: PeriodicTask) -> str:
        return breakable(obj.task, "._")

    @admin.display(description="owner")
    def owner(self, obj: PeriodicTask) -> str:
        return monitored.owner_cell(managed_of(obj))

    @admin.display(description="status")
    def status(self, obj: PeriodicTask) -> str:
        state: AdminState = obj._reconciler_state  # type: ignore[attr-defined]
        row = state.rows.get(obj.name)
        if row is not None and row.suspension is not None:
            reason = row.suspension.reason
            short = reason if len(reason) <= 40 else reason[:39] + "…"
            return format_html('<span title="{}">suspended: {}</span>', row.suspension.describe(), short)
        return state.label(obj.name)

    @admin.display(description="health")
    def health(self, obj: PeriodicTask) -> str:
        return observed().health_cell(obj)

    @admin.display(description="next run")
    def next_run(self, obj: PeriodicTask) -> str:
        """The exact slot, written as everywhere (``render.words.iso``): in the cron's zone, else the site's."""
        due = obj._reconciler_state.next_run.get(obj.name)  # type: ignore[attr-defined]
        if due is None:
            return "—"
        zone = str(obj.crontab.timezone) if obj.crontab_id else timezone.get_current_timezone()  # type: ignore[attr-defined]
        return breakable_moment(iso(due, zone))

    @admin.display(description="last run", ordering="last_run_at")
    def last_run(self, obj: PeriodicTask) -> str:
        return breakable_moment(moment(obj.last_run_at))

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The page's rows carry the request's state (computed once) for the columns."""
        changelist = super().get_changelist_instance(request)
        state = state_of(request)
        for obj in changelist.result_list:
            obj._reconciler_state = state
        attach_next_runs(state, [obj.name for obj in changelist.result_list])
        if observed().available():
            observed().attach_health(changelist.result_list)
        return changelist

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        state = state_of(request)
        if not state.valid:
            messages.warning(request, f"The schedules folder does not validate ({state.errors} error(s)): "
                                      "statuses are unknown until it does (reconcile validate).")
        context = {**(extra_context or {}), "catalogue_url": reverse("admin:reconciler_catalogue"),
                   "forecast_url": reverse("admin:reconciler_forecast")}
        return super().changelist_view(request, context)

    # -- managed rows: read-only, not deletable ------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """A read-only page has no use for beat's "registered task" picker (it reads "Regtask: None")."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [(title, {**options, "fields": tuple(f for f in options["fields"] if f != "regtask")})
                for title, options in fieldsets]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return managed_of(obj) is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return managed_of(obj) is None and super().has_delete_permission(request, obj)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> Any:
        context = dict(extra_context or {})
        obj = self.get_object(request, object_id) if object_id else None
        owned = managed_of(obj)
        if owned is not None and obj is not None:
            context["reconciler"] = _banner(request, obj, owned)
        if obj is not None and observed().available():
            context["observe"] = observed().runs_context(request, obj)
        if obj is not None:
            context["tracked"] = observed().tracked_context(obj)
        return super().changeform_view(request, object_id, form_url, context)

    # -- actions -------------------------------------------------------------------------

    run_now = operations.run_now
    suspend = operations.suspend
    resume = operations.resume

    def has_run_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("reconciler.run_schedule"))

    def has_suspend_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("reconciler.suspend_schedule"))

    def enable_tasks(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        operations.unmanaged_only(self, request, queryset, "enable")

    def disable_tasks(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        operations.unmanaged_only(self, request, queryset, "disable")

    def toggle_tasks(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        operations.unmanaged_only(self, request, queryset, "toggle")

    enable_tasks.short_description = BeatPeriodicTaskAdmin.enable_tasks.short_description  # type: ignore[attr-defined]
    disable_tasks.short_description = BeatPeriodicTaskAdmin.disable_tasks.short_description  # type: ignore[attr-defined]
    toggle_tasks.short_description = BeatPeriodicTaskAdmin.toggle_tasks.short_description  # type: ignore[attr-defined]

    # -- the task catalogue, the forecast -------------------------------------------------

    def forecast_view(self, request: HttpRequest) -> HttpResponse:
        return observed().forecast_view(self, request)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("catalogue/", view(catalogue.catalogue_view), name="reconciler_catalogue"),
            path("forecast/", view(self.forecast_view), name="reconciler_forecast"),
            path("catalogue/<path:task>/run/", view(catalogue.run_view), name="reconciler_catalogue_run"),
            *super().get_urls(),
        ]


def _banner(request: HttpRequest, obj: PeriodicTask, owned: ManagedTask) -> dict[str, Any]:
    """The managed row's banner: where it is declared, its status, its suspension (said once:
    the plan's reasons repeat it, so they are left out here)."""
    where = repository_path(owned.source_file) + (f":{owned.source_line}" if owned.source_line else "")
    row = state_of(request).rows.get(obj.name)
    suspension = row.suspension if row else None
    return {
        "where": where, "url": source_url(owned.source_file, owned.source_line),
        "status": state_of(request).label(obj.name), "suspension": suspension,
        "reasons": tuple(r.words for r in (row.reasons if row else ()) if r.kind not in SUSPENSION),
    }


if admin.site.is_registered(PeriodicTask):
    admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
