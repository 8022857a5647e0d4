"""The admin in a real browser: headless Chromium (Debian's package) driven by Playwright.

Logs in, sees a managed row marked with its source and read-only, suspends one with a
reason, runs another now, opens the catalogue and runs a task with arguments; then every page
an operator reads, at 1400 px, each checked for what matters on it. Screenshots are saved as
test artefacts for a person to look at: under ``$SCREENSHOT_DIR`` (default ``var/screenshots/``),
the folder printed at the end. Skipped without Chromium, except under CI=true where that is a
failure (``bin/_setup.sh`` installs it)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django_celery_beat.models import PeriodicTask

from reconciler.models import OperationRecord
from tests.api.test_api import YAML
from tests.conftest import require_service
from tests.support.api import broker_at
from tests.support.engine import apply_yaml

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
WIDTH = 1400


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Any]:
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
        context = browser.new_context(viewport={"width": WIDTH, "height": 900})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            browser.close()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"screenshots ({request.node.name}): {SHOTS}")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"  # render.words.iso


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page: Any, base: str, after: str) -> None:
    page.goto(f"{base}/admin/login/?next={after}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    submit(page, "input[type=submit]")


def follow(page: Any, link: Any) -> None:
    """Click a link and wait for the page it opens (what comes next reads that page)."""
    with page.expect_navigation():
        link.click()


def submit(page: Any, selector: str) -> None:
    """Press a form's button and wait for the page the server answers with."""
    with page.expect_navigation():
        page.click(selector)


def right_edge(locator: Any) -> float:
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    return float(box["x"] + box["width"])


def visible_text(page: Any) -> str:
    return str(page.locator("#content").inner_text())


def act(page: Any, row: str, action: str) -> None:
    """Tick one row of the changelist and run an action on it."""
    page.locator("#result_list tr", has_text=row).first.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    submit(page, "button[name=index]")


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
    submit(page, "input[type=submit]")
    source = page.get_by_role("link", name="schedules/s.yaml:6")
    assert source.get_attribute("href") == "https://git.example.com/ops/blob/main/schedules/s.yaml#L6"
    assert page.locator("#result_list").get_by_text("in sync").count() == 2
    shot(page, "operate-1-changelist")

    follow(page, page.get_by_role("link", name="beat", exact=True))
    banner = page.locator(".reconciler-banner")
    assert "declared in schedules/s.yaml:6" in banner.inner_text() and "read-only" in banner.inner_text()
    assert page.locator("input[name=_save]").count() == 0
    shot(page, "operate-2-managed-row-read-only")

    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    act(page, "digest", "suspend")
    page.fill("textarea[name=reason]", "incident 42: the mail relay is down")
    shot(page, "operate-3-suspend-asks-why")
    submit(page, "input[type=submit][value=Suspend]")
    assert "Suspended digest (by admin)" in page.locator(".messagelist").inner_text()
    assert "suspended: incident 42" in page.locator("#result_list").inner_text()
    assert not PeriodicTask.objects.get(name="digest").enabled
    shot(page, "operate-4-suspended")

    with broker_at(redis_broker):
        act(page, "beat", "run_now")
        record = OperationRecord.objects.get(action="run", name="beat")
        assert f"Celery task id {record.celery_id}" in page.locator(".messagelist").inner_text()
        shot(page, "operate-5-run-now")

        follow(page, page.locator("#content-main").get_by_role("link", name="Task catalogue"))
        assert page.locator("#catalogue").get_by_text("E-mail the daily digest").count() == 1
        shot(page, "operate-6-catalogue")
        digest = page.locator("#catalogue tr", has_text="project.tasks.send_digest")
        follow(page, digest.get_by_role("link", name="Run…"))
        page.fill("textarea[name=kwargs]", '{"audiense": "staff"}')
        submit(page, "input[type=submit][value='Run once']")
        assert "do not fit project.tasks.send_digest" in page.locator("#run-task").inner_text()
        shot(page, "operate-7-arguments-refused")
        page.fill("textarea[name=args]", '["staff"]')
        page.fill("textarea[name=kwargs]", '{"include_drafts": true}')
        submit(page, "input[type=submit][value='Run once']")
        sent = OperationRecord.objects.get(action="run", task="project.tasks.send_digest")
        assert f"Celery task id {sent.celery_id}" in page.locator(".messagelist").inner_text()
        shot(page, "operate-8-task-sent")

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{base}/api/docs/")  # the session of the admin login
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.get_by_text("/api/schedules/{name}/suspend/").count() >= 1
    shot(page, "operate-9-api-docs")
    assert requested and all(url.startswith(base) for url in requested), "the API docs loaded from elsewhere"


