"""Files → raw documents: each file's bytes decoded and loaded (``safe_yaml``), on the fast
path; every problem (unreadable, not UTF-8, not YAML, refused) becomes a diagnostic.

Positions are *not* kept here (see ``positions``); the only extra work on the fast path is
noticing duplicate mapping keys, which PyYAML would otherwise silently overwrite.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.diagnostics import Diagnostic, SourceRange, error
from .files import MAX_FILE_BYTES, SourceFile, read_source, read_sources
from .safe_yaml import MAX_EXPANDED_NODES, DuplicateKey, Refused, line_column, load_yaml


@dataclass(frozen=True)
class RawDocument:
    """One file's parsed content. ``data`` is None when the file could not be parsed."""

    file: str
    data: Any
    text: str
    duplicates: tuple[DuplicateKey, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    task_marks: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)


def parse_source(source: SourceFile) -> RawDocument:
    if source.data is None:
        assert source.failure is not None
        return _failed(source.name, source.failure)
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _failed(source.name, error(
            "yaml-syntax", f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            source=SourceRange(source.name),
        ))
    return load_text(text, source.name)


def load_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES, name: str | None = None) -> RawDocument:
    return parse_source(read_source(path, max_bytes=max_bytes, name=name))


def load_text(text: str, name: str, *, max_nodes: int = MAX_EXPANDED_NODES) -> RawDocument:
    try:
        loaded = load_yaml(text, max_nodes=max_nodes)
    except Refused as exc:
        line, column = line_column(exc.problem_mark) if exc.problem_mark else (None, None)
        return _failed(name, error(exc.code, str(exc.problem), source=SourceRange(name, line, column)), text)
    except yaml.MarkedYAMLError as exc:
        return _failed(name, _syntax_error(name, exc), text)
    except (yaml.YAMLError, RecursionError) as exc:
        return _failed(name, error("yaml-syntax", str(exc) or "recursive structure", source=SourceRange(name)), text)
    return RawDocument(name, loaded.data, text, loaded.duplicates, task_marks=loaded.task_marks)


def load_paths(paths: Iterable[Path]) -> Iterator[RawDocument]:
    """Every document below ``paths``; a discovery problem comes as a document that failed.
    Every root is checked to exist before any file is read (a typo is fatal, not empty)."""
    return (parse_source(source) for source in read_sources(paths))


def _failed(name: str, diagnostic: Diagnostic, text: str = "") -> RawDocument:
    return RawDocument(name, None, text, diagnostics=(diagnostic,))


def _syntax_error(name: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, column = line_column(mark) if mark else (None, None)
    problem = exc.problem or "invalid YAML"
    if isinstance(exc, yaml.constructor.ConstructorError) and "could not determine a constructor" in problem:
        return error(
            "unsafe-tag",
            f"{problem.strip()}: tags that build Python objects are refused and never executed",
            source=SourceRange(name, line, column),
            hint="schedules are plain data: remove the tag",
        )
    context = f" ({exc.context})" if exc.context else ""
    return error("yaml-syntax", f"{problem}{context}", source=SourceRange(name, line, column))
