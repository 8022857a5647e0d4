from __future__ import annotations

import argparse
from pathlib import Path


def add_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--path", action="append", type=Path, default=None, metavar="DIR",
        help="schedules folder or file (repeatable); default: settings.RECONCILER_SCHEDULES_DIR",
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


def os_user() -> str:
    """Who runs the command, for the operations log."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
