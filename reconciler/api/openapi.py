"""The API's OpenAPI schema and its documentation page, whatever the host project's settings.

A project that mounts ``reconciler.api.urls`` needs neither ``drf_spectacular`` nor its sidecar
in ``INSTALLED_APPS``, nor DRF's ``DEFAULT_SCHEMA_CLASS``, nor ``SPECTACULAR_SETTINGS``:

- ``extend_schema`` builds every operation on drf-spectacular's ``AutoSchema``: drf-spectacular's
  own decorator builds on ``DEFAULT_SCHEMA_CLASS`` (DRF's legacy ``AutoSchema`` by default, whose
  ``get_operation`` takes other arguments: a 500 on the schema).
- The schema documents this API's endpoints only, so the host's other views (with whatever schema
  class they use) never break it; its title and options are the reconciler's own.
- The Swagger UI page is rendered here, its assets served by this app from the
  drf-spectacular-sidecar package (no template of an app that may not be installed, no CDN).
"""
from __future__ import annotations

import html
import json
import mimetypes
from collections.abc import Callable
from importlib import resources
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema as spectacular_extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from ..observe.leases import RUN_STATES
from ..observe.skips import REASONS
from ..observe.sync import STATES
from .base import ReconcilerView

TITLE = "Schedules reconciler API"
SETTINGS: dict[str, Any] = {
    "TITLE": TITLE,
    "DESCRIPTION": "Schedules declared in git: their status, validate, plan, apply; run, suspend, resume.",
    "VERSION": "1",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set that two fields share, or that shares a field name with another set.
    "ENUM_NAME_OVERRIDES": {
        "StateEnum": list(STATES), "TrackedRunStateEnum": list(RUN_STATES), "SkipReasonEnum": list(REASONS),
    },
}
# The files the page loads, from drf-spectacular-sidecar's copy of swagger-ui-dist.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png")
SIDECAR_DIST = ("static", "drf_spectacular_sidecar", "swagger-ui-dist")


def extend_schema(**kwargs: Any) -> Callable[[Any], Any]:
    """drf-spectacular's ``extend_schema``, on drf-spectacular's ``AutoSchema`` whatever
    ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` says (the decorator reads ``f.schema`` first)."""
    decorate = spectacular_extend_schema(**kwargs)

    def decorator(f: Any) -> Any:
        # a view method only: a view class's ``schema`` is an instance, read by DRF
        if not isinstance(f, type) and getattr(f, "schema", None) is None and "schema" not in getattr(f, "kwargs", {}):
            f.schema = AutoSchema
        return decorate(f)

    return decorator


class OwnEndpoints(EndpointEnumerator):  # type: ignore[misc]
    """Only the reconciler's views: the host's other URLs are not this API."""

    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        view = getattr(callback, "cls", None)
        ours = isinstance(view, type) and issubclass(view, ReconcilerView)
        return bool(ours and super().should_include_endpoint(path, callback))


class Generator(SchemaGenerator):  # type: ignore[misc]
    endpoint_inspector_cls = OwnEndpoints


class Schema(ReconcilerView, SpectacularAPIView):  # type: ignore[misc]
    """The OpenAPI 3 schema (drf-spectacular), for any authenticated user."""

    permission = None
    schema = None  # not an operation of the API it describes
    generator_class = Generator
    custom_settings = SETTINGS


class Docs(ReconcilerView):
    """Swagger UI for any authenticated user; its assets from ``docs/assets/`` (no CDN)."""

    permission = None
    schema = None
    renderer_classes = [StaticHTMLRenderer]

    def get(self, request: Request) -> Response:
        return Response(docs_page(request), headers={"Cross-Origin-Opener-Policy": "unsafe-none"})


def docs_page(request: Request) -> str:
    def asset(name: str) -> str:
        return html.escape(reverse("reconciler:docs-asset", args=[name]))

    options = {
        "url": reverse("reconciler:schema"), "dom_id": "#swagger-ui", "deepLinking": True,
        "persistAuthorization": True,
    }
    csrf_header = settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(TITLE)}</title>
<link rel="stylesheet" href="{asset("swagger-ui.css")}">
<link rel="icon" href="{asset("favicon-32x32.png")}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{asset("swagger-ui-bundle.js")}"></script>
<script src="{asset("swagger-ui-standalone-preset.js")}"></script>
<script>
const options = {json.dumps(options)};
const csrf = (document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1];
window.ui = SwaggerUIBundle(Object.assign(options, {{
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  requestInterceptor: (req) => {{ if (csrf) req.headers[{json.dumps(csrf_header)}] = csrf; return req; }},
}}));
</script>
</body>
</html>
"""


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    """One file of Swagger UI, from the drf-spectacular-sidecar package (public: it is the
    open-source viewer, not data)."""
    if name not in ASSETS:
        raise Http404(f"no such asset: {name}")
    path = resources.files("drf_spectacular_sidecar").joinpath(*SIDECAR_DIST, name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
