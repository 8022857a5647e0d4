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
    from yaml.loader import Composer, Parser, Reader, Scanner

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
    task_marks: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)


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


_SCALAR_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}
_SCALAR_TAGS_LIMIT = 200_000


class _Resolver(yaml.resolver.Resolver):
    """PyYAML's resolver with a memo of plain scalars' tags: keys and most values repeat
    across thousands of declarations, and the regex tests are the parser's hottest path."""

    def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _SCALAR_TAGS.get(key)  # type: ignore[arg-type]
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_SCALAR_TAGS) < _SCALAR_TAGS_LIMIT:
                _SCALAR_TAGS[key] = tag  # type: ignore[index]
        return tag


_STR = "tag:yaml.org,2002:str"
_SC = yaml.constructor.SafeConstructor
# Scalar constructors that return a value directly (no generator, no recursion).
_PLAIN_SCALARS = {
    "tag:yaml.org,2002:int": _SC.construct_yaml_int,
    "tag:yaml.org,2002:bool": _SC.construct_yaml_bool,
    "tag:yaml.org,2002:null": _SC.construct_yaml_null,
    "tag:yaml.org,2002:float": _SC.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _SC.construct_yaml_timestamp,
}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class _Loader(_Parser, _Constructor, _Resolver):  # type: ignore[misc, valid-type]
    """The C parser composes the node tree; plain strings, mappings and sequences are built
    here directly, and every other node (ints, booleans, timestamps, merge keys, unknown
    tags) goes through PyYAML's ``SafeConstructor`` exactly as ``yaml.safe_load`` would.
    Collections are memoised by node, so aliases share one object (no alias bombs)."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self._built: dict[int, Any] = {}
        self._duplicates_seen: set[int] = set()

    def load_single(self) -> Any:
        node = self.get_single_node()
        self.task_marks = _task_marks(node)
        return None if node is None else self._build(node)

    def _build(self, node: yaml.Node) -> Any:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            if node.tag == _STR:
                return node.value
            plain = _PLAIN_SCALARS.get(node.tag)
            return plain(self, node) if plain else self.construct_object(node, deep=True)
        built = self._built.get(id(node))
        if built is not None:
            return built
        if cls is yaml.MappingNode and node.tag == _MAP:
            built = self._build_mapping(node)
        elif cls is yaml.SequenceNode and node.tag == _SEQ:
            built = []
            self._built[id(node)] = built
            built.extend(self._build(item) for item in node.value)
        else:
            built = self.construct_object(node, deep=True)
        self._built[id(node)] = built
        return built

    def _build_mapping(self, node: yaml.MappingNode) -> Any:
        if any(key.tag == _MERGE_TAG or key.__class__ is not yaml.ScalarNode for key, _ in node.value):
            return self.construct_object(node, deep=True)
        result: dict[Any, Any] = {}
        self._built[id(node)] = result
        for key_node, value_node in node.value:
            key = self._build(key_node)
            if key in result and id(node) not in self._duplicates_seen:
                self._duplicates_seen.add(id(node))
                self._record_duplicates(node)
            result[key] = self._build(value_node)
        return result


def _task_marks(root: yaml.Node | None) -> dict[str, tuple[int, int]]:
    """Line and column of every task name: ownership records where each task is declared,
    and the node tree the C parser composed already holds it (no second pass)."""
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "tasks" and isinstance(value, yaml.MappingNode):
            return {k.value: _mark(k.start_mark) for k, _ in value.value if isinstance(k, yaml.ScalarNode)}
    return {}


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
        data = loader.load_single()
    except yaml.MarkedYAMLError as exc:
        return _failed(name, _syntax_error(name, exc), text)
    except (yaml.YAMLError, RecursionError) as exc:
        return _failed(name, error("yaml-syntax", str(exc) or "recursive structure", source=SourceRange(name)), text)
    finally:
        loader.dispose()
    return RawDocument(name, data, text, tuple(loader.duplicates), task_marks=loader.task_marks)


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
