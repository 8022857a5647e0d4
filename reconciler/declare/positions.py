"""Source positions on demand: compose a file's node tree only when it has a diagnostic."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from ..core.diagnostics import Diagnostic, SourceRange

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

KEY = "<key>"  # a path ending in KEY points at the mapping key itself, not its value


class PositionIndex:
    """Finds the node at a key path in one file's text."""

    def __init__(self, text: str) -> None:
        try:
            self._root: yaml.Node | None = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError:
            self._root = None

    def locate(self, path: tuple[Any, ...]) -> tuple[int, int] | None:
        """The node at ``path``; for a block mapping or sequence value, its key (where the
        eye looks); when the path leaves the file (a missing key), the deepest node found."""
        node = self._root
        if node is None:
            return None
        key_node = None
        for index, step in enumerate(path):
            if step == KEY:
                break
            found = _child(node, step)
            if found is None:
                break
            key_node, node = found
            if index + 1 < len(path) and path[index + 1] == KEY and key_node is not None:
                node = key_node
        if key_node is not None and isinstance(node, yaml.CollectionNode) and not node.flow_style:
            node = key_node
        return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: yaml.Node, step: Any) -> tuple[yaml.Node | None, yaml.Node] | None:
    """(key node, value node) of one step; the key node is None inside a sequence."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in reversed(node.value):  # PyYAML keeps the last duplicate
            if isinstance(key_node, yaml.ScalarNode) and _same_key(key_node.value, step):
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return None, node.value[step]
    return None


def _same_key(raw: str, step: Any) -> bool:
    if isinstance(step, bool):
        return raw.lower() in (("true", "yes", "on") if step else ("false", "no", "off"))
    return raw == str(step)


@lru_cache(maxsize=64)
def _index(text: str) -> PositionIndex:
    return PositionIndex(text)


@lru_cache(maxsize=64)
def _lines(text: str) -> list[str]:
    return text.splitlines()


def place(diagnostic: Diagnostic, text: str) -> Diagnostic:
    """Fill in line, column and the source line of a diagnostic from its key path. The node
    tree is composed only when the position is not known yet (a diagnostic on a task name
    already has it, from the parse)."""
    source = diagnostic.source
    if source is None:
        return diagnostic
    if source.line is None and diagnostic.path:
        found = _index(text).locate(diagnostic.path)
        if found:
            source = SourceRange(source.file, *found)
    lines = _lines(text)
    snippet = lines[source.line - 1] if source.line and 0 < source.line <= len(lines) else None
    d = diagnostic  # built directly: dataclasses.replace costs more than the placing (thousands of lints)
    return Diagnostic(d.severity, d.code, d.message, source, d.name, d.hint, d.path, snippet)


def place_in(diagnostic: Diagnostic, texts: dict[str, str]) -> Diagnostic:
    """``place`` with the text of the diagnostic's file, when ``texts`` has it."""
    source = diagnostic.source
    return place(diagnostic, texts[source.file]) if source is not None and source.file in texts else diagnostic
