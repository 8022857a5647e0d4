"""Files → raw documents, on the fast path: PyYAML's C parser with the safe constructor.

Positions are *not* kept here (see ``positions``); the only extra work on the fast path is
noticing duplicate mapping keys, which PyYAML would otherwise silently overwrite.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import Diagnostic, SourceRange, error

try:
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.loader import Reader, Scanner, Parser, Composer

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

MAX_FILE_BYTES = 5 * 1024 * 1024
SUFFIXES = (".yaml", ".yml")
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    first: tuple[int, int]
    second: tuple[int, int]


@dataclass(frozen=True)
class RawDocument:
    """One file's parsed content. ``data`` is None when the file could not be parsed."""

    file: str
    data: Any
    text: str
    duplicates: tuple[DuplicateKey, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())


class _Constructor(yaml.constructor.SafeConstructor):
    def __init__(self) -> None:
        super().__init__()
        self.duplicates: list[DuplicateKey] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key.value for key, _ in node.value if key.tag != _MERGE_TAG]
        if len(set(keys)) != len(keys):
            self._record_duplicates(node)
        return super().construct_mapping(node, deep=deep)

    def _record_duplicates(self, node: yaml.MappingNode) -> None:
        seen: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            first = seen.setdefault(key_node.value, key_node)
            if first is not key_node:
                self.duplicates.append(DuplicateKey(
                    key_node.value, _mark(first.start_mark), _mark(key_node.start_mark)
                ))


class _Loader(_Parser, _Constructor, yaml.resolver.Resolver):  # type: ignore[misc, valid-type]
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Constructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


def _mark(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def discover(root: Path) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` below ``root`` (or ``root`` itself), in a stable order."""
    if root.is_file():
        return [root]
    return sorted(
        (p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def display_path(path: Path, base: Path | None = None) -> str:
    """Paths as the user and CI annotations expect them: relative to the working directory."""
    base = base or Path.cwd()
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def load_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES, name: str | None = None) -> RawDocument:
    shown = name or display_path(path)
    size = path.stat().st_size
    if size > max_bytes:
        return _failed(shown, error(
            "file-too-large",
            f"the file is {size:,} bytes, over the limit of {max_bytes:,}: split it into several files",
            source=SourceRange(shown),
        ))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return _failed(shown, error(
            "yaml-syntax", f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            source=SourceRange(shown),
        ))
    return load_text(text, shown)


def load_text(text: str, name: str) -> RawDocument:
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        return _failed(name, _syntax_error(name, exc), text)
    except yaml.YAMLError as exc:
        return _failed(name, error("yaml-syntax", str(exc), source=SourceRange(name)), text)
    finally:
        loader.dispose()
    return RawDocument(name, data, text, tuple(loader.duplicates))


def load_paths(paths: Iterable[Path]) -> Iterator[RawDocument]:
    for root in paths:
        for path in discover(root):
            yield load_file(path)


def _failed(name: str, diagnostic: Diagnostic, text: str = "") -> RawDocument:
    return RawDocument(name, None, text, diagnostics=(diagnostic,))


def _syntax_error(name: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, column = _mark(mark) if mark else (None, None)
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
