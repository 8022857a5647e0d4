"""``POST /api/validate/``: the server's folder, or posted files, validated as ``reconcile
validate`` does. Posted input is hostile until proven otherwise: names are checked before
anything touches the disk, every file gets its own folder (two files may share a name), the
body size is bounded (413), and a crash while validating is a diagnostic, never a 500."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from ..pipeline import validate_paths
from ..render.diagnostics import diagnostic_json
from . import serializers as s
from .base import ReconcilerView
from .openapi import extend_schema

log = logging.getLogger("reconciler.api")

MAX_NAME = 255
MAX_FILES = 100
SUFFIXES = (".yaml", ".yml")


def validation_json(validation: Any, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The validate JSON contract; ``names`` maps temporary paths back to posted names."""
    diagnostics = [diagnostic_json(d) for d in validation.diagnostics]
    if names is not None:
        for d in diagnostics:
            if isinstance(d["file"], str):
                d["file"] = names.get(d["file"], Path(d["file"]).name)
    return {"valid": validation.valid, "checked": validation.checked, "diagnostics": diagnostics}


def name_problem(name: Any) -> str | None:
    """Why a posted file name is refused, or None."""
    if not isinstance(name, str) or not name.strip():
        return "a file name is empty"
    shown = name[:40] + ("…" if len(name) > 40 else "")
    if name in (".", ".."):
        return f"{name!r} is not a file name"
    if "\x00" in name:
        return f"file name {shown!r} contains a NUL character"
    if "/" in name or "\\" in name:
        return f"file name {shown!r} contains a path separator: post base names only"
    if len(name) > MAX_NAME:
        return f"file name {shown!r} is longer than {MAX_NAME} characters"
    if not name.lower().endswith(SUFFIXES):
        return f"file name {shown!r} does not end in .yaml or .yml"
    return None


def posted_files(raw: Any) -> list[tuple[str, str]]:
    """``{name: text}`` or ``[{"name", "text"}]`` → checked (name, text) pairs; 400 otherwise."""
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list) and all(isinstance(item, dict) for item in raw):
        pairs = [(item.get("name"), item.get("text")) for item in raw]
    else:
        raise ValidationError({"error": "files is a mapping of file name to YAML text, or a list of {name, text}"})
    if len(pairs) > MAX_FILES:
        raise ValidationError({"error": f"at most {MAX_FILES} files per request"})
    problems = [p for p in (name_problem(name) for name, _ in pairs) if p]
    if problems:
        raise ValidationError({"error": "; ".join(problems)})
    if not all(isinstance(text, str) for _, text in pairs):
        raise ValidationError({"error": "each file's text is a string of YAML"})
    if any("\x00" in text for _, text in pairs):
        raise ValidationError({"error": "a file's text contains a NUL character"})
    return pairs  # type: ignore[return-value]


def validate_posted(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        names: dict[str, str] = {}
        paths: list[Path] = []
        for index, (name, text) in enumerate(pairs):
            target = Path(tmp) / str(index) / name
            target.parent.mkdir()
            target.write_text(text, encoding="utf-8")
            names[str(target)] = name
            paths.append(target)
        return validation_json(validate_paths(paths), names)


def crashed(exc: Exception) -> dict[str, Any]:
    log.exception("validate crashed on posted files", exc_info=exc)
    return {"valid": False, "checked": 0, "diagnostics": [{
        "severity": "error", "code": "unreadable", "file": None, "line": None, "column": None, "name": None,
        "message": f"the posted files could not be validated ({type(exc).__name__})",
        "hint": "simplify the YAML (aliases, nesting, size); the server's log has the details",
    }]}


class Validate(ReconcilerView):
    """The schedules folder, or the posted files, as ``reconcile validate --format json``."""

    @extend_schema(
        operation_id="validate", request=s.ValidateSerializer,
        responses={200: s.ValidationSerializer, 400: s.ErrorSerializer, 401: s.ErrorSerializer,
                   403: s.ErrorSerializer, 413: s.ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        data = request.data  # the size was checked by ReconcilerView.initial
        raw = data.get("files") if hasattr(data, "get") else None
        if raw in (None, {}, []):
            return Response(validation_json(validate_paths()))
        pairs = posted_files(raw)
        try:
            return Response(validate_posted(pairs))
        except Exception as exc:  # posted input must never make a 500: logged, then a diagnostic
            return Response(crashed(exc))
