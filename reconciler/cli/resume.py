"""``reconcile resume NAME``: end a suspension; the row is at once what git declares."""
from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TextIO

from ..core.errors import EXIT_OK
from ..operate import resume
from ..pipeline import database_errors
from ..render.plan import render_text
from .common import add_path, os_user

HELP = "resume a suspended schedule: the row is written as git declares it, now"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule's name")
    add_path(parser)


def run(options: dict[str, object], out: TextIO) -> int:
    name = str(options["name"])
    with database_errors():
        result = resume(name, by=os_user(), paths=options.get("path"))  # type: ignore[arg-type]
    if not result.declared:
        out.write(f"{name}: resumed; it is no longer declared in git, so the next apply deletes it.\n")
        return EXIT_OK
    if result.plan.has_changes:
        # the plan of one row: the others are counted as they are, unchanged by the resume
        out.write(render_text(replace(result.plan, unchanged=result.others)))
    out.write(f"{name}: resumed; the row now matches its declaration.\n")
    return EXIT_OK
