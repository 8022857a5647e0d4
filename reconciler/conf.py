"""Every ``RECONCILER_*`` setting: its default and what it does, read in one place.

``conf.SCHEDULES_DIR`` is ``settings.RECONCILER_SCHEDULES_DIR``, or the default when the project
leaves it unset. It is read again at each access, never cached: tests and ``override_settings``
change settings while the process runs. A name that is not in ``SETTINGS`` is an AttributeError.
docs/settings.md is this table for people; tests/test_conf.py keeps the two in step.

This module imports nothing else of the app, so that every package and the migrations may read it.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

PREFIX = "RECONCILER_"


@dataclass(frozen=True)
class Computed:
    """A default made at each access (it depends on the machine); ``words`` is how docs show it."""

    make: Callable[[], Any]
    words: str


@dataclass(frozen=True)
class Setting:
    default: Any  # the value when the project does not set it, or a Computed
    doc: str


def _temporary_cache() -> Path:
    return Path(tempfile.gettempdir()) / f"reconciler-cache-{os.getuid()}"


SETTINGS: dict[str, Setting] = {
    "SCHEDULES_DIR": Setting(
        "schedules", "the folder of declarations; a relative path is resolved against `BASE_DIR`"),
    "CELERY_APP": Setting(
        None, '`"module:attribute"` of the app whose registry validates task names (`None`: Celery\'s current app)'),
    "SOURCE_NAME": Setting(
        "", "the name of the configured folder's source (`\"\"`: its path relative to `BASE_DIR`, a fallback "
        "`check` warns about, W006)"),
    "ENVIRONMENTS": Setting(
        None, "the deployments one folder feeds (`None`: one unnamed deployment)"),
    "ENV": Setting(
        None, "which of the `ENVIRONMENTS` this process is (`--env` overrides it)"),
    "CACHE_DIR": Setting(
        Computed(_temporary_cache, "a folder in the system's temporary directory"),
        "the validation cache's folder (`None`: no cache)"),
    "HERD_LIMIT": Setting(
        50, "the `herd` lint: how many enabled tasks may be due in the same minute"),
    "PRUNE": Setting(
        True, "the unattended applies (beat start-up, the watcher in beat) delete owned rows no longer declared"),
    "ADOPT": Setting(
        False, "the unattended applies take over existing rows of a declared name instead of reporting conflicts"),
    "APPLY_ON_BEAT_START": Setting(
        True, "our scheduler applies the folder at beat start"),
    "BEAT_WATCH": Setting(
        False, "our scheduler also watches the folder and applies every change (the `[watch]` extra)"),
    "BEAT_HA": Setting(
        True, "only one beat replica schedules at a time, the others stand by"),
    "BEAT_INCREMENTAL": Setting(
        True, "after a change our scheduler reads only the rows changed since its last load (their "
        "`date_changed`), the full load kept for the 5-minute safety reload and what the stamps cannot "
        "explain (`False`: every entry at every change, as django-celery-beat)"),
    "BEAT_SAFETY_RELOAD": Setting(
        300.0, "with `BEAT_INCREMENTAL`: seconds between two safety reloads of our scheduler, which read every "
        "row in a thread and fix the entries that differ (what the change stamps cannot see)"),
    "BEAT_LISTEN": Setting(
        True, "on PostgreSQL, beat listens for the database's change notification"),
    "WATCH_DELETE_GRACE": Setting(
        10.0, "seconds a declaration must be missing before the watcher deletes its row (`--delete-grace`)"),
    "PLAN_MEMO_SECONDS": Setting(
        5.0, "how long the admin's and the API's lists may reuse one plan of the folder (`0`: never)"),
    "HEALTH_GRACE": Setting(
        None, "seconds a run may be missing before its schedule is late (`None`: half the period, "
        "within 1 minute and 1 hour)"),
    "METRICS_ALLOWED_NETWORKS": Setting(
        ("127.0.0.0/8", "::1/128"), "the networks whose clients may read `/metrics`"),
    "METRICS_TOKEN": Setting(
        "", "a bearer token that may read `/metrics` from any address (`\"\"`: none)"),
    "SOURCE_URL": Setting(
        "", 'link template for "declared in" (`{path}`, `{line}`) in the admin and API'),
    "SOURCE_ROOT": Setting(
        None, "source paths are shown relative to it (`None`: `BASE_DIR`)"),
    "API_MAX_BODY": Setting(
        1024 * 1024, "bytes of a request body the API reads (`413` above)"),
    "SKIP_RETENTION": Setting(
        7 * 24 * 3600, "seconds the record of each run not sent (overlap, catch-up) is kept; the totals stay"),
}

_UNSET = object()


class Settings:
    """``conf.HERD_LIMIT``: the project's ``RECONCILER_HERD_LIMIT``, or its default."""

    def __getattr__(self, name: str) -> Any:
        try:
            setting = SETTINGS[name]
        except KeyError:
            raise AttributeError(f"{PREFIX}{name} is not a setting of the reconciler") from None
        value = getattr(settings, PREFIX + name, _UNSET)
        if value is not _UNSET:
            return value
        default = setting.default
        return default.make() if isinstance(default, Computed) else default

    def __dir__(self) -> list[str]:
        return sorted(SETTINGS)


conf = Settings()


def _base_dir() -> Any:
    return getattr(settings, "BASE_DIR", None)


def schedules_dir() -> Path:
    """``SCHEDULES_DIR``; a relative path is resolved against ``BASE_DIR`` (when the project
    defines it), not against the current directory."""
    folder = Path(conf.SCHEDULES_DIR)
    base = _base_dir()
    return folder if folder.is_absolute() or base is None else Path(base) / folder


def folder_name(folder: Path) -> str:
    """A name for a folder that does not depend on the working directory."""
    real = folder.resolve()
    base = _base_dir()
    if base is not None:
        try:
            return real.relative_to(Path(base).resolve()).as_posix() or real.name
        except ValueError:
            pass
    return real.name


def default_source_name() -> str:
    """The configured folder's source: ``SOURCE_NAME``, or the folder's name (migration 0005 too)."""
    return str(conf.SOURCE_NAME or folder_name(schedules_dir()))


def import_path(app: str) -> str:
    """``CELERY_APP``'s ``"module:attribute"`` as the dotted path ``import_string`` takes."""
    return app.replace(":", ".")
