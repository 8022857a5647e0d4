"""Admin actions on PeriodicTask rows: Run now (as beat sends it), Suspend… (asks why, on an
intermediate page) and Resume; each behind its permission. Thin shells over ``operate``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Case, QuerySet, Value, When
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_celery_beat.models import PeriodicTasks

from ..core.errors import OperationRefused, ReconcilerError, UnknownName


def _user(request: HttpRequest) -> str:
    return str(request.user.get_username())


@admin.action(description="Run now (send what beat would send)", permissions=["run"])
def run_now(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    from ..operate import run_schedule  # start-up: docs/architecture.md, "The import rules"

    for row in queryset.order_by("name"):
        try:
            task_id = run_schedule(row.name, by=_user(request))
        except (OperationRefused, UnknownName) as exc:
            model_admin.message_user(request, str(exc), messages.ERROR)
            continue
        sent = f"Sent {row.task} for {row.name}: Celery task id {task_id}."
        model_admin.message_user(request, sent, messages.SUCCESS)


class SuspendForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000,
        help_text="Why? Recorded with your name, shown in the admin, plan and status.",
    )


@admin.action(description="Suspend… (pause without a pull request)", permissions=["suspend"])
def suspend(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse | None:
    from ..operate import suspend as suspend_schedule  # start-up: docs/architecture.md, "The import rules"

    form = SuspendForm(request.POST if "reason" in request.POST else None)
    if not form.is_valid():
        return TemplateResponse(request, "admin/reconciler/periodictask/suspend.html", {
            **model_admin.admin_site.each_context(request),
            "title": "Suspend schedules", "form": form, "queryset": queryset.order_by("name"),
            "opts": model_admin.model._meta, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": model_admin.media,
        })
    for row in queryset.order_by("name"):
        try:
            suspension = suspend_schedule(row.name, form.cleaned_data["reason"], by=_user(request))
        except ReconcilerError as exc:
            model_admin.message_user(request, str(exc), messages.ERROR)
            continue
        said = f"Suspended {row.name} (by {suspension.by}): {suspension.reason}. It stays disabled until resumed."
        model_admin.message_user(request, said, messages.SUCCESS)
    return None


@admin.action(description="Resume (back to what git declares)", permissions=["suspend"])
def resume(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    from ..operate import resume as resume_schedule  # start-up: docs/architecture.md, "The import rules"

    for row in queryset.order_by("name"):
        try:
            result = resume_schedule(row.name, by=_user(request))
        except ReconcilerError as exc:
            model_admin.message_user(request, str(exc), messages.ERROR)
            continue
        tail = "it now matches git" if result.declared else "it is no longer in git: the next apply deletes it"
        model_admin.message_user(request, f"Resumed {row.name}: {tail}.", messages.SUCCESS)


def unmanaged_only(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any], verb: str) -> None:
    """django-celery-beat's enable/disable/toggle, on unmanaged rows only (git decides whether
    a managed row is enabled; an operator suspends it instead), said in one message."""
    rows = list(queryset.order_by("name").values_list("name", "managed_by"))
    changed = [name for name, owner in rows if owner is None]
    skipped = [name for name, owner in rows if owner is not None]
    if changed:
        WRITES[verb](queryset.filter(managed_by__isnull=True))
        PeriodicTasks.update_changed()
    model_admin.message_user(request, toggled_message(verb, changed, skipped),
                             messages.WARNING if skipped else messages.SUCCESS)


def toggled_message(verb: str, changed: list[str], skipped: list[str]) -> str:
    done = f"{verb.capitalize()}d {_count(changed)}: {_names(changed)}." if changed else f"Nothing {verb}d."
    if not skipped:
        return done
    return (f"{done} Left {_count(skipped, 'managed ')} as git declares {'it' if len(skipped) == 1 else 'them'} "
            f"({_names(skipped)}): git decides whether a managed schedule runs; use Suspend… to pause it.")


def _count(names: list[str], kind: str = "") -> str:
    return f"{len(names)} {kind}schedule{'' if len(names) == 1 else 's'}"


def _names(names: list[str], limit: int = 5) -> str:
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


WRITES: dict[str, Callable[[QuerySet[Any]], object]] = {
    "enable": lambda rows: rows.update(enabled=True),
    "disable": lambda rows: rows.update(enabled=False, last_run_at=None),  # as beat's own action
    "toggle": lambda rows: rows.update(enabled=Case(When(enabled=True, then=Value(False)), default=Value(True))),
}
