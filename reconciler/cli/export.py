"""``reconcile export``: existing PeriodicTask rows as schedule YAML (the way in from the admin)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from ..core.errors import EXIT_OK
from ..declare.export import exportable, render_yaml
from ..engine.read import read_actual
from ..pipeline import database_errors

HELP = "write existing PeriodicTask rows as schedule YAML (default: the rows the reconciler does not own)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--unmanaged", action="store_true", help="only rows the reconciler does not own (default)")
    which.add_argument("--all", action="store_true", help="every row, owned or not")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")


def run(options: dict[str, object], out: TextIO) -> int:
    with database_errors():
        actual = read_actual()
    rows = [t for t in actual.tasks if exportable(t.name) and (options["all"] or t.owned is None)]
    exported = render_yaml(t.spec for t in rows)
    target = options.get("output")
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(exported.text, encoding="utf-8")
        out.write(f"Exported {exported.count} task(s) to {target}.\n")
    else:
        out.write(exported.text)
    for line in exported.skipped:
        sys.stderr.write(f"warning: {line}\n")
    return EXIT_OK
