"""What every API view shares: its permission (a codename of ``reconciler.ManagedTask``),
the JSON error handler, the OpenAPI schema generator and who is asking."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .errors import exception_handler
from .permissions import VIEW, HasPermission, IsAuthenticated


class ReconcilerView(GenericAPIView):
    """``permission``: the codename this view needs (None: any authenticated user)."""

    permission: str | None = VIEW
    schema: AutoSchema | None = AutoSchema()
    parser_classes = [JSONParser]  # a JSON API: no form or multipart bodies

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated()] + ([HasPermission(self.permission)] if self.permission else [])

    def get_exception_handler(self) -> Callable[..., Any]:
        return exception_handler


def who(request: Request) -> str:
    user = request.user
    return str(user.get_username()) if user and user.is_authenticated else ""
