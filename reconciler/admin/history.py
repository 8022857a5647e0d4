"""The reconciler's tables in the Django admin: read-only, since git is the source of truth."""
from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from ..models import ApplyRecord, ManagedTask


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ManagedTask)
class ManagedTaskAdmin(ReadOnlyAdmin):
    list_display = ("periodic_task", "source", "applied_at", "applied_revision")
    search_fields = ("periodic_task__name", "source_file")
    list_select_related = ("periodic_task",)

    @admin.display(description="declared in")
    def source(self, obj: ManagedTask) -> str:
        return f"{obj.source_file}:{obj.source_line}" if obj.source_line else obj.source_file


@admin.register(ApplyRecord)
class ApplyRecordAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "outcome", "created", "updated", "deleted", "unchanged", "duration_ms",
                    "os_user", "django_user", "host", "revision")
    list_filter = ("outcome",)
    readonly_fields = ("pretty_plan",)
    exclude = ("plan",)

    @admin.display(description="plan")
    def pretty_plan(self, obj: ApplyRecord) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.plan, indent=2, ensure_ascii=False))