def test_observe_in_the_admin(page: Any, live_server: Any, tmp_path: Path, settings: Any) -> None:
    """The demo's schedules with stored runs, at 1400 px: every page an operator reads, each
    page's screenshot kept, each checked for what matters on it."""
    from datetime import timedelta

    from celery import states
    from django.utils import timezone

    from reconciler.operate import suspend
    from tests.support.observe import record_run

    folder = tmp_path / "schedules"
    shutil.copytree(Path(__file__).resolve().parents[2] / "schedules", folder)
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    settings.RECONCILER_SOURCE_ROOT = str(tmp_path)
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
    login(page, base, "/admin/")

    # The index: the catalogue and the forecast are entries of the reconciler's section.
    section = page.locator("#content-main .app-reconciler")
    for entry in ("Task catalogue", "Forecast"):
        section.get_by_role("link", name=entry, exact=True).wait_for()
    shot(page, "01-index")

    # The list: every column inside the viewport, no date bar, next runs on a 24-hour clock.
    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    results = page.locator("#result_list")
    assert results.locator(".reconciler-health-failing").inner_text() == "failing"
    assert results.locator("tr", has_text="heartbeat").locator(".reconciler-health").inner_text() == "ok"
    assert results.locator("tr", has_text="daily-digest-customers").locator(".reconciler-health").inner_text() == (
        "suspended")
    assert page.locator("nav.toplinks").count() == 0, "a date_hierarchy bar above the list"
    shot(page, "02-list")
    visible = min(WIDTH, right_edge(page.locator("#changelist .results")))
    for column in ("th.column-next_run", "#result_list thead th:last-child"):
        assert right_edge(page.locator(column)) <= visible, f"{column} is cut off at {WIDTH} px"
    for name in ("heartbeat", "cleanup-sessions"):  # every time written one way: ISO 8601, to the second
        assert re.fullmatch(ISO, results.locator("tr", has_text=name).locator("td.field-next_run").inner_text())
    shot(page, "02-list")

    # Disabling a managed row: one message saying what happened and what to do instead.
    act(page, "cleanup-sessions", "disable_tasks")
    said = page.locator(".messagelist li")
    assert said.count() == 1, said.all_inner_texts()
    assert "Nothing disabled" in said.inner_text() and "Suspend" in said.inner_text()
    assert PeriodicTask.objects.get(name="cleanup-sessions").enabled
    shot(page, "03-disable-managed-row")

    follow(page, page.get_by_role("link", name="failing", exact=True))  # the health filter
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 1, page.content()[-3000:]

    # A managed row without runs: no beat form field, one sentence for "no runs".
    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    follow(page, page.get_by_role("link", name="cleanup-sessions", exact=True))
    text = visible_text(page)
    assert "Regtask" not in text and "regtask" not in page.content()
    assert len(re.findall("no runs? recorded", text, re.IGNORECASE)) == 1, text
    assert page.locator(".reconciler-runs-chart").count() == 0
    shot(page, "04-managed-row")

    # A row with runs: the chart, the runs to the second (it runs every 30 s).
    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    follow(page, page.get_by_role("link", name="heartbeat", exact=True))
    page.wait_for_function("document.querySelector('.reconciler-runs-chart').naturalWidth > 0")
    started = page.locator("table.reconciler-runs tbody tr td.started")
    assert started.count() == 20 and all(
        re.fullmatch(ISO, cell) for cell in started.all_inner_texts())
    shot(page, "05-managed-row-runs")

    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    follow(page, page.get_by_role("link", name="sync-inventory-main", exact=True))
    assert "ConnectionError: supplier API: 503 Service Unavailable" in page.locator("#reconciler-runs").inner_text()

    # A suspended row: the suspension said once, as a warning, not as a success.
    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    follow(page, page.get_by_role("link", name="daily-digest-customers", exact=True))
    banner = page.locator(".reconciler-banner")
    assert page.locator("body").inner_text().count("INC-42") == 1, banner.inner_text()
    assert banner.locator("li.success, li.info").count() == 0
    assert banner.locator("li", has_text="INC-42").get_attribute("class") == "error"
    shot(page, "06-suspended-row")

    # The suspend form.
    page.goto(f"{base}/admin/django_celery_beat/periodictask/")
    act(page, "monthly-revenue-report", "suspend")
    assert page.locator("label[for=id_reason]").inner_text().startswith("Reason")
    assert "monthly-revenue-report" in visible_text(page)
    shot(page, "07-suspend-form")

    # The catalogue: signatures as written in Python, docstrings without reStructuredText marks.
    page.goto(f"{base}/admin/")
    follow(page, page.locator("#content-main .app-reconciler").get_by_role("link", name="Task catalogue", exact=True))
    catalogue = page.locator("#catalogue")
    signatures = catalogue.locator("td.signature").all_inner_texts()
    assert signatures and not any(re.search(r"(:|->) '", shown) for shown in signatures), signatures
    assert "(warehouse: str, full: bool = False, batch_size: int = 500) -> dict[str, Any]" in signatures
    assert "``" not in catalogue.inner_text()
    assert catalogue.locator("tr", has_text="generate_report").locator("td.doc code").all_inner_texts() == [
        "bind=True", "self"]
    shot(page, "08-catalogue")

    # The run form: "Run at", and an example built from this task's own signature.
    follow(page, catalogue.locator("tr", has_text="project.tasks.sync_inventory").get_by_role("link", name="Run…"))
    assert page.locator("label[for=id_eta]").inner_text().rstrip(":") == "Run at"
    assert "Eta" not in visible_text(page)
    example = page.locator("#id_kwargs_helptext").inner_text()
    assert '"full": false' in example and '"batch_size": 500' in example and "true}" not in example, example
    assert "warehouse: str" in page.locator("#id_args_helptext").inner_text()
    shot(page, "09-run-form")

    # The forecast (from the index).
    page.goto(f"{base}/admin/")
    follow(page, page.locator("#content-main .app-reconciler").get_by_role("link", name="Forecast", exact=True))
    page.wait_for_function("document.getElementById('reconciler-forecast').naturalWidth > 0")
    assert "runs due in the next 24 hours" in page.locator("h1").inner_text()
    shot(page, "10-forecast")

    # The apply history and one of its entries; the operations log and one of its entries.
    page.goto(f"{base}/admin/reconciler/applyrecord/")
    assert page.locator("h1").inner_text() == "Select apply record to view"
    assert "1 apply record" in page.locator(".paginator").inner_text()
    assert "DURATION (MS)" in page.locator("#result_list thead").inner_text().upper()
    assert right_edge(page.locator("#result_list thead th:last-child")) <= min(
        WIDTH, right_edge(page.locator("#changelist .results"))), "the apply history is cut off"
    assert re.fullmatch(ISO, page.locator("td.field-started, th.field-started")
                        .first.inner_text())
    shot(page, "11-apply-history")
    follow(page, page.locator("#result_list tbody th a").first)
    assert "OS user" in visible_text(page) and "Os user" not in visible_text(page)
    assert "Duration (ms)" in visible_text(page)
    plan = page.locator("pre.reconciler-plan")
    assert right_edge(plan) <= WIDTH and page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    shot(page, "12-apply-record")

    page.goto(f"{base}/admin/reconciler/operationrecord/")
    assert page.locator("h1").inner_text() == "Select operation to view"
    assert "1 operation" in page.locator(".paginator").inner_text()
    assert "operations log" not in page.locator("body").inner_text().lower()
    shot(page, "13-operations")
    follow(page, page.locator("#result_list tbody th a").first)
    assert "Celery task id" in visible_text(page)
    shot(page, "14-operation")


