"""No request makes a 500: every URL of the API and every custom view of the admin and of
``reconciler.observe`` is sent ``OPTIONS``, a name holding NUL (PostgreSQL refuses NUL in a
query), a body nested 5,000 deep and a body over the limit. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, reverse
from rest_framework.test import APIClient

from reconciler.api import urls as api_urls
from tests.support.api import ALL_PERMISSIONS, broker_at, token_client, user_with
from tests.support.engine import apply_yaml, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

YAML = """tasks:
  beat:
    task: project.tasks.heartbeat
    every: 30s
"""
NUL_NAME = "be%00at"
DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"kwargs": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def api_routes() -> list[tuple[str, type[Any]]]:
    """(path template under /api/, view class) of every named route but the catch-all."""
    routes = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name == "not-found":
            continue
        view = getattr(pattern.callback, "view_class", None)
        if view is None:  # the docs page's static assets (docs_asset): files, not an API view
            continue
        routes.append((str(pattern.pattern), view))
    return routes


ROUTES = api_routes()
POSTING = [(template, view) for template, view in ROUTES if hasattr(view, "post")]
NAMED = [(template, view) for template, view in ROUTES if PARAMETER.search(template)]


@pytest.mark.parametrize("name", ["be\x00at", "../../settings.py", "x" * 5000, "swagger-ui.css\n"])
def test_the_docs_assets_route_serves_only_its_files(client: Any, name: str) -> None:
    for method in (client.get, client.options, client.post):
        # "%2F" is decoded before routing: such a name reaches the API's catch-all (401 unauthenticated).
        assert method(f"/api/docs/assets/{quote(name, safe='')}").status_code in (401, 404)


def url(template: str, name: str = "beat") -> str:
    value = "project.tasks.heartbeat" if "tasks/" in template else name
    if "tasks/" in template and name != "beat":
        value = "project.tasks.heart%00beat"
    return "/api/" + PARAMETER.sub(value, template)


@pytest.fixture
def applied(tmp_path: Path, settings: Any) -> Path:
    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    write_schedules(tmp_path, YAML)
    apply_yaml(tmp_path)
    return tmp_path


@pytest.fixture
def broker(redis_broker: str) -> Iterator[None]:
    with broker_at(redis_broker):
        yield


@pytest.fixture
def staff() -> APIClient:
    return token_client(user_with(*ALL_PERMISSIONS, username="ops", staff=True))


def test_the_class_covers_the_six_posting_endpoints() -> None:
    assert len(POSTING) == 6 and len(NAMED) == 7  # a name in the path: six schedule routes, one task route


@pytest.mark.parametrize(("template", "view"), ROUTES, ids=[t or "root" for t, _ in ROUTES])
def test_options_describes_every_endpoint(staff: APIClient, applied: Path, template: str, view: type[Any]) -> None:
    response = staff.options(url(template))
    assert response.status_code == 200, response.content[:300]
    assert response.json()["name"] and "OPTIONS" in response.json()["methods"]


@pytest.mark.parametrize(("template", "view"), NAMED, ids=[t for t, _ in NAMED])
def test_a_nul_in_a_name_is_a_404(staff: APIClient, applied: Path, template: str, view: type[Any]) -> None:
    method = "post" if hasattr(view, "post") else "get"
    response = getattr(staff, method)(url(template, NUL_NAME), {"reason": "x"}, format="json")
    assert response.status_code == 404, response.content[:300]
    assert "NUL" in response.json()["error"]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(("template", "view"), POSTING, ids=[t for t, _ in POSTING])
def test_a_body_nested_5000_deep_is_never_a_500(
    staff: APIClient, applied: Path, broker: None, template: str, view: type[Any], body: str,
) -> None:
    response = staff.generic("POST", url(template), body, content_type="application/json")
    assert response.status_code < 500, response.content[:300]
    if template in ("validate/", "schedules/<anyname:name>/suspend/", "tasks/<anyname:name>/run/"):
        assert response.status_code == 400  # these read the body
        assert "nested more than 100 levels" in response.json()["error"]


@pytest.mark.parametrize(("template", "view"), POSTING, ids=[t for t, _ in POSTING])
def test_a_body_over_the_limit_is_a_413(
    staff: APIClient, applied: Path, template: str, view: type[Any], settings: Any,
) -> None:
    settings.RECONCILER_API_MAX_BODY = 1000
    response = staff.post(url(template), {"reason": "x" * 2000, "files": {"a.yaml": "#" * 2000}}, format="json")
    assert response.status_code == 413, response.content[:300]
    assert "RECONCILER_API_MAX_BODY" in response.json()["error"]


def test_a_body_over_djangos_upload_limit_is_a_413(staff: APIClient, applied: Path, settings: Any) -> None:
    """RECONCILER_API_MAX_BODY above Django's own limit: Django refuses to read it."""
    settings.RECONCILER_API_MAX_BODY = 10_000_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = staff.post("/api/schedules/beat/suspend/", {"reason": "x" * 2000}, format="json")
    assert response.status_code == 413, response.content[:300]
    assert "too large" in response.json()["error"]


