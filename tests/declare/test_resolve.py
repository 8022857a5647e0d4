"""Reading the Celery registry (``declare.resolve.registry_from_app``) does not run Django's
system checks (Celery's Django fix-up would, at every read); ``manage.py check`` still does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command

from reconciler.declare.resolve import registry_from_app
from reconciler.declare.tree import celery_app

RAN: list[int] = []


@pytest.fixture
def counted_check() -> Iterator[None]:
    def count(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
        RAN.append(1)
        return []

    RAN.clear()
    checks.register(count)
    yield
    checks.registry.registry.registered_checks.discard(count)


@pytest.mark.parametrize("preset", [None, "1"], ids=["unset", "set-by-the-project"])
def test_the_registry_is_read_without_the_system_checks(
    counted_check: None, monkeypatch: pytest.MonkeyPatch, preset: str | None,
) -> None:
    if preset is None:
        monkeypatch.delenv("CELERY_SKIP_CHECKS", raising=False)
    else:
        monkeypatch.setenv("CELERY_SKIP_CHECKS", preset)
    registry = registry_from_app(celery_app())
    assert "project.tasks.heartbeat" in registry.signatures
    assert RAN == []
    assert os.environ.get("CELERY_SKIP_CHECKS") == preset


def test_manage_py_check_still_runs_them(counted_check: None) -> None:
    call_command("check", verbosity=0)
    assert RAN == [1]


def test_celery_alone_would_run_them(counted_check: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the skip saves: the fix-up runs every check at each ``import_default_modules``."""
    monkeypatch.delenv("CELERY_SKIP_CHECKS", raising=False)
    celery_app().loader.import_default_modules()
    assert RAN == [1]
