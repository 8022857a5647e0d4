"""Concurrent applies and a SIGKILL in the middle of one, with real processes on a shared
database (an SQLite file, or a PostgreSQL database in the PostgreSQL pass)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .engine import interval_tasks
from .processes import REPO, process_database, wait_for

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

    from reconciler.locking import ADVISORY_KEY

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted", [ADVISORY_KEY]
        ).fetchone()
        return bool(row and row[0])


@pytest.fixture
def database(tmp_path: Path):  # type: ignore[no-untyped-def]
    with process_database(tmp_path) as url:
        env = {**os.environ, "DATABASE_URL": url}
        migrate = subprocess.run(
            [sys.executable, str(REPO / "manage.py"), "migrate", "--no-input", "-v", "0"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        yield url, env


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


def test_sigkill_in_the_middle_leaves_the_database_as_before(tmp_path: Path, database) -> None:  # type: ignore[no-untyped-def]
    url, env = database
    small = declare(tmp_path / "small", interval_tasks(5))
    assert start_apply(small, env).wait(60) == 0
    before = state(url)
    large = declare(tmp_path / "large", interval_tasks(6000, every=5))
    process = start_apply(large, env)
    assert wait_for(lambda: in_write_transaction(url) or process.poll() is not None, timeout=60, interval=0.005)
    assert process.poll() is None, "the apply finished before it could be killed"
    time.sleep(0.2)  # let it write part of the plan
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert wait_for(lambda: not in_write_transaction(url), timeout=30)
    assert state(url) == before
    finish = start_apply(large, env)
    _, err = finish.communicate(timeout=180)
    assert finish.returncode == 0, err[-2000:]
    assert len(state(url)) == 6000
