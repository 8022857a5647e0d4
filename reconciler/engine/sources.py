"""One source name, one folder: the origin a name stands for is checked, and recorded on its first
apply, under the apply's lock (``ScheduleSource``); the names themselves come from ``declare.sources``."""
from __future__ import annotations

from datetime import datetime

from ..core.errors import RefusedApply
from ..core.source import Origin
from ..models import ScheduleSource


def describe_identity(identity: str) -> str:
    if not identity:
        return "a folder named explicitly by RECONCILER_SOURCE_NAME"
    package, sep, relative = identity.partition(":")
    if sep and not identity.startswith("/"):
        return f"the folder {relative}/ of the project {package!r} (relative to its BASE_DIR)"
    return f"the folder {identity}"


def claim(origin: Origin, using: str, now: datetime, *, record: bool) -> None:
    """Refuse when ``origin.name`` already stands for another folder; record it when it is new
    (``record``: an apply; a plan or a dry run only checks). An explicit name is the project
    saying "this folder is that source": it takes the name over (a release directory outside
    ``BASE_DIR`` that moved, a fallback name made explicit)."""
    found = ScheduleSource.objects.using(using).filter(name=origin.name).values_list("origin", flat=True).first()
    if found == origin.identity:
        return
    if found is not None and origin.identity:
        where = describe_identity(origin.identity)
        where += "" if origin.identity == origin.folder.as_posix() else f" ({origin.folder})"
        raise RefusedApply(
            f"the schedules source name {origin.name!r} already stands for {describe_identity(found)}; "
            f"this run is from {where}. Nothing was changed: "
            "one name for two folders would make each apply delete the other's rows. Name them apart: set "
            "RECONCILER_SOURCE_NAME to a name of its own in each project (an explicit name is not tied to a "
            "path, so a folder outside BASE_DIR may move), or apply the folder the name stands for."
        )
    if record:
        ScheduleSource.objects.using(using).update_or_create(
            name=origin.name, defaults={"origin": origin.identity, "recorded_at": now},
        )
