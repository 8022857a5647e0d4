"""``reconcile apply``: validate, then write the plan in one transaction."""
from __future__ import annotations

import argparse
from typing import TextIO

from ..apply import ApplyOptions
from ..errors import EXIT_ERROR, EXIT_OK, RefusedApply
from ..pipeline import apply_paths
from ..render.diagnostics import render_text as render_diagnostics
from ..render.plan import render_text
from .common import add_path, add_plan_options

HELP = "validate, then apply the declarations to django-celery-beat in one transaction"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser)
    add_plan_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    parser.add_argument(
        "--allow-empty", action="store_true",
        help="allow deleting every managed task when nothing is declared",
    )
    parser.add_argument("--lock-timeout", type=float, default=30.0, help="seconds to wait for another apply")


def run(options: dict[str, object], out: TextIO) -> int:
    apply_options = ApplyOptions(
        prune=not options["no_prune"], adopt=bool(options["adopt"]), allow_empty=bool(options["allow_empty"]),
        dry_run=bool(options["dry_run"]), lock_timeout=float(options["lock_timeout"]),  # type: ignore[arg-type]
    )
    try:
        outcome = apply_paths(options.get("path"), options=apply_options)  # type: ignore[arg-type]
    except RefusedApply as exc:
        refused = getattr(exc, "plan", None)
        if refused is not None:
            out.write(render_text(refused))
        raise
    if outcome.result is None:
        validation = outcome.validation
        out.write(render_diagnostics(validation.diagnostics, checked=validation.checked))
        out.write("Nothing was applied: fix the errors above.\n")
        return EXIT_ERROR
    result = outcome.result
    out.write(render_text(result.plan))
    out.write(done_line(result.plan.summary(), result.written, result.dry_run, result.duration) + "\n")
    return EXIT_OK


def done_line(summary: dict[str, int], written: bool, dry_run: bool, seconds: float) -> str:
    if dry_run:
        return f"Dry run: nothing written ({seconds:.2f} s)."
    if not written:
        return f"Apply complete: nothing to do, nothing written ({seconds:.2f} s)."
    return (
        f"Apply complete: {summary['create']} created, {summary['update']} updated, "
        f"{summary['delete']} deleted, {summary['unchanged']} unchanged in {seconds:.2f} s."
    )
