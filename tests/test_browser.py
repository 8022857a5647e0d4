"""The admin in a real browser: headless Chromium (Debian's package) driven by Playwright.

Logs in, sees a managed row marked with its source and read-only, suspends one with a
reason, runs another now, opens the catalogue and runs a task with arguments. Screenshots
are saved under ``var/screenshots/`` as test artefacts. Skipped without Chromium, except
under CI=true where that is a failure (``bin/_setup.sh`` installs it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django_celery_beat.models import PeriodicTask

from reconciler.models import OperationRecord

from .api import broker_at
from .conftest import require_service
from .engine import apply_yaml
from .test_api import YAML

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # synchronous and safe, Django just cannot tell.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not shutil.which(CHROMIUM):
        require_service("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        require_service("Playwright", str(exc))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def act(page: Any, row: str, action: str) -> None:
    """Tick one row of the changelist and run an action on it."""
    page.locator("#result_list tr", has_text=row).first.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def test_operate_in_the_admin(page: Any, live_server: Any, tmp_path: Path, settings: Any, redis_broker: str) -> None:
    folder = tmp_path / "schedules"
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    settings.RECONCILER_SOURCE_ROOT = str(tmp_path)
    settings.RECONCILER_SOURCE_URL = "https://git.example.com/ops/blob/main/{path}#L{line}"
    apply_yaml(folder, YAML)
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    base = live_server.url

    page.goto(f"{base}/admin/login/?next=/admin/django_celery_beat/periodictask/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    source = page.get_by_role("link", name="schedules/s.yaml:6")
    assert source.get_attribute("href") == "https://git.example.com/ops/blob/main/schedules/s.yaml#L6"
    assert page.locator("#result_list").get_by_text("in sync").count() == 2
    shot(page, "1-changelist")

    page.get_by_role("link", name="beat", exact=True).click()
    banner = page.locator(".reconciler-banner")
    assert "declared in schedules/s.yaml:6" in banner.inner_text() and "read-only" in banner.inner_text()
    assert page.locator("input[name=_save]").count() == 0
    shot(page, "2-managed-row-read-only")

    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    act(page, "digest", "suspend")
    page.fill("textarea[name=reason]", "incident 42: the mail relay is down")
    shot(page, "3-suspend-asks-why")
    page.click("input[type=submit][value=Suspend]")
    assert "Suspended digest (by admin)" in page.locator(".messagelist").inner_text()
    assert "suspended: incident 42" in page.locator("#result_list").inner_text()
    assert not PeriodicTask.objects.get(name="digest").enabled
    shot(page, "4-suspended")

    with broker_at(redis_broker):
        act(page, "beat", "run_now")
        record = OperationRecord.objects.get(action="run", name="beat")
        assert f"Celery task id {record.celery_id}" in page.locator(".messagelist").inner_text()
        shot(page, "5-run-now")

        page.get_by_role("link", name="Task catalogue").click()
        assert page.locator("#catalogue").get_by_text("E-mail the daily digest").count() == 1
        shot(page, "6-catalogue")
        page.locator("#catalogue tr", has_text="project.tasks.send_digest").get_by_role("link", name="Run…").click()
        page.fill("textarea[name=kwargs]", '{"audiense": "staff"}')
        page.click("input[type=submit][value='Run once']")
        assert "do not fit project.tasks.send_digest" in page.locator("#run-task").inner_text()
        shot(page, "7-arguments-refused")
        page.fill("textarea[name=args]", '["staff"]')
        page.fill("textarea[name=kwargs]", '{"include_drafts": true}')
        page.click("input[type=submit][value='Run once']")
        sent = OperationRecord.objects.get(action="run", task="project.tasks.send_digest")
        assert f"Celery task id {sent.celery_id}" in page.locator(".messagelist").inner_text()
        shot(page, "8-task-sent")

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{base}/api/docs/")  # the session of the admin login
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.get_by_text("/api/schedules/{name}/suspend/").count() >= 1
    shot(page, "9-api-docs")
    assert requested and all(url.startswith(base) for url in requested), "the API docs loaded from elsewhere"


def test_observe_in_the_admin(page: Any, live_server: Any, tmp_path: Path, settings: Any) -> None:
    """The demo's schedules with stored runs: health in the list, a schedule's runs, the forecast."""
    from datetime import timedelta

    from celery import states
    from django.utils import timezone

    from reconciler.operate import suspend

    from .observe import record_run

    folder = tmp_path / "schedules"
    shutil.copytree(Path(__file__).resolve().parent.parent / "schedules", folder)
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    settings.RECONCILER_SOURCE_ROOT = str(tmp_path)
    page.set_viewport_size({"width": 1600, "height": 900})
    now = timezone.now()
    apply_yaml(folder, now=now - timedelta(hours=1))
    for i in range(24):
        state = states.FAILURE if i == 17 else states.SUCCESS
        record_run("heartbeat", "project.tasks.heartbeat", state, now - timedelta(seconds=30 * (24 - i)),
                   runtime=0.2 + (i % 5) * 0.15, worker="celery@web-1")
    record_run("sync-inventory-main", "project.tasks.sync_inventory", states.SUCCESS, now - timedelta(minutes=20),
               runtime=41.0, worker="celery@web-2")
    record_run("sync-inventory-main", "project.tasks.sync_inventory", states.FAILURE, now - timedelta(minutes=5),
               runtime=12.5, worker="celery@web-2", error=ConnectionError("supplier API: 503 Service Unavailable"))
    suspend("daily-digest-customers", "INC-42: the mail relay is down", by="alice")
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    base = live_server.url

    page.goto(f"{base}/admin/login/?next=/admin/django_celery_beat/periodictask/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    results = page.locator("#result_list")
    assert results.locator(".reconciler-health-failing").inner_text() == "failing"
    assert results.locator("tr", has_text="heartbeat").locator(".reconciler-health").inner_text() == "ok"
    assert results.locator("tr", has_text="daily-digest-customers").locator(".reconciler-health").inner_text() == (
        "suspended")
    shot(page, "10-health-list")

    page.get_by_role("link", name="failing", exact=True).click()  # the health filter
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 1, page.content()[-3000:]
    page.get_by_role("link", name="sync-inventory-main", exact=True).click()
    runs = page.locator("#reconciler-runs")
    assert "ConnectionError: supplier API: 503 Service Unavailable" in runs.inner_text()
    page.wait_for_function("document.querySelector('.reconciler-runs-chart').naturalWidth > 0")
    shot(page, "11-schedule-runs")

    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    page.get_by_role("link", name="Forecast").click()
    page.wait_for_function("document.getElementById('reconciler-forecast').naturalWidth > 0")
    assert "runs due in the next 24 hours" in page.locator("h1").inner_text()
    shot(page, "12-forecast")
