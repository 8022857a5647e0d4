"""``/api/schedules/{name}/run/``, ``suspend/``, ``resume/``: the operations on one schedule.
Thin shells over ``reconciler.operate``."""
from __future__ import annotations

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from ..operate import resume, run_schedule, suspend
from ..pipeline import database_errors
from . import serializers as s
from .base import ReconcilerView, who
from .openapi import extend_schema
from .permissions import RUN, SUSPEND
from .schedules import ERRORS, NAME


class RunSchedule(ReconcilerView):
    """Send the schedule's task now, exactly as beat would send it."""

    permission = RUN

    @extend_schema(
        operation_id="schedules_run", parameters=[NAME], request=None,
        responses={202: s.SentSerializer, 404: s.ErrorSerializer, 409: s.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        with database_errors():
            task_id = run_schedule(name, by=who(request))
            task = _task_of(name)
        return Response({"name": name, "task": task, "id": task_id, "eta": None}, status=status.HTTP_202_ACCEPTED)


def _task_of(name: str) -> str:
    from django_celery_beat.models import PeriodicTask

    return str(PeriodicTask.objects.filter(name=name).values_list("task", flat=True).first() or "")


class SuspendSchedule(ReconcilerView):
    """Pause a managed schedule (disabled until resumed, whatever git declares)."""

    permission = SUSPEND

    @extend_schema(
        operation_id="schedules_suspend", parameters=[NAME], request=s.SuspendSerializer,
        responses={200: s.SuspendedSerializer, 400: s.ErrorSerializer, 404: s.ErrorSerializer,
                   409: s.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        body = s.SuspendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with database_errors():
            suspension = suspend(name, body.validated_data["reason"], by=who(request))
        return Response({
            "name": name,
            "suspended": {"at": suspension.at.isoformat(), "by": suspension.by, "reason": suspension.reason},
        })


class ResumeSchedule(ReconcilerView):
    """End a suspension: the row is written as git declares it, at once."""

    permission = SUSPEND

    @extend_schema(
        operation_id="schedules_resume", parameters=[NAME], request=None,
        responses={200: s.ResumedSerializer, 404: s.ErrorSerializer, 409: s.ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        with database_errors():
            result = resume(name, by=who(request))
        return Response({"name": name, "declared": result.declared, "plan": result.plan.to_json()})
