"""The API's schema and docs page need none of the host's drf-spectacular settings: its own
operations whatever DEFAULT_SCHEMA_CLASS says, its own endpoints only, its own page and assets."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import drf_spectacular_sidecar
import pytest
from django.test import override_settings
from django.urls import include, path
from drf_spectacular.openapi import AutoSchema
from rest_framework.response import Response
from rest_framework.schemas.openapi import AutoSchema as LegacyAutoSchema
from rest_framework.test import APIClient
from rest_framework.views import APIView

from reconciler.api.openapi import ASSETS, extend_schema
from tests.support.api import ALL_PERMISSIONS, token_client, user_with

pytestmark = [pytest.mark.django_db]

SIDECAR = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar" / "swagger-ui-dist"


class HostView(APIView):
    """A view of the host project, documented (or not) by DRF's own legacy schema class."""

    schema = LegacyAutoSchema()

    def get(self, request: Any) -> Response:
        return Response({})


# This module is the ROOT_URLCONF of the tests below: the API next to a view of the host's.
urlpatterns = [
    path("host/", HostView.as_view()),
    path("api/", include("reconciler.api.urls")),
]
NO_SPECTACULAR_SETTINGS: dict[str, Any] = {}  # DRF's defaults: DEFAULT_SCHEMA_CLASS is DRF's legacy AutoSchema


@pytest.fixture
def staff() -> APIClient:
    return token_client(user_with(*ALL_PERMISSIONS, username="ops", staff=True))


@override_settings(ROOT_URLCONF=__name__, REST_FRAMEWORK=NO_SPECTACULAR_SETTINGS)
def test_the_schema_documents_the_api_only_whatever_the_host_mounts(staff: APIClient) -> None:
    token = staff._credentials["HTTP_AUTHORIZATION"]
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION=token)
    assert response.status_code == 200, response.content
    schema = response.json()
    assert schema["info"]["title"] == "Schedules reconciler API"
    assert "/host/" not in schema["paths"]
    assert {"/api/schedules/", "/api/schedules/{name}/run/", "/api/validate/"} <= set(schema["paths"])


@override_settings(REST_FRAMEWORK=NO_SPECTACULAR_SETTINGS)
def test_operations_are_built_on_spectacular_whatever_default_schema_class() -> None:
    from drf_spectacular.utils import extend_schema as spectacular_extend_schema

    def get(self: Any, request: Any) -> None:
        return None

    def other(self: Any, request: Any) -> None:
        return None

    assert issubclass(spectacular_extend_schema(operation_id="x")(get).kwargs["schema"], LegacyAutoSchema)
    assert issubclass(extend_schema(operation_id="x")(other).kwargs["schema"], AutoSchema)


def test_the_docs_page_loads_its_assets_from_the_api(staff: APIClient) -> None:
    page = staff.get("/api/docs/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert '"url": "/api/schema/"' in html and "https://" not in html
    for name in ASSETS:
        assert f"/api/docs/assets/{name}" in html
        asset = APIClient().get(f"/api/docs/assets/{name}")  # public: the viewer, not data
        assert asset.status_code == 200 and b"".join(asset.streaming_content) == (SIDECAR / name).read_bytes()
    assert APIClient().get("/api/docs/assets/LICENSE").status_code == 404
    assert staff.get("/api/docs/assets/..%2f..%2fsettings.py").status_code == 404
