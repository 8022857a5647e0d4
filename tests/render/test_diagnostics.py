"""Rendered validation output, compared whole against golden files.

Regenerate on purpose only: ``UPDATE_GOLDEN=1 pytest tests/test_render_diagnostics.py``.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.pipeline import default_registry, validate_paths
from reconciler.render.diagnostics import RENDERERS, render_markdown, scheduler_notice
from tests.conftest import FIXTURES, assert_golden

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FORMATS = {**RENDERERS, "md": render_markdown}


@pytest.fixture
def invalid_result(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)
    return validate_paths([Path("tests/fixtures/invalid")], registry=default_registry(), now=NOW)


@pytest.mark.parametrize("fmt", sorted(FORMATS), ids=sorted(FORMATS))
def test_invalid_tree_renders_like_golden(fmt: str, invalid_result) -> None:
    text = FORMATS[fmt](invalid_result.diagnostics, checked=invalid_result.checked)
    assert_golden(f"validate_invalid.{fmt}", text)


def test_json_contract(invalid_result) -> None:
    payload = json.loads(RENDERERS["json"](invalid_result.diagnostics, checked=invalid_result.checked))
    assert payload["valid"] is False
    first = payload["diagnostics"][0]
    assert {"severity", "code", "message", "file", "line", "column", "name"} <= set(first)


def test_github_escapes_newlines_and_property_separators() -> None:
    from reconciler.core.diagnostics import SourceRange, error

    d = error("schema", "a\nb, 100%", source=SourceRange("dir,x/f:1.yaml", 3, 4))
    line = RENDERERS["github"]([d], checked=1).splitlines()[0]
    assert line == "::error file=dir%2Cx/f%3A1.yaml,line=3,col=4,title=schema::a%0Ab, 100%25"


def test_valid_tree_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = validate_paths([FIXTURES / "valid" / "every-form.yaml"], registry=default_registry(), now=NOW)
    assert RENDERERS["text"](result.diagnostics, checked=result.checked) == (
        "17 tasks checked: valid, 0 errors, 0 warnings.\n"
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS), ids=sorted(FORMATS))
def test_every_format_carries_every_hint(fmt: str, invalid_result) -> None:
    """A did-you-mean the text format gives is in the GitHub annotations, the JSON and the summary too."""
    hints = {d.hint for d in invalid_result.diagnostics if d.hint}
    assert any(h.startswith("did you mean") for h in hints)
    text = FORMATS[fmt](invalid_result.diagnostics, checked=invalid_result.checked)
    if fmt == "json":
        assert {d["hint"] for d in json.loads(text)["diagnostics"] if d["hint"]} == hints
        return
    for hint in hints:
        assert (hint.replace("|", "\\|") if fmt == "md" else hint) in text, hint


def test_scheduler_notice_in_text_and_github() -> None:
    assert scheduler_notice([]) == ""
    names = [f"t{i:02d}" for i in range(12)]
    assert scheduler_notice(names).startswith("notice: 12 declaration(s) use a run-time policy")
    assert scheduler_notice(names).endswith("t08, t09 and 2 more\n")
    assert scheduler_notice(names[:1], github=True).startswith("::notice title=reconciler-scheduler::1 declaration(s)")
