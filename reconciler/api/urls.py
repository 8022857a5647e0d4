"""The REST API: schedules and their status, the task catalogue, validate, plan, apply, and
the operations (run, suspend, resume). Include it under a prefix: ``path("api/", include(...))``."""
from __future__ import annotations

from django.urls import path, re_path, register_converter

from ..core.extras import require

require("api", "the reconciler API (reconciler.api.urls)")
from . import operations, schedules, tasks, validation, views  # noqa: E402  (the [api] extra)
from .openapi import Docs, Schema, docs_asset  # noqa: E402

app_name = "reconciler"


class AnyName:
    """A schedule or task name: any characters, slashes and line breaks included (Django's
    ``path`` converter stops at a line break)."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyName, "anyname")


urlpatterns = [
    path("", views.Root.as_view(), name="root"),
    path("schema/", Schema.as_view(), name="schema"),
    path("docs/", Docs.as_view(), name="docs"),
    path("docs/assets/<str:name>", docs_asset, name="docs-asset"),
    path("schedules/", schedules.ScheduleList.as_view(), name="schedules"),
    path("schedules/<anyname:name>/run/", operations.RunSchedule.as_view(), name="run"),
    path("schedules/<anyname:name>/suspend/", operations.SuspendSchedule.as_view(), name="suspend"),
    path("schedules/<anyname:name>/resume/", operations.ResumeSchedule.as_view(), name="resume"),
    path("schedules/<anyname:name>/runs/", schedules.ScheduleRuns.as_view(), name="runs"),
    path("schedules/<anyname:name>/skipped-runs/", schedules.ScheduleSkippedRuns.as_view(), name="skipped-runs"),
    path("schedules/<anyname:name>/", schedules.ScheduleDetail.as_view(), name="schedule"),
    path("tasks/", tasks.TaskCatalogue.as_view(), name="tasks"),
    path("tasks/<anyname:name>/run/", tasks.RunTask.as_view(), name="run-task"),
    path("validate/", validation.Validate.as_view(), name="validate"),
    path("plan/", views.PlanView.as_view(), name="plan"),
    path("apply/", views.ApplyView.as_view(), name="apply"),
    re_path(r"^[\s\S]*$", views.NotFound.as_view(), name="not-found"),  # JSON, not Django's HTML page
]
