from __future__ import annotations

from django.urls import path

from ..extras import require

require("api", "the reconciler API (reconciler.api.urls)")
from . import views  # noqa: E402  (Django REST framework: the [api] extra)

app_name = "reconciler"
urlpatterns = [
    path("tasks/", views.TaskCatalogue.as_view(), name="tasks"),
    path("schedules/", views.ScheduleStatus.as_view(), name="schedules"),
    path("schedules/<path:name>/run/", views.RunNow.as_view(), name="run"),
    path("validate/", views.Validate.as_view(), name="validate"),
    path("plan/", views.PlanView.as_view(), name="plan"),
]
