"""``/api/``: the endpoint list, plan and apply. The other endpoints live in ``schedules``,
``tasks`` and ``validation``; every view is a thin shell over a pipeline function."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from ..engine.apply import ApplyOptions
from ..pipeline import apply_paths, plan_paths
from . import serializers as s
from .base import ReconcilerView, who
from .errors import Unprocessable
from .openapi import extend_schema
from .permissions import APPLY
from .validation import validation_json

ERRORS = {401: s.ErrorSerializer, 403: s.ErrorSerializer, 503: s.ErrorSerializer}
ENDPOINTS = (
    ("schedules", "schedules", "GET: every schedule and its status (?state=, ?managed=, ?task=)"),
    ("tasks", "tasks", "GET: the catalogue of registered Celery tasks"),
    ("validate", "validate", "POST: validate the schedules folder or posted files"),
    ("plan", "plan", "GET: what apply would change (plan JSON)"),
    ("apply", "apply", "POST: apply the server's schedules folder"),
    ("schema", "schema", "GET: the OpenAPI 3 schema"),
    ("docs", "docs", "GET: the API documentation (HTML)"),
)

ENDPOINT = inline_serializer("Endpoint", {"url": serializers.CharField(), "description": serializers.CharField()})


class Root(ReconcilerView):
    """The endpoints of this API."""

    permission = None

    @extend_schema(
        operation_id="root",
        responses={200: inline_serializer("Endpoints", {"endpoints": serializers.DictField(child=ENDPOINT)}),
                   401: s.ErrorSerializer, 403: s.ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response({"endpoints": {
            key: {"url": reverse(f"reconciler:{route}", request=request), "description": text}
            for key, route, text in ENDPOINTS
        }})


class PlanView(ReconcilerView):
    """What apply would change: the same JSON as ``reconcile plan --format json``."""

    @extend_schema(operation_id="plan", responses={200: s.PlanSerializer, 422: s.ValidationSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        result = plan_paths()
        if result.plan is None:
            raise Unprocessable(validation_json(result.validation))
        return Response(result.plan.to_json())


class ApplyView(ReconcilerView):
    """Apply the server's schedules folder (a deploy hook), in one transaction."""

    permission = APPLY

    @extend_schema(
        operation_id="apply", request=None,
        responses={200: s.ApplySerializer, 409: s.ErrorSerializer, 422: s.ValidationSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        outcome = apply_paths(options=ApplyOptions(django_user=who(request)))
        if outcome.invalid is not None:
            raise Unprocessable(validation_json(outcome.invalid))
        result = outcome.result
        assert result is not None
        return Response({"written": result.written, "record_id": result.record_id, "plan": result.plan.to_json()})


class NotFound(ReconcilerView):
    """Any other URL under the API: a JSON 404 (not Django's HTML page)."""

    permission = None
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        hint = f"; did you mean {request.path}/ ?" if _with_slash_exists(request.path) else ""
        raise exceptions.NotFound(f"no such endpoint: see {reverse('reconciler:root')} for the list{hint}")


def _with_slash_exists(url: str) -> bool:
    from django.urls import Resolver404, resolve

    if url.endswith("/"):
        return False
    try:
        return resolve(url + "/").url_name != "not-found"
    except Resolver404:
        return False
