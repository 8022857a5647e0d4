"""What the benchmarks share: a fresh database per measurement (an SQLite file or a new
PostgreSQL database), a child process per backend (Django's settings are per process), and
the counters: seconds, statements, row-changing statements, peak memory."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def fresh_database(backend: str) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, a temporary folder) for one measurement; dropped afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            yield f"sqlite:///{tmp}/bench.sqlite3", tmp
            return
        import psycopg

        name = f"reconciler_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgres://postgres@127.0.0.1:5432/{name}", tmp
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_child(script: str, backend: str, size: int) -> dict[str, Any]:
    """Run ``script --child SIZE`` against a fresh database; it prints one JSON line."""
    with fresh_database(backend) as (url, tmp):
        env = {**os.environ, "DATABASE_URL": url, "BENCH_DIR": tmp, "PROJECT_VAR_DIR": tmp,  # a cold cache
               "DJANGO_SETTINGS_MODULE": "project.settings"}
        proc = subprocess.run(
            [sys.executable, script, "--child", str(size)], env=env, capture_output=True, text=True,
            check=False, cwd=REPO,
        )
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_or_run_child(parser: argparse.ArgumentParser, measure: Callable[[int], Any]) -> argparse.Namespace | None:
    """Every bench's ``--backends`` and the hidden ``--child SIZE`` that ``run_child`` passes: in a
    child, print ``measure(SIZE)`` as one JSON line and return None; in the parent, the options."""
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(int(options.child))))
        return None
    return options


def setup_child() -> None:
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(fn: Callable[[], Any]) -> dict[str, Any]:
    """Seconds, statements and row-changing statements of one call (an execute wrapper counts
    them all: Django's query log is capped at 9,000 entries)."""
    from django.db import connection

    sql: list[str] = []

    def record(execute, statement, params, many, context):  # type: ignore[no-untyped-def]
        sql.append(statement)
        return execute(statement, params, many, context)

    with connection.execute_wrapper(record):
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
    writes = [q for q in sql if q.split()[0].upper() in ("INSERT", "UPDATE", "DELETE") and "WHERE 0 = 1" not in q]
    return {"seconds": seconds, "queries": len(sql), "writes": len(writes), "value": value, "sql": writes}


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak traced memory of one call (tracemalloc slows what it measures: a separate run)."""
    import tracemalloc

    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6
