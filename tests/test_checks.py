"""System checks: each missing piece of the set-up has an id and a hint (docs/install.md)."""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.core.checks import run_checks
from django.test import override_settings

from reconciler import checks
from reconciler.pipeline import schedules_dir
from reconciler.scheduler import ReconcilingScheduler

# Celery apps for RECONCILER_CELERY_APP, configured as a project would (not made current).
PERSISTENT = Celery("persistent", set_as_current=False)
PERSISTENT.conf.beat_scheduler = "celery.beat:PersistentScheduler"
DATABASE = Celery("database", set_as_current=False)
DATABASE.conf.beat_scheduler = "django_celery_beat.schedulers:DatabaseScheduler"
OURS = Celery("ours", set_as_current=False)
OURS.conf.beat_scheduler = "reconciler.scheduler:ReconcilingScheduler"
OURS.conf.broker_url = "redis://127.0.0.1:6379/0"
HERE = __name__
POLICIES = str(Path(__file__).parent / "fixtures" / "policies")  # declarations with run-time policies
NO_POLICIES = str(Path(__file__).parent / "fixtures" / "valid")  # declarations without any


class OurSubclass(ReconcilingScheduler):
    """A project's own scheduler built on ours: it applies the policies too."""


SUBCLASS = Celery("subclass", set_as_current=False)
SUBCLASS.conf.beat_scheduler = f"{__name__}:OurSubclass"
POSTGRES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}}

