"""``reconcile validate``: check the declarations; needs no database."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from ..core.errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from ..core.teardown import keep
from ..declare.tree import needs_our_scheduler
from ..pipeline import ValidationResult, validate_paths
from ..render.diagnostics import RENDERERS, render_markdown, scheduler_notice
from .common import add_format, add_path, failure_json

HELP = "validate the schedule files (no database needed); exit 1 on any error (or warning, with --strict)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser)
    add_format(parser, sorted(RENDERERS))
    parser.add_argument("--strict", action="store_true", help="warnings (lints) fail the validation too")


def run(options: dict[str, object], out: TextIO) -> int:
    fmt = str(options["format"])
    try:
        result = validate_paths(
            options.get("path"), env=options.get("env"), use_cache=not options.get("no_cache"),  # type: ignore[arg-type]
        )
    except ReconcilerError as exc:
        if fmt != "json":
            raise
        out.write(failure_json(exc))
        return exc.exit_code
    keep(result)
    out.write(RENDERERS[fmt](result.diagnostics, checked=result.checked))
    if fmt != "json":
        out.write(scheduler_notice(scheduler_names(result), github=fmt == "github"))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary_file:
        with Path(summary_file).open("a", encoding="utf-8") as handle:
            handle.write(render_markdown(result.diagnostics, checked=result.checked))
    if options.get("strict") and result.diagnostics:
        return EXIT_ERROR
    return EXIT_OK if result.valid else EXIT_ERROR


def scheduler_names(result: ValidationResult) -> list[str]:
    """The valid declarations (of the active environment) with a run-time policy or a calendar."""
    return [task.name for task in result.declared.tasks if needs_our_scheduler(task.spec)]
