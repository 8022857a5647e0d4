"""``reconcile schema``: the JSON Schema of the language, for editors and pre-commit."""
from __future__ import annotations

import argparse
import json
from typing import TextIO

from ..core.errors import EXIT_OK
from ..declare.language import json_schema
from ..pipeline import default_registry

HELP = "print the JSON Schema of the schedule language"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--with-tasks", action="store_true",
        help="list the project's registered task names as the allowed values of `task`",
    )


def run(options: dict[str, object], out: TextIO) -> int:
    names = None
    if options.get("with_tasks"):
        names = default_registry().names
    out.write(json.dumps(json_schema(names), indent=2) + "\n")
    return EXIT_OK
