"""``reconcile plan --against REF``: the options it adds to ``plan``, and its shell."""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from ..core.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, ReconcilerError
from ..pipeline import environments_for
from ..render.markdown import code
from .common import failure_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against", metavar="REF",
        help="compare with the declarations at this git ref (origin/main, HEAD~1, a SHA); needs no database",
    )
    parser.add_argument(
        "--all-envs", action="store_true",
        help="with --against: one plan per environment of settings.RECONCILER_ENVIRONMENTS",
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
    # Start-up, not (a)/(b)/(c): every `manage.py reconcile` subcommand imports this module to build
    # its parser, and the review package (git, an HTTP client) adds ~20 ms that only --against needs.
    from ..review.against import plan_against
    from ..review.markdown import render_markdown
    from ..review.render import RENDERERS

    now = options.get("now")
    fmt = str(options["format"])
    try:
        names = environments_for(None, need_active=False).names if options.get("all_envs") else ()
        reviews = {
            env: plan_against(
                str(options["against"]), options.get("path"),  # type: ignore[arg-type]
                now=now if isinstance(now, datetime) else datetime.now(UTC), prune=not options["no_prune"],
                env=env or options.get("env"),  # type: ignore[arg-type]
            )
            for env in (names or (None,))
        }
    except ReconcilerError as exc:
        if fmt != "json":
            raise
        out.write(failure_json(exc))  # JSON in every case, as the database plan
        return exc.exit_code
    out.write(render_each(reviews, RENDERERS[fmt], fmt))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary_file:
        with Path(summary_file).open("a", encoding="utf-8") as handle:
            handle.write(render_each(reviews, render_markdown, "markdown"))
    plans = [review.plan for review in reviews.values()]
    if any(plan is None or plan.conflicts for plan in plans):
        return EXIT_ERROR
    if options["detailed_exitcode"] and any(plan is not None and plan.has_changes for plan in plans):
        return EXIT_CHANGES
    return EXIT_OK


def render_each(reviews: dict[str | None, Any], render: Callable[[Any], str], fmt: str) -> str:
    """One environment as usual; with ``--all-envs`` a section each (one JSON document, one
    PR comment with a single marker)."""
    if list(reviews) == [None]:
        return render(reviews[None])
    if fmt == "json":
        sections = {env: json.loads(render(review)) for env, review in reviews.items()}
        return json.dumps({"format_version": 1, "environments": sections}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        from ..review.comment import MARKER  # start-up, as in run()

        body = "\n".join(
            f"#### Environment {code(str(env), in_table=False)}\n\n{render(r).replace(MARKER, '').strip()}\n"
            for env, r in reviews.items()
        )
        return f"{body}\n{MARKER}\n"
    return "\n".join(f"== environment {env} ==\n{render(review)}" for env, review in reviews.items())
