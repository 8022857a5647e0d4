"""The YAML loader: PyYAML's C parser with the safe constructor, and the guards hostile input
needs: duplicate keys noticed (PyYAML would silently keep the last), aliases built once and
their expansion bounded, no mapping keys that are collections, unreadable scalars refused
with their position. ``load`` turns its result, or its refusal, into a raw document.
"""
from __future__ import annotations

from dataclasses import dataclass
from sys import intern
from typing import Any

import yaml

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

MAX_EXPANDED_NODES = 1_000_000  # nodes of a document once every alias is expanded
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Refused(yaml.MarkedYAMLError):
    """A document refused before it is built: its own diagnostic code, at the node's position."""

    def __init__(self, code: str, problem: str, node: yaml.Node) -> None:
        super().__init__(problem=problem, problem_mark=node.start_mark)
        self.code = code


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    first: tuple[int, int]
    second: tuple[int, int]


class _Constructor(yaml.constructor.SafeConstructor):
    def __init__(self) -> None:
        super().__init__()
        self.duplicates: list[DuplicateKey] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise Refused("schema", "a mapping key must be a plain value, not a sequence or a mapping", key)
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
                    key_node.value, line_column(first.start_mark), line_column(key_node.start_mark)
                ))


_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_LIMIT = 200_000


class _Resolver(yaml.resolver.Resolver):
    """PyYAML's resolver with a memo of plain scalars' tags: keys and most values repeat
    across thousands of declarations, and the regex tests are the parser's hottest path. A
    plain scalar's tag depends on its text alone; any other scalar (quoted, a block) is a
    string (PyYAML's own rule, without path resolvers, which nothing here adds)."""

    def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if not implicit[0]:
            return _STR
        tag = _PLAIN_TAGS.get(value)  # type: ignore[call-overload]
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_PLAIN_TAGS) < _PLAIN_TAGS_LIMIT:
                _PLAIN_TAGS[value] = tag  # type: ignore[index]
        return tag


_STR = "tag:yaml.org,2002:str"
_NOTHING: dict[Any, None] = {}  # stays empty
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
_INTERNED = 100  # strings up to this length are interned: keys, task names and queues repeat
# thousands of times in a large tree (one object each: less memory, smaller transfers)
_SEQ = "tag:yaml.org,2002:seq"


class _Loader(_Parser, _Constructor, _Resolver):  # type: ignore[misc, valid-type]
    """The C parser composes the node tree; plain strings, mappings and sequences are built
    here directly, and every other node (ints, booleans, timestamps, merge keys, unknown
    tags) goes through PyYAML's ``SafeConstructor`` exactly as ``yaml.safe_load`` would.
    Collections are memoised by node, so aliases share one object (no alias bombs)."""

    # The C composer calls these two around every node, for path resolvers alone, which nothing
    # adds here (``_Resolver`` relies on that too): C callables that do nothing, without the
    # Python frame of PyYAML's own (3,300 calls a file of 100 declarations: ~10% of its parse).
    descend_resolver = staticmethod(_NOTHING.get)  # (parent, index) → None
    ascend_resolver = staticmethod(tuple)  # () → ()

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self._built: dict[int, Any] = {}
        self._duplicates_seen: set[int] = set()

    def load_single(self, *, may_alias: bool = True, max_nodes: int = MAX_EXPANDED_NODES) -> Any:
        node = self.get_single_node()
        if node is not None and may_alias:
            check_expansion(node, max_nodes)
        self.task_marks = _task_marks(node)
        return None if node is None else self._build(node)

    def _build(self, node: yaml.Node) -> Any:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            if node.tag == _STR:
                value = node.value
                return intern(value) if len(value) <= _INTERNED else value
            plain = _PLAIN_SCALARS.get(node.tag)
            try:
                return plain(self, node) if plain else self.construct_object(node, deep=True)
            except (ValueError, OverflowError) as exc:  # 5,000-digit integers, year 0 ...
                problem = (f"an integer of {len(node.value):,} digits is too long to read"
                           if "integer string conversion" in str(exc) else f"this value cannot be read: {exc}")
                raise Refused("yaml-value", problem, node) from None
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
        """As ``_build`` does, with a string key or value built here (most of a file's nodes)."""
        merges = False
        for key_node, _ in node.value:
            if key_node.__class__ is not yaml.ScalarNode:
                raise Refused("schema", "a mapping key must be a plain value, not a sequence or a mapping", key_node)
            merges = merges or key_node.tag == _MERGE_TAG
        if merges:
            return self.construct_object(node, deep=True)
        result: dict[Any, Any] = {}
        self._built[id(node)] = result
        for key_node, value_node in node.value:
            if key_node.tag == _STR:
                key = key_node.value
                if len(key) <= _INTERNED:
                    key = intern(key)
            else:
                key = self._build(key_node)
            if key in result and id(node) not in self._duplicates_seen:
                self._duplicates_seen.add(id(node))
                self._record_duplicates(node)
            if value_node.__class__ is yaml.ScalarNode and value_node.tag == _STR:
                value = value_node.value
                result[key] = intern(value) if len(value) <= _INTERNED else value
            else:
                result[key] = self._build(value_node)
        return result


def check_expansion(root: yaml.Node, max_nodes: int) -> None:
    """Refuse a node graph that is recursive, or whose aliases expand past ``max_nodes``.

    The loader builds shared objects for aliases, but everything downstream (the schema,
    JSON encoding, the database) sees the expanded tree: a few hundred bytes of nested
    aliases expand to billions of nodes. The expanded size is counted on the node graph,
    memoised per node, so the check is linear in the file, whatever the expansion.
    """
    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            ancestors.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > max_nodes:
                raise Refused(
                    "alias-expansion", f"aliases expand this document past {max_nodes:,} values; "
                    "schedules need no such structure: write the values out or use fewer aliases", node,
                )
            sizes[key] = size
        elif key in ancestors:
            raise Refused("recursive-alias", "this alias refers to a node that contains it (a recursive "
                           "structure), which JSON arguments cannot hold", node)
        elif key not in sizes:
            children = _children(node)
            if not children:
                sizes[key] = 1
                continue
            ancestors.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _task_marks(root: yaml.Node | None) -> dict[str, tuple[int, int]]:
    """Line and column of every task name: ownership records where each task is declared,
    and the node tree the C parser composed already holds it (no second pass)."""
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "tasks" and isinstance(value, yaml.MappingNode):
            return {k.value: line_column(k.start_mark) for k, _ in value.value if isinstance(k, yaml.ScalarNode)}
    return {}


def line_column(mark: yaml.Mark) -> tuple[int, int]:
    """PyYAML's 0-based mark as a 1-based (line, column)."""
    return mark.line + 1, mark.column + 1


@dataclass(frozen=True)
class Loaded:
    data: Any
    duplicates: tuple[DuplicateKey, ...]
    task_marks: dict[str, tuple[int, int]]


def load_yaml(text: str, *, max_nodes: int = MAX_EXPANDED_NODES) -> Loaded:
    """One document's data; raises ``Refused`` (with its diagnostic code), or PyYAML's errors."""
    loader = _Loader(text)
    try:
        data = loader.load_single(may_alias="&" in text, max_nodes=max_nodes)
    finally:
        loader.dispose()
    return Loaded(data, tuple(loader.duplicates), loader.task_marks)
