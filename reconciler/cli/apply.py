"""``reconcile apply``: validate, then write the plan in one transaction."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TextIO

from ..core.errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from ..core.plan import Plan
from ..core.teardown import keep
from ..engine.apply import ApplyOptions, ApplyResult
from ..pipeline import apply_paths
from ..render.plan import render_text
from .common import add_format, add_path, add_plan_options, failure_json, render_invalid
from .prerender import InAdvance

HELP = "validate, then apply the declarations to django-celery-beat in one transaction"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser)
    add_format(parser, ["json", "text"])
    add_plan_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    parser.add_argument(
        "--allow-empty", action="store_true",
        help="allow deleting every managed task when nothing is declared",
    )
    parser.add_argument("--lock-timeout", type=float, default=30.0, help="seconds to wait for another apply")


def run(options: dict[str, object], out: TextIO) -> int:
    fmt = str(options["format"])
    text = InAdvance(text=fmt == "text")
    apply_options = ApplyOptions(
        prune=not options["no_prune"], adopt=bool(options["adopt"]), allow_empty=bool(options["allow_empty"]),
        dry_run=bool(options["dry_run"]), lock_timeout=float(options["lock_timeout"]),  # type: ignore[arg-type]
        on_write=text.start,
    )
    try:
        outcome = apply_paths(
            options.get("path"), options=apply_options, env=options.get("env"),  # type: ignore[arg-type]
            use_cache=not options.get("no_cache"),
        )
    except BaseException as exc:
        text.discard()
        if not isinstance(exc, ReconcilerError):
            raise
        refused = getattr(exc, "plan", None)
        if fmt == "json":
            out.write(failure_json(exc, refused))
            return exc.exit_code
        if refused is not None:
            out.write(render_text(refused))
        raise
    keep(outcome)
    if outcome.invalid is not None:
        out.write(render_invalid(outcome.invalid, fmt))
        if fmt == "text":
            out.write("Nothing was applied: fix the errors above.\n")
        return EXIT_ERROR
    assert outcome.result is not None
    if fmt == "json":
        text.discard()  # gone already, once the record's plan was read
        out.write(render_json(outcome.result))
    else:
        out.write(render_result(outcome.result, text.text))
    return EXIT_OK


def render_result(result: ApplyResult, plan_text: Callable[[Plan], str] = render_text) -> str:
    done = done_line(result.plan.summary(), result.written, result.dry_run, result.duration)
    if result.remembered:  # reconciler/insync/
        done = done.removesuffix(").") + "; files and database as the last apply left them: --no-cache checks all)."
    return f"{plan_text(result.plan)}{done}\n"


def render_json(result: ApplyResult) -> str:
    payload = {
        **result.plan.to_json(), "applied": result.written, "dry_run": result.dry_run,
        "record_id": result.record_id, "seconds": round(result.duration, 3),
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def done_line(summary: dict[str, int], written: bool, dry_run: bool, seconds: float) -> str:
    if dry_run:
        return f"Dry run: nothing written ({seconds:.2f} s)."
    if not written:
        return f"Apply complete: nothing to do, nothing written ({seconds:.2f} s)."
    return (
        f"Apply complete: {summary['create']} created, {summary['update']} updated, "
        f"{summary['delete']} deleted, {summary['unchanged']} unchanged in {seconds:.2f} s."
    )
