"""The apply history: one ``ApplyRecord`` per apply that changed something, was refused or
failed (who, where, when, which git revision, the plan, packed by ``core.plan_record``); and
the git revision of a folder."""
from __future__ import annotations

import getpass
import os
import socket
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.plan import Plan
from ..core.plan_record import pack_plan
from ..models import ApplyRecord

HISTORY_CREATED_FIELDS = 1000  # created rows whose fields an apply record keeps


def record(
    using: str, *, started_at: datetime, seconds: float, django_user: str, revision: str, plan: Plan | None,
    outcome: str, message: str = "", stored: dict[str, Any] | None = None,
) -> ApplyRecord:
    """``stored``: ``stored_plan(plan)`` when it was made elsewhere (``cli.prerender``)."""
    summary = plan.summary() if plan else {}
    return ApplyRecord.objects.using(using).create(
        started_at=started_at, duration_ms=int(seconds * 1000), os_user=_os_user(),
        django_user=django_user, host=socket.gethostname(), revision=revision,
        outcome=outcome, created=summary.get("create", 0), updated=summary.get("update", 0),
        deleted=summary.get("delete", 0), unchanged=summary.get("unchanged", 0), message=message,
        plan=stored if stored is not None else stored_plan(plan) if plan else {},
    )


def stored_plan(plan: Plan) -> dict[str, Any]:
    """The plan as an apply record stores it: packed (``core.plan_record``), and the fields of
    the first ``HISTORY_CREATED_FIELDS`` created rows only."""
    return pack_plan(plan, created_fields_limit=HISTORY_CREATED_FIELDS)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def git_revision(folder: Path) -> str:
    """The git commit of the schedules folder, with ``-dirty`` when the folder has changes
    that are not committed (what was applied is then not exactly that commit); "" outside git."""
    where = folder if folder.is_dir() else folder.parent
    head = _git(where, "rev-parse", "HEAD")
    if not head:
        return ""
    dirty = _git(where, "status", "--porcelain", "--untracked-files=all", "--", str(folder.resolve()))
    return f"{head}-dirty" if dirty else head


def _git(where: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""
