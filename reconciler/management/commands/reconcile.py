"""``manage.py reconcile <subcommand>``: a thin shell over ``reconciler.pipeline``."""
from __future__ import annotations

import importlib
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...core.errors import EXIT_OK, ReconcilerError

SUBCOMMANDS = (
    "validate", "schema", "plan", "apply", "export", "watch", "suspend", "resume", "status", "forecast",
)


def _module(name: str) -> Any:
    return importlib.import_module(f"reconciler.cli.{name}")


def _available() -> dict[str, Any]:
    found = {}
    for name in SUBCOMMANDS:
        try:
            found[name] = _module(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"reconciler.cli.{name}":
                raise
    return found


class Command(BaseCommand):
    help = "Schedules as code: validate, plan, apply, export and watch periodic task declarations."
    requires_system_checks: list[str] = []  # validate must work with no database in reach

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        for name, module in _available().items():
            sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        module = _module(options["subcommand"])
        try:
            code = module.run(options, self.stdout)
        except ReconcilerError as exc:
            self.stderr.write(f"Error: {exc}")
            code = exc.exit_code
        self.stdout.flush()
        if code != EXIT_OK:
            sys.exit(code)
