"""The catalogue of registered Celery tasks in the admin, and an ad-hoc run of one: its
arguments checked against the task's signature first (the ``bad-arguments`` text of
``validate``), sent now or at an ETA."""
from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.forms.fields import InvalidJSONInput
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from ..core.errors import ReconcilerError, UnknownName
from ..declare.catalogue import TaskEntry, catalogue

VIEW = "reconciler.view_managedtask"
RUN = "reconciler.run_schedule"


def catalogue_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW):
        raise PermissionDenied
    return TemplateResponse(request, "admin/reconciler/catalogue.html", {
        **admin.site.each_context(request), "title": "Task catalogue", "can_run": request.user.has_perm(RUN),
        "tasks": [{"entry": entry, "doc": doc_html(entry.doc)} for entry in catalogue()],
    })


class BoundedJSONField(forms.JSONField):
    """JSON nested too deep for the parser is a form error, not a RecursionError (a 500)."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError("the JSON is nested too deep", code="invalid") from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)


class OffsetDateTimeField(forms.DateTimeField):
    """A moment with its UTC offset: a naive one is refused, as the API refuses it."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            from ..operate.run import eta_problem  # start-up: docs/architecture.md, "The import rules"

            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            problem = eta_problem(parsed) if parsed is not None else None
            if problem:
                raise forms.ValidationError(problem, code="naive")
        return super().to_python(value)


LITERAL = re.compile(r"``(.+?)``|`([^`]+)`")


def doc_html(text: str) -> str:
    """A docstring line for the page: reStructuredText literals (````x````, ```x```) as code."""
    parts, last = [], 0
    for found in LITERAL.finditer(text):
        parts.append(format_html("{}<code>{}</code>", text[last:found.start()], found.group(1) or found.group(2)))
        last = found.end()
    return mark_safe("".join(parts) + conditional_escape(text[last:]))  # each part escaped above


class RunForm(forms.Form):
    args = BoundedJSONField(label="Positional arguments", initial=list, required=False,
                           widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    kwargs = BoundedJSONField(label="Keyword arguments", initial=dict, required=False,
                             widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    eta = OffsetDateTimeField(label="Run at", required=False,
                              help_text="Optional: run at this moment (ISO 8601, e.g. 2026-12-01T08:00:00+01:00); "
                                        "empty: now.")

    def __init__(self, *args: Any, task: str, entry: TaskEntry | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task = task
        if entry is not None:
            self.fields["args"].help_text = _args_help(entry)
            self.fields["kwargs"].help_text = _kwargs_help(entry)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        arguments, keywords = data.get("args") or [], data.get("kwargs") or {}
        if not isinstance(arguments, list):
            self.add_error("args", "args is a JSON list")
        if not isinstance(keywords, dict):
            self.add_error("kwargs", "kwargs is a JSON object")
        if self.errors:
            return data
        eta = data.get("eta")
        if eta is not None and timezone.is_naive(eta):
            data["eta"] = eta = timezone.make_aware(eta)
        from ..operate import AdHocRun, argument_problem  # start-up: docs/architecture.md, "The import rules"
        from ..pipeline import default_registry

        run = AdHocRun(self.task, arguments, keywords, eta)
        problem = argument_problem(run, default_registry())
        if problem:
            raise forms.ValidationError(problem, code="bad-arguments")
        data["run"] = run
        return data


def _args_help(entry: TaskEntry) -> str:
    if entry.positional:
        return f"A JSON list of the positional arguments it requires: {entry.positional}."
    return "A JSON list of positional arguments; this task requires none."


def _kwargs_help(entry: TaskEntry) -> str:
    if entry.keywords_example:
        return f"A JSON object of keyword arguments, e.g. its defaults: {entry.keywords_example}"
    return "A JSON object of keyword arguments."


def run_view(request: HttpRequest, task: str) -> HttpResponse:
    from ..operate import run_task  # start-up: docs/architecture.md, "The import rules"

    if not request.user.has_perm(RUN):
        raise PermissionDenied
    entry = next((t for t in catalogue(include_celery=True) if t.name == task), None)
    if entry is None:
        raise Http404(f"no task named {task!r} is registered")
    form = RunForm(request.POST or None, task=task, entry=entry)
    if request.method == "POST" and form.is_valid():
        try:
            task_id = run_task(form.cleaned_data["run"], by=str(request.user.get_username()))
        except (ReconcilerError, UnknownName) as exc:
            form.add_error(None, str(exc))
        else:
            when = f" at {form.cleaned_data['eta'].isoformat()}" if form.cleaned_data.get("eta") else ""
            messages.success(request, f"Sent {task}{when}: Celery task id {task_id}.")
            return HttpResponseRedirect(reverse("admin:reconciler_catalogue"))
    return TemplateResponse(request, "admin/reconciler/catalogue_run.html", {
        **admin.site.each_context(request), "title": f"Run {task}", "task": entry, "doc": doc_html(entry.doc),
        "form": form,
    })
