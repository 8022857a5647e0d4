from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import EXIT_USAGE, ReconcilerError
from ..core.plan import FORMAT_VERSION, Plan
from ..render.diagnostics import RENDERERS as DIAGNOSTIC_RENDERERS

if TYPE_CHECKING:
    from ..pipeline import ValidationResult


class UsageError(ReconcilerError):
    """A command line that cannot mean anything (an empty git ref, an output path that is a
    folder): exit 2, as argparse does for the rest."""

    exit_code = EXIT_USAGE


def add_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--path", action="append", type=Path, default=None, metavar="DIR",
        help="schedules folder or file (repeatable); default: settings.RECONCILER_SCHEDULES_DIR",
    )
    parser.add_argument(
        "--env", default=None, metavar="NAME",
        help="the environment to plan or apply (one of settings.RECONCILER_ENVIRONMENTS); "
        "default: settings.RECONCILER_ENV. validate checks every environment",
    )
    parser.add_argument(
        "--no-cache", action="store_true",
        help="parse and validate every file again, ignoring the validation cache (RECONCILER_CACHE_DIR)",
    )


def add_format(parser: argparse.ArgumentParser, choices: list[str], default: str = "text") -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default {default})")


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-prune", action="store_true", help="keep owned tasks that are no longer declared (reported)",
    )
    parser.add_argument(
        "--adopt", action="store_true", help="take over rows with declared names that the reconciler does not own",
    )


def failure_kind(exc: ReconcilerError) -> str:
    """A stable name for a fatal condition, for the JSON outputs."""
    return {
        "NotMigrated": "not-migrated",
        "DatabaseUnavailable": "database-unavailable",
        "RefusedApply": "refused",
        "LockTimeout": "lock-timeout",
        "PathNotFound": "path-not-found",
        "GitError": "git",
    }.get(type(exc).__name__, "error")


def failure_json(exc: ReconcilerError, plan: Plan | None = None) -> str:
    """What ``--format json`` prints when the command fails: JSON in every case."""
    error = {"kind": failure_kind(exc), "message": str(exc)}
    payload: dict[str, Any] = {"format_version": FORMAT_VERSION, "error": error}
    if plan is not None:
        payload.update(plan.to_json())
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def render_invalid(validation: ValidationResult, fmt: str) -> str:
    """Invalid declarations, in the format the command was asked for."""
    renderer = DIAGNOSTIC_RENDERERS.get(fmt, DIAGNOSTIC_RENDERERS["text"])
    return renderer(validation.diagnostics, checked=validation.checked)
def os_user() -> str:
    """Who runs the command, for the operations log."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