# -- the admin's and observe's custom views -------------------------------------------------

@pytest.fixture
def admin_client(applied: Path) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("field", ["args", "kwargs"])
def test_the_admin_run_form_refuses_deep_json(admin_client: Client, field: str, body: str) -> None:
    target = reverse("admin:reconciler_catalogue_run", args=["project.tasks.heartbeat"])
    response = admin_client.post(target, {field: body})
    assert response.status_code == 200
    assert "nested too deep" in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post", "options"])
def test_the_admin_run_view_with_a_nul_in_the_task_is_a_404(admin_client: Client, method: str) -> None:
    target = reverse("admin:reconciler_catalogue_run", args=["project.tasks.heart\x00beat"])
    assert getattr(admin_client, method)(target).status_code == 404


@pytest.mark.parametrize("view", ["admin:reconciler_catalogue", "admin:reconciler_forecast"])
def test_the_admin_custom_views_answer_options(admin_client: Client, view: str) -> None:
    assert admin_client.options(reverse(view)).status_code < 500


def test_the_runs_chart_with_a_nul_in_the_name_is_a_404(admin_client: Client) -> None:
    response = admin_client.get(f"/observe/runs/{NUL_NAME}.svg")
    assert response.status_code == 404 and b"NUL" in response.content


@pytest.mark.parametrize("hours", ["nan", "inf", "-inf", "-5", "0", "1e308", "100000", "abc", "0x10"])
def test_the_forecast_chart_refuses_hours_out_of_range(admin_client: Client, hours: str) -> None:
    response = admin_client.get(f"/observe/forecast.svg?hours={hours}")
    assert response.status_code == 400
    assert b"hours must be a number from 1 to 744" in response.content


@pytest.mark.parametrize("hours", ["", "1", "6", "24.5", "744"])
def test_the_forecast_chart_takes_hours_in_range(admin_client: Client, hours: str) -> None:
    response = admin_client.get(f"/observe/forecast.svg?hours={hours}")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"


def custom_views() -> list[tuple[str, str]]:
    """(URL name, path template) of the admin's own views and of reconciler.observe's."""
    from django.contrib import admin
    from django_celery_beat.models import PeriodicTask

    from reconciler.observe import urls as observe_urls

    model_admin = admin.site._registry[PeriodicTask]
    base = "/admin/django_celery_beat/periodictask/"
    found = [(p.name, base + str(p.pattern)) for p in model_admin.get_urls()
             if isinstance(p, URLPattern) and p.name and p.name.startswith("reconciler_")]
    found += [(p.name, "/" + str(p.pattern)) for p in observe_urls.urlpatterns if isinstance(p, URLPattern)]
    return sorted(found)


CUSTOM = custom_views()


def test_the_custom_views_are_all_covered() -> None:
    assert [name for name, _ in CUSTOM] == [
        "reconciler-forecast-chart", "reconciler-metrics", "reconciler-runs-chart", "reconciler_catalogue",
        "reconciler_catalogue_run", "reconciler_forecast",
    ]


@pytest.mark.parametrize(("name", "template"), CUSTOM, ids=[n for n, _ in CUSTOM])
def test_no_custom_view_answers_a_500(admin_client: Client, name: str, template: str) -> None:
    """OPTIONS, a NUL-bearing name where the URL takes one, a 5,000-deep JSON body."""
    plain = PARAMETER.sub("project.tasks.heartbeat" if "catalogue" in template else "beat", template)
    assert admin_client.options(plain).status_code < 500
    assert admin_client.generic("POST", plain, DEEP, content_type="application/json").status_code < 500
    assert admin_client.post(plain, {"args": DEEP, "kwargs": DEEP_OBJECT}).status_code < 500
    if PARAMETER.search(template):
        nul = PARAMETER.sub("heart%00beat", template)
        assert admin_client.get(nul).status_code == 404
        assert admin_client.post(nul, {"args": "[]"}).status_code in (404, 405)  # 405: a GET-only chart


def test_a_huge_runs_offset_on_a_schedule_page_is_not_a_500(admin_client: Client) -> None:
    from django_celery_beat.models import PeriodicTask

    page = f"/admin/django_celery_beat/periodictask/{PeriodicTask.objects.get(name='beat').pk}/change/"
    assert admin_client.get(page + "?runs_offset=" + "9" * 30).status_code == 200
