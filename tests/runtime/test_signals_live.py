"""The worker's signals (runtime.signals) with a real Celery worker (prefork, concurrency 2) on
Redis and the database of the pass: a run sent with our beat's headers marks its schedule's
lease started and finished; a failing run, a revoked run, a run without the headers, a stale
run; a pool process killed with SIGKILL (its parent reports the failure: the schedule is free
at once) and a whole worker killed in the middle of a run (nobody reports: the lease stays
until it expires, and ``beat.overlap`` sends again only after ``max_runtime``)."""
from __future__ import annotations

import os
import signal
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from tests.support.processes import CELERY, Stack, live_stack, wait_for
from tests.support.run_tasks import SLOW

pytestmark = [pytest.mark.db_backend, pytest.mark.services]

LIFETIME = timedelta(seconds=600)


@contextmanager
def database(url: str) -> Iterator[tuple[Any, str]]:
    """A plain connection to the stack's database and its placeholder."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20, isolation_level=None)
        try:
            yield conn, "?"
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as pg:
        yield pg, "%s"


def _moment(value: datetime, url: str) -> Any:
    """As Django stores a datetime: naive UTC text on SQLite."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if url.startswith("sqlite") else value


def lease_for(stack: Stack, name: str) -> str:
    """A lease as beat's claim leaves it, sent now: its task id."""
    task_id, now, url = str(uuid.uuid4()), datetime.now(UTC), stack.env["DATABASE_URL"]
    with database(url) as (conn, p):
        conn.execute(
            f"INSERT INTO reconciler_runlease (name, task_id, scheduled_time, sent_at, expires_at, outcome) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, '')",
            [name, task_id, _moment(now, url), _moment(now, url), _moment(now + LIFETIME, url)],
        )
    return task_id


def lease_of(stack: Stack, name: str) -> dict[str, Any]:
    with database(stack.env["DATABASE_URL"]) as (conn, p):
        row = conn.execute(
            f"SELECT task_id, started_at, finished_at, outcome, expires_at, sent_at FROM reconciler_runlease "
            f"WHERE name = {p}", [name],
        ).fetchone()
    return dict(zip(("task_id", "started_at", "finished_at", "outcome", "expires_at", "sent_at"), row, strict=True))


def send(broker: str, name: str | None, task_id: str, **kwargs: Any) -> None:
    """As our beat sends: the schedule's name and the slot's time in the headers (None: neither)."""
    headers = {} if name is None else {"periodic_task_name": name,
                                       "scheduled_time": datetime.now(UTC).replace(microsecond=0).isoformat()}
    Celery("sender", broker=broker).send_task(SLOW, kwargs=kwargs, task_id=task_id, headers=headers,
                                              countdown=kwargs.pop("countdown", None))


def start_worker(stack: Stack) -> None:
    stack.start("worker", CELERY, "-A", "project", "worker", "-l", "info", "--pool", "prefork", "-c", "2",
                "-I", "tests.support.run_tasks", "--without-heartbeat", "--without-gossip", "--without-mingle",
                "-n", "runs@%h")
    assert wait_for(lambda: "ready." in stack.log("worker").read_text(), timeout=60), \
        stack.log("worker").read_text()[-3000:]


def ended(stack: Stack, name: str) -> bool:
    return lease_of(stack, name)["finished_at"] is not None


def test_the_worker_marks_our_runs_started_and_finished(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        start_worker(stack)
        ok, failing, revoked = lease_for(stack, "ok"), lease_for(stack, "failing"), lease_for(stack, "revoked")
        unmarked = lease_for(stack, "unmarked")
        stale = lease_for(stack, "stale")
        send(redis_broker, "ok", ok, label="ok", seconds=0.5)
        send(redis_broker, "failing", failing, label="failing", fail=True, seconds=0.1)
        send(redis_broker, None, unmarked, label="unmarked", seconds=0.1)  # same task id, no headers
        send(redis_broker, "stale", str(uuid.uuid4()), label="stale", seconds=0.1)  # an older run's id
        send(redis_broker, "revoked", revoked, label="revoked", countdown=3)
        Celery("sender", broker=redis_broker).control.revoke(revoked)

        log = stack.log("worker")
        for name in ("ok", "failing", "revoked"):
            assert wait_for(lambda name=name: ended(stack, name), timeout=30), log.read_text()[-3000:]
        assert wait_for(lambda: {r["label"] for r in stack.runs("slow")} >= {"unmarked", "stale"}, timeout=30)
        assert wait_for(lambda: log.read_text().count("succeeded in") >= 3, timeout=30), log.read_text()[-3000:]

        got = {name: lease_of(stack, name) for name in ("ok", "failing", "revoked", "unmarked", "stale")}
        assert {name: row["outcome"] for name, row in got.items()} == {
            "ok": "success", "failing": "failure", "revoked": "revoked", "unmarked": "", "stale": "",
        }
        assert got["ok"]["task_id"] == ok and got["ok"]["started_at"] is not None
        assert got["stale"]["task_id"] == stale
        assert got["revoked"]["started_at"] is None, "a run revoked before it started never started"
        for name in ("unmarked", "stale"):  # not our beat's run, not the lease's run: untouched
            assert (got[name]["started_at"], got[name]["finished_at"]) == (None, None)
        assert "could not record" not in log.read_text()


def test_a_worker_killed_mid_run_leaves_the_lease_busy_until_it_expires(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        start_worker(stack)
        child = lease_for(stack, "child")  # a pool process killed (the OOM killer): its parent reports
        send(redis_broker, "child", child, label="child", seconds=60)
        assert wait_for(lambda: [r["pid"] for r in stack.runs("slow") if r["label"] == "child"], timeout=30)
        os.kill(next(r["pid"] for r in stack.runs("slow") if r["label"] == "child"), signal.SIGKILL)
        assert wait_for(lambda: ended(stack, "child"), timeout=30), stack.log("worker").read_text()[-3000:]
        assert lease_of(stack, "child")["outcome"] == "failure", "WorkerLostError: task_failure from the parent"

        task_id = lease_for(stack, "killed")
        send(redis_broker, "killed", task_id, label="killed", seconds=60)
        assert wait_for(lambda: lease_of(stack, "killed")["started_at"] is not None, timeout=30), \
            stack.log("worker").read_text()[-3000:]
        stack.stop("worker", signal.SIGKILL)  # the whole process group: no signal handler runs

        start_worker(stack)  # a fresh worker does not finish what another one was running
        row = lease_of(stack, "killed")
        assert (row["task_id"], row["finished_at"], row["outcome"]) == (task_id, None, "")
        started, expires = (_aware(row["started_at"]), _aware(row["expires_at"]))
        assert expires - started == LIFETIME, "busy for one lifetime after the start, then free"


def _aware(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
