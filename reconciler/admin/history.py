"""The reconciler's own tables in the admin, read-only: ownership (with suspensions), the
apply history (each plan rendered as the CLI's text plan) and the operations log."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from ..core.plan_record import read_plan
from ..models import ApplyRecord, ManagedTask, OperationRecord
from ..observe.sync import repository_path
from ..render.plan import render_text
from .display import breakable, moment


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ManagedTask)
class ManagedTaskAdmin(ReadOnlyAdmin):
    list_display = ("periodic_task", "source", "declared_in", "applied_at", "applied_revision", "suspended_at",
                    "suspended_by", "suspend_reason")
    list_filter = ("source", ("suspended_at", admin.EmptyFieldListFilter))
    search_fields = ("periodic_task__name", "source_file", "suspend_reason")
    list_select_related = ("periodic_task",)

    @admin.display(description="declared in")
    def declared_in(self, obj: ManagedTask) -> str:
        path = repository_path(obj.source_file)
        return f"{path}:{obj.source_line}" if obj.source_line else path


PLAN = '<pre class="reconciler-plan" style="white-space: pre-wrap; overflow-wrap: anywhere; margin: 0">{}</pre>'


@admin.register(ApplyRecord)
class ApplyRecordAdmin(ReadOnlyAdmin):
    # Narrow enough for 1400 px: the counts in one column, who and where in another.
    list_display = ("started", "outcome", "changes", "duration_ms", "by", "revision")
    list_filter = ("outcome",)
    fields = ("started", "duration_ms", "os_user", "django_user", "host", "revision", "outcome", "created", "updated",
              "deleted", "unchanged", "message", "plan_text")
    readonly_fields = ("started", "plan_text")

    @admin.display(description="started at", ordering="started_at")
    def started(self, obj: ApplyRecord) -> str:
        return moment(obj.started_at)

    @admin.display(description="changes")
    def changes(self, obj: ApplyRecord) -> str:
        return f"+{obj.created} ~{obj.updated} -{obj.deleted} ({obj.unchanged} unchanged)"

    @admin.display(description="by", ordering="os_user")
    def by(self, obj: ApplyRecord) -> str:
        who = f"{obj.django_user} ({obj.os_user})" if obj.django_user else obj.os_user
        return f"{who or '—'}@{obj.host}" if obj.host else who or "—"

    @admin.display(description="plan")
    def plan_text(self, obj: ApplyRecord) -> str:
        if not obj.plan:
            return "(no plan: the apply failed before one was made)"
        return format_html(PLAN, render_text(read_plan(obj.plan)))


@admin.register(OperationRecord)
class OperationRecordAdmin(ReadOnlyAdmin):
    list_display = ("when", "action", "name", "task", "user", "reason", "celery_task")
    list_filter = ("action",)
    search_fields = ("name", "task", "user", "reason", "celery_id")
    fields = ("when", "action", "name", "task", "user", "reason", "celery_id", "plan_text")
    readonly_fields = ("when", "plan_text")

    @admin.display(description="at", ordering="at")
    def when(self, obj: OperationRecord) -> str:
        return moment(obj.at)

    @admin.display(description="Celery task id", ordering="celery_id")
    def celery_task(self, obj: OperationRecord) -> str:
        return breakable(obj.celery_id, "-") if obj.celery_id else "—"

    @admin.display(description="written (resume)")
    def plan_text(self, obj: OperationRecord) -> str:
        return format_html(PLAN, render_text(read_plan(obj.plan))) if obj.plan else "—"
