"""The admin over real applies, plans and the Redis broker: django-celery-beat's PeriodicTask
admin replaced, managed rows read-only, actions behind their permissions, the catalogue."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reconciler.admin.periodic_tasks import PeriodicTaskAdmin
from reconciler.models import ApplyRecord, OperationRecord
from reconciler.operate import suspend
from tests.api.test_api import YAML
from tests.core.test_plan_record import old_record
from tests.support.api import broker_at
from tests.support.engine import apply_yaml

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]
CHANGELIST = "/admin/django_celery_beat/periodictask/"


@pytest.fixture
def applied(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "schedules"
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    settings.RECONCILER_SOURCE_ROOT = str(tmp_path)
    settings.RECONCILER_SOURCE_URL = "https://git.example.com/ops/blob/main/{path}#L{line}"
    apply_yaml(folder, YAML)
    PeriodicTask.objects.create(
        name="made-in-admin", task="project.tasks.heartbeat",
        interval=IntervalSchedule.objects.create(every=5, period="minutes"),
    )
    return folder


def staff_client(*codenames: str, superuser: bool = False) -> Client:
    user = User.objects.create_user("u-" + "-".join(codenames or ("su",)), password="pw", is_staff=True,
                                    is_superuser=superuser)
    perms = Permission.objects.filter(codename__in=[*codenames, "view_periodictask", "change_periodictask",
                                                    "delete_periodictask"])
    user.user_permissions.set(perms)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser() -> Client:
    return staff_client(superuser=True)


def pk(name: str) -> int:
    return PeriodicTask.objects.get(name=name).pk


def test_our_admin_replaces_django_celery_beats() -> None:
    assert isinstance(admin.site._registry[PeriodicTask], PeriodicTaskAdmin)


def test_changelist_says_what_git_manages_and_where(superuser: Client, applied: Path) -> None:
    suspend("digest", "incident 42", by="alice")
    page = html.unescape(superuser.get(CHANGELIST).content.decode())
    link = re.search(r'<a href="https://git.example.com/ops/blob/main/schedules/s.yaml#L6">(.*?)</a>', page)
    assert link and re.sub(r"<[^>]+>", "", link.group(1)) == "schedules/s.yaml:6"  # may wrap after "/" (<wbr>)
    assert "in sync" in page and "unmanaged" in page
    assert 'title="suspended by alice at' in page and "suspended: incident 42" in page and "Task catalogue" in page
    managed_only = superuser.get(CHANGELIST + "?managed=yes").content.decode()
    assert "made-in-admin" not in managed_only and "digest" in managed_only
    suspended = superuser.get(CHANGELIST + "?status=suspended").content.decode()
    assert "digest" in suspended and ">beat<" not in suspended
    found = superuser.get(CHANGELIST + "?q=send_digest").content.decode()
    assert "digest" in found and "made-in-admin" not in found


def test_a_managed_row_is_read_only_with_a_banner(superuser: Client, applied: Path) -> None:
    url = f"{CHANGELIST}{pk('beat')}/change/"
    page = html.unescape(superuser.get(url).content.decode())
    assert "Managed by the schedules reconciler: declared in" in page and "schedules/s.yaml:6" in page
    assert "reverted by the next apply" in page and 'name="_save"' not in page
    assert superuser.post(url, {"name": "hacked"}).status_code == 403
    assert superuser.get(f"{CHANGELIST}{pk('beat')}/delete/").status_code == 403
    assert PeriodicTask.objects.filter(name="beat").exists()


def test_a_suspended_rows_page_says_so_once_and_has_no_regtask(superuser: Client, applied: Path) -> None:
    suspend("digest", "incident 42", by="alice")
    page = html.unescape(superuser.get(f"{CHANGELIST}{pk('digest')}/change/").content.decode())
    banner = page[page.index('class="messagelist reconciler-banner"'):]
    banner = banner[:banner.index("</ul>")]
    assert banner.count("incident 42") == 1 and banner.count("uspended") == 1, banner
    assert re.search(r'<li class="error">\s*Suspended by alice at [^<]*: incident 42\. It stays disabled', banner)
    assert 'class="info"' not in banner and 'class="success"' not in banner
    assert "Regtask" not in page and "regtask" not in page


def test_an_unmanaged_row_keeps_django_celery_beats_behaviour(superuser: Client, applied: Path) -> None:
    page = superuser.get(f"{CHANGELIST}{pk('made-in-admin')}/change/").content.decode()
    assert 'name="_save"' in page and "Managed by the schedules reconciler" not in page
    assert 'name="regtask"' in page  # beat's registered-task picker, where it can be used
    assert superuser.get(f"{CHANGELIST}{pk('made-in-admin')}/delete/").status_code == 200


def test_bulk_delete_and_disable_skip_managed_rows(superuser: Client, applied: Path) -> None:
    selected = [pk("beat"), pk("made-in-admin")]
    confirm = superuser.post(CHANGELIST, {"action": "delete_selected", "_selected_action": selected, "post": "yes"})
    assert confirm.status_code == 403, "a selection holding a managed row is refused as a whole"
    assert PeriodicTask.objects.filter(name__in=["beat", "made-in-admin"]).count() == 2, "nothing was deleted"
    response = superuser.post(CHANGELIST, {"action": "disable_tasks", "_selected_action": selected}, follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said == ["Disabled 1 schedule: made-in-admin. Left 1 managed schedule as git declares it (beat): "
                    "git decides whether a managed schedule runs; use Suspend… to pause it."]
    assert PeriodicTask.objects.get(name="beat").enabled and not PeriodicTask.objects.get(name="made-in-admin").enabled
    unmanaged_only = {"action": "delete_selected", "_selected_action": [pk("made-in-admin")], "post": "yes"}
    assert superuser.post(CHANGELIST, unmanaged_only).status_code == 302
    assert not PeriodicTask.objects.filter(name="made-in-admin").exists(), "the unmanaged row alone is deleted"
    assert PeriodicTask.objects.filter(name="beat").exists()


@pytest.mark.parametrize(
    ("codenames", "visible"),
    [((), set()), (("run_schedule",), {"run_now"}), (("suspend_schedule",), {"suspend", "resume"})],
    ids=["none", "run", "suspend"],
)
def test_actions_need_their_permission(applied: Path, codenames: tuple[str, ...], visible: set[str]) -> None:
    page = staff_client(*codenames).get(CHANGELIST).content.decode()
    for action in ("run_now", "suspend", "resume"):
        assert (f'value="{action}"' in page) is (action in visible), action


def test_run_now_sends_what_beat_sends_and_says_the_id(superuser: Client, applied: Path, redis_broker: str) -> None:
    with broker_at(redis_broker):
        response = superuser.post(CHANGELIST, {"action": "run_now", "_selected_action": [pk("beat")]}, follow=True)
    record = OperationRecord.objects.get(action="run")
    assert f"Sent project.tasks.heartbeat for beat: Celery task id {record.celery_id}." in response.content.decode()
    assert redis.Redis.from_url(redis_broker).llen("api-test\x06\x163") == 1


def test_suspend_asks_why_then_resume(superuser: Client, applied: Path) -> None:
    ask = superuser.post(CHANGELIST, {"action": "suspend", "_selected_action": [pk("beat")]})
    assert ask.status_code == 200 and 'name="reason"' in ask.content.decode()
    done = superuser.post(
        CHANGELIST, {"action": "suspend", "_selected_action": [pk("beat")], "reason": "incident 42"}, follow=True
    )
    assert "Suspended beat (by u-su): incident 42. It stays disabled until resumed." in done.content.decode()
    assert not PeriodicTask.objects.get(name="beat").enabled
    back = superuser.post(CHANGELIST, {"action": "resume", "_selected_action": [pk("beat")]}, follow=True)
    assert "Resumed beat: it now matches git." in back.content.decode()
    assert PeriodicTask.objects.get(name="beat").enabled


def test_catalogue_and_an_ad_hoc_run(applied: Path, redis_broker: str) -> None:
    client = staff_client("view_managedtask", "run_schedule")
    page = client.get("/admin/django_celery_beat/periodictask/catalogue/").content.decode()
    assert "project.tasks.send_digest" in page and "E-mail the daily digest" in page and "digest" in page
    url = "/admin/django_celery_beat/periodictask/catalogue/project.tasks.send_digest/run/"
    refused = html.unescape(client.post(url, {"args": "[]", "kwargs": '{"audiense": "x"}'}).content.decode())
    assert "args/kwargs do not fit project.tasks.send_digest(audience: 'str'" in refused
    with broker_at(redis_broker):
        sent = client.post(url, {"args": '["staff"]', "kwargs": "{}", "eta": "2030-01-01T08:00:00+00:00"},
                           follow=True)
    record = OperationRecord.objects.get(action="run", task="project.tasks.send_digest")
    assert f"Celery task id {record.celery_id}" in sent.content.decode()
    assert staff_client("view_managedtask").get(url).status_code == 403


def test_apply_history_shows_the_text_plan(superuser: Client, applied: Path) -> None:
    record = ApplyRecord.objects.get()
    page = html.unescape(superuser.get(f"/admin/reconciler/applyrecord/{record.pk}/change/").content.decode())
    assert "+ beat  (project.tasks.heartbeat)" in page and "Plan: 2 to create, 0 to update, 0 to delete." in page


def test_apply_history_shows_a_format_1_record_stored_before(superuser: Client) -> None:
    record = ApplyRecord.objects.create(started_at=datetime(2026, 1, 1, tzinfo=UTC), outcome="applied",
                                        plan=old_record())
    page = html.unescape(superuser.get(f"/admin/reconciler/applyrecord/{record.pk}/change/").content.decode())
    assert "+ digest  (project.tasks.send_digest)" in page and "Plan: 2 to create, 3 to update, 1 to delete." in page




def test_operations_log_shows_a_resume_and_what_it_wrote(superuser: Client, applied: Path) -> None:
    suspend("beat", "incident 42", by="alice")
    superuser.post(CHANGELIST, {"action": "resume", "_selected_action": [pk("beat")]})
    listing = superuser.get("/admin/reconciler/operationrecord/").content.decode()
    assert "incident 42" in listing and "alice" in listing and "u-su" in listing
    record = OperationRecord.objects.get(action="resume")
    page = html.unescape(superuser.get(f"/admin/reconciler/operationrecord/{record.pk}/change/").content.decode())
    assert "~ beat  (project.tasks.heartbeat)" in page and "enabled: false → true" in page
