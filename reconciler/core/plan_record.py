"""The plan as the apply history stores it: a compact form of the plan JSON (``Plan.to_json``).

Format 1 is the plan JSON itself: a 100,000-task first import stored ~25 MB, one object per
change repeating its keys, its task, its file and the same reason words. Format 2 keeps the
small parts plain (summary, warnings, source) and packs the changes: columns (one list per key,
so a key is written once), the repeated strings (actions, tasks, files, reason words) interned
in one table and named by index, the rare parts (fields, previous names) sparse by change
index; that JSON is then deflated (zlib) and base64-encoded into one string. Columns make the
compression work: the same task or file recurs in a short run of small integers, and the
sorted names share their prefixes. Why not only zlib of the plan JSON: each change still costs
its name plus a dozen bytes of back-references, about 2 MB at 100,000; why not only columns:
the names alone are 1.4 MB.

Every reader goes through ``unpack`` (the plan JSON of either format) or ``read_plan`` (the
``Plan``): a stored format 1 record reads as it always did.
"""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from .plan import Plan, plan_from_json

PACKED_VERSION = 2
_LEVEL = 6  # zlib's default: level 9 saves ~2% here for twice the time


def pack(payload: dict[str, Any]) -> dict[str, Any]:
    """The plan JSON (format 1, ``Plan.to_json``) → format 2; ``unpack`` gives it back equal."""
    columns = _columns(payload.get("changes", ()))
    data = json.dumps(columns, ensure_ascii=False, separators=(",", ":")).encode()
    return {
        "format_version": PACKED_VERSION,
        "summary": payload.get("summary", {}),
        "warnings": payload.get("warnings", []),
        "source": payload.get("source"),
        "changes": base64.b64encode(zlib.compress(data, _LEVEL)).decode("ascii"),
    }


def unpack(stored: dict[str, Any]) -> dict[str, Any]:
    """The plan JSON (format 1) of a stored plan of either format ({} stays {})."""
    if stored.get("format_version") != PACKED_VERSION:
        return stored
    columns = json.loads(zlib.decompress(base64.b64decode(stored["changes"])))
    return {
        "format_version": 1,
        "summary": stored.get("summary", {}),
        "changes": _changes(columns),
        "warnings": stored.get("warnings", []),
        "source": stored.get("source"),
    }


def read_plan(stored: dict[str, Any]) -> Plan:
    """The ``Plan`` of a stored plan of either format, to render it again."""
    return plan_from_json(unpack(stored))


class _Table:
    """Strings interned in first-seen order: a value is written once, then named by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.index)
        return found


def _columns(changes: Any) -> dict[str, Any]:
    strings = _Table()
    reason_lists: dict[tuple[int, ...], int] = {}
    cols: dict[str, list[Any]] = {k: [] for k in ("action", "name", "task", "file", "line", "reasons")}
    fields: list[list[Any]] = []
    previous: list[list[Any]] = []
    for i, change in enumerate(changes):
        cols["action"].append(strings(change["action"]))
        cols["name"].append(change["name"])
        cols["task"].append(strings(change["task"]))
        source = change.get("source")
        cols["file"].append(strings(source["file"]) if source else -1)
        cols["line"].append(source.get("line") if source else None)
        words = tuple(strings(w) for w in change.get("reasons", ()))
        cols["reasons"].append(reason_lists.setdefault(words, len(reason_lists)))
        if change.get("fields"):
            fields.append([i, change["fields"]])
        if change.get("previous_name") is not None:
            previous.append([i, change["previous_name"]])
    return {
        "strings": list(strings.index), "reason_lists": [list(r) for r in reason_lists], **cols,
        "fields": fields, "previous_name": previous,
    }


def _changes(columns: dict[str, Any]) -> list[dict[str, Any]]:
    strings = columns["strings"]
    reason_lists = [[strings[w] for w in r] for r in columns["reason_lists"]]
    fields = dict(columns["fields"])
    previous = dict(columns["previous_name"])
    rows = zip(columns["action"], columns["name"], columns["task"], columns["file"], columns["line"],
               columns["reasons"], strict=True)
    return [
        {
            "action": strings[action], "name": name, "task": strings[task],
            "fields": fields.get(i, {}), "reasons": list(reason_lists[reasons]),
            "source": {"file": strings[file], "line": line} if file >= 0 else None,
            "previous_name": previous.get(i),
        }
        for i, (action, name, task, file, line, reasons) in enumerate(rows)
    ]
