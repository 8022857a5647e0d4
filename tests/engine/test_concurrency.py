"""Concurrent applies and a SIGKILL in the middle of one, with real processes on a shared
database (an SQLite file, or a PostgreSQL database in the PostgreSQL pass)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.engine import interval_tasks
from tests.support.processes import REPO, process_database, wait_for

pytestmark = [pytest.mark.db_backend]


def start_apply(folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """An apply of ``folder`` as the configured folder, under an explicit source name: release
    directories outside BASE_DIR are one source only when named (docs/deploy.md)."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "reconcile", "apply", "--lock-timeout", "120"],
        cwd=REPO,
        env={**env, "RECONCILER_SCHEDULES_DIR": str(folder), "RECONCILER_SOURCE_NAME": "schedules"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def state(url: str) -> list[tuple[str, str]]:
    """(name, interval seconds) of every PeriodicTask, read straight from the database."""
    sql = (
        "SELECT t.name, i.every FROM django_celery_beat_periodictask t "
        "JOIN django_celery_beat_intervalschedule i ON i.id = t.interval_id ORDER BY t.name"
    )
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return [(n, str(e)) for n, e in conn.execute(sql)]
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        return [(n, str(e)) for n, e in conn.execute(sql)]


def in_write_transaction(url: str) -> bool:
    """Whether some apply currently holds the reconcile lock (so it is inside its transaction)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    import psycopg

    from reconciler.db.locking import ADVISORY_KEY

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted", [ADVISORY_KEY]
        ).fetchone()
        return bool(row and row[0])


@pytest.fixture
def database(tmp_path: Path):  # type: ignore[no-untyped-def]
    with process_database(tmp_path, migrated=True) as url:
        yield url, {**os.environ, "DATABASE_URL": url}


def declare(parent: Path, text: str) -> Path:
    """Alternative versions of one schedules source: folders of the same name (``schedules``),
    as in successive release directories of a deploy."""
    folder = parent / "schedules"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "s.yaml").write_text(text)
    return folder


def test_concurrent_applies_serialize_and_end_in_a_declared_state(tmp_path: Path, database) -> None:  # type: ignore[no-untyped-def]
    url, env = database
    a = declare(tmp_path / "a", interval_tasks(300, every=60))
    b = declare(tmp_path / "b", interval_tasks(250, every=1000))
    processes = [start_apply(folder, env) for folder in (a, b, a, b)]
    results = [(*p.communicate(timeout=180), p.returncode) for p in processes]
    for out, err, code in results:
        assert code == 0, out[-2000:] + err[-2000:]
        assert "IntegrityError" not in err
    final = state(url)
    expected_a = [(f"t-{i:05d}", str(60 + i)) for i in range(300)]
    expected_b = [(f"t-{i:05d}", str(1000 + i)) for i in range(250)]
    assert final in (expected_a, expected_b)
    assert len({name for name, _ in final}) == len(final)


KILL_MID_WRITE = """
import os, signal, sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()
from django.core.management import call_command
from django.db import connection

folder, committed, report = sys.argv[1], int(sys.argv[2]), sys.argv[3]
checking = False


def kill_once_rows_are_written(execute, sql, params, many, context):
    # After each statement apply runs: once this connection sees more task rows than were
    # committed, apply has written some (inside its transaction); die there, before its commit.
    global checking
    result = execute(sql, params, many, context)
    if checking:
        return result
    checking = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_celery_beat_periodictask")
        seen = cursor.fetchone()[0]
    checking = False
    if seen > committed:
        with open(report, "w") as out:
            out.write(str(seen))
        os.kill(os.getpid(), signal.SIGKILL)
    return result


with connection.execute_wrapper(kill_once_rows_are_written):
    call_command("reconcile", "apply", "--path", folder, "--lock-timeout", "120")
sys.exit("the apply committed: it was never seen writing inside its transaction")
"""


def dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the database, read from outside any apply."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in sorted(tables)}
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        tables = [n for (n,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in sorted(tables)}


def test_sigkill_in_the_middle_leaves_the_database_as_before(tmp_path: Path, database) -> None:  # type: ignore[no-untyped-def]
    url, env = database
    small = declare(tmp_path / "small", interval_tasks(5))
    assert start_apply(small, env).wait(60) == 0
    before = dump(url)
    large = declare(tmp_path / "large", interval_tasks(500, every=5))
    report = tmp_path / "seen"
    killed = subprocess.run(
        [sys.executable, "-c", KILL_MID_WRITE, str(large), "5", str(report)], cwd=REPO,
        env={**env, "RECONCILER_SCHEDULES_DIR": str(large), "RECONCILER_SOURCE_NAME": "schedules"},  # as start_apply
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert int(report.read_text()) == 500, "killed with the created rows written, before the commit"
    assert wait_for(lambda: not in_write_transaction(url), timeout=30)
    assert dump(url) == before
    finish = start_apply(large, env)
    _, err = finish.communicate(timeout=180)
    assert finish.returncode == 0, err[-2000:]
    assert state(url) == [(f"t-{i:05d}", str(5 + i)) for i in range(500)]
