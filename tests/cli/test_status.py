"""``reconcile status`` as a process: the table, JSON, one schedule's runs, --fail-on exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import manage
from tests.support.processes import process_database

YAML = """tasks:
  beat-1:
    task: project.tasks.heartbeat
    every: 30s
  paused:
    task: project.tasks.heartbeat
    every: 1m
    enabled: false
"""


@pytest.fixture
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    with process_database(tmp_path, migrated=True) as url:
        folder = tmp_path / "schedules"
        folder.mkdir()
        (folder / "s.yaml").write_text(YAML)
        environment = {"DATABASE_URL": url, "RECONCILER_SCHEDULES_DIR": str(folder)}
        assert manage("reconcile", "apply", env=environment).returncode == 0
        yield environment


@pytest.mark.db_backend
def test_status_table_json_and_fail_on(env: dict[str, str]) -> None:
    table = manage("reconcile", "status", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "HEALTH", "LAST", "RUN", "STATE", "NEXT", "RUN", "QUEUE", "TASK"]
    assert lines[1].split()[:4] == ["beat-1", "never-run", "never", "-"]
    assert lines[2].split()[:2] == ["paused", "disabled"]
    assert lines[-1] == "2 schedules: 1 never-run, 1 disabled"

    probe = manage("reconcile", "status", "--format", "json", "--fail-on", "late,never-run", env=env)
    assert probe.returncode == 1
    payload = json.loads(probe.stdout)
    assert payload["counts"] == {"never-run": 1, "disabled": 1}
    assert [s["health"] for s in payload["schedules"]] == ["never-run", "disabled"]
    assert manage("reconcile", "status", "--fail-on", "late,failing", env=env).returncode == 0

    one = manage("reconcile", "status", "beat-1", env=env)
    assert one.returncode == 0 and "no runs recorded" in one.stdout and "grace 60s" in one.stdout
    assert manage("reconcile", "suspend", "beat-1", "--reason", "incident 42", env=env).returncode == 0
    suspended = manage("reconcile", "status", "beat-1", env=env)
    assert suspended.stdout.splitlines()[1].split()[:2] == ["beat-1", "suspended"]
    assert "suspended since " in suspended.stdout and "`reconcile resume beat-1` ends it" in suspended.stdout
    assert manage("reconcile", "status", "--fail-on", "suspended", env=env).returncode == 1
    missing = manage("reconcile", "status", "nope", env=env)
    assert missing.returncode == 1 and "no schedule named 'nope'" in missing.stderr
    assert manage("reconcile", "status", "--fail-on", "sideways", env=env).returncode == 2


def test_an_unmigrated_database_says_so_in_every_format(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    text = manage("reconcile", "status", env=env)
    assert text.returncode == 1 and "python manage.py migrate" in text.stderr
    payload = json.loads(manage("reconcile", "forecast", "--format", "json", env=env).stdout)
    assert payload["error"]["kind"] == "not-migrated"


@pytest.mark.db_backend
@pytest.mark.django_db
def test_without_django_celery_results_status_reports_what_the_rows_say(tmp_path: Path) -> None:
    """No result store: no exit 1, but the rows' facts and one line naming the [results] extra."""
    import io

    from django.test import modify_settings

    from reconciler.cli.status import run
    from reconciler.core.errors import ReconcilerError
    from reconciler.observe.health import Health
    from reconciler.operate import suspend
    from tests.support.engine import apply_yaml

    apply_yaml(tmp_path / "schedules", YAML)
    suspend("beat-1", reason="incident 42")

    def status(**options: object) -> tuple[int, str]:
        out = io.StringIO()
        code = run({"name": None, "format": "text", "fail_on": (), **options}, out)
        return code, out.getvalue()

    with modify_settings(INSTALLED_APPS={"remove": ["django_celery_results"]}):
        code, text = status()
        assert code == 0
        lines = text.splitlines()
        assert lines[0].split() == ["NAME", "STATE", "LAST", "SENT", "NEXT", "RUN", "QUEUE", "TASK"]
        assert lines[1].split()[:2] == ["beat-1", "suspended"]
        assert lines[2].split()[:2] == ["paused", "disabled"]
        assert lines[3] == "2 schedules: 1 suspended, 1 disabled"
        assert lines[4].startswith("run health (ok, late, failing, never-run) needs recorded runs: ")
        assert "pip install 'django-schedules-reconciler[results]'" in lines[4] and len(lines) == 5

        code, one = status(name="beat-1")
        assert code == 0 and "`reconcile resume beat-1` ends it" in one

        code, raw = status(format="json", fail_on=(Health.SUSPENDED,))
        payload = json.loads(raw)
        assert code == 1 and payload["runs_recorded"] is False and "[results]" in payload["note"]
        healths = [(s["name"], s["health"]) for s in payload["schedules"]]
        assert healths == [("beat-1", "suspended"), ("paused", "disabled")]

        with pytest.raises(ReconcilerError, match=r"--fail-on late: run health .* needs recorded runs"):
            status(fail_on=(Health.LATE,))
        with pytest.raises(ReconcilerError, match="no schedule named 'nope'"):
            status(name="nope")


