"""``reconcile plan``: what apply would change, like ``terraform plan``; writes nothing."""
from __future__ import annotations

import argparse
from typing import TextIO

from ..core.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, ReconcilerError
from ..core.teardown import keep
from ..pipeline import plan_paths
from ..render.plan import RENDERERS
from . import review as review
from .common import UsageError, add_format, add_path, add_plan_options, failure_json, render_invalid

HELP = "show what apply would change (exit 1 on errors or conflicts; 2 on changes with --detailed-exitcode)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser)
    add_format(parser, sorted(RENDERERS))
    add_plan_options(parser)
    parser.add_argument(
        "--detailed-exitcode", action="store_true", help="exit 2 when there are changes (for CI gates)",
    )
    review.add_arguments(parser)


def run(options: dict[str, object], out: TextIO) -> int:
    fmt = str(options["format"])
    against = options.get("against")
    if against is not None and str(against).strip():  # "" too: never a database plan by mistake
        return review.run(options, out)
    try:
        if against is not None:
            raise UsageError("--against needs a git ref (origin/main, HEAD~1, a SHA); nothing was compared")
        result = plan_paths(
            options.get("path"), prune=not options["no_prune"], adopt=bool(options["adopt"]),  # type: ignore[arg-type]
            env=options.get("env"), use_cache=not options.get("no_cache"),  # type: ignore[arg-type]
        )
    except ReconcilerError as exc:
        if fmt != "json":
            raise
        out.write(failure_json(exc))
        return exc.exit_code
    keep(result)
    if result.plan is None:
        out.write(render_invalid(result.validation, fmt))
        return EXIT_ERROR
    out.write(RENDERERS[fmt](result.plan))
    if result.plan.conflicts:
        return EXIT_ERROR
    if options["detailed_exitcode"] and result.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
