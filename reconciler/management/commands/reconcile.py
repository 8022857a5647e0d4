"""``manage.py reconcile <subcommand>``: a thin shell over ``reconciler.pipeline``."""
from __future__ import annotations

import importlib
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...core import teardown
from ...core.errors import EXIT_OK, ReconcilerError

SUBCOMMANDS = (
    "validate", "schema", "plan", "apply", "export", "watch", "suspend", "resume", "status", "forecast",
)


def _module(name: str) -> Any:
    return importlib.import_module(f"reconciler.cli.{name}")


def _available(names: tuple[str, ...] = SUBCOMMANDS) -> dict[str, Any]:
    """The modules of ``names`` that are installed (a subcommand's optional extra may not be)."""
    found = {}
    for name in names:
        try:
            found[name] = _module(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"reconciler.cli.{name}":
                raise
    return found


class Command(BaseCommand):
    help = "Schedules as code: validate, plan, apply, export and watch periodic task declarations."
    requires_system_checks: list[str] = []  # validate must work with no database in reach
    chosen: str | None = None  # the subcommand named on the command line, known before parsing

    def run_from_argv(self, argv: list[str]) -> None:
        """``manage.py reconcile SUBCOMMAND …``: only that subcommand's module is imported (each
        other one pulls its own packages: status and forecast the whole of ``observe``), the
        others are named for argparse's choices. Anything else (``--help``, an option first,
        ``call_command``) builds every subcommand."""
        if len(argv) > 2 and argv[2] in SUBCOMMANDS:
            self.chosen = argv[2]
        with teardown.skipped():  # the process ends here (core/teardown.py)
            super().run_from_argv(argv)

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        chosen = _available((self.chosen,)) if self.chosen else {}
        if chosen:
            for name in SUBCOMMANDS:  # the others by name only: their modules are not imported
                sub = subparsers.add_parser(name)
                if name in chosen:
                    sub.description = chosen[name].HELP
                    chosen[name].add_arguments(sub)
            return
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