@pytest.mark.db_backend
@pytest.mark.django_db
def test_running_long_and_skipped_runs(tmp_path: Path) -> None:
    """A run past its max_runtime is running-long (``--fail-on running-long`` exits 1), the runs
    beat skipped in the last 24 h get a line per schedule, and one schedule's page shows its
    tracked run and its last skip decisions; without a result store too (beat's own records)."""
    import io
    from datetime import timedelta

    from django.test import modify_settings
    from django.utils import timezone

    from reconciler.cli.status import _healths, run
    from reconciler.observe.health import Health
    from tests.support.engine import apply_yaml
    from tests.support.observe import record_skip, set_policy, track_run

    now = timezone.now()
    apply_yaml(tmp_path / "schedules", YAML, now=now - timedelta(hours=1))
    set_policy("beat-1", overlap="skip", max_runtime=600)
    task_id = track_run("beat-1", now - timedelta(minutes=20), started=now - timedelta(minutes=19))
    record_skip("beat-1", "catchup", now - timedelta(hours=2), now - timedelta(hours=1), count=12,
                first_slot=now - timedelta(hours=8), detail="catchup: skip")
    minute_ago = now - timedelta(minutes=1)
    record_skip("beat-1", "overlap", minute_ago, minute_ago, detail=f"{task_id} running")
    record_skip("beat-1", "overlap", now - timedelta(days=3), now - timedelta(days=3))  # not in the last 24 h

    def status(**options: object) -> tuple[int, str]:
        out = io.StringIO()
        code = run({"name": None, "format": "text", "fail_on": (), **options}, out)
        return code, out.getvalue()

    assert _healths("late,running-long") == (Health.LATE, Health.RUNNING_LONG)
    code, text = status(fail_on=(Health.RUNNING_LONG,))
    lines = text.splitlines()
    assert code == 1 and lines[1].split()[:2] == ["beat-1", "running-long"]
    assert lines[3:] == ["2 schedules: 1 running-long, 1 disabled", "runs skipped in the last 24 h:",
                         f"  beat-1  13 runs (last: overlap, {lines[-1].split('overlap, ')[1]}"]
    assert lines[-1].endswith(" 1m ago)")
    assert status(fail_on=(Health.LATE, Health.FAILING))[0] == 0

    code, one = status(name="beat-1")
    assert "tracked run: running since " in one and f"task id {task_id}, max_runtime 600s: RUNNING LONG" in one
    assert "last 3 skipped-run decisions:" in one and "catchup  12" in one and f"{task_id} running" in one

    code, raw = status(format="json")
    beat = json.loads(raw)["schedules"][0]
    assert (beat["health"], beat["run"]["state"], beat["run"]["running_long"]) == ("running-long", "running", True)
    assert (beat["recent_skips"]["count"], beat["recent_skips"]["last_reason"]) == (13, "overlap")
    assert json.loads(raw)["schedules"][1]["recent_skips"] is None
    assert [k["reason"] for k in json.loads(status(format="json", name="beat-1")[1])["skipped_runs"]] == [
        "overlap", "catchup", "overlap"]

    with modify_settings(INSTALLED_APPS={"remove": ["django_celery_results"]}):
        code, text = status(fail_on=(Health.RUNNING_LONG,))
        assert code == 1 and text.splitlines()[1].split()[:2] == ["beat-1", "running-long"]
        assert "runs skipped in the last 24 h:" in text
        code, one = status(name="beat-1", format="json")
        assert json.loads(one)["schedules"][0]["run"]["task_id"] == task_id


@pytest.mark.db_backend
def test_a_teams_probe_by_owner(env: dict[str, str]) -> None:
    """``--owner team-billing --fail-on failing,late``: exit 1 for that team's failing schedule
    only; the table's OWNER column and the JSON's owner and severity (``ManagedTask.monitor``)."""
    code = (
        "from reconciler.models import ManagedTask;"
        "from django_celery_results.models import TaskResult;"
        "ManagedTask.objects.filter(periodic_task__name='beat-1')"
        ".update(monitor='{\"owner\":\"team-billing\",\"severity\":\"page\"}');"
        "TaskResult.objects.create(task_id='t1', periodic_task_name='beat-1', task_name='project.tasks.heartbeat',"
        " status='FAILURE')"
    )
    assert manage("shell", "-c", code, env=env).returncode == 0
    billing = manage("reconcile", "status", "--owner", "team-billing", "--fail-on", "failing,late", env=env)
    assert billing.returncode == 1, billing.stderr
    lines = billing.stdout.splitlines()
    assert lines[0].split()[-1] == "OWNER" and lines[1].split()[:2] == ["beat-1", "failing"]
    assert lines[1].split()[-1] == "team-billing" and lines[2] == "1 schedule: 1 failing"
    others = manage("reconcile", "status", "--owner", "team-ops", "--fail-on", "failing,late", env=env)
    assert others.returncode == 0 and others.stdout.splitlines()[-1] == "0 schedules: none"
    paged = json.loads(manage("reconcile", "status", "--severity", "page", "--format", "json", env=env).stdout)
    assert [(s["name"], s["owner"], s["severity"]) for s in paged["schedules"]] == [("beat-1", "team-billing", "page")]
    one = manage("reconcile", "status", "beat-1", env=env).stdout
    assert "monitor: owner team-billing, severity page" in one
