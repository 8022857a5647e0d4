"""Errors as the API says them: a JSON body with an ``error`` message, never a stack trace.

Fatal pipeline conditions (``ReconcilerError``) map to HTTP statuses here, in one place, as
the management command maps them to exit codes. Anything unexpected is logged with its
traceback on the server and answered with a bare JSON 500.
"""
from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..core.errors import (
    DatabaseUnavailable,
    LockTimeout,
    OperationRefused,
    ReconcilerError,
    RefusedApply,
    UnknownName,
)

log = logging.getLogger("reconciler.api")

STATUS_OF_ERROR: tuple[tuple[type[ReconcilerError], int], ...] = (
    (UnknownName, status.HTTP_404_NOT_FOUND),
    (OperationRefused, status.HTTP_409_CONFLICT),
    (RefusedApply, status.HTTP_409_CONFLICT),
    (LockTimeout, status.HTTP_503_SERVICE_UNAVAILABLE),
    (DatabaseUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
    (ReconcilerError, status.HTTP_503_SERVICE_UNAVAILABLE),
)
INTERNAL = "internal server error: nothing is shown here; the details are in the server's log"


class Unprocessable(APIException):
    """The schedules folder does not validate: the body carries its diagnostics."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "invalid-declarations"

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__()
        self.payload = payload


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too-large"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, RequestDataTooBig):  # a body Django refuses to read (DATA_UPLOAD_MAX_MEMORY_SIZE)
        return Response({"error": f"the request body is too large: {exc}"},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Unprocessable):
        return Response(exc.payload, status=exc.status_code)
    if isinstance(exc, ReconcilerError):
        code = next(code for kind, code in STATUS_OF_ERROR if isinstance(exc, kind))
        body: dict[str, Any] = {"error": str(exc)}
        refused_plan = getattr(exc, "plan", None)
        if refused_plan is not None:
            body["plan"] = refused_plan.to_json()
        return Response(body, status=code)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = {"error": _message(response.data), **_fields(response.data)}
        return response
    set_rollback()
    view = context.get("view")
    log.exception("API error in %s", type(view).__name__ if view else "?", exc_info=exc)
    return Response({"error": INTERNAL}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def _message(data: Any) -> str:
    """DRF's error details (a string, a list, a dict of field → list) as one sentence."""
    if isinstance(data, dict):
        if set(data) <= {"detail", "error"}:
            return "; ".join(_message(v) for v in data.values())
        return "; ".join(f"{key}: {_message(value)}" for key, value in data.items())
    if isinstance(data, list):
        return "; ".join(_message(item) for item in data)
    return str(data)


def _fields(data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and not set(data) <= {"detail", "error"}:
        return {"fields": data}
    return {}
