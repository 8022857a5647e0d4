"""``reconcile suspend NAME --reason TEXT``: pause a managed schedule without a pull request."""
from __future__ import annotations

import argparse
from typing import TextIO

from ..core.errors import EXIT_OK
from ..operate import suspend
from ..pipeline import database_errors
from .common import os_user

HELP = "suspend a managed schedule (disabled until resumed; apply and the watcher keep it disabled)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule's name")
    parser.add_argument("--reason", required=True, help="why (recorded and shown in plan, status and the admin)")


def run(options: dict[str, object], out: TextIO) -> int:
    name = str(options["name"])
    with database_errors():
        suspension = suspend(name, str(options["reason"]), by=os_user())
    out.write(f"{name}: {suspension.describe()}\nIt stays disabled until `reconcile resume {name}`.\n")
    return EXIT_OK
