"""The reconciler's own tables in the admin, read-only: ownership (with suspensions), the
apply history (each plan rendered as the CLI's text plan) and the operations log."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from ..models import ApplyRecord, ManagedTask, OperationRecord
from ..plan import plan_from_json
from ..render.plan import render_text
from ..status import display_path


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
        path = display_path(obj.source_file)
        return f"{path}:{obj.source_line}" if obj.source_line else path


@admin.register(ApplyRecord)
class ApplyRecordAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "outcome", "created", "updated", "deleted", "unchanged", "duration_ms",
                    "os_user", "django_user", "host", "revision")
    list_filter = ("outcome",)
    readonly_fields = ("plan_text",)
    exclude = ("plan",)

    @admin.display(description="plan")
    def plan_text(self, obj: ApplyRecord) -> str:
        if not obj.plan:
            return "(no plan: the apply failed before one was made)"
        return format_html('<pre class="reconciler-plan">{}</pre>', render_text(plan_from_json(obj.plan)))


@admin.register(OperationRecord)
class OperationRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "name", "task", "user", "reason", "celery_id")
    list_filter = ("action",)
    search_fields = ("name", "task", "user", "reason", "celery_id")
    readonly_fields = ("plan_text",)
    exclude = ("plan",)

    @admin.display(description="written (resume)")
    def plan_text(self, obj: OperationRecord) -> str:
        return format_html("<pre>{}</pre>", render_text(plan_from_json(obj.plan))) if obj.plan else "—"
