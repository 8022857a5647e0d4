"""Index entries for the reconciler's own pages (the task catalogue, the forecast): the Django
way to list a page in an app's section of the admin index is a registered model, here a proxy
without data whose list redirects to the page."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django_celery_beat.models import PeriodicTask

from ..models import CataloguePage, ForecastPage
from .catalogue import VIEW


class PageEntry(admin.ModelAdmin):
    """No rows to add, change or delete: viewing the entry opens ``page``."""

    page = ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse(self.page))

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.changelist_view), name="{}_{}_changelist".format(*info))]


@admin.register(CataloguePage)
class CataloguePageAdmin(PageEntry):
    page = "admin:reconciler_catalogue"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(VIEW))


@admin.register(ForecastPage)
class ForecastPageAdmin(PageEntry):
    page = "admin:reconciler_forecast"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        schedules = self.admin_site._registry.get(PeriodicTask)
        return bool(schedules and schedules.has_view_or_change_permission(request))
