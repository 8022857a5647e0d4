"""``/api/tasks/``: the catalogue of registered Celery tasks, and an ad-hoc run of one, with
its arguments bound to the task's signature first (as ``validate`` binds declared ones)."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from ..declare.catalogue import catalogue
from ..operate import AdHocRun, argument_problem, run_task
from ..pipeline import database_errors, default_registry
from . import serializers as s
from .base import ReconcilerView, who
from .openapi import extend_schema
from .permissions import RUN

ERRORS = {401: s.ErrorSerializer, 403: s.ErrorSerializer, 503: s.ErrorSerializer}


class TaskCatalogue(ReconcilerView):
    """Every task the Celery app registers: signature, docstring, the schedules using it."""

    @extend_schema(operation_id="tasks_list", responses={200: s.CatalogueSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        with database_errors():
            entries = catalogue()
        return Response({"tasks": [entry.to_json() for entry in entries]})


class RunTask(ReconcilerView):
    """Send a registered task once (now, or at ``eta``), its arguments checked first."""

    permission = RUN

    @extend_schema(
        operation_id="tasks_run",
        parameters=[OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="the task name")],
        request=s.RunTaskSerializer,
        responses={202: s.SentSerializer, 400: s.ArgumentsRefusedSerializer, 404: s.ErrorSerializer,
                   409: s.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        body = s.RunTaskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = AdHocRun(name, list(body.validated_data["args"]), dict(body.validated_data["kwargs"]),
                       body.validated_data["eta"])
        problem = argument_problem(run, default_registry())
        if problem:
            return Response({"error": problem, "diagnostics": [_bad_arguments(name, problem)]},
                            status=status.HTTP_400_BAD_REQUEST)
        with database_errors():
            task_id = run_task(run, by=who(request))
        eta = run.eta.isoformat() if run.eta else None
        return Response({"name": "", "task": name, "id": task_id, "eta": eta}, status=status.HTTP_202_ACCEPTED)


def _bad_arguments(task: str, message: str) -> dict[str, object]:
    """The diagnostic ``validate`` gives arguments that do not bind (same code, same text)."""
    return {"severity": "error", "code": "bad-arguments", "message": message, "file": None, "line": None,
            "column": None, "name": task, "hint": None}
