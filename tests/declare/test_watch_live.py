"""The watcher as a real process over a real database: it never loses a row to a file caught
half-written, waits for a removed folder, and rides out a dropped and recreated database."""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import REPO, Stack, live_stack, wait_for

pytestmark = [pytest.mark.db_backend]

TASK = "  {name}:\n    task: project.tasks.heartbeat\n    every: {every}\n    kwargs: {{label: {name}}}\n"
FULL = "tasks:\n" + "".join(TASK.format(name=n, every=60 + i) for i, n in enumerate(("alpha", "beta", "gamma")))
GRACE = 4.0


def rows(stack: Stack) -> dict[str, list[object]]:
    """name → [pk, last_run_at, total_run_count], read by a separate process."""
    code = (
        "import json; from django_celery_beat.models import PeriodicTask as P; "
        "print(json.dumps({r[0]: [r[1], str(r[2]), r[3]] for r in "
        "P.objects.values_list('name', 'pk', 'last_run_at', 'total_run_count')}))"
    )
    result = stack.manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def record_runs(stack: Stack) -> None:
    """What beat leaves on rows that ran: a last run and a run count."""
    code = (
        "from django.utils import timezone; from django_celery_beat.models import PeriodicTask as P; "
        "P.objects.update(last_run_at=timezone.now(), total_run_count=7)"
    )
    assert stack.manage("shell", "-c", code).returncode == 0


def start_watch(stack: Stack, *extra: str) -> Path:
    stack.start("watch", sys.executable, str(REPO / "manage.py"), "reconcile", "watch", "--debounce", "0.2", *extra)
    return stack.log("watch")


@pytest.mark.only_backend("sqlite")  # the watcher's handling of files; on PostgreSQL: the last test's watcher
def test_a_file_written_in_two_halves_never_costs_a_row(tmp_path: Path) -> None:
    with live_stack(tmp_path, "memory://") as stack:
        target = stack.schedules / "s.yaml"
        target.write_text(FULL)
        log = start_watch(stack, "--delete-grace", str(GRACE))
        assert wait_for(lambda: "applied: +3" in log.read_text(), timeout=30), log.read_text()
        record_runs(stack)
        before = rows(stack)

        half = FULL[: FULL.index("  beta:")]  # valid YAML, missing beta and gamma
        with target.open("w") as handle:  # an editor or git checkout writing in two steps
            handle.write(half)
            handle.flush()
            time.sleep(1.5)  # far longer than the debounce: the watcher sees the truncated file
            assert wait_for(lambda: "held:" in log.read_text(), timeout=10), log.read_text()
            handle.write(FULL[len(half):])
        assert wait_for(lambda: log.read_text().count("in sync") >= 1, timeout=10), log.read_text()
        time.sleep(GRACE + 1.5)  # past the grace period: nothing is deleted after all
        assert rows(stack) == before, log.read_text()

        target.write_text(half)  # a real deletion: applied once the grace period has passed
        assert wait_for(lambda: "applied: +0 ~0 -2" in log.read_text(), timeout=GRACE + 10), log.read_text()
        assert sorted(rows(stack)) == ["alpha"]
        assert rows(stack)["alpha"] == before["alpha"]


@pytest.mark.only_backend("sqlite")  # as above
def test_a_removed_folder_keeps_every_row_until_it_comes_back(tmp_path: Path) -> None:
    with live_stack(tmp_path, "memory://") as stack:
        (stack.schedules / "s.yaml").write_text(FULL)
        log = start_watch(stack, "--delete-grace", "0")
        assert wait_for(lambda: "applied: +3" in log.read_text(), timeout=30), log.read_text()
        before = rows(stack)
        shutil.rmtree(stack.schedules)
        assert wait_for(lambda: "is gone" in log.read_text(), timeout=10), log.read_text()
        time.sleep(1.5)
        assert rows(stack) == before
        stack.schedules.mkdir()
        (stack.schedules / "s.yaml").write_text(FULL.replace("every: 60", "every: 61"))
        assert wait_for(lambda: "applied: +0 ~1 -0" in log.read_text(), timeout=15), log.read_text()
        assert stack.processes["watch"].poll() is None


@pytest.mark.only_backend("postgresql")  # dropping a database server's database (SQLite has no server)
def test_a_dropped_and_recreated_database_is_retried_not_fatal(tmp_path: Path) -> None:
    import psycopg

    with live_stack(tmp_path, "memory://") as stack:
        name = stack.env["DATABASE_URL"].rsplit("/", 1)[1]
        admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
        (stack.schedules / "s.yaml").write_text(FULL)
        log = start_watch(stack)
        assert wait_for(lambda: "applied: +3" in log.read_text(), timeout=30), log.read_text()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        (stack.schedules / "s.yaml").write_text(FULL.replace("every: 60", "every: 61"))
        assert wait_for(lambda: "retrying in" in log.read_text(), timeout=30), log.read_text()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        time.sleep(1)
        assert stack.processes["watch"].poll() is None, log.read_text()
        assert stack.manage("migrate", "--no-input", "-v", "0").returncode == 0
        assert wait_for(lambda: "applied: +3" in log.read_text().split("retrying in")[-1], timeout=90), log.read_text()
        assert "Traceback" not in log.read_text()
        assert stack.processes["watch"].poll() is None
