"""Real processes for end-to-end tests: `celery beat`, `celery worker`, `manage.py ...`,
sharing one file database (SQLite file or a fresh PostgreSQL database) and Redis."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
# The pass's backend -> a database migrated once per session (an SQLite file, a PostgreSQL
# database name) that each migrated process database is copied from: a `manage.py migrate`
# costs a Django start-up and some seconds of CPU, and most end-to-end tests need one.
_TEMPLATES: dict[str, str] = {}


@contextmanager
def process_database(tmp_path: Path, *, migrated: bool = False) -> Iterator[str]:
    """A database URL that other processes can open: the backend of the current test run
    (DATABASE_URL), as a new SQLite file or a new PostgreSQL database dropped afterwards.
    ``migrated``: a copy of the session's migrated template, as `migrate` would leave it."""
    if not _on_postgresql():
        path = tmp_path / "live.sqlite3"
        if migrated:
            shutil.copyfile(_template(), path)
        yield f"sqlite:///{path}"
        return
    import psycopg

    name = f"reconciler_live_{uuid.uuid4().hex[:8]}"
    template = f' TEMPLATE "{_template()}"' if migrated else ""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


def _template() -> str:
    """The session's migrated database for this pass, made on first use."""
    vendor = "postgresql" if _on_postgresql() else "sqlite"
    if vendor in _TEMPLATES:
        return _TEMPLATES[vendor]
    if vendor == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="reconciler-template-")) / "migrated.sqlite3"
        _TEMPLATES[vendor] = str(path)
        migrate(f"sqlite:///{path}")
        return str(path)
    import psycopg

    name = f"reconciler_template_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _TEMPLATES[vendor] = name  # dropped at the session's end, even if the migrate below fails
    migrate(f"postgres://postgres@127.0.0.1:5432/{name}")
    return name


def migrate(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "migrate", "--no-input", "-v", "0"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def drop_templates() -> None:
    """At the session's end (tests/conftest.py): remove the migrated templates."""
    while _TEMPLATES:
        vendor, template = _TEMPLATES.popitem()
        if vendor == "sqlite":
            shutil.rmtree(Path(template).parent, ignore_errors=True)
            continue
        import psycopg

        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


@dataclass
class Stack:
    """Environment and processes of one end-to-end scenario."""

    root: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def schedules(self) -> Path:
        return self.root / "schedules"

    @property
    def task_log(self) -> Path:
        return self.root / "task-runs.log"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        handle = self.log(name).open("ab")
        process = subprocess.Popen(
            list(args), cwd=REPO, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start_worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self.start(
            name, CELERY, "-A", "project", "worker", "-l", "info", "--pool", "solo",
            "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{name}@%h",
        )

    def start_beat(self, name: str = "beat", scheduler: str = "reconciler.scheduler:ReconcilingScheduler",
                   *extra: str) -> subprocess.Popen[bytes]:
        return self.start(
            name, CELERY, "-A", "project", "beat", "-l", "info", "-S", scheduler,
            "--pidfile=", f"--schedule={self.root / (name + '-schedule')}", *extra,
        )

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def runs(self, task: str | None = None) -> list[dict[str, Any]]:
        """The executions the worker recorded (project/tasks.py writes one JSON line each)."""
        if not self.task_log.exists():
            return []
        lines = [json.loads(line) for line in self.task_log.read_text().splitlines() if line.strip()]
        return [line for line in lines if task is None or line["task"] == task]


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@contextmanager
def live_stack(tmp_path: Path, broker_url: str, **extra_env: str) -> Iterator[Stack]:
    with process_database(tmp_path, migrated=True) as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "DEMO_TASK_LOG": str(tmp_path / "task-runs.log"),
            "RECONCILER_SCHEDULES_DIR": str(tmp_path / "schedules"),
            "PROJECT_VAR_DIR": str(tmp_path / "var"),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        stack = Stack(tmp_path, env)
        stack.schedules.mkdir()
        try:
            yield stack
        finally:
            stack.stop_all()