def test_run_in_flight_and_skipped_runs_in_the_admin(
    page: Any, live_server: Any, tmp_path: Path, settings: Any,
) -> None:
    """A schedule whose run hangs past its max_runtime while beat skips the next slots: the list
    says running-long; its page says which run, since when, and each run not sent and why."""
    from datetime import timedelta

    from celery import states
    from django.utils import timezone

    from tests.support.observe import record_run, record_skip, set_policy, track_run

    folder = tmp_path / "schedules"
    shutil.copytree(Path(__file__).resolve().parents[2] / "schedules", folder)
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    now = timezone.now()
    apply_yaml(folder, now=now - timedelta(hours=3))
    name = "sync-inventory-main"
    for i in range(6):
        record_run(name, "project.tasks.sync_inventory", states.SUCCESS, now - timedelta(minutes=120 - 15 * i),
                   runtime=300 + 20 * i, worker="celery@web-2")
    set_policy(name, overlap="skip", max_runtime=600, catchup="skip")
    task_id = track_run(name, now - timedelta(minutes=30), started=now - timedelta(minutes=30) + timedelta(seconds=2))
    record_run(name, "project.tasks.sync_inventory", states.STARTED, now - timedelta(minutes=30), worker="celery@web-2")
    for minutes in (15, 0):
        slot = now - timedelta(minutes=minutes)
        record_skip(name, "overlap", slot, slot, detail=f"run {task_id} still running (started 30 min before)")
    record_skip(name, "catchup", now - timedelta(minutes=150), now - timedelta(minutes=140), count=8,
                first_slot=now - timedelta(minutes=255), detail="beat was down 2 h: catchup skip sends none")
    User.objects.create_superuser("admin", "admin@example.com", "admin")
    base = live_server.url
    login(page, base, "/admin/django_celery_beat/periodictask/")

    results = page.locator("#result_list")
    assert results.locator("tr", has_text=name).locator(".reconciler-health").inner_text() == "running-long"
    shot(page, "15-list-running-long")

    follow(page, page.get_by_role("link", name=name, exact=True))
    tracked = page.locator("#reconciler-tracked")
    run = tracked.locator(".reconciler-run").inner_text()
    assert re.search(rf"Current run: running running-long since {ISO} \(\d+m ago\), max runtime 600 s\.", run), run
    assert task_id in run
    assert tracked.locator(".reconciler-health-running-long").is_visible()
    rows = tracked.locator("table.reconciler-skipped tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).locator("td.reason").inner_text() == "overlap\nthe previous run was still queued or running"
    assert rows.nth(2).locator("td.count").inner_text() == "8"
    assert re.fullmatch(rf"{ISO} to\n?{ISO}", rows.nth(2).locator("td.slot").inner_text().strip())
    assert right_edge(tracked.locator("table.reconciler-skipped")) <= WIDTH, "the skipped runs are cut off"
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    tracked.scroll_into_view_if_needed()
    shot(page, "16-run-in-flight-and-skipped-runs")
    tracked.screenshot(path=str(SHOTS / "16b-run-in-flight-and-skipped-runs-section.png"))
