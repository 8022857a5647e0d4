"""``reconcile plan --against REF``: the options it adds to ``plan``, and its shell."""
from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ..cli.common import failure_json
from ..errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, ReconcilerError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against", metavar="REF",
        help="compare with the declarations at this git ref (origin/main, HEAD~1, a SHA); needs no database",
    )
    parser.add_argument(
        "--now", type=moment, metavar="ISO",
        help="with --against: the moment next runs are computed from (ISO-8601 with offset; default now)",
    )


def moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 date-time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset: add one, such as +00:00 or Z")
    return value


def run(options: dict[str, object], out: TextIO) -> int:
    from .against import plan_against
    from .render import RENDERERS, render_markdown

    now = options.get("now")
    fmt = str(options["format"])
    try:
        review = plan_against(
            str(options["against"]), options.get("path"),  # type: ignore[arg-type]
            now=now if isinstance(now, datetime) else datetime.now(UTC), prune=not options["no_prune"],
        )
    except ReconcilerError as exc:
        if fmt != "json":
            raise
        out.write(failure_json(exc))  # JSON in every case, as the database plan
        return exc.exit_code
    out.write(RENDERERS[fmt](review))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary_file:
        with Path(summary_file).open("a", encoding="utf-8") as handle:
            handle.write(render_markdown(review))
    if review.plan is None or review.plan.conflicts:
        return EXIT_ERROR
    if options["detailed_exitcode"] and review.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
