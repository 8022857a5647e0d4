"""Optional dependencies: which extra brings which module, and one clear line when one is missing.

Code that needs an extra imports it through :func:`require` (or checks :func:`installed`), so
a user without it reads which extra to install instead of a bare ``ImportError``.
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import ReconcilerError

DISTRIBUTION = "django-schedules-reconciler"

# extra → the modules it provides (the first one is the one named in messages)
EXTRAS: dict[str, tuple[str, ...]] = {
    "api": ("rest_framework", "drf_spectacular"),
    "watch": ("watchdog",),
    "postgres": ("psycopg",),
    "redis": ("redis",),
    "results": ("django_celery_results",),
    "metrics": ("prometheus_client",),
}


class MissingExtra(ReconcilerError):
    """A feature's optional dependency is not installed."""


def install_hint(extra: str) -> str:
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_message(feature: str, extra: str, module: str) -> str:
    return f"{feature} needs the {module} package, which is not installed: {install_hint(extra)}"


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(extra: str, feature: str, module: str | None = None) -> ModuleType:
    """Import ``module`` (default: the extra's main module) or raise one line naming the extra."""
    name = module or EXTRAS[extra][0]
    if not installed(name):
        raise MissingExtra(missing_message(feature, extra, name))
    return importlib.import_module(name)
