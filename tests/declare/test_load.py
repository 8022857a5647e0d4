"""Files → raw documents: a file that cannot be read or parsed is a diagnostic, never an exception."""
from __future__ import annotations

from pathlib import Path

from reconciler.declare.load import load_file, load_text


def test_syntax_error_carries_its_position() -> None:
    document = load_text("tasks:\n  a: [1\n", "f.yaml")
    [diagnostic] = document.diagnostics
    assert diagnostic.code == "yaml-syntax" and diagnostic.source.line == 3
    assert document.data is None


def test_unreadable_file_is_an_io_error_diagnostic() -> None:
    document = load_file(Path("/proc/self/mem"), name="mem.yaml")
    assert [d.code for d in document.diagnostics] == ["io-error"]
