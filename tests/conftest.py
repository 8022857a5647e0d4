"""Shared fixtures. Service checks: under CI=true a missing service fails the test instead
of skipping it, so that nothing silently goes untested."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
IN_CI = os.environ.get("CI") == "true"


def require_service(name: str, reason: str) -> None:
    """Skip (or, under CI=true, fail) a test whose service is not reachable."""
    message = f"{name} is not reachable: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: service tests may not be skipped)")
    pytest.skip(message)


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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
