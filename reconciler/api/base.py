"""What every API view shares: its permission (a codename of ``reconciler.ManagedTask``),
the JSON error handler, the OpenAPI schema generator, who is asking, and the guards every
request passes before a view sees it: the body's size (413) and nesting depth (400), and a
name from the URL that no schedule or task can have (NUL: 404, never a database error)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from ..conf import conf
from .errors import PayloadTooLarge, exception_handler
from .permissions import VIEW, HasPermission, IsAuthenticated

MAX_BODY_DEPTH = 100  # arrays and objects inside one another in a posted body
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def max_body() -> int:
    return int(conf.API_MAX_BODY)


def nesting_depth(value: Any) -> int:
    """How deep arrays and objects nest in a decoded JSON value (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class BoundedJSONParser(JSONParser):
    """JSON whose nesting is bounded: too deep is a 400 with a message, not a RecursionError."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        too_deep = f"the JSON body is nested more than {MAX_BODY_DEPTH} levels deep"
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep) from None
        if nesting_depth(data) > MAX_BODY_DEPTH:
            raise ParseError(too_deep)
        return data


class Metadata(SimpleMetadata):
    """``OPTIONS``: the view's name, description, methods and media types. The request bodies
    are described by the OpenAPI schema (``/api/schema/``), not here: these views have no
    serializer class for DRF to introspect."""

    def determine_metadata(self, request: Request, view: Any) -> dict[str, Any]:
        return {
            "name": view.get_view_name(), "description": view.get_view_description(),
            "methods": sorted(view.allowed_methods),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }


def name_problem(name: str) -> str | None:
    """Why a name taken from the URL cannot be any schedule's or task's (NUL: validate refuses
    it in a name and the database in any text), or None."""
    return "a name cannot contain a NUL character" if "\x00" in name else None


class ReconcilerView(GenericAPIView):
    """``permission``: the codename this view needs (None: any authenticated user)."""

    permission: str | None = VIEW
    schema: AutoSchema | None = AutoSchema()
    parser_classes = [BoundedJSONParser]  # a JSON API: no form or multipart bodies
    metadata_class = Metadata

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated()] + ([HasPermission(self.permission)] if self.permission else [])

    def get_exception_handler(self) -> Callable[..., Any]:
        return exception_handler

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """JSON whatever the view renders otherwise (the docs are HTML, the schema YAML)."""
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().options(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        check_size(request)
        for value in kwargs.values():
            problem = name_problem(str(value))
            if problem:
                raise NotFound(problem)


def check_size(request: Request) -> None:
    """A body declared over the limit is refused before anything reads it."""
    if request.method not in WITH_BODY:
        return
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_body():
        raise PayloadTooLarge(f"the request body is over {max_body()} bytes (RECONCILER_API_MAX_BODY)")


def who(request: Request) -> str:
    user = request.user
    return str(user.get_username()) if user and user.is_authenticated else ""
