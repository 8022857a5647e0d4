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
from collections.abc import Iterable, Sequence
from typing import Any

from .plan import Action, Change, Plan, change_record, plan_from_json

PACKED_VERSION = 2
_LEVEL = 6  # zlib's default: level 9 saves ~2% here for twice the time


def pack(payload: dict[str, Any]) -> dict[str, Any]:
    """The plan JSON (format 1, ``Plan.to_json``) → format 2; ``unpack`` gives it back equal."""
    return _packed(payload.get("summary", {}), payload.get("warnings", []), payload.get("source"),
                   map(_flat_json, payload.get("changes", ())))


def pack_plan(plan: Plan, *, created_fields_limit: int) -> dict[str, Any]:
    """``pack(plan.to_json(created_fields_limit=…))``, from the plan's changes themselves: a first
    apply of 100,000 tasks built the JSON object of each change only to take it apart again."""
    creates = 0
    flat = []
    for change in plan.changes:
        creates += change.action is Action.CREATE
        flat.append(_flat(change, change.action is Action.CREATE and creates > created_fields_limit))
    return _packed(plan.summary(), list(plan.warnings), plan.source_json(), flat)


_Flat = tuple[str, str, str, "str | None", "int | None", Sequence[str], dict[str, Any], "str | None"]
"""A change as the columns take it: action, name, task, file, line, reasons' words, fields, previous name."""


def _flat_json(change: dict[str, Any]) -> _Flat:
    source = change.get("source")
    return (change["action"], change["name"], change["task"], source["file"] if source else None,
            source.get("line") if source else None, change.get("reasons", ()), change.get("fields") or {},
            change.get("previous_name"))


def _flat(change: Change, omit_fields: bool) -> _Flat:
    """What ``_flat_json`` takes from the plan JSON of ``change`` (``core.plan.change_record``)."""
    source = change.source
    fields, words = change_record(change, omit_fields)
    return (change.action.value, change.name, change.task, source.file if source else None,
            source.line if source else None, words, fields, change.previous_name)


def _packed(summary: Any, warnings: Any, source: Any, changes: Iterable[_Flat]) -> dict[str, Any]:
    data = json.dumps(_columns(changes), ensure_ascii=False, separators=(",", ":")).encode()
    return {
        "format_version": PACKED_VERSION,
        "summary": summary,
        "warnings": warnings,
        "source": source,
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


def _columns(changes: Iterable[_Flat]) -> dict[str, Any]:
    """One list per key; the repeated strings named by their index in ``strings``, a change's
    reasons by the index of their list of words (100,000 changes, so each list's ``append`` and
    the table's lookup are bound once)."""
    table: dict[str, int] = {}
    reason_lists: dict[tuple[int, ...], int] = {}
    actions: list[int] = []
    names: list[str] = []
    tasks: list[int] = []
    files: list[int] = []
    lines: list[int | None] = []
    reasons_of: list[int] = []
    fields: list[list[Any]] = []
    previous: list[list[Any]] = []
    known = table.get

    def string(value: str) -> int:
        found = known(value)
        if found is None:
            found = table[value] = len(table)
        return found

    for i, (action, name, task, file, line, reasons, changed, previous_name) in enumerate(changes):
        actions.append(string(action))
        names.append(name)
        tasks.append(string(task))
        files.append(string(file) if file is not None else -1)
        lines.append(line)
        words = tuple(map(string, reasons)) if reasons else ()
        reasons_of.append(reason_lists.setdefault(words, len(reason_lists)))
        if changed:
            fields.append([i, changed])
        if previous_name is not None:
            previous.append([i, previous_name])
    return {
        "strings": list(table), "reason_lists": [list(r) for r in reason_lists], "action": actions, "name": names,
        "task": tasks, "file": files, "line": lines, "reasons": reasons_of, "fields": fields,
        "previous_name": previous,
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
