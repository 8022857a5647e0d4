"""``reconcile-schema-check FILE...``: the language rules without Django or a Celery app.

For the pre-commit hook in other repositories: YAML shape, cron, time zones, durations,
date-times, duplicate names. Task names and argument binding need the project's Celery app:
run ``manage.py reconcile validate`` for those (see docs/ci.md).
"""
from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..core.diagnostics import has_errors, sort_diagnostics
from ..core.errors import ReconcilerError
from ..declare.across import validate_documents
from ..declare.load import load_paths
from ..render.diagnostics import RENDERERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reconcile-schema-check", description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument("--timezone", default="UTC", help="default time zone of cron schedules")
    options = parser.parse_args(argv)
    try:
        validated = validate_documents(
            load_paths(options.paths), default_timezone=options.timezone, now=datetime.now(UTC)
        )
    except ReconcilerError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    diagnostics = sort_diagnostics(validated.diagnostics)
    sys.stdout.write(RENDERERS[options.format](diagnostics, checked=validated.seen))
    return 1 if has_errors(diagnostics) else 0


if __name__ == "__main__":
    raise SystemExit(main())
