from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rest_framework import status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..errors import ReconcilerError
from ..pipeline import celery_app, database_errors, default_registry, plan_paths, validate_paths
from ..read import read_actual
from ..render.diagnostics import diagnostic_json
from ..status import next_runs, statuses


class StaffAPIView(APIView):
    permission_classes = [IsAdminUser]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ReconcilerError):
            return Response({"error": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return super().handle_exception(exc)


class TaskCatalogue(StaffAPIView):
    """Every task the Celery app registers, its signature, and the schedules that use it."""

    def get(self, request: Request) -> Response:
        registry = default_registry()
        used: dict[str, list[str]] = {}
        for item in validate_paths(registry=registry).declared.tasks:
            used.setdefault(item.spec.task, []).append(item.name)
        tasks = [
            {"name": name, "signature": str(signature) if signature else None, "schedules": sorted(used.get(name, []))}
            for name, signature in sorted(registry.signatures.items())
        ]
        return Response({"tasks": tasks})


class ScheduleStatus(StaffAPIView):
    """Each declared or existing schedule: in-sync, drifted, pending, orphaned, conflict or
    unmanaged, with its last and next run."""

    def get(self, request: Request) -> Response:
        now = datetime.now(UTC)
        result = plan_paths(now=now)
        if result.plan is None:
            return Response(_validation_json(result.validation), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        with database_errors():
            rows = statuses(result.validation.declared, read_actual(), result.plan, next_runs(now))
        return Response({"schedules": [row.to_json() for row in rows]})


class Validate(StaffAPIView):
    """The schedules folder, or the files posted as ``{"files": {"name.yaml": "text"}}``."""

    def post(self, request: Request) -> Response:
        files = request.data.get("files") if isinstance(request.data, dict) else None
        if not files:
            return Response(_validation_json(validate_paths()))
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            return Response({"error": "files is a mapping of file name to YAML text"}, status=400)
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                target = Path(tmp) / Path(str(name)).name
                target.write_text(text, encoding="utf-8")
            payload = _validation_json(validate_paths([Path(tmp)]), strip=tmp)
        return Response(payload)


class PlanView(StaffAPIView):
    """What apply would change: the same JSON contract as ``reconcile plan --format json``."""

    def get(self, request: Request) -> Response:
        result = plan_paths()
        if result.plan is None:
            return Response(_validation_json(result.validation), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(result.plan.to_json())


class RunNow(StaffAPIView):
    """Send one scheduled task now, with its declared arguments and options (as beat would)."""

    def post(self, request: Request, name: str) -> Response:
        from django_celery_beat.models import PeriodicTask

        with database_errors():
            row = PeriodicTask.objects.filter(name=name).first()
        if row is None:
            return Response({"error": f"no schedule named {name!r}"}, status=status.HTTP_404_NOT_FOUND)
        options: dict[str, Any] = {k: getattr(row, k) for k in ("queue", "exchange", "routing_key", "priority")
                                   if getattr(row, k) is not None}
        headers = {**json.loads(row.headers or "{}"), "periodic_task_name": row.name}
        sent = celery_app().send_task(
            row.task, args=json.loads(row.args or "[]"), kwargs=json.loads(row.kwargs or "{}"),
            headers=headers, **options,
        )
        return Response({"name": name, "task": row.task, "id": sent.id}, status=status.HTTP_202_ACCEPTED)


def _validation_json(validation: Any, strip: str | None = None) -> dict[str, Any]:
    diagnostics = [diagnostic_json(d) for d in validation.diagnostics]
    if strip:
        for d in diagnostics:
            if isinstance(d["file"], str):
                d["file"] = Path(d["file"]).name
    return {"valid": validation.valid, "checked": validation.checked, "diagnostics": diagnostics}