# case → (settings, modules to treat as not installed, expected check ids)
CASES: dict[str, tuple[dict[str, Any], set[str], list[str]]] = {
    "demo-project-is-clean": ({}, set(), []),
    "use-tz-off": ({"USE_TZ": False}, set(), ["reconciler.E002"]),
    "celery-app-not-importable": ({"RECONCILER_CELERY_APP": "nowhere.celery:app"}, set(), ["reconciler.E003"]),
    "beat-watch-without-watchdog": ({"RECONCILER_BEAT_WATCH": True}, {"watchdog"}, ["reconciler.E004"]),
    "postgresql-without-psycopg": ({"DATABASES": POSTGRES}, {"psycopg"}, ["reconciler.E005"]),
    "schedules-folder-missing": ({"RECONCILER_SCHEDULES_DIR": "/nonexistent/schedules"}, set(), ["reconciler.W001"]),
    "beat-scheduler-persistent": (
        {"RECONCILER_CELERY_APP": f"{HERE}:PERSISTENT", "RECONCILER_SCHEDULES_DIR": NO_POLICIES}, set(),
        ["reconciler.W003"],
    ),
    "beat-scheduler-database": (
        {"RECONCILER_CELERY_APP": f"{HERE}:DATABASE", "RECONCILER_SCHEDULES_DIR": NO_POLICIES}, set(), [],
    ),
    "beat-scheduler-ours": ({"RECONCILER_CELERY_APP": f"{HERE}:OURS"}, set(), []),
    "redis-broker-without-client": ({"RECONCILER_CELERY_APP": f"{HERE}:OURS"}, {"redis"}, ["reconciler.W004"]),
    "source-name-only-a-fallback": ({"RECONCILER_SOURCE_NAME": ""}, set(), ["reconciler.W006"]),
    "policies-under-the-stock-scheduler": (
        {"RECONCILER_CELERY_APP": f"{HERE}:DATABASE", "RECONCILER_SCHEDULES_DIR": POLICIES}, set(), ["reconciler.E006"],
    ),
    "policies-under-persistent": (
        {"RECONCILER_CELERY_APP": f"{HERE}:PERSISTENT", "RECONCILER_SCHEDULES_DIR": POLICIES}, set(),
        ["reconciler.W003", "reconciler.E006"],
    ),
    "policies-under-ours": ({"RECONCILER_CELERY_APP": f"{HERE}:OURS", "RECONCILER_SCHEDULES_DIR": POLICIES}, set(), []),
    "policies-under-a-subclass-of-ours": (
        {"RECONCILER_CELERY_APP": f"{HERE}:SUBCLASS", "RECONCILER_SCHEDULES_DIR": POLICIES}, set(), [],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_system_checks(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides, missing, expected = CASES[case]
    monkeypatch.setattr(checks, "installed", lambda module: module not in missing)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Overriding setting DATABASES")  # only read by the check
        with override_settings(**{"RECONCILER_SOURCE_NAME": "demo", **overrides}):
            found = run_checks(tags=[checks.TAG])
    assert [m.id for m in found] == expected
    assert all(m.hint for m in found)


def test_the_policy_check_names_the_declarations_and_the_setting() -> None:
    settings = {"RECONCILER_CELERY_APP": f"{HERE}:DATABASE", "RECONCILER_SCHEDULES_DIR": POLICIES,
                "RECONCILER_SOURCE_NAME": "demo"}
    with override_settings(**settings):
        [message] = run_checks(tags=[checks.TAG])
    assert message.msg.startswith("2 declaration(s) use a run-time policy (heartbeat, sync-inventory-main)")
    assert "django_celery_beat.schedulers:DatabaseScheduler" in message.msg
    assert 'CELERY_BEAT_SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"' in message.hint
    assert "-S reconciler.scheduler:ReconcilingScheduler" in message.hint


def test_missing_extra_hint_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "installed", lambda module: module != "watchdog")
    with override_settings(RECONCILER_BEAT_WATCH=True, RECONCILER_SOURCE_NAME="demo"):
        [message] = run_checks(tags=[checks.TAG])
    assert message.hint == "pip install 'django-schedules-reconciler[watch]'"


def test_api_mounted_without_rest_framework_app_is_a_warning(settings) -> None:
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "rest_framework"]
    settings.RECONCILER_SOURCE_NAME = "demo"
    assert [m.id for m in run_checks(tags=[checks.TAG])] == ["reconciler.W005"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("schedules", "base/schedules"), ("conf/schedules", "base/conf/schedules"), ("/srv/schedules", "/srv/schedules")],
    ids=["relative", "nested", "absolute"],
)
def test_schedules_dir_is_resolved_against_base_dir(
    value: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the current directory plays no part
    with override_settings(RECONCILER_SCHEDULES_DIR=value, BASE_DIR=Path("/base")):
        assert schedules_dir() == Path("/") / expected


BARE_PROJECT = """
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS={apps!r}, USE_TZ=True, BASE_DIR=".",
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}},
)
try:
    django.setup()
except Exception as exc:
    print(f"{{type(exc).__name__}}: {{exc}}")
else:
    from django.core.checks import run_checks
    print(sorted(m.id for m in run_checks(tags=["reconciler"])))
"""
APPS = ["django.contrib.contenttypes", "django.contrib.auth"]

# A project of its own (not the demo, whose Celery app is loaded), in a process of its own.
BARE_CASES = {
    "no-celery-app-no-schedules-folder": ([*APPS, "django_celery_beat", "reconciler"], (
        "['reconciler.W001', 'reconciler.W002', 'reconciler.W006']"
    )),
    "django-celery-beat-missing": ([*APPS, "reconciler"], (
        "ImproperlyConfigured: reconciler.E001: django_celery_beat is not in INSTALLED_APPS: the reconciler "
        'writes django-celery-beat\'s tables. Add "django_celery_beat" to INSTALLED_APPS, next to "reconciler".'
    )),
}


@pytest.mark.parametrize("case", sorted(BARE_CASES), ids=sorted(BARE_CASES))
def test_a_bare_project_is_told_what_is_missing(case: str, tmp_path: Path) -> None:
    apps, expected = BARE_CASES[case]
    done = subprocess.run(
        [sys.executable, "-c", BARE_PROJECT.format(apps=apps)], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.stdout.strip() == expected, done.stderr


def test_the_fallback_name_warning_names_the_fallback_and_the_remedy(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SOURCE_NAME = ""
    [message] = [m for m in run_checks(tags=[checks.TAG]) if m.id == "reconciler.W006"]
    assert "named 'schedules' after its folder" in message.msg
    assert message.hint.startswith('Set RECONCILER_SOURCE_NAME = "<this project>"')
