"""Shared fixtures and the rules that keep a test run honest.

- Service checks: under CI=true a missing service fails the test instead of skipping it, so that
  nothing silently goes untested. ``require_service`` does that for the checks it makes, and a
  report hook does it for ANY skip whose reason names a service, however it was raised.
- The one documented exception: a test that belongs to the other database backend's pass is
  marked ``@pytest.mark.only_backend("postgresql")`` (or ``"sqlite"``); it skips in the other pass
  with the reason "runs in the PostgreSQL pass" and is always selected by ``-m db_backend`` (the
  PostgreSQL pass of bin/test), since the marker implies ``db_backend``.
- Golden files are regenerated only on purpose (UPDATE_GOLDEN=1), never under CI=true.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.processes import drop_templates

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
IN_CI = os.environ.get("CI") == "true"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")

# A skip reason naming one of these is a service skip: a failure under CI=true.
SERVICE_WORDS = re.compile(  # a word that starts with one of these ("redis_client", "workers", "services")
    r"\b(postgres|redis|celery|beat|worker|broker|chromium|playwright|browser|listen/notify|database server|service)",
    re.IGNORECASE,
)
BACKEND_PASSES = {"postgresql": "runs in the PostgreSQL pass", "sqlite": "runs in the SQLite pass"}
_OTHER_PASS_SKIP = pytest.StashKey[str]()
_REGENERATED: list[str] = []  # golden files written by the running test (UPDATE_GOLDEN)


def require_service(name: str, reason: str) -> None:
    """Skip (or, under CI=true, fail) a test whose service is not reachable."""
    message = f"{name} is not reachable: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: service tests may not be skipped)")
    pytest.skip(message)


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and UPDATE_GOLDEN:
        raise pytest.UsageError(
            "UPDATE_GOLDEN is set and CI=true: golden files are regenerated on purpose, on a workstation, "
            "and the diff looked at before it is committed; CI only compares. Unset UPDATE_GOLDEN."
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_templates()  # the migrated databases that end-to-end tests copy (tests/support/processes.py)


@pytest.hookimpl(tryfirst=True)  # before -m selects: `-m db_backend` must see the implied marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("only_backend")
        if marker is None:
            continue
        if len(marker.args) != 1 or marker.args[0] not in BACKEND_PASSES:
            raise pytest.UsageError(f"{item.nodeid}: only_backend takes one of {sorted(BACKEND_PASSES)}")
        if item.get_closest_marker("db_backend") is None:
            item.add_marker(pytest.mark.db_backend)


@pytest.hookimpl(tryfirst=True)  # before the fixtures (a service the other pass needs is not asked for)
def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("only_backend")
    if marker is None:
        return
    from django.db import connection

    if connection.vendor != marker.args[0]:
        reason = BACKEND_PASSES[marker.args[0]]
        item.stash[_OTHER_PASS_SKIP] = reason
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "setup":
        _REGENERATED.clear()
    if report.when == "call" and report.passed and _REGENERATED:
        report.outcome = "skipped"  # compared with itself, it proves nothing: reported, not passed
        path, line, _ = item.reportinfo()
        report.longrepr = (str(path), (line or 0) + 1, "Skipped: regenerated " + ", ".join(_REGENERATED)
                           + ": look at git diff tests/golden, then run again without UPDATE_GOLDEN")
    if not (IN_CI and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if item.stash.get(_OTHER_PASS_SKIP, None) == reason:
        return  # the documented other-pass skip, raised by only_backend itself
    if SERVICE_WORDS.search(reason):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true: {reason!r} names a service, and service tests may not be skipped "
            '(a test of the other backend\'s pass uses @pytest.mark.only_backend("postgresql"|"sqlite"))'
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    """The same rule for a whole module skipped at import (``allow_module_level``, importorskip)."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        reason = skip_reason(report)
        if SERVICE_WORDS.search(reason):
            report.outcome = "failed"
            report.longrepr = f"skipped under CI=true: {reason!r} names a service, and service tests may not be skipped"


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def redis_url() -> str:
    """Redis database 15, or one of its own for each pytest-xdist worker (gw1: 14 …): a test's
    ``flushdb`` never empties another worker's queue."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    return os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - worker}")


@pytest.fixture
def redis_broker() -> str:
    import redis

    url = redis_url()
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.ping()
    except Exception as exc:
        require_service("Redis", f"{url}: {exc}")
    client.flushdb()
    return url


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` whole with ``tests/golden/<name>``. With UPDATE_GOLDEN=1 write it instead;
    the test is then reported skipped ("regenerated ..."), not passed: a regenerated file compared
    with itself proves nothing. Run again without UPDATE_GOLDEN, after looking at the diff."""
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        if IN_CI:  # pytest_configure refuses the run already; this guards a direct call
            pytest.fail("UPDATE_GOLDEN under CI=true: golden files are never regenerated in CI")
        before = path.read_text(encoding="utf-8") if path.exists() else None
        path.write_text(text, encoding="utf-8")
        what = "unchanged" if before == text else ("created" if before is None else "CHANGED")
        _REGENERATED.append(f"tests/golden/{name} ({what})")
        return  # the test goes on (it may write more files); its report becomes a skip
    assert text == path.read_text(encoding="utf-8"), f"differs from tests/golden/{name} (UPDATE_GOLDEN=1 regenerates)"
