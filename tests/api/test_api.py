"""The REST API over the real pipeline, database and (for run-now) Redis broker: every
endpoint for an anonymous caller, an authenticated caller without the permission, and one
holding it (through a group, with a DRF token); then each endpoint's behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from reconciler.api.errors import INTERNAL
from reconciler.operate import suspend
from tests.support.api import ALL_PERMISSIONS, broker_at, token_client, user_with
from tests.support.engine import apply_yaml, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

YAML = """tasks:
  digest:
    task: project.tasks.send_digest
    cron: "30 7 * * mon-fri"
    args: [staff]
  beat:
    task: project.tasks.heartbeat
    every: 30s
    kwargs: {label: api}
    queue: api-test
    expires: 10m
    priority: 3
    headers: {team: ops}
"""


@pytest.fixture
def folder(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    write_schedules(tmp_path, YAML)
    return tmp_path


@pytest.fixture
def applied(folder: Path) -> Path:
    apply_yaml(folder)
    return folder


@pytest.fixture
def broker(redis_broker: str):  # type: ignore[no-untyped-def]
    with broker_at(redis_broker):
        yield redis.Redis.from_url(redis_broker)


@pytest.fixture
def staff() -> APIClient:
    return token_client(user_with(*ALL_PERMISSIONS, username="ops", staff=True))


def _suspended() -> None:
    suspend("beat", "incident 42", by="alice")


# (method, url, body, permission needed (None: any authenticated user), status when allowed, set-up)
ENDPOINTS: list[tuple[str, str, Any, str | None, int, Callable[[], None] | None]] = [
    ("get", "/api/", None, None, 200, None),
    ("get", "/api/schema/", None, None, 200, None),
    ("get", "/api/docs/", None, None, 200, None),
    ("get", "/api/schedules/", None, "view_managedtask", 200, None),
    ("get", "/api/schedules/beat/", None, "view_managedtask", 200, None),
    ("get", "/api/schedules/beat/runs/", None, "view_managedtask", 200, None),
    ("post", "/api/schedules/beat/run/", None, "run_schedule", 202, None),
    ("post", "/api/schedules/beat/suspend/", {"reason": "incident 42"}, "suspend_schedule", 200, None),
    ("post", "/api/schedules/beat/resume/", None, "suspend_schedule", 200, _suspended),
    ("get", "/api/tasks/", None, "view_managedtask", 200, None),
    ("post", "/api/tasks/project.tasks.heartbeat/run/", {"kwargs": {"label": "x"}}, "run_schedule", 202, None),
    ("post", "/api/validate/", {}, "view_managedtask", 200, None),
    ("get", "/api/plan/", None, "view_managedtask", 200, None),
    ("post", "/api/apply/", None, "apply_schedules", 200, None),
]
CALLERS = ("anonymous", "without-permission", "with-permission")


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "url", "body", "permission", "allowed", "setup"), ENDPOINTS, ids=[f"{m} {u}" for m, u, *_ in ENDPOINTS]
)
def test_permissions(
    applied: Path, broker: Any, caller: str, method: str, url: str, body: Any, permission: str | None,
    allowed: int, setup: Callable[[], None] | None,
) -> None:
    if setup:
        setup()
    others = [p for p in ALL_PERMISSIONS if p != permission]
    user = {"anonymous": None, "without-permission": user_with(*others), "with-permission": user_with(
        *([permission] if permission else []), username="holder")}[caller]
    response = getattr(token_client(user), method)(url, body, format="json")
    if caller == "anonymous":
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    elif caller == "without-permission" and permission is not None:
        assert response.status_code == 403
        assert response.json()["error"] == f"this needs the permission reconciler.{permission}"
    else:
        assert response.status_code == allowed, response.content[:500]


def test_session_authentication_needs_csrf(applied: Path) -> None:
    user = user_with("suspend_schedule", username="browser")
    user.set_password("pw")
    user.save()
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="browser", password="pw")
    refused = browser.post("/api/schedules/beat/suspend/", {"reason": "x"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    browser.get("/admin/login/")  # any page that sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/schedules/beat/suspend/", {"reason": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 200, accepted.content


def test_root_lists_the_endpoints(staff: APIClient, folder: Path) -> None:
    endpoints = staff.get("/api/").json()["endpoints"]
    assert endpoints["schedules"]["url"] == "http://testserver/api/schedules/"
    assert set(endpoints) == {"schedules", "tasks", "validate", "plan", "apply", "schema", "docs"}


def test_schema_and_docs_without_a_cdn(staff: APIClient, folder: Path) -> None:
    schema = staff.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["openapi"].startswith("3.") and "/api/schedules/{name}/suspend/" in schema["paths"]
    docs = staff.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "/api/docs/assets/swagger-ui-bundle.js" in docs
    assert "cdn" not in docs.lower() and "https://" not in docs


def test_catalogue_lists_registered_tasks_with_signatures_docs_and_uses(staff: APIClient, applied: Path) -> None:
    tasks = {t["name"]: t for t in staff.get("/api/tasks/").json()["tasks"]}
    digest = tasks["project.tasks.send_digest"]
    assert digest["signature"].startswith("(audience: 'str'") and digest["schedules"] == ["digest"]
    assert digest["doc"] == 'E-mail the daily digest to one audience ("staff", "customers", ...).'
    assert tasks["project.tasks.cleanup_sessions"]["schedules"] == []
    assert not any(name.startswith("celery.") for name in tasks)


def test_schedules_status_filters_and_pages(staff: APIClient, applied: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SOURCE_URL = "https://git.example.com/ops/blob/main/{path}#L{line}"
    settings.RECONCILER_SOURCE_ROOT = str(applied.parent)
    PeriodicTask.objects.create(
        name="made-in-admin", task="x", interval=IntervalSchedule.objects.create(every=5, period="minutes")
    )
    PeriodicTask.objects.filter(name="digest").update(enabled=False)
    page = staff.get("/api/schedules/").json()
    assert page["count"] == 3 and page["next"] is None
    rows = {r["name"]: r for r in page["results"]}
    beat = rows["beat"]
    assert (beat["state"], beat["managed"], beat["enabled"], beat["suspended"]) == ("in-sync", True, True, None)
    assert beat["source_file"] == f"{applied.name}/s.yaml" and beat["source_line"] == 6
    assert beat["source_url"] == f"https://git.example.com/ops/blob/main/{applied.name}/s.yaml#L6"
    assert len(beat["next_runs"]) == 3 and beat["schedule_words"] == "every 30s"
    assert rows["digest"]["state"] == "drifted" and rows["digest"]["next_runs"] == []
    assert rows["made-in-admin"]["state"] == "unmanaged"
    assert [r["name"] for r in staff.get("/api/schedules/?managed=false").json()["results"]] == ["made-in-admin"]
    assert [r["name"] for r in staff.get("/api/schedules/?state=drifted").json()["results"]] == ["digest"]
    only = staff.get("/api/schedules/?task=project.tasks.send_digest&page_size=1").json()
    assert [r["name"] for r in only["results"]] == ["digest"]
    assert staff.get("/api/schedules/?state=nope").status_code == 400
    assert staff.get("/api/schedules/?managed=maybe").status_code == 400
    assert staff.get("/api/schedules/?page=9").status_code == 404


def test_schedule_detail(staff: APIClient, applied: Path) -> None:
    suspend("beat", "incident 42", by="alice")
    detail = staff.get("/api/schedules/digest/").json()
    assert detail["schedule_words"] == "At 07:30, Monday through Friday (UTC time)" and detail["total_run_count"] == 0
    beat = staff.get("/api/schedules/beat/").json()
    assert beat["state"] == "suspended" and beat["enabled"] is False
    assert (beat["suspended"]["by"], beat["suspended"]["reason"]) == ("alice", "incident 42")
    missing = staff.get("/api/schedules/nope/")
    assert missing.status_code == 404 and missing.json() == {"error": "no schedule named 'nope'"}


def test_suspend_then_resume(staff: APIClient, applied: Path) -> None:
    suspended = staff.post("/api/schedules/beat/suspend/", {"reason": "incident 42"}, format="json")
    assert suspended.json()["suspended"]["by"] == "ops" and not PeriodicTask.objects.get(name="beat").enabled
    assert staff.get("/api/plan/").json()["summary"]["suspended"] == 1
    again = staff.post("/api/schedules/beat/suspend/", {"reason": "again"}, format="json")
    assert again.status_code == 409 and "already suspended" in again.json()["error"]
    assert staff.post("/api/schedules/digest/suspend/", {}, format="json").status_code == 400
    resumed = staff.post("/api/schedules/beat/resume/").json()
    assert resumed["declared"] is True and resumed["plan"]["summary"]["update"] == 1
    assert PeriodicTask.objects.get(name="beat").enabled
    assert staff.post("/api/schedules/beat/resume/").status_code == 409


def test_run_now_sends_what_beat_sends(staff: APIClient, applied: Path, broker: Any) -> None:
    response = staff.post("/api/schedules/beat/run/")
    assert response.status_code == 202
    [raw] = broker.lrange("api-test\x06\x163", 0, -1)  # kombu's Redis key of priority 3 in queue api-test
    message = json.loads(raw)
    headers = message["headers"]
    assert response.json()["id"] == headers["id"]
    assert (headers["task"], headers["periodic_task_name"], headers["team"]) == (
        "project.tasks.heartbeat", "beat", "ops"
    )
    expires = datetime.fromisoformat(headers["expires"])  # expire_seconds, as beat sends it
    assert abs((expires - datetime.now(UTC)).total_seconds() - 600) < 60
    assert message["properties"]["priority"] == 3
    assert staff.post("/api/schedules/nope/run/").status_code == 404


@pytest.mark.parametrize("column", ["args", "kwargs", "headers"])
def test_run_now_refuses_a_row_with_broken_json(staff: APIClient, applied: Path, broker: Any, column: str) -> None:
    PeriodicTask.objects.filter(name="beat").update(**{column: "{not json"})
    response = staff.post("/api/schedules/beat/run/")
    assert response.status_code == 409
    assert f"beat: its stored {column} is not valid JSON" in response.json()["error"]
    assert broker.keys("api-test*") == []


def test_run_a_task_binds_its_arguments_first(staff: APIClient, folder: Path, broker: Any) -> None:
    url = "/api/tasks/project.tasks.send_digest/run/"
    bad = staff.post(url, {"args": [], "kwargs": {"audiense": "staff"}}, format="json")
    assert bad.status_code == 400
    write_schedules(folder, "tasks:\n  x:\n    task: project.tasks.send_digest\n    every: 1m\n"
                    "    kwargs: {audiense: staff}\n")
    validated = staff.post("/api/validate/", {}, format="json").json()["diagnostics"]
    assert bad.json()["diagnostics"][0]["message"] == validated[0]["message"]
    assert bad.json()["diagnostics"][0]["code"] == "bad-arguments"
    sent = staff.post(url, {"args": ["staff"], "eta": "2030-01-01T08:00:00+00:00"}, format="json")
    assert sent.status_code == 202 and sent.json()["eta"] == "2030-01-01T08:00:00+00:00"
    [raw] = broker.lrange("celery", 0, -1)
    headers = json.loads(raw)["headers"]
    assert headers["id"] == sent.json()["id"] and headers["eta"].startswith("2030-01-01T08:00:00")
    assert staff.post("/api/tasks/project.tasks.nope/run/", {}, format="json").status_code == 404
    assert staff.post(url, {"args": "staff"}, format="json").status_code == 400


def test_validate_posted_files(staff: APIClient, folder: Path) -> None:
    good = staff.post("/api/validate/", {}, format="json").json()
    assert good["valid"] is True and good["checked"] == 2
    bad = staff.post(
        "/api/validate/",
        {"files": {"x.yaml": "tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: soon\n"}},
        format="json",
    ).json()
    assert bad["valid"] is False
    assert [(d["code"], d["file"], d["line"]) for d in bad["diagnostics"]] == [("bad-duration", "x.yaml", 4)]


def test_validate_two_files_with_the_same_name(staff: APIClient, folder: Path) -> None:
    task = "tasks:\n  {n}:\n    task: project.tasks.heartbeat\n    every: {every}\n"
    files = [{"name": "a.yaml", "text": task.format(n="one", every="soon")},
             {"name": "a.yaml", "text": task.format(n="two", every="later")}]
    result = staff.post("/api/validate/", {"files": files}, format="json").json()
    assert result["checked"] == 2
    assert sorted((d["file"], d["name"]) for d in result["diagnostics"]) == [("a.yaml", "one"), ("a.yaml", "two")]


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "a file name is empty"), (".", "is not a file name"), ("..", "is not a file name"),
     ("a\x00.yaml", "NUL"), ("../x.yaml", "path separator"), ("a\\b.yaml", "path separator"),
     ("x" * 300 + ".yaml", "longer than 255"), ("notes.txt", "does not end in .yaml")],
    ids=["empty", "dot", "dotdot", "nul", "slash", "backslash", "long", "suffix"],
)
def test_validate_refuses_bad_file_names(staff: APIClient, folder: Path, name: str, problem: str) -> None:
    response = staff.post("/api/validate/", {"files": {name: "tasks: {}\n"}}, format="json")
    assert response.status_code == 400 and problem in response.json()["error"]


def test_validate_refuses_a_large_body(staff: APIClient, folder: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_API_MAX_BODY = 1000
    response = staff.post("/api/validate/", {"files": {"a.yaml": "#" * 2000}}, format="json")
    assert response.status_code == 413 and "RECONCILER_API_MAX_BODY" in response.json()["error"]


HOSTILE = {
    "unsafe-tag": "tasks:\n  x: !!python/object/apply:os.system [echo]\n",
    "syntax": "tasks: [\n",
    "sequence-key": "tasks:\n  ? [a, b]\n  : {task: project.tasks.heartbeat, every: 1m}\n",
    "not-a-mapping": "- 1\n- 2\n",
    "binary": "\udcff\udcfe",
    "deep": "tasks: " + "[" * 5000 + "]" * 5000 + "\n",
    "recursive-alias": "tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: 1m\n    kwargs: &a {x: *a}\n",
    "alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)
    ),
    "huge-integer": "tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: " + "9" * 5000 + "\n",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_validate_hostile_yaml_is_diagnosed_never_a_500(staff: APIClient, folder: Path, text: str) -> None:
    body = json.dumps({"files": {"h.yaml": text}}, ensure_ascii=True)
    response = staff.post("/api/validate/", body, content_type="application/json")
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 200:
        assert response.json()["valid"] is False and response.json()["diagnostics"]


def test_an_alias_bomb_is_refused_with_its_code(staff: APIClient, folder: Path) -> None:
    # How long the refusal takes is a figure of bench/hostile.py; bounded memory: test_load.
    response = staff.post("/api/validate/", {"files": {"bomb.yaml": HOSTILE["alias-bomb"]}}, format="json")
    assert response.status_code == 200
    assert [d["code"] for d in response.json()["diagnostics"]] == ["alias-expansion"]


def test_plan_and_apply(staff: APIClient, folder: Path) -> None:
    assert staff.get("/api/plan/").json()["summary"]["create"] == 2
    first = staff.post("/api/apply/").json()
    assert first["written"] is True and first["plan"]["summary"]["create"] == 2
    from reconciler.models import ApplyRecord

    assert ApplyRecord.objects.get(pk=first["record_id"]).django_user == "ops"
    again = staff.post("/api/apply/").json()
    assert again == {"written": False, "record_id": None, "plan": again["plan"]}
    assert again["plan"]["summary"]["unchanged"] == 2


def test_invalid_folder_makes_plan_and_apply_422(staff: APIClient, folder: Path) -> None:
    write_schedules(folder, "tasks:\n  x:\n    task: nope\n    every: 1\n")
    for response in (staff.get("/api/plan/"), staff.post("/api/apply/"), staff.get("/api/schedules/")):
        assert response.status_code == 422 and response.json()["diagnostics"][0]["code"] == "unknown-task"


def test_refused_apply_is_409_with_its_plan(staff: APIClient, applied: Path) -> None:
    write_schedules(applied, "tasks: {}\n")
    refused = staff.post("/api/apply/")
    assert refused.status_code == 409 and "Nothing was changed" in refused.json()["error"]
    assert refused.json()["plan"]["summary"]["delete"] == 2


def test_a_500_is_json_without_a_stack_trace(staff: APIClient, folder: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reconciler.api import views

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret: /etc/passwd line 3")

    monkeypatch.setattr(views, "plan_paths", broken)
    response = staff.get("/api/plan/")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": INTERNAL}
    assert b"secret" not in response.content and b"Traceback" not in response.content


def test_demo_debug_is_off_unless_asked(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import runpy

    settings_file = str(Path(__file__).parents[2] / "project" / "settings.py")
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    assert runpy.run_path(settings_file)["DEBUG"] is False
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    assert runpy.run_path(settings_file)["DEBUG"] is True
    assert 'DJANGO_DEBUG="${DJANGO_DEBUG:-1}"' in (Path(settings_file).parent.parent / "bin" / "demo").read_text()


def test_a_crash_while_validating_posted_files_is_a_diagnostic(staff: APIClient, folder: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reconciler.api import validation

    def crash(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(validation, "validate_paths", crash)
    response = staff.post("/api/validate/", {"files": {"a.yaml": "tasks: {}\n"}}, format="json")
    assert response.status_code == 200
    assert [(d["code"], d["message"]) for d in response.json()["diagnostics"]] == [
        ("unreadable", "the posted files could not be validated (RecursionError)")
    ]


def test_unknown_api_urls_are_json_404s(staff: APIClient, folder: Path) -> None:
    assert staff.get("/api/nope/").json() == {"error": "no such endpoint: see /api/ for the list"}
    missing_slash = staff.post("/api/apply")
    assert missing_slash.status_code == 404
    assert missing_slash.json()["error"].endswith("did you mean /api/apply/ ?")
    assert APIClient().get("/api/nope/").status_code == 401


ARGUMENT_CASES = {
    "int-given-a-word": ("project.tasks.sync_inventory", '["main"]', '{"batch_size": "lots"}'),
    "bool-given-a-word": ("project.tasks.send_digest", '["staff"]', '{"include_drafts": "yes please"}'),
    "str-given-a-number-positional": ("project.tasks.sync_inventory", "[1]", "{}"),
    "list-of-str-given-numbers": ("project.tasks.generate_report", '["r", [1, 2]]', "{}"),
    "does-not-bind": ("project.tasks.send_digest", "[]", '{"audiense": "staff"}'),
}


@pytest.mark.parametrize(("task", "args", "kwargs"), ARGUMENT_CASES.values(), ids=ARGUMENT_CASES.keys())
def test_a_run_is_refused_exactly_as_validate_refuses_the_arguments(
    staff: APIClient, folder: Path, broker: Any, task: str, args: str, kwargs: str,
) -> None:
    """The API's ad-hoc run and the admin's run form give validate's own bad-arguments text."""
    write_schedules(folder, f"tasks:\n  x:\n    task: {task}\n    every: 1m\n    args: {args}\n    kwargs: {kwargs}\n")
    [validated] = staff.post("/api/validate/", {}, format="json").json()["diagnostics"]
    assert validated["code"] == "bad-arguments"
    refused = staff.post(f"/api/tasks/{task}/run/", {"args": json.loads(args), "kwargs": json.loads(kwargs)},
                         format="json")
    assert refused.status_code == 400
    assert refused.json()["error"] == validated["message"] == refused.json()["diagnostics"][0]["message"]
    admin = Client()
    admin.force_login(user_with(*ALL_PERMISSIONS, username="admin-ops", staff=True))
    form = admin.post(f"/admin/django_celery_beat/periodictask/catalogue/{task}/run/", {"args": args, "kwargs": kwargs})
    assert form.status_code == 200  # the form again, with the error
    import html

    assert validated["message"] in html.unescape(form.content.decode())
    assert broker.keys("*") == []  # nothing was sent


@pytest.mark.parametrize("eta", ["2030-01-01T08:00:00", "2030-01-01 08:00", "2030-01-01T08:00:00.5"])
def test_a_naive_eta_is_refused(staff: APIClient, folder: Path, broker: Any, eta: str) -> None:
    response = staff.post("/api/tasks/project.tasks.heartbeat/run/", {"eta": eta}, format="json")
    assert response.status_code == 400
    message = "eta must carry a time zone offset (ISO-8601, e.g. 2026-01-01T08:00:00+00:00)"
    assert response.json()["fields"]["eta"] == [message]
    admin = Client()
    admin.force_login(user_with(*ALL_PERMISSIONS, username="admin-ops", staff=True))
    form = admin.post("/admin/django_celery_beat/periodictask/catalogue/project.tasks.heartbeat/run/",
                      {"args": "[]", "kwargs": "{}", "eta": eta})
    assert form.status_code == 200 and message in form.content.decode()
    assert broker.keys("*") == []
